package cmd

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-chart/kubectl-chart/internal/releaseview"
	"github.com/kubectl-chart/kubectl-chart/pkg/ownership"
	"github.com/kubectl-chart/kubectl-chart/pkg/release"
)

// demoChart is the example chart, from the repository root: a ConfigMap,
// Service, Deployment, a Widget of its crds/ CRD and a post-install,
// post-upgrade hook Job; its fullname is <release>-demo-app.
const demoChart = "testdata/charts/demo-app"

// releaseCLI runs `kubectl chart` in-process, as a user would, against the
// test cluster, in one namespace of its own.
type releaseCLI struct {
	t    *testing.T
	ns   string
	kube []string
}

// newReleaseCLI makes a namespace for t and runs from the repository root.
func newReleaseCLI(t *testing.T) *releaseCLI {
	t.Helper()
	ns := env.Namespace(t)
	atRepoRoot(t)
	return &releaseCLI{t: t, ns: ns, kube: []string{"--kubeconfig", env.KubeconfigPath(), "--cache-dir", t.TempDir(), "-n", ns}}
}

// run runs `kubectl chart <args> --kubeconfig … -n <ns>`.
func (c *releaseCLI) run(args ...string) chartRun {
	c.t.Helper()
	return runChart(c.t, append(slices.Clone(c.kube), args...), "")
}

// ok runs a command that must succeed and returns its stdout.
func (c *releaseCLI) ok(args ...string) string {
	c.t.Helper()
	got := c.run(args...)
	if got.err != nil {
		c.t.Fatalf("kubectl chart %s: exit %d: %v\n%s%s", strings.Join(args, " "), got.exit(), got.err, got.stdout, got.stderr)
	}
	return got.stdout
}

// fails runs a command that must fail with an error containing every
// string of want, and returns the run.
func (c *releaseCLI) fails(want []string, args ...string) chartRun {
	c.t.Helper()
	got := c.run(args...)
	if got.err == nil {
		c.t.Fatalf("kubectl chart %s succeeded, want an error containing %q:\n%s", strings.Join(args, " "), want, got.stdout)
	}
	if got.exit() != 1 {
		c.t.Errorf("kubectl chart %s: exit %d, want 1", strings.Join(args, " "), got.exit())
	}
	for _, w := range want {
		if !strings.Contains(got.err.Error(), w) {
			c.t.Errorf("kubectl chart %s: error %q does not contain %q", strings.Join(args, " "), got.err, w)
		}
	}
	return got
}

// history is `history NAME -o json` as "N status description" lines.
func (c *releaseCLI) history(name string) []string {
	c.t.Helper()
	var rows []releaseview.HistoryRow
	if err := json.Unmarshal([]byte(c.ok("history", name, "-o", "json")), &rows); err != nil {
		c.t.Fatal(err)
	}
	out := make([]string, 0, len(rows))
	for _, r := range rows {
		out = append(out, fmt.Sprintf("%d %s %s", r.Revision, r.Status, r.Description))
	}
	return out
}

// historyStatuses is history as "N status" lines.
func (c *releaseCLI) historyStatuses(name string) []string {
	c.t.Helper()
	var out []string
	for _, h := range c.history(name) {
		f := strings.Fields(h)
		out = append(out, f[0]+" "+f[1])
	}
	return out
}

// values is `get values NAME -o json`, without the newline.
func (c *releaseCLI) values(name string) string {
	c.t.Helper()
	return strings.TrimSpace(c.ok("get", "values", name, "-o", "json"))
}

// configMaps are the names of the ConfigMaps of the namespace but the
// root CA every namespace has.
func (c *releaseCLI) configMaps() []string {
	c.t.Helper()
	list, err := env.Clientset().CoreV1().ConfigMaps(c.ns).List(c.t.Context(), metav1.ListOptions{})
	if err != nil {
		c.t.Fatal(err)
	}
	var out []string
	for _, cm := range list.Items {
		if cm.Name != "kube-root-ca.crt" {
			out = append(out, cm.Name)
		}
	}
	return out
}

// records are the names of the release record Secrets of release name.
func (c *releaseCLI) records(name string) []string {
	c.t.Helper()
	list, err := env.Clientset().CoreV1().Secrets(c.ns).List(c.t.Context(), metav1.ListOptions{
		LabelSelector: ownership.LabelRelease + "=" + name + "," + ownership.LabelRecord + "=" + ownership.RecordRevision,
	})
	if err != nil {
		c.t.Fatal(err)
	}
	var out []string
	for _, s := range list.Items {
		out = append(out, s.Name)
	}
	slices.Sort(out)
	return out
}

// headExists tells whether the release head ConfigMap exists.
func (c *releaseCLI) headExists(name string) bool {
	c.t.Helper()
	_, err := env.Clientset().CoreV1().ConfigMaps(c.ns).Get(c.t.Context(), ownership.HeadName(name), metav1.GetOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		c.t.Fatal(err)
	}
	return err == nil
}

// jobs are the names of the Jobs of the namespace.
func (c *releaseCLI) jobs() []string {
	c.t.Helper()
	list, err := env.Clientset().BatchV1().Jobs(c.ns).List(c.t.Context(), metav1.ListOptions{})
	if err != nil {
		c.t.Fatal(err)
	}
	var out []string
	for _, j := range list.Items {
		out = append(out, j.Name)
	}
	return out
}

// writeChart writes a chart of Chart.yaml, values.yaml and templates
// (relative path → text) in a temporary folder and returns its path.
func writeChart(t *testing.T, name string, files map[string]string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), name)
	files["Chart.yaml"] = "apiVersion: v2\nname: " + name + "\nversion: 0.1.0\n"
	for p, text := range files {
		path := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestReleaseFlagsDryRun: --dry-run (client) renders and prints, --dry-run
// =server also has the API server check every object; neither writes a
// thing, not even the release head.
func TestReleaseFlagsDryRun(t *testing.T) {
	c := newReleaseCLI(t)

	for _, flag := range []string{"--dry-run", "--dry-run=client", "--dry-run=server"} {
		t.Run(strings.TrimPrefix(flag, "--"), func(t *testing.T) {
			out := c.ok("install", "demo", demoChart, flag)
			mode := "client"
			if strings.HasSuffix(flag, "server") {
				mode = "server"
			}
			for _, want := range []string{
				"STATUS: pending-install\n", "DRY RUN: " + mode + "\n", "MANIFEST:\n",
				"# Source: demo-app/templates/deployment.yaml\n", "# Source: demo-app/templates/hook-job.yaml\n",
			} {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
			if strings.Contains(out, "NOTES:") {
				t.Errorf("a dry run prints notes:\n%s", out)
			}
			if c.headExists("demo") {
				t.Errorf("%s created the release head", flag)
			}
			if got := c.configMaps(); len(got) > 0 {
				t.Errorf("%s created ConfigMaps %v", flag, got)
			}
			if got := c.jobs(); len(got) > 0 {
				t.Errorf("%s ran hooks: %v", flag, got)
			}
		})
	}

	t.Run("server-rejects-invalid", func(t *testing.T) {
		// The server refuses the Deployment; a client dry run cannot know.
		c.ok("install", "demo", demoChart, "--dry-run=client", "--set", "replicaCount=-1")
		c.fails([]string{"Deployment.apps/" + c.ns + "/demo-demo-app", "spec.replicas"},
			"install", "demo", demoChart, "--dry-run=server", "--set", "replicaCount=-1")
		if c.headExists("demo") {
			t.Error("a failed server dry run created the release head")
		}
	})

	t.Run("server-new-crd", func(t *testing.T) {
		// A chart whose crds/ CRD is not on the cluster yet: its custom
		// resources cannot be checked by the server, and must not fail the
		// dry run (kinds unique to this namespace: no other test made them).
		group := c.ns + ".example.com"
		ch := writeChart(t, "gadgets", map[string]string{
			"crds/gadgets.yaml": `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: gadgets.` + group + `
spec:
  group: ` + group + `
  names: {kind: Gadget, plural: gadgets, singular: gadget, listKind: GadgetList}
  scope: Namespaced
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          x-kubernetes-preserve-unknown-fields: true
`,
			"templates/gadget.yaml": "apiVersion: " + group + "/v1\nkind: Gadget\nmetadata:\n  name: g1\nspec:\n  size: 3\n",
			"templates/cm.yaml":     "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: gadgets\ndata:\n  a: b\n",
		})
		out := c.ok("install", "gadgets", ch, "--dry-run=server")
		if !strings.Contains(out, "APPLIED: ") || !strings.Contains(out, "kind: Gadget") {
			t.Errorf("output:\n%s", out)
		}
		_, err := env.Clientset().Discovery().ServerResourcesForGroupVersion(group + "/v1")
		if !apierrors.IsNotFound(err) {
			t.Errorf("the dry run created the CRD, or discovery failed: %v", err)
		}
		if got := c.configMaps(); len(got) > 0 {
			t.Errorf("created ConfigMaps %v", got)
		}
	})

	t.Run("upgrade", func(t *testing.T) {
		c.ok("install", "demo", demoChart)
		for _, flag := range []string{"--dry-run", "--dry-run=server"} {
			out := c.ok("upgrade", "demo", demoChart, "--set", "message=changed", flag)
			if !strings.Contains(out, "REVISION: 2\n") || !strings.Contains(out, `message: "changed"`) {
				t.Errorf("upgrade %s output:\n%s", flag, out)
			}
		}
		if diff := cmp.Diff([]string{"1 deployed Install complete"}, c.history("demo")); diff != "" {
			t.Errorf("a dry-run upgrade wrote a revision (-want +got):\n%s", diff)
		}
		cm, err := env.Clientset().CoreV1().ConfigMaps(c.ns).Get(t.Context(), "demo-demo-app", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if cm.Data["message"] != "hello" {
			t.Errorf("a dry-run upgrade changed the ConfigMap: %v", cm.Data)
		}
		c.ok("rollback", "demo", "1", "--dry-run")
		c.ok("uninstall", "demo", "--dry-run")
		if diff := cmp.Diff([]string{"1 deployed Install complete"}, c.history("demo")); diff != "" {
			t.Errorf("rollback or uninstall --dry-run changed the history (-want +got):\n%s", diff)
		}
		if !slices.Contains(c.configMaps(), "demo-demo-app") {
			t.Error("uninstall --dry-run deleted the ConfigMap")
		}
	})

	t.Run("invalid", func(t *testing.T) {
		c.fails([]string{`--dry-run must be "client" or "server"`}, "install", "other", demoChart, "--dry-run=maybe")
	})
}

// TestReleaseFlagsCreateNamespace: install into a namespace that does not
// exist fails, and with --create-namespace creates it.
func TestReleaseFlagsCreateNamespace(t *testing.T) {
	c := newReleaseCLI(t)
	ns := c.ns + "-new"
	cs := env.Clientset()
	t.Cleanup(func() {
		_ = cs.CoreV1().Namespaces().Delete(t.Context(), ns, metav1.DeleteOptions{})
	})
	c.fails([]string{ns, "not found"}, "install", "demo", demoChart, "-n", ns)
	out := c.ok("install", "demo", demoChart, "-n", ns, "--create-namespace")
	if !strings.Contains(out, "NAMESPACE: "+ns+"\n") || !strings.Contains(out, "STATUS: deployed\n") {
		t.Errorf("output:\n%s", out)
	}
	if _, err := cs.CoreV1().Namespaces().Get(t.Context(), ns, metav1.GetOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.AppsV1().Deployments(ns).Get(t.Context(), "demo-demo-app", metav1.GetOptions{}); err != nil {
		t.Error(err)
	}
	// Again, on a namespace that exists: nothing to create, no error.
	c.ok("upgrade", "demo", demoChart, "-n", ns, "--create-namespace")
}

// TestReleaseFlagsValues: an upgrade without values reuses the last ones
// (Helm's rule); --reuse-values merges new ones over them; --reset-values
// drops them; --reset-then-reuse-values merges too.
func TestReleaseFlagsValues(t *testing.T) {
	c := newReleaseCLI(t)
	steps := []struct {
		name string
		args []string
		want string
	}{
		{"install", []string{"install", "demo", demoChart, "--set", "message=one", "--no-hooks"}, `{"message":"one"}`},
		{"no-values-reuse", []string{"upgrade", "demo", demoChart, "--no-hooks"}, `{"message":"one"}`},
		{"values-replace", []string{"upgrade", "demo", demoChart, "--set", "widget.size=big", "--no-hooks"}, `{"widget":{"size":"big"}}`},
		{"reuse-values", []string{"upgrade", "demo", demoChart, "--reuse-values", "--set", "message=two", "--no-hooks"}, `{"message":"two","widget":{"size":"big"}}`},
		{"reuse-values-override", []string{"upgrade", "demo", demoChart, "--reuse-values", "--set", "widget.size=huge", "--no-hooks"}, `{"message":"two","widget":{"size":"huge"}}`},
		{"reset-then-reuse-values", []string{"upgrade", "demo", demoChart, "--reset-then-reuse-values", "--set", "replicaCount=1", "--no-hooks"}, `{"message":"two","replicaCount":1,"widget":{"size":"huge"}}`},
		{"reset-values-with-set", []string{"upgrade", "demo", demoChart, "--reset-values", "--set", "replicaCount=3", "--no-hooks"}, `{"replicaCount":3}`},
		{"reset-values", []string{"upgrade", "demo", demoChart, "--reset-values", "--no-hooks"}, `{}`},
	}
	for _, s := range steps {
		c.ok(s.args...)
		if got := c.values("demo"); got != s.want {
			t.Errorf("%s: get values = %s, want %s", s.name, got, s.want)
		}
	}
	// The values reached the objects, not only the record.
	cm, err := env.Clientset().CoreV1().ConfigMaps(c.ns).Get(t.Context(), "demo-demo-app", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if cm.Data["message"] != "hello" {
		t.Errorf("after --reset-values the ConfigMap says %q, want the chart's hello", cm.Data["message"])
	}
	if got := c.values("demo"); got != "{}" {
		t.Errorf("get values = %s", got)
	}
	if got := strings.TrimSpace(c.ok("get", "values", "demo", "--revision", "4", "-o", "json")); got != `{"message":"two","widget":{"size":"big"}}` {
		t.Errorf("get values --revision 4 = %s", got)
	}
}

// TestReleaseFlagsReuseValuesChartDefaults: as in Helm, --reuse-values
// renders a new chart with the previous revision's computed values as its
// defaults (the old defaults carry over, new keys are not added), while
// --reset-then-reuse-values takes the new chart's defaults; get values
// --all prints the computed values.
func TestReleaseFlagsReuseValuesChartDefaults(t *testing.T) {
	c := newReleaseCLI(t)
	tmpl := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: defaults\ndata:\n" +
		"  greeting: {{ .Values.greeting | quote }}\n  color: {{ .Values.color | quote }}\n  size: {{ .Values.size | default \"unset\" | quote }}\n"
	v1 := writeChart(t, "defaults", map[string]string{"values.yaml": "greeting: hello\ncolor: red\n", "templates/cm.yaml": tmpl})
	v2 := writeChart(t, "defaults", map[string]string{"values.yaml": "greeting: bonjour\ncolor: green\nsize: small\n", "templates/cm.yaml": tmpl})
	data := func() map[string]string {
		t.Helper()
		cm, err := env.Clientset().CoreV1().ConfigMaps(c.ns).Get(t.Context(), "defaults", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return cm.Data
	}

	c.ok("install", "demo", v1, "--set", "color=blue")
	if got, want := c.ok("get", "values", "demo", "--all"), "COMPUTED VALUES:\ncolor: blue\ngreeting: hello\n"; got != want {
		t.Errorf("get values --all = %q, want %q", got, want)
	}
	if got, want := c.ok("get", "values", "demo"), "USER-SUPPLIED VALUES:\ncolor: blue\n"; got != want {
		t.Errorf("get values = %q, want %q", got, want)
	}

	c.ok("upgrade", "demo", v2, "--reuse-values")
	if diff := cmp.Diff(map[string]string{"greeting": "hello", "color": "blue", "size": "unset"}, data()); diff != "" {
		t.Errorf("upgrade --reuse-values to a chart with new defaults (-want +got):\n%s", diff)
	}
	c.ok("upgrade", "demo", v2, "--reset-then-reuse-values")
	if diff := cmp.Diff(map[string]string{"greeting": "bonjour", "color": "blue", "size": "small"}, data()); diff != "" {
		t.Errorf("upgrade --reset-then-reuse-values (-want +got):\n%s", diff)
	}
	if got := c.ok("get", "all", "demo"); !strings.Contains(got, "COMPUTED VALUES:\ncolor: blue\ngreeting: bonjour\nsize: small\n") {
		t.Errorf("get all lacks the computed values:\n%s", got)
	}
}

// TestReleaseFlagsHistoryMax: with --history-max 2 only two revisions
// remain after four upgrades, records included.
func TestReleaseFlagsHistoryMax(t *testing.T) {
	c := newReleaseCLI(t)
	c.ok("install", "demo", demoChart, "--no-hooks")
	for i := range 4 {
		c.ok("upgrade", "demo", demoChart, "--no-hooks", "--history-max", "2", "--set", fmt.Sprintf("message=m%d", i))
	}
	want := []string{"4 superseded Upgrade complete", "5 deployed Upgrade complete"}
	if diff := cmp.Diff(want, c.history("demo")); diff != "" {
		t.Errorf("history (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{ownership.RevisionName("demo", 4), ownership.RevisionName("demo", 5)}, c.records("demo")); diff != "" {
		t.Errorf("record Secrets (-want +got):\n%s", diff)
	}
	// The default (10) keeps the rest from now on.
	c.ok("upgrade", "demo", demoChart, "--no-hooks", "--set", "message=m5")
	if got := len(c.history("demo")); got != 3 {
		t.Errorf("%d revisions after an upgrade with the default --history-max, want 3", got)
	}
}

// TestReleaseFlagsForceUnlock: a live lock held by someone else makes an
// upgrade fail at once naming the holder; --force-unlock takes it.
func TestReleaseFlagsForceUnlock(t *testing.T) {
	c := newReleaseCLI(t)
	c.ok("install", "demo", demoChart, "--no-hooks")

	const holder = "alice@laptop-7 (pid 4242)"
	other := release.NewKubeStore(env.Clientset(), release.KubeStoreOptions{Holder: holder})
	if _, err := other.Acquire(t.Context(), c.ns, "demo", "upgrade", false); err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	c.fails([]string{holder, "running upgrade", "--force-unlock"}, "upgrade", "demo", demoChart, "--no-hooks", "--set", "message=mine")
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("the locked upgrade took %s to fail, want at once", d)
	}
	c.fails([]string{holder}, "rollback", "demo", "1")
	c.fails([]string{holder}, "uninstall", "demo")
	var st releaseview.StatusView
	if err := json.Unmarshal([]byte(c.ok("status", "demo", "-o", "json")), &st); err != nil {
		t.Fatal(err)
	}
	if st.Lock == nil || st.Lock.Holder != holder {
		t.Errorf("status lock = %+v, want held by %s", st.Lock, holder)
	}

	out := c.ok("upgrade", "demo", demoChart, "--no-hooks", "--set", "message=mine", "--force-unlock")
	if !strings.Contains(out, "STATUS: deployed\nREVISION: 2\n") {
		t.Errorf("upgrade --force-unlock:\n%s", out)
	}
	st = releaseview.StatusView{}
	if err := json.Unmarshal([]byte(c.ok("status", "demo", "-o", "json")), &st); err != nil {
		t.Fatal(err)
	}
	if st.Lock != nil || st.Revision != 2 || st.Status != release.StatusDeployed {
		t.Errorf("status after --force-unlock: lock %+v, revision %d %s; want no lock, 2 deployed", st.Lock, st.Revision, st.Status)
	}
	// The lock is free for the next one.
	c.ok("rollback", "demo", "1", "--no-hooks")
}

// TestReleaseFlagsDescriptionAndNotes: --description is what history
// shows; NOTES are printed after install and upgrade, not after a failure.
func TestReleaseFlagsDescriptionAndNotes(t *testing.T) {
	c := newReleaseCLI(t)
	const notes = "NOTES:\ndemo-demo-app is running 2 replicas of nginx:1.27.\n"
	out := c.ok("install", "demo", demoChart, "--description", "first of all")
	if !strings.HasSuffix(out, notes) {
		t.Errorf("install does not end with the notes:\n%s", out)
	}
	if !strings.Contains(out, "HOOK: post-install demo-demo-app-smoke Succeeded") {
		t.Errorf("install does not report its hook:\n%s", out)
	}
	out = c.ok("upgrade", "demo", demoChart, "--set", "replicaCount=3", "--description", "three of them")
	if !strings.HasSuffix(out, "NOTES:\ndemo-demo-app is running 3 replicas of nginx:1.27.\n") {
		t.Errorf("upgrade does not end with the notes:\n%s", out)
	}
	c.ok("upgrade", "demo", demoChart, "--set", "replicaCount=1")
	out = c.ok("rollback", "demo", "2", "--description", "back to three")
	if !strings.Contains(out, "is at revision 4 (back to three)") {
		t.Errorf("rollback:\n%s", out)
	}
	c.ok("rollback", "demo")
	want := []string{
		"1 superseded first of all",
		"2 superseded three of them",
		"3 superseded Upgrade complete",
		"4 superseded back to three",
		"5 deployed Rollback to 3",
	}
	if diff := cmp.Diff(want, c.history("demo")); diff != "" {
		t.Errorf("history (-want +got):\n%s", diff)
	}
	if got := c.ok("get", "notes", "demo"); !strings.HasPrefix(got, "NOTES:\ndemo-demo-app is running 1 replicas of nginx:1.27.\n") {
		t.Errorf("get notes = %q", got)
	}

	got := c.fails([]string{"spec.replicas"}, "upgrade", "demo", demoChart, "--set", "replicaCount=-1")
	if strings.Contains(got.stdout, "NOTES:") {
		t.Errorf("a failed upgrade prints notes:\n%s", got.stdout)
	}
	if !strings.Contains(got.stdout, "STATUS: failed\n") {
		t.Errorf("a failed upgrade does not say failed:\n%s", got.stdout)
	}
}

// TestReleaseFlagsNoHooks: --no-hooks creates no hook Job.
func TestReleaseFlagsNoHooks(t *testing.T) {
	c := newReleaseCLI(t)
	out := c.ok("install", "demo", demoChart, "--no-hooks")
	if strings.Contains(out, "HOOK:") {
		t.Errorf("install --no-hooks ran a hook:\n%s", out)
	}
	if got := c.jobs(); len(got) > 0 {
		t.Errorf("install --no-hooks created Jobs %v", got)
	}
	// The hooks are still recorded, and run on the next upgrade.
	if got := c.ok("get", "hooks", "demo"); !strings.Contains(got, "name: demo-demo-app-smoke") {
		t.Errorf("get hooks:\n%s", got)
	}
	out = c.ok("upgrade", "demo", demoChart)
	if !strings.Contains(out, "HOOK: post-upgrade demo-demo-app-smoke Succeeded") {
		t.Errorf("upgrade ran no hook:\n%s", out)
	}
	if diff := cmp.Diff([]string{"demo-demo-app-smoke"}, c.jobs()); diff != "" {
		t.Errorf("Jobs (-want +got):\n%s", diff)
	}
	out = c.ok("upgrade", "demo", demoChart, "--no-hooks", "--set", "message=quiet")
	if strings.Contains(out, "HOOK:") {
		t.Errorf("upgrade --no-hooks ran a hook:\n%s", out)
	}
}

// TestReleaseFlagsInstallUpgrade: install of an existing release and
// upgrade of a missing one fail; upgrade --install after a failed first
// install installs it (Helm #5595).
func TestReleaseFlagsInstallUpgrade(t *testing.T) {
	c := newReleaseCLI(t)
	c.fails([]string{`release "demo"`, "not found", "upgrade --install"}, "upgrade", "demo", demoChart)
	if c.headExists("demo") {
		t.Error("a refused upgrade created the release head")
	}

	// The API server refuses the Deployment: the first install fails.
	got := c.fails([]string{"Deployment.apps/" + c.ns + "/demo-demo-app", "spec.replicas"}, "install", "demo", demoChart, "--set", "replicaCount=-1")
	if !strings.Contains(got.stdout, "STATUS: failed\n") {
		t.Errorf("failed install output:\n%s", got.stdout)
	}
	out := c.ok("upgrade", "--install", "demo", demoChart)
	if !strings.Contains(out, "STATUS: deployed\nREVISION: 2\n") || !strings.Contains(out, "HOOK: post-install ") {
		t.Errorf("upgrade --install after a failed install, want an install as revision 2:\n%s", out)
	}
	want := []string{"1 failed", "2 deployed"}
	if diff := cmp.Diff(want, c.historyStatuses("demo")); diff != "" {
		t.Errorf("history (-want +got):\n%s", diff)
	}

	c.fails([]string{`release "demo"`, "cannot re-use a name that is still in use"}, "install", "demo", demoChart)
	if n := len(c.history("demo")); n != 2 {
		t.Errorf("a refused install wrote a revision: %d revisions", n)
	}
	// upgrade --install of a deployed release upgrades it.
	out = c.ok("upgrade", "-i", "demo", demoChart, "--set", "message=again")
	if !strings.Contains(out, "REVISION: 3\n") || !strings.Contains(out, "HOOK: post-upgrade ") {
		t.Errorf("upgrade -i of a deployed release:\n%s", out)
	}
}

// TestReleaseFlagsTakeOwnership: an object created by another tool is
// refused, named with its field managers; --take-ownership adopts it, and
// an uninstall before then leaves it alone.
func TestReleaseFlagsTakeOwnership(t *testing.T) {
	c := newReleaseCLI(t)
	cms := env.Clientset().CoreV1().ConfigMaps(c.ns)
	// As the chart renders it, plus a key of its own.
	_, err := cms.Create(t.Context(), &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "demo-demo-app"},
		Data:       map[string]string{"message": "hello", "owner": "someone else"},
	}, metav1.CreateOptions{FieldManager: "other-tool"})
	if err != nil {
		t.Fatal(err)
	}
	c.fails([]string{"ConfigMap/" + c.ns + "/demo-demo-app", "other-tool", "--take-ownership"}, "install", "demo", demoChart, "--no-hooks")

	// The failed release never owned the ConfigMap: uninstalling it must
	// not delete it.
	c.ok("uninstall", "demo")
	live, err := cms.Get(t.Context(), "demo-demo-app", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("uninstall of the failed release deleted the other tool's ConfigMap: %v", err)
	}
	if _, ok := live.Labels[ownership.LabelRelease]; ok {
		t.Errorf("the refused ConfigMap got labels %v", live.Labels)
	}
	// Nor --atomic, which uninstalls a failed install.
	c.fails([]string{"--take-ownership", "uninstalled (--atomic)"}, "install", "demo", demoChart, "--no-hooks", "--atomic")
	if _, err := cms.Get(t.Context(), "demo-demo-app", metav1.GetOptions{}); err != nil {
		t.Fatalf("install --atomic deleted the other tool's ConfigMap: %v", err)
	}

	c.ok("install", "demo", demoChart, "--no-hooks", "--take-ownership")
	live, err = cms.Get(t.Context(), "demo-demo-app", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if live.Labels[ownership.LabelRelease] != "demo" || live.Labels[ownership.LabelReleaseNamespace] != c.ns {
		t.Errorf("adopted ConfigMap labels %v", live.Labels)
	}
	if live.Data["owner"] != "someone else" {
		t.Errorf("adoption dropped a field the chart does not set: %v", live.Data)
	}

	// A ConfigMap whose data the chart sets differently: adopting it takes
	// a field of the other manager, which also needs --force-conflicts.
	_, err = cms.Create(t.Context(), &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "other-demo-app"},
		Data:       map[string]string{"message": "mine"},
	}, metav1.CreateOptions{FieldManager: "other-tool"})
	if err != nil {
		t.Fatal(err)
	}
	c.fails([]string{"ConfigMap/" + c.ns + "/other-demo-app", "other-tool"}, "install", "other", demoChart, "--no-hooks", "--take-ownership")
	c.ok("upgrade", "--install", "other", demoChart, "--no-hooks", "--take-ownership", "--force-conflicts")
	live, err = cms.Get(t.Context(), "other-demo-app", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if live.Data["message"] != "hello" || live.Labels[ownership.LabelRelease] != "other" {
		t.Errorf("adopted ConfigMap: data %v, labels %v", live.Data, live.Labels)
	}
	// Another release's object is refused too, naming the release.
	c.fails([]string{"ConfigMap/" + c.ns + "/demo-demo-app", "owned by release demo"}, "install", "demo2", writeChart(t, "stealer", map[string]string{
		"templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: demo-demo-app\ndata:\n  message: hello\n",
	}))
}

// TestReleaseFlagsKeepHistory: uninstall --keep-history deletes the objects
// and keeps the records, marked uninstalled; the name can be installed
// again.
func TestReleaseFlagsKeepHistory(t *testing.T) {
	c := newReleaseCLI(t)
	c.ok("install", "demo", demoChart, "--no-hooks")
	c.ok("upgrade", "demo", demoChart, "--no-hooks", "--set", "message=two")
	out := c.ok("uninstall", "demo", "--keep-history")
	if out != "release \"demo\" uninstalled\n" {
		t.Errorf("uninstall output %q", out)
	}
	if got := c.configMaps(); !slices.Equal(got, []string{ownership.HeadName("demo")}) {
		t.Errorf("ConfigMaps after uninstall --keep-history: %v, want only the head", got)
	}
	if diff := cmp.Diff([]string{"1 superseded", "2 uninstalled"}, c.historyStatuses("demo")); diff != "" {
		t.Errorf("history after uninstall --keep-history (-want +got):\n%s", diff)
	}
	if hist := c.history("demo"); len(hist) != 2 || !strings.HasSuffix(hist[1], "Uninstallation complete") || !strings.HasSuffix(hist[0], "Install complete") {
		t.Errorf("history descriptions after uninstall --keep-history:\n%s", strings.Join(hist, "\n"))
	}
	if got := c.ok("list", "-q"); got != "" {
		t.Errorf("list shows an uninstalled release: %q", got)
	}
	if got := c.ok("list", "-q", "--uninstalled"); got != "demo\n" {
		t.Errorf("list --uninstalled -q = %q, want demo", got)
	}
	var rows []releaseview.ListRow
	if err := json.Unmarshal([]byte(c.ok("list", "--uninstalled", "-o", "json")), &rows); err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0].Status != "uninstalled" || rows[0].Revision != "2" {
		t.Errorf("list --uninstalled -o json: %+v", rows)
	}

	out = c.ok("install", "demo", demoChart, "--no-hooks")
	if !strings.Contains(out, "STATUS: deployed\nREVISION: 3\n") {
		t.Errorf("install after uninstall --keep-history:\n%s", out)
	}
	c.ok("uninstall", "demo")
	if c.headExists("demo") || len(c.records("demo")) > 0 {
		t.Errorf("uninstall left the head or records %v", c.records("demo"))
	}
	c.fails([]string{`release "demo"`, "not found"}, "uninstall", "demo")
}

// TestReleaseFlagsResourcePolicyKeep: objects annotated keep (ours or
// Helm's annotation) survive uninstall and upgrades that stop rendering
// them.
func TestReleaseFlagsResourcePolicyKeep(t *testing.T) {
	c := newReleaseCLI(t)
	cm := func(name, annotation string) string {
		s := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: " + name + "\n"
		if annotation != "" {
			s += "  annotations:\n    " + annotation + ": keep\n"
		}
		return s + "data:\n  a: b\n"
	}
	ch := writeChart(t, "keeper", map[string]string{
		"values.yaml":            "pruned: true\n",
		"templates/helm.yaml":    cm("kept-helm", ownership.HelmAnnotationResourcePolicy),
		"templates/ours.yaml":    cm("kept-ours", ownership.AnnotationResourcePolicy),
		"templates/plain.yaml":   cm("plain", ""),
		"templates/pruned.yaml":  "{{- if .Values.pruned }}\n" + cm("pruned-kept", ownership.AnnotationResourcePolicy) + "{{- end }}\n",
		"templates/pruned2.yaml": "{{- if .Values.pruned }}\n" + cm("pruned-gone", "") + "{{- end }}\n",
	})
	c.ok("install", "keeper", ch)
	c.ok("upgrade", "keeper", ch, "--set", "pruned=false")
	if diff := cmp.Diff([]string{"kept-helm", "kept-ours", ownership.HeadName("keeper"), "plain", "pruned-kept"}, sorted(c.configMaps())); diff != "" {
		t.Errorf("ConfigMaps after the pruning upgrade (-want +got):\n%s", diff)
	}
	out := c.ok("uninstall", "keeper")
	for _, name := range []string{"kept-helm", "kept-ours"} {
		if !strings.Contains(out, "kept ConfigMap/"+c.ns+"/"+name+" (resource policy keep)\n") {
			t.Errorf("uninstall does not report %s kept:\n%s", name, out)
		}
	}
	if diff := cmp.Diff([]string{"kept-helm", "kept-ours", "pruned-kept"}, sorted(c.configMaps())); diff != "" {
		t.Errorf("ConfigMaps after uninstall (-want +got):\n%s", diff)
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// TestReleaseFlagsLargeRelease: a chart that renders about 3 MiB (25
// ConfigMaps of 128 KiB of random text) installs; its revision record is
// split across several Secrets; get manifest gives back exactly what
// template renders (hooks apart); an upgrade and a rollback keep working.
func TestReleaseFlagsLargeRelease(t *testing.T) {
	c := newReleaseCLI(t)
	const n, size = 25, 128 << 10
	files := map[string]string{
		"templates/hook.yaml":  "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-hook\n  annotations:\n    helm.sh/hook: pre-install,pre-upgrade\ndata:\n  a: b\n",
		"templates/small.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-small\ndata:\n  rev: {{ .Release.Revision | quote }}\n  message: {{ .Values.message | quote }}\n",
		"values.yaml":          "message: hello\n",
	}
	blobs := map[string]string{}
	for i := range n {
		raw := make([]byte, size*3/4)
		if _, err := rand.Read(raw); err != nil {
			t.Fatal(err)
		}
		blob := base64.StdEncoding.EncodeToString(raw)
		name := fmt.Sprintf("big-%02d", i)
		blobs[name] = blob
		files["templates/"+name+".yaml"] = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-" + name + "\ndata:\n  blob: " + blob + "\n"
	}
	ch := writeChart(t, "big", files)

	start := time.Now()
	c.ok("install", "big", ch)
	installTime := time.Since(start)

	manifest := c.ok("get", "manifest", "big")
	// get manifest ends with two more newlines than template, as with Helm
	// (helm get manifest prints the stored manifest, which ends with an
	// empty line, with Println).
	want := c.ok("template", "big", ch, "--no-hooks") + "\n\n"
	if len(manifest) < 3<<20 {
		t.Errorf("get manifest: %d bytes, want ≥ 3 MiB", len(manifest))
	}
	if manifest != want {
		t.Errorf("get manifest (%d bytes) differs from template --no-hooks (%d bytes):\n%s", len(manifest), len(want),
			cmp.Diff(shorten(want), shorten(manifest)))
	}
	recs := c.records("big")
	if len(recs) < 3 {
		t.Errorf("revision 1 is kept in %d Secrets %v, want it split across at least 3", len(recs), recs)
	}
	for name, blob := range blobs {
		live, err := env.Clientset().CoreV1().ConfigMaps(c.ns).Get(t.Context(), "big-"+name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if live.Data["blob"] != blob {
			t.Errorf("ConfigMap big-%s holds %d bytes, not its blob", name, len(live.Data["blob"]))
		}
	}

	// A small change: only the small ConfigMap is written.
	start = time.Now()
	out := c.ok("upgrade", "big", ch, "--set", "message=changed")
	upgradeTime := time.Since(start)
	if !strings.Contains(out, "APPLIED: 1 configured, 25 unchanged") && !strings.Contains(out, "APPLIED: 25 unchanged, 1 configured") {
		t.Errorf("upgrade:\n%s", out)
	}
	c.ok("rollback", "big", "1")
	if got := c.ok("get", "manifest", "big"); got != manifest {
		t.Errorf("get manifest of the rollback (%d bytes) differs from revision 1's", len(got))
	}
	if got := c.ok("get", "manifest", "big", "--revision", "2"); !strings.Contains(got, `message: "changed"`) {
		t.Error("get manifest --revision 2 lacks the change")
	}
	var st releaseview.StatusView
	if err := json.Unmarshal([]byte(c.ok("status", "big", "-o", "json")), &st); err != nil {
		t.Fatal(err)
	}
	if len(st.Resources) != n+1 {
		t.Errorf("status shows %d objects, want %d", len(st.Resources), n+1)
	}
	t.Logf("%d bytes of manifest in %d record Secrets; install %s, upgrade %s", len(manifest), len(recs), installTime.Round(time.Millisecond), upgradeTime.Round(time.Millisecond))
	c.ok("uninstall", "big")
	if got := c.records("big"); len(got) > 0 {
		t.Errorf("records left after uninstall: %v", got)
	}
}

// shorten cuts long lines (the blobs) for a readable diff.
func shorten(s string) string {
	var b strings.Builder
	for line := range strings.Lines(s) {
		if len(line) > 80 {
			line = fmt.Sprintf("%s… (%d bytes)\n", line[:60], len(line))
		}
		b.WriteString(line)
	}
	return b.String()
}

// TestReleaseFlagsLookup: lookup during install reads the cluster: an
// object created beforehand, a list, a cluster-scoped object; template,
// which has no cluster, sees nothing.
func TestReleaseFlagsLookup(t *testing.T) {
	c := newReleaseCLI(t)
	pre, err := env.Clientset().CoreV1().ConfigMaps(c.ns).Create(t.Context(), &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "pre-existing"},
		Data:       map[string]string{"key": "from the cluster"},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ch := writeChart(t, "looker", map[string]string{
		"templates/seen.yaml": `{{- $cm := lookup "v1" "ConfigMap" .Release.Namespace "pre-existing" }}
{{- $missing := lookup "v1" "ConfigMap" .Release.Namespace "not-there" }}
{{- $all := lookup "v1" "ConfigMap" .Release.Namespace "" }}
{{- $ns := lookup "v1" "Namespace" "" .Release.Namespace }}
apiVersion: v1
kind: ConfigMap
metadata:
  name: seen
data:
  key: {{ if $cm }}{{ $cm.data.key | quote }}{{ else }}"nothing"{{ end }}
  uid: {{ if $cm }}{{ $cm.metadata.uid | quote }}{{ else }}""{{ end }}
  missing: {{ len $missing | quote }}
  listed: {{ if $all }}{{ gt (len $all.items) 0 | quote }}{{ else }}"false"{{ end }}
  namespace: {{ if $ns }}{{ $ns.metadata.name | quote }}{{ else }}""{{ end }}
`,
	})
	c.ok("install", "looker", ch)
	seen, err := env.Clientset().CoreV1().ConfigMaps(c.ns).Get(t.Context(), "seen", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"key": "from the cluster", "uid": string(pre.UID), "missing": "0", "listed": "true", "namespace": c.ns}
	if diff := cmp.Diff(want, seen.Data); diff != "" {
		t.Errorf("what lookup saw during install (-want +got):\n%s", diff)
	}
	// An upgrade looks again.
	pre.Data["key"] = "changed"
	if _, err := env.Clientset().CoreV1().ConfigMaps(c.ns).Update(t.Context(), pre, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	c.ok("upgrade", "looker", ch)
	if seen, err = env.Clientset().CoreV1().ConfigMaps(c.ns).Get(t.Context(), "seen", metav1.GetOptions{}); err != nil || seen.Data["key"] != "changed" {
		t.Errorf("after upgrade, seen = %v (%v), want key changed", seen.Data, err)
	}
	if out := c.ok("template", "looker", ch); !strings.Contains(out, `key: "nothing"`) {
		t.Errorf("template (no cluster) saw something:\n%s", out)
	}
}
