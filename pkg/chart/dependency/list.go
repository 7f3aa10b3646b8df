package dependency

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/Masterminds/semver/v3"

	"github.com/kubectl-chart/kubectl-chart/pkg/chart"
	"github.com/kubectl-chart/kubectl-chart/pkg/chart/loader"
)

// Status is one row of `dependency list`.
type Status struct {
	Name, Version, Repository string
	// Status is Helm's word for the dependency in charts/: "ok" (an
	// archive that satisfies the constraint), "unpacked" (a folder that
	// does), "missing", "wrong version", "invalid version", "too many
	// matches" (several <name>-<semver>.tgz), "misnamed" (an archive of
	// another chart), "corrupt" (an archive that does not load).
	Status string
}

// Listing is what `dependency list` shows.
type Listing struct {
	// NoDependencies: Chart.yaml declares none (Dependencies is empty).
	NoDependencies bool
	Dependencies   []Status
	// Warnings are Helm's lines about files of charts/ that are not charts
	// or not in Chart.yaml ("WARNING: \"…\" is not in Chart.yaml.").
	Warnings []string
}

// List loads the chart (a folder or an archive) and tells the status of
// each dependency of Chart.yaml, as `helm dependency list` does.
func List(chartPath string) (*Listing, error) {
	c, err := loader.Load(chartPath)
	if err != nil {
		return nil, err
	}
	if c.Metadata.Dependencies == nil {
		return &Listing{NoDependencies: true}, nil
	}
	l := &Listing{}
	for _, d := range c.Metadata.Dependencies {
		l.Dependencies = append(l.Dependencies, Status{
			Name: d.Name, Version: d.Version, Repository: d.Repository, Status: dependencyStatus(chartPath, d, c),
		})
	}
	l.Warnings = unexpectedFiles(chartPath, c.Metadata.Dependencies)
	return l, nil
}

// dependencyStatus is Helm's: archives named <name>-*.tgz in charts/ first
// (Helm 3's rules, kept by Helm 4), then the loaded subcharts.
func dependencyStatus(chartPath string, dep *chart.Dependency, parent *chart.Chart) string {
	archives, err := filepath.Glob(filepath.Join(chartPath, "charts", dep.Name+"-*.tgz"))
	switch {
	case err != nil:
		return "bad pattern"
	case len(archives) > 1:
		var found []string
		for _, a := range archives {
			v := strings.TrimPrefix(strings.TrimSuffix(filepath.Base(a), ".tgz"), dep.Name+"-")
			if _, err := semver.StrictNewVersion(v); err == nil {
				found = append(found, a)
			}
		}
		if len(found) == 1 {
			if r := archiveStatus(found[0], dep); r != "" {
				return r
			}
		} else if len(found) > 1 {
			return "too many matches"
		}
	case len(archives) == 1:
		if r := archiveStatus(archives[0], dep); r != "" {
			return r
		}
	}
	var sub *chart.Chart
	for _, d := range parent.Dependencies() {
		if d.Name() == dep.Name {
			sub = d
		}
	}
	if sub == nil {
		return "missing"
	}
	if s := versionStatus(sub.Metadata.Version, dep.Version); s != "" {
		return s
	}
	return "unpacked"
}

// versionStatus is "" when version satisfies the constraint.
func versionStatus(version, constraint string) string {
	if version == constraint {
		return ""
	}
	c, err := semver.NewConstraint(constraint)
	if err != nil {
		return "invalid version"
	}
	v, err := semver.NewVersion(version)
	if err != nil {
		return "invalid version"
	}
	if !c.Check(v) {
		return "wrong version"
	}
	return ""
}

func archiveStatus(archive string, dep *chart.Dependency) string {
	if _, err := os.Stat(archive); err != nil {
		return ""
	}
	c, err := loader.Load(archive)
	if err != nil {
		return "corrupt"
	}
	if c.Name() != dep.Name {
		return "misnamed"
	}
	if s := versionStatus(c.Metadata.Version, dep.Version); s != "" {
		return s
	}
	return "ok"
}

// unexpectedFiles are Helm's warnings about the folders and .tgz files of
// charts/ that are not charts or not dependencies of Chart.yaml.
func unexpectedFiles(chartPath string, reqs []*chart.Dependency) []string {
	files, err := filepath.Glob(filepath.Join(chartPath, "charts", "*"))
	if err != nil {
		return []string{err.Error()}
	}
	var out []string
	for _, f := range files {
		fi, err := os.Stat(f)
		if err != nil {
			out = append(out, fmt.Sprintf("Warning: %s", err))
			continue
		}
		if !fi.IsDir() && filepath.Ext(f) != ".tgz" {
			continue
		}
		c, err := loader.Load(f)
		if err != nil {
			out = append(out, fmt.Sprintf("WARNING: %q is not a chart.", f))
			continue
		}
		found := false
		for _, d := range reqs {
			if d.Name == c.Name() {
				found = true
				break
			}
		}
		if !found {
			out = append(out, fmt.Sprintf("WARNING: %q is not in Chart.yaml.", f))
		}
	}
	return out
}
