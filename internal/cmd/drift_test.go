package cmd

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kubectl-chart/kubectl-chart/internal/drift"
	"github.com/kubectl-chart/kubectl-chart/pkg/release"
)

// driftChart is testdata/charts/drift-app: a ConfigMap <release>-config, a
// Service and a Deployment <release>-web (2 replicas).
const driftChart = "testdata/charts/drift-app"

// driftReport runs drift with args and -o json, checks its exit code and
// returns the report.
func (c *releaseCLI) driftReport(wantExit int, args ...string) *drift.Report {
	c.t.Helper()
	got := c.run(append([]string{"drift", "-o", "json"}, args...)...)
	if got.exit() != wantExit {
		c.t.Fatalf("drift %s: exit %d, want %d: %v\n%s%s", strings.Join(args, " "), got.exit(), wantExit, got.err, got.stdout, got.stderr)
	}
	var r drift.Report
	if err := json.Unmarshal([]byte(got.stdout), &r); err != nil {
		c.t.Fatalf("drift -o json: %v\n%s", err, got.stdout)
	}
	return &r
}

// TestDrift installs drift-app, then changes it as other tools do with no
// webhook running (kubectl scale through the scale subresource, a
// kubectl-edit-style JSON patch, a forced server-side apply of another
// manager, a delete) and compares drift's report with what was done.
func TestDrift(t *testing.T) {
	c := newReleaseCLI(t)
	ctx := t.Context()
	cs := env.Clientset()
	c.ok("install", "app", driftChart)
	c.ok("install", "calm", driftChart)

	empty := c.driftReport(0, "app")
	if diff := cmp.Diff(&drift.Report{Releases: []drift.Release{{Name: "app", Namespace: c.ns, Revision: 1, Checked: 3, Objects: []drift.Object{}}}}, empty); diff != "" {
		t.Fatalf("drift before any change (-want +got):\n%s", diff)
	}
	if out := c.ok("drift", "app"); !strings.Contains(out, "no drift: 3 object(s) of 1 release(s)") {
		t.Errorf("drift table without drift:\n%s", out)
	}

	// kubectl scale: the real kubectl, through the scale subresource.
	kubectl := filepath.Join(env.AssetsDir(), "kubectl")
	if out, err := exec.CommandContext(ctx, kubectl, "--kubeconfig", env.KubeconfigPath(), "-n", c.ns,
		"scale", "deployment/app-web", "--replicas=5").CombinedOutput(); err != nil {
		t.Fatalf("kubectl scale: %v\n%s", err, out)
	}
	// kubectl edit: a JSON patch that changes a value and removes a label.
	patch := `[{"op":"replace","path":"/data/greeting","value":"bonjour"},{"op":"remove","path":"/metadata/labels/app"}]`
	if _, err := cs.CoreV1().ConfigMaps(c.ns).Patch(ctx, "app-config", types.JSONPatchType, []byte(patch),
		metav1.PatchOptions{FieldManager: "kubectl-edit"}); err != nil {
		t.Fatal(err)
	}
	// Someone's forced server-side apply of another image.
	apply := `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"app-web"},"spec":{"selector":{"matchLabels":{"app":"app"}},` +
		`"template":{"metadata":{"labels":{"app":"app"}},"spec":{"containers":[{"name":"web","image":"registry.example/web:2.0"}]}}}}`
	force := true
	if _, err := cs.AppsV1().Deployments(c.ns).Patch(ctx, "app-web", types.ApplyPatchType, []byte(apply),
		metav1.PatchOptions{FieldManager: "someone", Force: &force}); err != nil {
		t.Fatal(err)
	}
	if err := cs.CoreV1().Services(c.ns).Delete(ctx, "app-web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}

	got := c.driftReport(1, "app")
	want := &drift.Report{Releases: []drift.Release{{
		Name: "app", Namespace: c.ns, Revision: 1, Checked: 3,
		Objects: []drift.Object{
			{ObjectRef: release.ObjectRef{Version: "v1", Kind: "ConfigMap", Namespace: c.ns, Name: "app-config"}, Fields: []drift.Field{
				{Path: "data.greeting", Applied: "hello", Live: "bonjour", Owners: []drift.Owner{{Manager: "kubectl-edit", Operation: "Update"}}},
				{Path: "metadata.labels.app", Applied: "app"},
			}},
			{ObjectRef: release.ObjectRef{Group: "apps", Version: "v1", Kind: "Deployment", Namespace: c.ns, Name: "app-web"}, Fields: []drift.Field{
				{Path: "spec.replicas", Applied: float64(2), Live: float64(5), Owners: []drift.Owner{{Manager: "kubectl", Operation: "Update", Subresource: "scale"}}},
				{Path: "spec.template.spec.containers[name=web].image", Applied: "registry.example/web:1.0", Live: "registry.example/web:2.0",
					Owners: []drift.Owner{{Manager: "someone", Operation: "Apply"}}},
			}},
			{ObjectRef: release.ObjectRef{Version: "v1", Kind: "Service", Namespace: c.ns, Name: "app-web"}, Missing: true},
		},
	}}}
	// Times are the API server's: checked to be there, not compared.
	for _, rel := range got.Releases {
		for _, o := range rel.Objects {
			for _, f := range o.Fields {
				for _, ow := range f.Owners {
					if ow.Time == nil && ow.Subresource == "" {
						t.Errorf("%s %s: owner %s has no time", o.ObjectRef, f.Path, ow.Manager)
					}
				}
			}
		}
	}
	ignoreTime := cmpopts.IgnoreFields(drift.Owner{}, "Time")
	if diff := cmp.Diff(want, got, ignoreTime); diff != "" {
		t.Errorf("drift after scale, edit, forced apply and delete (-want +got):\n%s", diff)
	}

	// The table names the same.
	table := c.run("drift", "app")
	if table.exit() != 1 {
		t.Errorf("drift table: exit %d, want 1", table.exit())
	}
	for _, w := range []string{"RELEASE", "CHANGED BY", "spec.replicas", "kubectl (Update /scale)", "kubectl-edit (Update)",
		`"bonjour"`, "<removed>", "Service/app-web", "<missing>", "3 object(s) drifted (4 field(s)) of 3 object(s) in 1 release(s)"} {
		if !strings.Contains(table.stdout, w) {
			t.Errorf("drift table does not contain %q:\n%s", w, table.stdout)
		}
	}

	// The other release did not drift; -A shows both (among other tests'
	// releases, which may be broken on purpose: an error of another
	// namespace's release makes the exit status 2, the report still holds
	// the others).
	c.driftReport(0, "calm")
	run := c.run("drift", "-o", "json", "-A")
	if code, msg := run.exit(), run.stderr+fmt.Sprint(run.err); code != 1 && !(code == 2 && !strings.Contains(msg, c.ns)) {
		t.Fatalf("drift -A: exit %d, want 1 (or 2 for other tests' releases only): %v\n%s", code, run.err, run.stderr)
	}
	all := &drift.Report{}
	if err := json.Unmarshal([]byte(run.stdout), all); err != nil {
		t.Fatalf("drift -A -o json: %v\n%s", err, run.stdout)
	}
	mine := map[string]drift.Release{}
	for _, r := range all.Releases {
		if r.Namespace == c.ns {
			mine[r.Name] = r
		}
	}
	if diff := cmp.Diff(want.Releases[0], mine["app"], ignoreTime); diff != "" {
		t.Errorf("drift -A, release app (-want +got):\n%s", diff)
	}
	if r, ok := mine["calm"]; !ok || len(r.Objects) != 0 || r.Checked != 3 {
		t.Errorf("drift -A, release calm: %+v, want 3 objects checked, none drifted", r)
	}

	// The upgrade takes the fields back: no drift but the deleted Service
	// (recreated by the apply, so none at all).
	c.ok("upgrade", "app", driftChart)
	c.driftReport(0, "app")
}

// TestDriftErrors: errors exit with status 2.
func TestDriftErrors(t *testing.T) {
	c := newReleaseCLI(t)
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"missing release", []string{"drift", "nope"}},
		{"no release and no -A", []string{"drift"}},
		{"both", []string{"drift", "x", "-A"}},
		{"bad flag", []string{"drift", "x", "--nope"}},
		{"bad output", []string{"drift", "x", "-o", "wide"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := c.run(tc.args...); got.exit() != 2 {
				t.Errorf("exit %d, want 2: %v", got.exit(), got.err)
			}
		})
	}
	t.Run("unreachable cluster", func(t *testing.T) {
		got := runChart(t, []string{"--server", "https://127.0.0.1:1", "--request-timeout", "5s", "drift", "x", "-n", c.ns}, "")
		if got.exit() != 2 {
			t.Errorf("exit %d, want 2: %v", got.exit(), got.err)
		}
	})
}
