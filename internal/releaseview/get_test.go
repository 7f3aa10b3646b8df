package releaseview

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kubectl-chart/kubectl-chart/pkg/release"
)

func TestGetTexts(t *testing.T) {
	r := &release.Revision{
		Name: "web", Namespace: "ns", Revision: 3, Status: release.StatusDeployed, Started: t0,
		Chart:       release.ChartInfo{Name: "web", Version: "0.3.0", AppVersion: "3"},
		Description: "Upgrade complete",
		Values:      map[string]any{"replicas": 2, "image": map[string]any{"tag": "v3"}},
		Manifest:    "---\n# Source: web/templates/cm.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web",
		Hooks: []release.Hook{{Name: "migrate", Kind: "Job", Path: "web/templates/job.yaml", Events: []string{"pre-upgrade"},
			Manifest: "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: migrate"}},
		Notes: "Visit http://web\n",
	}
	hooks := "---\n# Source: web/templates/job.yaml\napiVersion: batch/v1\nkind: Job\nmetadata:\n  name: migrate\n"
	for _, tc := range []struct {
		name string
		got  func() (string, error)
		want string
	}{
		{name: "manifest", got: func() (string, error) { return ManifestText(r), nil }, want: r.Manifest + "\n"},
		{name: "notes", got: func() (string, error) { return NotesText(r), nil }, want: "NOTES:\nVisit http://web\n\n"},
		{name: "no notes", got: func() (string, error) { return NotesText(&release.Revision{}), nil }, want: ""},
		{name: "hooks", got: func() (string, error) { return HooksText(r), nil }, want: hooks},
		{name: "values table", got: func() (string, error) { return ValuesText(Values(r), FormatTable, false) },
			want: "USER-SUPPLIED VALUES:\nimage:\n  tag: v3\nreplicas: 2\n"},
		{name: "values json", got: func() (string, error) { return ValuesText(Values(r), FormatJSON, false) },
			want: `{"image":{"tag":"v3"},"replicas":2}` + "\n"},
		{name: "values yaml", got: func() (string, error) { return ValuesText(Values(r), FormatYAML, false) },
			want: "image:\n  tag: v3\nreplicas: 2\n"},
		{name: "no values", got: func() (string, error) { return ValuesText(Values(&release.Revision{}), FormatTable, false) },
			want: "USER-SUPPLIED VALUES:\n{}\n"},
		{name: "all", got: func() (string, error) { return AllText(r, time.UTC) }, want: `NAME: web
LAST DEPLOYED: Wed Mar  4 05:06:07 2026
NAMESPACE: ns
STATUS: deployed
REVISION: 3
CHART: web
VERSION: 0.3.0
APP_VERSION: 3
DESCRIPTION: Upgrade complete
TEST SUITE: None
USER-SUPPLIED VALUES:
image:
  tag: v3
replicas: 2

HOOKS:
` + hooks + "MANIFEST:\n" + r.Manifest + "\n" + "NOTES:\nVisit http://web\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.got()
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestNotFoundError(t *testing.T) {
	if got, want := (&NotFoundError{Name: "x", Namespace: "y"}).Error(), `release "x" not found in namespace "y"`; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if got, want := (&NotFoundError{Name: "x", Namespace: "y", Revision: 4}).Error(), `release "x" has no revision 4 in namespace "y"`; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}
