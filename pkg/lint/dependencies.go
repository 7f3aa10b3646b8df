package lint

import (
	"fmt"
	"strings"

	"github.com/kubectl-chart/kubectl-chart/pkg/chart"
)

// dependencies compares Chart.yaml's dependencies with the charts under
// charts/, as Helm's rules.Dependencies; messages name the chart's path.
func (l *linter) dependencies() {
	ch, err := l.src.load()
	if !l.check(SeverityError, "", formatError("unable to load chart\n\t%w", err)) {
		return
	}
	l.check(SeverityError, l.chartDir, validateDependencyInMetadata(ch))
	l.check(SeverityError, l.chartDir, validateDependenciesUnique(ch))
	l.check(SeverityWarning, l.chartDir, validateDependencyInChartsDir(ch))
}

func validateDependencyInChartsDir(ch *chart.Chart) error {
	present := map[string]bool{}
	for _, d := range ch.Dependencies() {
		present[d.Name()] = true
	}
	var missing []string
	for _, d := range ch.Metadata.Dependencies {
		if d != nil && !present[d.Name] {
			missing = append(missing, d.Name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("chart directory is missing these dependencies: %s", strings.Join(missing, ","))
	}
	return nil
}

func validateDependencyInMetadata(ch *chart.Chart) error {
	declared := map[string]bool{}
	for _, d := range ch.Metadata.Dependencies {
		if d != nil {
			declared[d.Name] = true
		}
	}
	var missing []string
	for _, d := range ch.Dependencies() {
		if !declared[d.Name()] {
			missing = append(missing, d.Name())
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("chart metadata is missing these dependencies: %s", strings.Join(missing, ","))
	}
	return nil
}

func validateDependenciesUnique(ch *chart.Chart) error {
	seen := map[string]bool{}
	var shadowing []string
	for _, d := range ch.Metadata.Dependencies {
		if d == nil {
			continue
		}
		key := d.Name
		if d.Alias != "" {
			key = d.Alias
		}
		if seen[key] {
			shadowing = append(shadowing, key)
		}
		seen[key] = true
	}
	if len(shadowing) > 0 {
		return fmt.Errorf("multiple dependencies with name or alias: %s", strings.Join(shadowing, ","))
	}
	return nil
}
