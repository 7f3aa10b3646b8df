package cmd

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fluxcd/cli-utils/pkg/kstatus/status"
	"github.com/google/go-cmp/cmp"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-chart/kubectl-chart/internal/releaseview"
	"github.com/kubectl-chart/kubectl-chart/internal/testcluster"
	"github.com/kubectl-chart/kubectl-chart/pkg/ownership"
	"github.com/kubectl-chart/kubectl-chart/pkg/release"
)

// env is the control plane of this package's cluster tests: API server,
// controllers and one kwok node, so that Deployments become Available.
var env *testcluster.Env

func TestMain(m *testing.M) {
	// Goldens show times in UTC whatever the machine's zone.
	time.Local = time.UTC
	testcluster.Main(m, &env, testcluster.Options{Full: true, Nodes: 1})
}

// seedTime is when the seeded revisions started: times in goldens are real.
var seedTime = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// readCase is one run of a read-only release command; args follow
// "kubectl chart" and the kube flags.
type readCase struct {
	name     string
	args     []string
	wantExit int
}

var readCases = []readCase{
	{name: "list", args: []string{"list"}},
	{name: "list-all", args: []string{"list", "--all"}},
	{name: "list-failed", args: []string{"list", "--failed"}},
	{name: "list-pending", args: []string{"list", "--pending"}},
	{name: "list-uninstalled", args: []string{"list", "--uninstalled"}},
	{name: "list-deployed-failed", args: []string{"list", "--deployed", "--failed"}},
	{name: "list-json", args: []string{"list", "-o", "json"}},
	{name: "list-yaml", args: []string{"list", "-o", "yaml"}},
	{name: "list-short", args: []string{"list", "-q", "--all"}},
	{name: "list-short-json", args: []string{"list", "-q", "-o", "json"}},
	{name: "list-no-headers", args: []string{"list", "--no-headers"}},
	{name: "list-filter", args: []string{"list", "--all", "--filter", "^(b|l)"}},
	{name: "list-filter-none", args: []string{"list", "--filter", "^nothing$"}},
	{name: "list-date-reverse", args: []string{"list", "--all", "-d", "-r"}},
	{name: "list-max-offset", args: []string{"list", "--all", "--max", "2", "--offset", "1"}},
	{name: "list-time-format", args: []string{"list", "--time-format", "2006-01-02T15:04:05Z07:00"}},
	{name: "list-all-namespaces", args: []string{"list", "-A", "--filter", "^(frontend|elsewhere)$"}},
	{name: "list-other-namespace", args: []string{"list", "-n", "$NS2"}},
	{name: "list-err-filter", args: []string{"list", "--filter", "("}, wantExit: 1},
	{name: "list-err-output", args: []string{"list", "-o", "wide"}, wantExit: 1},

	{name: "history", args: []string{"history", "frontend"}},
	{name: "history-max", args: []string{"history", "frontend", "--max", "1"}},
	{name: "history-json", args: []string{"history", "frontend", "-o", "json"}},
	{name: "history-yaml", args: []string{"history", "frontend", "-o", "yaml"}},
	{name: "history-uninstalled", args: []string{"history", "legacy"}},
	{name: "history-failed", args: []string{"history", "billing"}},
	{name: "history-err-missing", args: []string{"history", "nope"}, wantExit: 1},

	{name: "get-manifest", args: []string{"get", "manifest", "frontend"}},
	{name: "get-manifest-revision", args: []string{"get", "manifest", "frontend", "--revision", "1"}},
	{name: "get-values", args: []string{"get", "values", "frontend"}},
	{name: "get-values-all", args: []string{"get", "values", "frontend", "--all"}},
	{name: "get-values-json", args: []string{"get", "values", "frontend", "-o", "json"}},
	{name: "get-values-yaml", args: []string{"get", "values", "frontend", "-o", "yaml"}},
	{name: "get-values-none", args: []string{"get", "values", "billing"}},
	{name: "get-notes", args: []string{"get", "notes", "frontend"}},
	{name: "get-notes-none", args: []string{"get", "notes", "billing"}},
	{name: "get-hooks", args: []string{"get", "hooks", "frontend"}},
	{name: "get-all", args: []string{"get", "all", "frontend"}},
	{name: "get-all-revision", args: []string{"get", "all", "frontend", "--revision", "1"}},
	{name: "get-err-missing", args: []string{"get", "manifest", "nope"}, wantExit: 1},
	{name: "get-err-missing-revision", args: []string{"get", "manifest", "nope", "--revision", "2"}, wantExit: 1},
	{name: "get-err-revision", args: []string{"get", "values", "frontend", "--revision", "9"}, wantExit: 1},
	{name: "get-err-no-revision-yet", args: []string{"get", "manifest", "starting"}, wantExit: 1},
	{name: "get-err-output", args: []string{"get", "values", "frontend", "-o", "xml"}, wantExit: 1},

	{name: "status", args: []string{"status", "frontend"}},
	{name: "status-revision", args: []string{"status", "frontend", "--revision", "1"}},
	{name: "status-json", args: []string{"status", "frontend", "-o", "json"}},
	{name: "status-failed", args: []string{"status", "billing"}},
	{name: "status-locked", args: []string{"status", "busy"}},
	{name: "status-no-revision-yet", args: []string{"status", "starting"}},
	{name: "status-uninstalled", args: []string{"status", "legacy"}},
	{name: "status-err-missing", args: []string{"status", "nope"}, wantExit: 1},
	{name: "status-err-revision", args: []string{"status", "frontend", "--revision", "7"}, wantExit: 1},
}

// webhookCases run once chart-webhook is installed and the webhook has
// recorded Events on the head of frontend.
var webhookCases = []readCase{
	{name: "status-webhook", args: []string{"status", "frontend"}},
	{name: "status-webhook-yaml", args: []string{"status", "frontend", "-o", "yaml"}},
}

// TestReleasesRead seeds releases through the release store, with real
// objects for some, and runs list, history, get and status against them,
// comparing their output with testdata/golden/releases (namespaces
// replaced by $NS and $NS2).
func TestReleasesRead(t *testing.T) {
	ns, ns2 := env.Namespace(t), env.Namespace(t)
	atRepoRoot(t)
	ctx := t.Context()
	cs := env.Clientset()
	seedReleases(t, ctx, cs, ns, ns2)

	run := func(t *testing.T, tc readCase) {
		args := []string{"--kubeconfig", env.KubeconfigPath(), "--cache-dir", t.TempDir(), "-n", ns}
		for _, a := range tc.args {
			args = append(args, strings.ReplaceAll(a, "$NS2", ns2))
		}
		got := runChart(t, args, "")
		if got.exit() != tc.wantExit {
			t.Errorf("exit code %d, want %d; output:\n%s", got.exit(), tc.wantExit, got.text())
		}
		if got.stderr != "" {
			t.Errorf("stderr: %s", got.stderr)
		}
		text := strings.NewReplacer(ns2, "$NS2", ns, "$NS").Replace(got.text())
		checkGolden(t, filepath.Join("testdata", "golden", "releases", tc.name+".golden"), text)
	}
	for _, tc := range readCases {
		t.Run(tc.name, func(t *testing.T) { run(t, tc) })
	}

	installWebhookConfiguration(t, ctx, cs)
	recordOwnershipEvents(t, ctx, cs, ns)
	for _, tc := range webhookCases {
		t.Run(tc.name, func(t *testing.T) { run(t, tc) })
	}
}

// seedReleases writes, in ns:
//   - frontend: revision 1 superseded, revision 2 deployed (applied by
//     alice), with a ConfigMap and an Available Deployment on the cluster
//     and a Service missing from it;
//   - billing: revision 1 failed;
//   - legacy: revision 1 superseded, revision 2 uninstalled (kept history);
//   - busy: revision 1 deployed, revision 2 pending-upgrade under an
//     expired lock;
//   - starting: a head whose first operation took the lock and died before
//     writing a revision;
//
// and in ns2 elsewhere, revision 1 deployed.
func seedReleases(t *testing.T, ctx context.Context, cs kubernetes.Interface, ns, ns2 string) {
	t.Helper()
	// Locks taken at seedTime have long expired.
	store := release.NewKubeStore(cs, release.KubeStoreOptions{
		Holder: "ci@runner (pid 42)",
		Now:    func() time.Time { return seedTime.Add(time.Hour) },
	})
	web := func(ns string, n int, st release.Status, version, app string, vals map[string]any, inv ...release.ObjectRef) *release.Revision {
		var docs []string
		for _, ref := range inv {
			apiVersion := ref.Version
			if ref.Group != "" {
				apiVersion = ref.Group + "/" + ref.Version
			}
			docs = append(docs, "---\n# Source: web/templates/"+strings.ToLower(ref.Kind)+".yaml\napiVersion: "+apiVersion+"\nkind: "+ref.Kind+"\nmetadata:\n  name: "+ref.Name)
		}
		op := "install"
		if n > 1 {
			op = "upgrade"
		}
		return &release.Revision{
			Namespace: ns, Revision: n, Status: st,
			Chart:     release.ChartInfo{Name: "web", Version: version, AppVersion: app, ChartOrigin: release.ChartOrigin{Source: "./web"}},
			Values:    vals,
			Manifest:  strings.Join(docs, "\n"),
			Inventory: inv,
			Operation: op,
			Started:   seedTime.Add(time.Duration(n) * time.Minute),
		}
	}
	cm := func(name string) release.ObjectRef {
		return release.ObjectRef{Version: "v1", Kind: "ConfigMap", Namespace: ns, Name: name}
	}
	deploy := release.ObjectRef{Group: "apps", Version: "v1", Kind: "Deployment", Namespace: ns, Name: "frontend"}
	svc := release.ObjectRef{Version: "v1", Kind: "Service", Namespace: ns, Name: "frontend"}

	f1 := web(ns, 1, release.StatusSuperseded, "0.1.0", "1.0", map[string]any{"replicas": 1}, cm("frontend-config"))
	f1.Description = "Install complete"
	f1.Notes = "Visit http://frontend.example\n"
	f2 := web(ns, 2, release.StatusDeployed, "0.2.0", "1.1", map[string]any{"replicas": 1, "greeting": map[string]any{"text": "hello", "loud": true}},
		cm("frontend-config"), deploy, svc)
	f2.Description = "Upgrade complete"
	// Revision 1 predates computed values in records: get values --all falls
	// back to the user-supplied ones.
	f2.ComputedValues = map[string]any{"replicas": 1, "greeting": map[string]any{"text": "hello", "loud": true},
		"image": map[string]any{"repository": "registry.example/frontend", "tag": "1.1"}}
	f2.Notes = "Visit http://frontend.example\nGreeting: hello\n"
	f2.Hooks = []release.Hook{{
		Name: "frontend-migrate", Kind: "Job", Path: "web/templates/migrate.yaml", Events: []string{"pre-upgrade"}, Weight: 0,
		Manifest: "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: frontend-migrate\n  annotations:\n    helm.sh/hook: pre-upgrade",
	}}
	seedRelease(t, ctx, store, "frontend", release.StatusDeployed, f1, f2)
	// What the webhook would have stamped on revision 2.
	patch := `{"metadata":{"annotations":{"` + ownership.AnnotationAppliedBy + `":"alice"}}}`
	if _, err := cs.CoreV1().Secrets(ns).Patch(ctx, ownership.RevisionName("frontend", 2), types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}

	b1 := web(ns, 1, release.StatusFailed, "1.0.0", "", nil, cm("billing"))
	b1.Chart.Name = "billing"
	b1.Description = "Install \"billing\" failed: Deployment/" + ns + "/billing: timed out after 5m0s waiting for 1 object(s) to be ready"
	seedRelease(t, ctx, store, "billing", release.StatusFailed, b1)

	l1 := web(ns, 1, release.StatusSuperseded, "0.0.1", "0.9", nil, cm("legacy"))
	l1.Description = "Install complete"
	l2 := web(ns, 2, release.StatusUninstalled, "0.0.2", "0.9", nil, cm("legacy"))
	l2.Description = "Uninstallation complete"
	seedRelease(t, ctx, store, "legacy", release.StatusUninstalled, l1, l2)

	u1 := web(ns, 1, release.StatusDeployed, "0.1.0", "1.0", nil, cm("busy"))
	u1.Description = "Install complete"
	u2 := web(ns, 2, release.StatusPendingUpgrade, "0.2.0", "1.1", nil, cm("busy"), cm("busy-extra"))
	u2.Description = "Preparing upgrade"
	seedRelease(t, ctx, store, "busy", release.StatusPendingUpgrade, u1, u2)

	if _, err := store.Acquire(ctx, ns, "starting", "install", false); err != nil {
		t.Fatal(err)
	}

	e1 := web(ns2, 1, release.StatusDeployed, "0.2.0", "1.1", nil, release.ObjectRef{Version: "v1", Kind: "ConfigMap", Namespace: ns2, Name: "elsewhere"})
	e1.Description = "Install complete"
	seedRelease(t, ctx, store, "elsewhere", release.StatusDeployed, e1)

	// The live objects of frontend: its ConfigMap and Deployment (Available
	// once kwok runs its Pod); its Service is missing.
	if _, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "frontend-config"}, Data: map[string]string{"greeting": "hello"},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	labels := map[string]string{"app": "frontend"}
	replicas := int32(1)
	d, err := cs.AppsV1().Deployments(ns).Create(ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "frontend"},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "registry.example/frontend:1.1"}}},
			},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	waitCurrent(t, ctx, cs, d)
}

// seedRelease writes the revisions of a release (in their final status) and
// its head: last revision, status, the last revision's inventory. The lock
// is left held when the release is pending.
func seedRelease(t *testing.T, ctx context.Context, store *release.KubeStore, name string, st release.Status, revs ...*release.Revision) {
	t.Helper()
	last := revs[len(revs)-1]
	h, err := store.Acquire(ctx, last.Namespace, name, last.Operation, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range revs {
		r.Name = name
		if err := store.CreateRevision(ctx, r); err != nil {
			t.Fatal(err)
		}
		if r.Status == release.StatusDeployed {
			h.Deployed = r.Revision
		}
	}
	h.Revision, h.Status, h.Inventory = last.Revision, st, last.Inventory
	if err := store.UpdateHead(ctx, h); err != nil {
		t.Fatal(err)
	}
	if st.IsPending() {
		return
	}
	if err := store.Release(ctx, h); err != nil {
		t.Fatal(err)
	}
}

// waitCurrent waits until kstatus says the Deployment is Current.
func waitCurrent(t *testing.T, ctx context.Context, cs kubernetes.Interface, d *appsv1.Deployment) {
	t.Helper()
	var last *status.Result
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		cur, err := cs.AppsV1().Deployments(d.Namespace).Get(ctx, d.Name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(cur)
		if err != nil {
			return false, err
		}
		u := &unstructured.Unstructured{Object: m}
		u.SetAPIVersion("apps/v1")
		u.SetKind("Deployment")
		if last, err = status.Compute(u); err != nil {
			return false, err
		}
		return last.Status == status.CurrentStatus, nil
	})
	if err != nil {
		t.Fatalf("Deployment/%s/%s not Current: %v (last %+v)", d.Namespace, d.Name, err, last)
	}
}

// installWebhookConfiguration creates a chart-webhook configuration whose
// webhook never matches an object (the objectSelector names a label
// nothing has), so that status sees it installed without it intercepting
// anything.
func installWebhookConfiguration(t *testing.T, ctx context.Context, cs kubernetes.Interface) {
	t.Helper()
	fail, none := admissionregistrationv1.Fail, admissionregistrationv1.SideEffectClassNone
	url := "https://chart-webhook.invalid/mutate"
	client := cs.AdmissionregistrationV1().MutatingWebhookConfigurations()
	_, err := client.Create(ctx, &admissionregistrationv1.MutatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: releaseview.WebhookConfigurationName},
		Webhooks: []admissionregistrationv1.MutatingWebhook{{
			Name:                    "objects.kubectl-chart.io",
			ClientConfig:            admissionregistrationv1.WebhookClientConfig{URL: &url},
			FailurePolicy:           &fail,
			SideEffects:             &none,
			AdmissionReviewVersions: []string{"v1"},
			ObjectSelector:          &metav1.LabelSelector{MatchLabels: map[string]string{"kubectl-chart.io/test-never": "true"}},
			Rules: []admissionregistrationv1.RuleWithOperations{{
				Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Update},
				Rule:       admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"configmaps"}},
			}},
		}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		err := client.Delete(context.Background(), releaseview.WebhookConfigurationName, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			t.Error(err)
		}
	})
}

// recordOwnershipEvents records Events on the head of frontend as the
// webhook does: six blocked or break-glass writes (status shows the last
// five) and one of another reason.
func recordOwnershipEvents(t *testing.T, ctx context.Context, cs kubernetes.Interface, ns string) {
	t.Helper()
	head, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, ownership.HeadName("frontend"), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	events := []struct {
		minute  int
		reason  string
		message string
		count   int32
	}{
		{10, "Blocked", "blocked: user alice changed data.greeting of ConfigMap/" + ns + "/frontend-config via kubectl-edit", 1},
		{11, "Blocked", "blocked: user alice changed spec.replicas of Deployment/" + ns + "/frontend via kubectl-scale", 3},
		{12, "Updated", "not an ownership event", 1},
		{13, "BlockedDelete", "blocked: user bob deleted Service/" + ns + "/frontend via kubectl", 1},
		{14, "BreakGlass", "break-glass: user oncall (group sre) changed spec.replicas of Deployment/" + ns + "/frontend via kubectl-scale", 1},
		{15, "Blocked", "blocked: user alice removed label kubectl-chart.io/release of ConfigMap/" + ns + "/frontend-config via kubectl-label", 1},
		{16, "Blocked", "blocked: user ci changed spec.template of Deployment/" + ns + "/frontend via argocd-controller", 2},
	}
	for i, e := range events {
		at := metav1.NewTime(seedTime.Add(time.Duration(e.minute) * time.Minute))
		_, err := cs.CoreV1().Events(ns).Create(ctx, &corev1.Event{
			ObjectMeta: metav1.ObjectMeta{Name: head.Name + "." + string(rune('a'+i))},
			InvolvedObject: corev1.ObjectReference{
				APIVersion: "v1", Kind: "ConfigMap", Namespace: ns, Name: head.Name, UID: head.UID,
			},
			Reason: e.reason, Message: e.message, Type: corev1.EventTypeWarning, Count: e.count,
			FirstTimestamp: at, LastTimestamp: at,
			Source: corev1.EventSource{Component: "chart-webhook"},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestReleasesReadAfterUpgrade reads a release written by install and
// upgrade (not seeded): status shows every object of the demo chart
// Current, history both revisions, get what the revision keeps.
func TestReleasesReadAfterUpgrade(t *testing.T) {
	ns := env.Namespace(t)
	atRepoRoot(t)
	kube := []string{"--kubeconfig", env.KubeconfigPath(), "--cache-dir", t.TempDir(), "-n", ns}
	chart := func(t *testing.T, args ...string) string {
		t.Helper()
		got := runChart(t, append(slices.Clone(kube), args...), "")
		if got.err != nil {
			t.Fatalf("kubectl chart %s: %v\n%s%s", strings.Join(args, " "), got.err, got.stdout, got.stderr)
		}
		return got.stdout
	}
	chart(t, "install", "demo", "testdata/charts/demo-app", "--wait", "--wait-for-jobs")
	chart(t, "upgrade", "demo", "testdata/charts/demo-app", "--set", "widget.size=large,extraSecret.enabled=true", "--wait", "--wait-for-jobs")

	var st releaseview.StatusView
	if err := json.Unmarshal([]byte(chart(t, "status", "demo", "-o", "json")), &st); err != nil {
		t.Fatal(err)
	}
	if st.Revision != 2 || st.Status != release.StatusDeployed || st.Lock != nil || st.Notes == "" {
		t.Errorf("status: revision %d, status %s, lock %v, notes %q; want 2, deployed, no lock, notes", st.Revision, st.Status, st.Lock, st.Notes)
	}
	kinds := map[string]bool{}
	for _, o := range st.Resources {
		kinds[o.Kind] = true
		if o.Status != string(status.CurrentStatus) {
			t.Errorf("%s: %s (%s), want Current", o.ObjectRef, o.Status, o.Message)
		}
	}
	for _, k := range []string{"ConfigMap", "Secret", "Service", "Deployment", "Widget"} {
		if !kinds[k] {
			t.Errorf("status shows no %s: %+v", k, st.Resources)
		}
	}

	var hist []releaseview.HistoryRow
	if err := json.Unmarshal([]byte(chart(t, "history", "demo", "-o", "json")), &hist); err != nil {
		t.Fatal(err)
	}
	var statuses []string
	for _, h := range hist {
		statuses = append(statuses, fmt.Sprintf("%d %s %s", h.Revision, h.Status, h.Chart))
		if h.Updated.IsZero() {
			t.Errorf("revision %d: no time", h.Revision)
		}
	}
	if diff := cmp.Diff([]string{"1 superseded demo-app-0.1.0", "2 deployed demo-app-0.1.0"}, statuses); diff != "" {
		t.Errorf("history (-want +got):\n%s", diff)
	}

	if got := chart(t, "get", "values", "demo", "-o", "json"); got != `{"extraSecret":{"enabled":true},"widget":{"size":"large"}}`+"\n" {
		t.Errorf("get values = %q", got)
	}
	if got := chart(t, "get", "values", "demo", "--revision", "1", "-o", "json"); got != "{}\n" {
		t.Errorf("get values --revision 1 = %q", got)
	}
	for what, want := range map[string]string{
		"manifest": "# Source: demo-app/templates/deployment.yaml\n",
		"hooks":    "# Source: demo-app/templates/hook-job.yaml\n",
		"notes":    "NOTES:\n",
	} {
		if got := chart(t, "get", what, "demo"); !strings.Contains(got, want) {
			t.Errorf("get %s does not show %q:\n%s", what, want, got)
		}
	}
	if got := chart(t, "list", "-q"); got != "demo\n" {
		t.Errorf("list -q = %q, want demo", got)
	}
}
