package action

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-chart/kubectl-chart/internal/apply"
	"github.com/kubectl-chart/kubectl-chart/pkg/chart"
	"github.com/kubectl-chart/kubectl-chart/pkg/chart/loader"
	"github.com/kubectl-chart/kubectl-chart/pkg/ownership"
	"github.com/kubectl-chart/kubectl-chart/pkg/release"
	"github.com/kubectl-chart/kubectl-chart/pkg/render"
)

const demoChart = "../../testdata/charts/demo-app"

// newConfig is an action configuration on the test cluster; holder names
// the lock holder (two configs with different holders are two clients).
func newConfig(t *testing.T, holder string) *Config {
	t.Helper()
	env.Require(t)
	m, err := apply.New(env.Config())
	if err != nil {
		t.Fatal(err)
	}
	opts := release.DefaultKubeStoreOptions()
	opts.Holder = holder
	opts.Tooling = "kubectl-chart/test"
	store := release.NewKubeStore(env.Clientset(), opts)
	return &Config{Store: store, Applier: m, Capabilities: render.DefaultCapabilities(), KeepAlive: store.KeepAliveNotify}
}

func loadChart(t *testing.T, path string) *chart.Chart {
	t.Helper()
	ch, err := loader.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

func upgradeOpts(t *testing.T, ns, name, chartPath string, vals map[string]any) UpgradeOptions {
	o := DefaultUpgradeOptions()
	o.Name, o.Namespace, o.Install = name, ns, true
	o.Chart, o.ChartOrigin, o.Values = loadChart(t, chartPath), release.ChartOrigin{Source: chartPath, Reference: chartPath}, vals
	o.Timeout = time.Minute
	return o
}

// owned lists "Kind/name" of the objects labelled for the release.
func owned(t *testing.T, ns, name string) []string {
	t.Helper()
	ctx := context.Background()
	sel := metav1.ListOptions{LabelSelector: ownership.LabelRelease + "=" + name}
	var out []string
	// The release's own records carry the label too.
	record := func(n string) bool { return strings.HasPrefix(n, "kubectl-chart.") }
	cms, err := env.Clientset().CoreV1().ConfigMaps(ns).List(ctx, sel)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range cms.Items {
		if !record(o.Name) {
			out = append(out, "ConfigMap/"+o.Name)
		}
	}
	svcs, _ := env.Clientset().CoreV1().Services(ns).List(ctx, sel)
	for _, o := range svcs.Items {
		if !record(o.Name) {
			out = append(out, "Service/"+o.Name)
		}
	}
	secs, _ := env.Clientset().CoreV1().Secrets(ns).List(ctx, sel)
	for _, o := range secs.Items {
		if !record(o.Name) {
			out = append(out, "Secret/"+o.Name)
		}
	}
	deps, _ := env.Clientset().AppsV1().Deployments(ns).List(ctx, sel)
	for _, o := range deps.Items {
		if !record(o.Name) {
			out = append(out, "Deployment/"+o.Name)
		}
	}
	return out
}

func count(changes []apply.Change, a apply.Action) int {
	n := 0
	for _, c := range changes {
		if c.Action == a {
			n++
		}
	}
	return n
}

// TestLifecycle: install → upgrade (changed, removed, added; pruned) →
// no-op upgrade → rollback (revision 4 = revision 1's manifest) → uninstall
// (nothing owned left).
func TestLifecycle(t *testing.T) {
	ctx := context.Background()
	ns := env.Namespace(t)
	c := newConfig(t, "alice@test (pid 1)")

	o := upgradeOpts(t, ns, "demo", demoChart, nil)
	o.InstallOnly, o.Wait = true, true
	res, err := c.Upgrade(ctx, o)
	if err != nil {
		t.Fatalf("install: %v", err)
	}
	if res.Revision.Status != release.StatusDeployed || res.Revision.Revision != 1 {
		t.Fatalf("install: revision %d %s", res.Revision.Revision, res.Revision.Status)
	}
	if len(res.Hooks) != 1 || res.Hooks[0].Status != "Succeeded" || res.Hooks[0].Event != "post-install" {
		t.Errorf("install hooks = %+v, want the post-install smoke Job succeeded", res.Hooks)
	}
	if diff := cmp.Diff([]string{"ConfigMap/demo-demo-app", "Service/demo-demo-app", "Deployment/demo-demo-app"}, owned(t, ns, "demo")); diff != "" {
		t.Errorf("owned after install (-want +got):\n%s", diff)
	}
	if !strings.Contains(res.Revision.Notes, "demo-demo-app is running 2 replicas") {
		t.Errorf("notes = %q", res.Revision.Notes)
	}

	// Upgrade: message changed, Service removed, Secret added.
	o = upgradeOpts(t, ns, "demo", demoChart, map[string]any{
		"message": "bye", "service": map[string]any{"enabled": false}, "extraSecret": map[string]any{"enabled": true},
	})
	res, err = c.Upgrade(ctx, o)
	if err != nil {
		t.Fatalf("upgrade: %v", err)
	}
	if res.Revision.Revision != 2 {
		t.Fatalf("upgrade revision = %d", res.Revision.Revision)
	}
	if diff := cmp.Diff([]string{"ConfigMap/demo-demo-app", "Secret/demo-demo-app-extra", "Deployment/demo-demo-app"}, owned(t, ns, "demo")); diff != "" {
		t.Errorf("owned after upgrade (-want +got):\n%s", diff)
	}
	cm, err := env.Clientset().CoreV1().ConfigMaps(ns).Get(ctx, "demo-demo-app", metav1.GetOptions{})
	if err != nil || cm.Data["message"] != "bye" {
		t.Errorf("configmap after upgrade: %v %v", cm.Data, err)
	}
	if n := count(res.Changes, apply.Deleted); n != 1 {
		t.Errorf("upgrade pruned %d objects, want 1 (the Service): %v", n, res.Changes)
	}

	// The same values again: nothing is written but the records.
	dep, _ := env.Clientset().AppsV1().Deployments(ns).Get(ctx, "demo-demo-app", metav1.GetOptions{})
	res, err = c.Upgrade(ctx, o)
	if err != nil {
		t.Fatalf("no-op upgrade: %v", err)
	}
	for _, ch := range res.Changes {
		if ch.Action != apply.Unchanged {
			t.Errorf("no-op upgrade: %s %s", ch.Ref, ch.Action)
		}
	}
	dep2, _ := env.Clientset().AppsV1().Deployments(ns).Get(ctx, "demo-demo-app", metav1.GetOptions{})
	if dep.ResourceVersion != dep2.ResourceVersion && dep.Generation != dep2.Generation {
		t.Errorf("no-op upgrade changed the Deployment's generation %d → %d", dep.Generation, dep2.Generation)
	}

	// Rollback to 1: revision 4 has revision 1's manifest.
	res, err = c.Rollback(ctx, RollbackOptions{Name: "demo", Namespace: ns, Revision: 1, Timeout: time.Minute, HistoryMax: 10})
	if err != nil {
		t.Fatalf("rollback: %v", err)
	}
	r1, err := c.Store.Revision(ctx, ns, "demo", 1)
	if err != nil {
		t.Fatal(err)
	}
	r4, err := c.Store.Revision(ctx, ns, "demo", 4)
	if err != nil {
		t.Fatal(err)
	}
	if r4.Manifest != r1.Manifest || r4.Status != release.StatusDeployed {
		t.Errorf("revision 4: status %s, same manifest as 1: %v", r4.Status, r4.Manifest == r1.Manifest)
	}
	if diff := cmp.Diff([]string{"ConfigMap/demo-demo-app", "Service/demo-demo-app", "Deployment/demo-demo-app"}, owned(t, ns, "demo")); diff != "" {
		t.Errorf("owned after rollback (-want +got):\n%s", diff)
	}
	hist, err := c.Store.History(ctx, ns, "demo")
	if err != nil {
		t.Fatal(err)
	}
	var statuses []string
	for _, r := range hist {
		statuses = append(statuses, string(r.Status))
	}
	if diff := cmp.Diff([]string{"superseded", "superseded", "superseded", "deployed"}, statuses); diff != "" {
		t.Errorf("history (-want +got):\n%s", diff)
	}

	// Uninstall: nothing owned left, no records.
	if _, err := c.Uninstall(ctx, UninstallOptions{Name: "demo", Namespace: ns, Timeout: time.Minute}); err != nil {
		t.Fatalf("uninstall: %v", err)
	}
	if got := owned(t, ns, "demo"); len(got) != 0 {
		t.Errorf("owned after uninstall: %v", got)
	}
	if _, err := c.Store.Head(ctx, ns, "demo"); !errors.Is(err, release.ErrNotFound) {
		t.Errorf("head after uninstall: %v", err)
	}
}

// TestAtomic: a failing post-upgrade hook rolls the upgrade back; a failing
// install is uninstalled.
func TestAtomic(t *testing.T) {
	ctx := context.Background()
	ns := env.Namespace(t)
	c := newConfig(t, "bob@test (pid 2)")
	if _, err := c.Upgrade(ctx, upgradeOpts(t, ns, "demo", demoChart, nil)); err != nil {
		t.Fatalf("install: %v", err)
	}
	o := upgradeOpts(t, ns, "demo", demoChart, map[string]any{"message": "broken", "hook": map[string]any{"fail": true}})
	o.Atomic = true
	res, err := c.Upgrade(ctx, o)
	var he *HookError
	if !errors.As(err, &he) || he.Hook != "demo-demo-app-smoke" || !strings.Contains(he.Reason, "job failed") {
		t.Fatalf("upgrade with a failing hook: %v, want a HookError naming demo-demo-app-smoke and the Job's failure", err)
	}
	if !strings.Contains(res.RolledBack, "rolled back to revision 1") {
		t.Errorf("RolledBack = %q", res.RolledBack)
	}
	head, err := c.Store.Head(ctx, ns, "demo")
	if err != nil {
		t.Fatal(err)
	}
	if head.Deployed != 3 || head.Status != release.StatusDeployed {
		t.Errorf("head after atomic rollback: deployed %d status %s, want 3 deployed", head.Deployed, head.Status)
	}
	r2, _ := c.Store.Revision(ctx, ns, "demo", 2)
	if r2.Status != release.StatusFailed {
		t.Errorf("revision 2 status = %s, want failed", r2.Status)
	}
	if want := `Upgrade "demo" failed: `; !strings.HasPrefix(r2.Description, want) || !strings.Contains(r2.Description, "demo-demo-app-smoke") {
		t.Errorf("revision 2 description = %q, want %q… naming the hook", r2.Description, want)
	}
	if r3, _ := c.Store.Revision(ctx, ns, "demo", 3); r3 == nil || r3.Description != "Rollback to 1" {
		t.Errorf("revision 3 = %+v, want the description \"Rollback to 1\"", r3)
	}
	cm, _ := env.Clientset().CoreV1().ConfigMaps(ns).Get(ctx, "demo-demo-app", metav1.GetOptions{})
	if cm.Data["message"] != "hello" {
		t.Errorf("message after rollback = %q", cm.Data["message"])
	}

	// A failing install with --atomic leaves nothing.
	o = upgradeOpts(t, ns, "broken", demoChart, map[string]any{"hook": map[string]any{"fail": true}})
	o.Atomic = true
	if _, err := c.Upgrade(ctx, o); err == nil || !strings.Contains(err.Error(), "uninstalled") {
		t.Fatalf("atomic install: %v", err)
	}
	if _, err := c.Store.Head(ctx, ns, "broken"); !errors.Is(err, release.ErrNotFound) {
		t.Errorf("head after atomic install: %v", err)
	}
	if got := owned(t, ns, "broken"); len(got) != 0 {
		t.Errorf("owned after atomic install: %v", got)
	}
}

// TestConflictWithKubectlEdit: a field of the release changed by another
// manager (kubectl edit) is taken back by the next upgrade, which reports
// it (TestUpgradeReclaims has the fields the release never applied, which
// stay conflicts).
func TestConflictWithKubectlEdit(t *testing.T) {
	ctx := context.Background()
	ns := env.Namespace(t)
	c := newConfig(t, "carol@test (pid 3)")
	if _, err := c.Upgrade(ctx, upgradeOpts(t, ns, "demo", demoChart, nil)); err != nil {
		t.Fatalf("install: %v", err)
	}
	cm, err := env.Clientset().CoreV1().ConfigMaps(ns).Get(ctx, "demo-demo-app", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cm.Data["message"] = "edited"
	if _, err := env.Clientset().CoreV1().ConfigMaps(ns).Update(ctx, cm, metav1.UpdateOptions{FieldManager: "kubectl-edit"}); err != nil {
		t.Fatal(err)
	}
	res, err := c.Upgrade(ctx, upgradeOpts(t, ns, "demo", demoChart, nil))
	if err != nil {
		t.Fatalf("upgrade over a kubectl edit: %v", err)
	}
	taken := res.Takeovers()
	if len(taken) != 1 || taken[0].Field != ".data.message" || taken[0].Manager != "kubectl-edit" || !taken[0].Reclaimed {
		t.Errorf("takeovers %+v, want .data.message reclaimed from kubectl-edit", taken)
	}
	cm, _ = env.Clientset().CoreV1().ConfigMaps(ns).Get(ctx, "demo-demo-app", metav1.GetOptions{})
	if cm.Data["message"] != "hello" {
		t.Errorf("message = %q, want hello", cm.Data["message"])
	}
}

// TestConcurrentUpgrades: exactly one of two concurrent upgrades runs; the
// other fails fast naming the holder.
func TestConcurrentUpgrades(t *testing.T) {
	ctx := context.Background()
	ns := env.Namespace(t)
	if _, err := newConfig(t, "setup@test").Upgrade(ctx, upgradeOpts(t, ns, "demo", demoChart, nil)); err != nil {
		t.Fatalf("install: %v", err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	took := make([]time.Duration, 2)
	for i, who := range []string{"dave@host1 (pid 10)", "erin@host2 (pid 20)"} {
		c := newConfig(t, who)
		o := upgradeOpts(t, ns, "demo", demoChart, map[string]any{"message": who})
		wg.Go(func() {
			start := time.Now()
			_, errs[i] = c.Upgrade(ctx, o)
			took[i] = time.Since(start)
		})
	}
	wg.Wait()
	var locked *release.LockedError
	var ok, fails int
	for i, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.As(err, &locked):
			fails++
			if took[i] > 5*time.Second {
				t.Errorf("the refused upgrade took %s, want fast", took[i])
			}
			if !strings.Contains(err.Error(), "@host") {
				t.Errorf("lock error does not name the holder: %v", err)
			}
		default:
			t.Errorf("upgrade %d: %v", i, err)
		}
	}
	if ok != 1 || fails != 1 {
		t.Errorf("%d succeeded and %d were refused, want 1 and 1: %v", ok, fails, errs)
	}
}

// TestCRDUpgradedAndHooksOrdered: CRDs of crds/ are upgraded (Helm never
// does); hooks run by weight and hook-succeeded deletes them.
func TestCRDUpgradedAndHooksOrdered(t *testing.T) {
	ctx := context.Background()
	ns := env.Namespace(t)
	c := newConfig(t, "frank@test (pid 4)")
	dir := t.TempDir()
	writeChart(t, dir, "v1")
	o := upgradeOpts(t, ns, "hooks", dir, nil)
	res, err := c.Upgrade(ctx, o)
	if err != nil {
		t.Fatalf("install: %v", err)
	}
	var order []string
	for _, h := range res.Hooks {
		order = append(order, h.Name)
	}
	if diff := cmp.Diff([]string{"hook-a", "hook-b", "hook-c"}, order); diff != "" {
		t.Errorf("hook order (-want +got):\n%s", diff)
	}
	for _, name := range order {
		if _, err := env.Clientset().BatchV1().Jobs(ns).Get(ctx, name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("hook Job %s still there after success (hook-succeeded): %v", name, err)
		}
	}
	writeChart(t, dir, "v2")
	if _, err := c.Upgrade(ctx, upgradeOpts(t, ns, "hooks", dir, nil)); err != nil {
		t.Fatalf("upgrade: %v", err)
	}
	crd, err := c.Applier.Get(ctx, release.ObjectRef{Group: "apiextensions.k8s.io", Version: "v1", Kind: "CustomResourceDefinition", Name: "gadgets.test.kubectl-chart.io"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(mustJSON(crd.Object), "color") {
		t.Errorf("the CRD was not upgraded: no property color")
	}
}

func writeChart(t *testing.T, dir, version string) {
	t.Helper()
	files := map[string]string{
		"Chart.yaml": "apiVersion: v2\nname: hooks\nversion: 0.1.0\n",
		"crds/gadgets.yaml": `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: gadgets.test.kubectl-chart.io
spec:
  group: test.kubectl-chart.io
  names: {kind: Gadget, plural: gadgets, singular: gadget, listKind: GadgetList}
  scope: Namespaced
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              properties:
                size: {type: string}` + map[string]string{"v1": "\n", "v2": "\n                color: {type: string}\n"}[version],
		"templates/gadget.yaml": "apiVersion: test.kubectl-chart.io/v1\nkind: Gadget\nmetadata:\n  name: g\nspec:\n  size: big\n",
	}
	for i, w := range map[string]string{"hook-c": "5", "hook-a": "-5", "hook-b": "0"} {
		files["templates/"+i+".yaml"] = `apiVersion: batch/v1
kind: Job
metadata:
  name: ` + i + `
  annotations:
    helm.sh/hook: post-install,post-upgrade
    helm.sh/hook-weight: "` + w + `"
    helm.sh/hook-delete-policy: before-hook-creation,hook-succeeded
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: c, image: busybox}]
`
	}
	for name, data := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
