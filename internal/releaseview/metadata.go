package releaseview

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/labels"

	"github.com/kubectl-chart/kubectl-chart/pkg/chart"
	"github.com/kubectl-chart/kubectl-chart/pkg/helmrelease"
	"github.com/kubectl-chart/kubectl-chart/pkg/release"
)

// Metadata is what get metadata prints of a revision, with the JSON names
// and field order of Helm's (helm get metadata -o json).
type Metadata struct {
	Name       string `json:"name"`
	Chart      string `json:"chart"`
	Version    string `json:"version"`
	AppVersion string `json:"appVersion"`
	// Annotations are the chart's (Chart.yaml).
	Annotations map[string]string `json:"annotations,omitempty"`
	// Labels are the revision's release labels, and Helm's storage labels
	// too for the last revision (MetadataOf).
	Labels       map[string]string   `json:"labels,omitempty"`
	Dependencies []*chart.Dependency `json:"dependencies,omitempty"`
	Namespace    string              `json:"namespace"`
	Revision     int                 `json:"revision"`
	Status       string              `json:"status"`
	// DeployedAt is DeployedAt(r) in RFC 3339.
	DeployedAt  string `json:"deployedAt"`
	ApplyMethod string `json:"applyMethod,omitempty"`
}

// MetadataOf is the metadata of revision r, its time in loc (nil: UTC).
// When r is the release's last revision, read without --revision (last),
// its labels include the labels Helm's storage puts on its record (name,
// owner, status, version, createdAt or modifiedAt: SelectorLabels), as
// helm get metadata shows them then: Helm reads the last revision through
// a query that keeps them, and a given revision through a get that takes
// them out.
func MetadataOf(r *release.Revision, last bool, loc *time.Location) Metadata {
	lbs := r.Labels
	if last {
		lbs = SelectorLabels(ListEntry{
			Head:     &release.Head{Name: r.Name, Namespace: r.Namespace, Revision: r.Revision, Status: r.Status, Labels: r.Labels},
			Revision: r,
		})
	}
	return Metadata{
		Name:         r.Name,
		Chart:        r.Chart.Name,
		Version:      r.Chart.Version,
		AppVersion:   r.Chart.AppVersion,
		Annotations:  r.Chart.Annotations,
		Labels:       lbs,
		Dependencies: r.Chart.Dependencies,
		Namespace:    r.Namespace,
		Revision:     r.Revision,
		Status:       string(r.Status),
		DeployedAt:   DeployedAt(r).In(location(loc)).Format(time.RFC3339),
		// Every revision kubectl chart records is applied server-side.
		ApplyMethod: helmrelease.ApplyMethodServerSide,
	}
}

// MetadataText is what get metadata prints in format f: the table form is
// Helm's, one "KEY: value" line a field, annotations and labels as a
// label selector string (sorted key=value, comma-separated), dependencies
// as their sorted names.
func MetadataText(m Metadata, f Format) (string, error) {
	switch f {
	case FormatJSON:
		return EncodeJSON(m)
	case FormatYAML:
		return EncodeYAML(m)
	}
	deps := make([]string, 0, len(m.Dependencies))
	for _, d := range m.Dependencies {
		if d != nil {
			deps = append(deps, d.Name)
		}
	}
	slices.Sort(deps)
	var b strings.Builder
	fmt.Fprintf(&b, "NAME: %s\n", m.Name)
	fmt.Fprintf(&b, "CHART: %s\n", m.Chart)
	fmt.Fprintf(&b, "VERSION: %s\n", m.Version)
	fmt.Fprintf(&b, "APP_VERSION: %s\n", m.AppVersion)
	fmt.Fprintf(&b, "ANNOTATIONS: %s\n", labels.Set(m.Annotations).String())
	fmt.Fprintf(&b, "LABELS: %s\n", labels.Set(m.Labels).String())
	fmt.Fprintf(&b, "DEPENDENCIES: %s\n", strings.Join(deps, ","))
	fmt.Fprintf(&b, "NAMESPACE: %s\n", m.Namespace)
	fmt.Fprintf(&b, "REVISION: %d\n", m.Revision)
	fmt.Fprintf(&b, "STATUS: %s\n", m.Status)
	fmt.Fprintf(&b, "DEPLOYED_AT: %s\n", m.DeployedAt)
	fmt.Fprintf(&b, "APPLY_METHOD: %s\n", applyMethodText(m.ApplyMethod))
	return b.String(), nil
}

// applyMethodText is Helm's wording of an apply method.
func applyMethodText(m string) string {
	switch m {
	case "":
		return "client-side apply (defaulted)"
	case helmrelease.ApplyMethodClientSide:
		return "client-side apply"
	case helmrelease.ApplyMethodServerSide:
		return "server-side apply"
	}
	return fmt.Sprintf("unknown (%q)", m)
}
