package lint

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/Masterminds/semver/v3"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-chart/kubectl-chart/pkg/chart"
	"github.com/kubectl-chart/kubectl-chart/pkg/render"
)

const chartFileName = "Chart.yaml"

// chartfile checks Chart.yaml as Helm's rules.Chartfile, then the
// kubeVersion constraint.
func (l *linter) chartfile() {
	isDir, err := l.src.stat(chartFileName)
	if err == nil && isDir {
		l.check(SeverityError, chartFileName, errors.New("should be a file, not a directory"))
	}

	data, err := l.src.readFile(chartFileName)
	md := &chart.Metadata{}
	if err == nil {
		err = yaml.Unmarshal(data, md)
	}
	if !l.check(SeverityError, chartFileName, formatError("unable to parse YAML\n\t%w", err)) {
		return
	}
	strict := &chart.Metadata{}
	l.check(SeverityWarning, chartFileName, formatError("failed to strictly parse chart metadata file\n\t%w", yaml.UnmarshalStrict(data, strict)))

	// Types as written, which the typed load converts silently.
	raw := map[string]any{}
	_ = yaml.Unmarshal(data, &raw) // Parse errors were reported above.

	l.check(SeverityError, chartFileName, validateChartName(md))
	l.check(SeverityError, chartFileName, validateChartAPIVersion(md))
	l.check(SeverityError, chartFileName, isStringValue(raw, "version"))
	l.check(SeverityError, chartFileName, validateChartVersion(md))
	l.check(SeverityError, chartFileName, isStringValue(raw, "appVersion"))
	l.check(SeverityError, chartFileName, validateChartMaintainer(md))
	l.check(SeverityError, chartFileName, validateChartSources(md))
	l.check(SeverityInfo, chartFileName, validateChartIconPresence(md))
	l.check(SeverityError, chartFileName, validateChartIconURL(md))
	l.check(SeverityError, chartFileName, validateChartType(md))
	l.check(SeverityError, chartFileName, validateChartDependencies(md))
	l.check(SeverityWarning, chartFileName, validateChartVersionStrictSemVerV2(md))
	l.kubeVersionConstraint(md)
}

// kubeVersionConstraint checks what install checks and Helm's lint does
// not: the constraint must parse (an error) and should admit the target
// Kubernetes version (a warning: the target is only a default).
func (l *linter) kubeVersionConstraint(md *chart.Metadata) {
	if md.KubeVersion == "" {
		return
	}
	c, err := semver.NewConstraint(md.KubeVersion)
	if err != nil {
		l.check(SeverityError, chartFileName, fmt.Errorf("kubeVersion '%s' is not a valid SemVer constraint: %w", md.KubeVersion, err))
		return
	}
	kv := l.kubeVersion()
	v, err := semver.NewVersion(kv.String())
	if err == nil && !c.Check(v) {
		l.check(SeverityWarning, chartFileName, &render.KubeVersionError{Constraint: md.KubeVersion, Version: kv.Version})
	}
}

func formatError(format string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf(format, err)
}

func isStringValue(data map[string]any, key string) error {
	value, ok := data[key]
	if !ok {
		return nil
	}
	if valueType := fmt.Sprintf("%T", value); valueType != "string" {
		return fmt.Errorf("%s should be of type string but it's of type %s", key, valueType)
	}
	return nil
}

func validateChartName(md *chart.Metadata) error {
	if md.Name == "" {
		return errors.New("name is required")
	}
	if filepath.Base(md.Name) != md.Name {
		return fmt.Errorf("chart name %q is invalid", md.Name)
	}
	return nil
}

func validateChartAPIVersion(md *chart.Metadata) error {
	if md.APIVersion == "" {
		return errors.New("apiVersion is required. The value must be either \"v1\" or \"v2\"")
	}
	if md.APIVersion != chart.APIVersionV1 && md.APIVersion != chart.APIVersionV2 {
		return fmt.Errorf("apiVersion '%s' is not valid. The value must be either \"v1\" or \"v2\"", md.APIVersion)
	}
	return nil
}

func validateChartVersion(md *chart.Metadata) error {
	if md.Version == "" {
		return errors.New("version is required")
	}
	version, err := semver.NewVersion(md.Version)
	if err != nil {
		return fmt.Errorf("version '%s' is not a valid SemVer", md.Version)
	}
	c, err := semver.NewConstraint(">0.0.0-0")
	if err != nil {
		return err
	}
	if valid, msgs := c.Validate(version); !valid && len(msgs) > 0 {
		return fmt.Errorf("version %w", msgs[0])
	}
	return nil
}

func validateChartVersionStrictSemVerV2(md *chart.Metadata) error {
	if _, err := semver.StrictNewVersion(md.Version); err != nil {
		return fmt.Errorf("version '%s' is not a valid SemVerV2", md.Version)
	}
	return nil
}

func validateChartMaintainer(md *chart.Metadata) error {
	for _, m := range md.Maintainers {
		switch {
		case m == nil:
			return errors.New("a maintainer entry is empty")
		case m.Name == "":
			return errors.New("each maintainer requires a name")
		case m.Email != "" && !isEmail(m.Email):
			return fmt.Errorf("invalid email '%s' for maintainer '%s'", m.Email, m.Name)
		case m.URL != "" && !isURL(m.URL):
			return fmt.Errorf("invalid url '%s' for maintainer '%s'", m.URL, m.Name)
		}
	}
	return nil
}

func validateChartSources(md *chart.Metadata) error {
	for _, source := range md.Sources {
		if source == "" || !isRequestURL(source) {
			return fmt.Errorf("invalid source URL '%s'", source)
		}
	}
	return nil
}

func validateChartIconPresence(md *chart.Metadata) error {
	if md.Icon == "" {
		return errors.New("icon is recommended")
	}
	return nil
}

func validateChartIconURL(md *chart.Metadata) error {
	if md.Icon != "" && !isRequestURL(md.Icon) {
		return fmt.Errorf("invalid icon URL '%s'", md.Icon)
	}
	return nil
}

func validateChartDependencies(md *chart.Metadata) error {
	if len(md.Dependencies) > 0 && md.APIVersion != chart.APIVersionV2 {
		return fmt.Errorf("dependencies are not valid in the Chart file with apiVersion '%s'. They are valid in apiVersion '%s'", md.APIVersion, chart.APIVersionV2)
	}
	return nil
}

func validateChartType(md *chart.Metadata) error {
	if md.Type != "" && md.APIVersion != chart.APIVersionV2 {
		return fmt.Errorf("chart type is not valid in apiVersion '%s'. It is valid in apiVersion '%s'", md.APIVersion, chart.APIVersionV2)
	}
	return nil
}
