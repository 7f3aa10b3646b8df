package render

import (
	"errors"
	"fmt"
	"strings"

	"github.com/Masterminds/semver/v3"

	"github.com/kubectl-chart/kubectl-chart/pkg/chart"
	"github.com/kubectl-chart/kubectl-chart/pkg/values"
)

// MissingDependenciesError lists dependencies declared in Chart.yaml that
// are not in the chart's charts/ folder.
type MissingDependenciesError struct{ Names []string }

func (e *MissingDependenciesError) Error() string {
	return "found in Chart.yaml, but missing in charts/ directory: " + strings.Join(e.Names, ", ")
}

// CheckDependencies reports declared dependencies missing from charts/
// (even disabled ones, as Helm does).
func CheckDependencies(ch *chart.Chart) error {
	var missing []string
outer:
	for _, r := range ch.Metadata.Dependencies {
		if r == nil {
			continue
		}
		for _, d := range ch.Dependencies() {
			if d.Name() == r.Name {
				continue outer
			}
		}
		missing = append(missing, r.Name)
	}
	if len(missing) > 0 {
		return &MissingDependenciesError{Names: missing}
	}
	return nil
}

// isCompatibleRange tells whether version ver satisfies constraint.
func isCompatibleRange(constraint, ver string) bool {
	sv, err := semver.NewVersion(ver)
	if err != nil {
		return false
	}
	c, err := semver.NewConstraint(constraint)
	if err != nil {
		return false
	}
	return c.Check(sv)
}

// processDependencies resolves aliases, drops subcharts disabled by
// conditions and tags, and imports values from subcharts, as Helm does
// before rendering. It changes ch (metadata copies are made where Helm
// makes them).
func processDependencies(ch *chart.Chart, vals map[string]any, warn warnFunc) error {
	if err := processDependencyEnabled(ch, vals, "", warn); err != nil {
		return err
	}
	return processDependencyImportValues(ch, warn)
}

func processDependencyConditions(reqs []*chart.Dependency, cvals values.Values, cpath string, warn warnFunc) {
	for _, r := range reqs {
		for c := range strings.SplitSeq(strings.TrimSpace(r.Condition), ",") {
			if c == "" {
				continue
			}
			vv, err := cvals.PathValue(cpath + c)
			if err == nil {
				if bv, ok := vv.(bool); ok {
					r.Enabled = bv
					break
				}
				warn("returned non-bool value for condition %s of chart %s", c, r.Name)
			} else if !errors.As(err, new(values.ErrNoValue)) {
				warn("the method PathValue returned error: %v", err)
			}
		}
	}
}

func processDependencyTags(reqs []*chart.Dependency, cvals values.Values, warn warnFunc) {
	vt, err := cvals.Table("tags")
	if err != nil {
		return
	}
	for _, r := range reqs {
		var hasTrue, hasFalse bool
		for _, k := range r.Tags {
			if b, ok := vt[k]; ok {
				if bv, ok := b.(bool); ok {
					if bv {
						hasTrue = true
					} else {
						hasFalse = true
					}
				} else {
					warn("returned non-bool value for tag %s of chart %s", k, r.Name)
				}
			}
		}
		if !hasTrue && hasFalse {
			r.Enabled = false
		} else if hasTrue || !hasTrue && !hasFalse {
			r.Enabled = true
		}
	}
}

// aliasDependency finds the subchart that dep names (with a compatible
// version) and returns a copy carrying dep's alias.
func aliasDependency(charts []*chart.Chart, dep *chart.Dependency) *chart.Chart {
	for _, c := range charts {
		if c == nil || c.Name() != dep.Name {
			continue
		}
		if !isCompatibleRange(dep.Version, c.Metadata.Version) {
			continue
		}
		out := c.ShallowCopy()
		if dep.Alias != "" {
			out.Metadata.Name = dep.Alias
		}
		return out
	}
	return nil
}

func processDependencyEnabled(c *chart.Chart, v map[string]any, path string, warn warnFunc) error {
	if c.Metadata.Dependencies == nil {
		return nil
	}
	var chartDependencies []*chart.Chart
	// Subcharts that no dependency entry matches are kept as they are.
loop:
	for _, existing := range c.Dependencies() {
		for _, req := range c.Metadata.Dependencies {
			if req != nil && existing.Name() == req.Name && isCompatibleRange(req.Version, existing.Metadata.Version) {
				continue loop
			}
		}
		chartDependencies = append(chartDependencies, existing)
	}
	for _, req := range c.Metadata.Dependencies {
		if req == nil {
			continue
		}
		if cd := aliasDependency(c.Dependencies(), req); cd != nil {
			chartDependencies = append(chartDependencies, cd)
		}
		if req.Alias != "" {
			req.Name = req.Alias
		}
	}
	c.SetDependencies(chartDependencies...)

	for _, lr := range c.Metadata.Dependencies {
		if lr != nil {
			lr.Enabled = true
		}
	}
	cvals, err := CoalesceValues(c, v, warn)
	if err != nil {
		return err
	}
	reqs := nonNil(c.Metadata.Dependencies)
	processDependencyTags(reqs, cvals, warn)
	processDependencyConditions(reqs, cvals, path, warn)
	rm := map[string]bool{}
	for _, r := range reqs {
		if !r.Enabled {
			rm[r.Name] = true
		}
	}
	var cd []*chart.Chart
	for _, n := range c.Dependencies() {
		if !rm[n.Metadata.Name] {
			cd = append(cd, n)
		}
	}
	var cdMetadata []*chart.Dependency
	for _, n := range c.Metadata.Dependencies {
		if n == nil || !rm[n.Name] {
			cdMetadata = append(cdMetadata, n)
		}
	}
	for _, t := range cd {
		if err := processDependencyEnabled(t, cvals, path+t.Metadata.Name+".", warn); err != nil {
			return err
		}
	}
	c.Metadata.Dependencies = cdMetadata
	c.SetDependencies(cd...)
	return nil
}

func nonNil(deps []*chart.Dependency) []*chart.Dependency {
	out := make([]*chart.Dependency, 0, len(deps))
	for _, d := range deps {
		if d != nil {
			out = append(out, d)
		}
	}
	return out
}

func processDependencyImportValues(c *chart.Chart, warn warnFunc) error {
	for _, d := range c.Dependencies() {
		if err := processDependencyImportValues(d, warn); err != nil {
			return err
		}
	}
	return processImportValues(c, warn)
}

// pathToMap nests data under a dotted path ("a.b" → {a: {b: data}}).
func pathToMap(path string, data map[string]any) map[string]any {
	if path == "." {
		return data
	}
	parts := strings.Split(path, ".")
	cur := data
	for i := len(parts) - 1; i >= 0; i-- {
		cur = map[string]any{parts[i]: cur}
	}
	return cur
}

func processImportValues(c *chart.Chart, warn warnFunc) error {
	if c.Metadata.Dependencies == nil {
		return nil
	}
	cvals, err := MergeValues(c, nil, warn)
	if err != nil {
		return err
	}
	b := make(map[string]any)
	for _, r := range c.Metadata.Dependencies {
		if r == nil {
			continue
		}
		var outiv []any
		for _, riv := range r.ImportValues {
			switch iv := riv.(type) {
			case map[string]any:
				child := fmt.Sprintf("%v", iv["child"])
				parent := fmt.Sprintf("%v", iv["parent"])
				outiv = append(outiv, map[string]string{"child": child, "parent": parent})
				vv, err := cvals.Table(r.Name + "." + child)
				if err != nil {
					warn("ImportValues missing table from chart %s: %v", r.Name, err)
					continue
				}
				b = MergeTables(b, pathToMap(parent, vv), warn)
			case string:
				child := "exports." + iv
				outiv = append(outiv, map[string]string{"child": child, "parent": "."})
				vm, err := cvals.Table(r.Name + "." + child)
				if err != nil {
					warn("ImportValues missing table: %v", err)
					continue
				}
				b = MergeTables(b, vm, warn)
			}
		}
		r.ImportValues = outiv
	}
	c.Values = MergeTables(values.DeepCopy(cvals), b, warn)
	return nil
}
