package releaseview

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/kubectl-chart/kubectl-chart/pkg/release"
)

// ManifestText is what get manifest prints: the rendered manifest and a
// newline, as helm get manifest.
func ManifestText(r *release.Revision) string { return r.Manifest + "\n" }

// NotesText is what get notes prints: NOTES: and the notes, or nothing when
// the chart has none.
func NotesText(r *release.Revision) string {
	if r.Notes == "" {
		return ""
	}
	return "NOTES:\n" + r.Notes + "\n"
}

// HooksText is what get hooks prints: every hook as a YAML document with
// its # Source: line.
func HooksText(r *release.Revision) string {
	var b strings.Builder
	for _, h := range r.Hooks {
		fmt.Fprintf(&b, "---\n# Source: %s\n%s\n", h.Path, h.Manifest)
	}
	return b.String()
}

// Values is a revision's user-supplied values, never nil (no values show as
// {} as with Helm, not null).
func Values(r *release.Revision) map[string]any {
	if r.Values == nil {
		return map[string]any{}
	}
	return r.Values
}

// ValuesText is what get values prints in format f; the table form is
// headed COMPUTED VALUES when computed, else USER-SUPPLIED VALUES, as in
// Helm.
func ValuesText(vals map[string]any, f Format, computed bool) (string, error) {
	switch f {
	case FormatJSON:
		return EncodeJSON(vals)
	case FormatYAML:
		return EncodeYAML(vals)
	}
	y, err := EncodeYAML(vals)
	if err != nil {
		return "", err
	}
	if computed {
		return "COMPUTED VALUES:\n" + y, nil
	}
	return "USER-SUPPLIED VALUES:\n" + y, nil
}

// AllText is what get all prints, laid out as helm get all: the release's
// facts, the user-supplied and computed values (when the record kept them),
// hooks, manifest and notes.
// Times are in loc (nil: UTC).
func AllText(r *release.Revision, loc *time.Location) (string, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "NAME: %s\n", r.Name)
	if t := DeployedAt(r); !t.IsZero() {
		fmt.Fprintf(&b, "LAST DEPLOYED: %s\n", t.In(location(loc)).Format(time.ANSIC))
	}
	fmt.Fprintf(&b, "NAMESPACE: %s\n", r.Namespace)
	fmt.Fprintf(&b, "STATUS: %s\n", r.Status)
	fmt.Fprintf(&b, "REVISION: %d\n", r.Revision)
	fmt.Fprintf(&b, "CHART: %s\n", r.Chart.Name)
	fmt.Fprintf(&b, "VERSION: %s\n", r.Chart.Version)
	fmt.Fprintf(&b, "APP_VERSION: %s\n", r.Chart.AppVersion)
	fmt.Fprintf(&b, "DESCRIPTION: %s\n", r.Description)
	if !hasTestHooks(r) {
		b.WriteString("TEST SUITE: None\n")
	}
	vals, err := EncodeYAML(Values(r))
	if err != nil {
		return "", err
	}
	fmt.Fprintf(&b, "USER-SUPPLIED VALUES:\n%s\n", vals)
	if r.ComputedValues != nil { // records written before they were kept have none
		c, err := EncodeYAML(r.ComputedValues)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "COMPUTED VALUES:\n%s\n", c)
	}
	b.WriteString("HOOKS:\n")
	b.WriteString(HooksText(r))
	fmt.Fprintf(&b, "MANIFEST:\n%s\n", r.Manifest)
	if r.Notes != "" {
		fmt.Fprintf(&b, "NOTES:\n%s\n", strings.TrimSpace(r.Notes))
	}
	return b.String(), nil
}

// hasTestHooks tells whether the chart has test hooks (helm test runs them;
// kubectl chart keeps no run of them, so status shows none).
func hasTestHooks(r *release.Revision) bool {
	for _, h := range r.Hooks {
		if slices.Contains(h.Events, "test") || slices.Contains(h.Events, "test-success") {
			return true
		}
	}
	return false
}

// EncodeJSON is v as Helm's -o json prints it: compact, one line.
func EncodeJSON(v any) (string, error) {
	var b bytes.Buffer
	if err := json.NewEncoder(&b).Encode(v); err != nil {
		return "", fmt.Errorf("unable to write JSON output: %w", err)
	}
	return b.String(), nil
}

// EncodeYAML is v as Helm's -o yaml prints it.
func EncodeYAML(v any) (string, error) {
	y, err := yaml.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("unable to write YAML output: %w", err)
	}
	return string(y), nil
}
