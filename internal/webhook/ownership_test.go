package webhook

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	"github.com/kubectl-chart/kubectl-chart/pkg/ownership"
	"github.com/kubectl-chart/kubectl-chart/pkg/release"
)

// editReplicas changes spec.replicas as `kubectl edit` does: a strategic
// merge patch with field manager kubectl-edit.
func editReplicas(t *testing.T, u *user, ns string, replicas int, dryRun bool) error {
	t.Helper()
	opts := metav1.PatchOptions{FieldManager: "kubectl-edit"}
	if dryRun {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	patch := []byte(`{"spec":{"replicas":` + itoa(replicas) + `}}`)
	_, err := u.cs.AppsV1().Deployments(ns).Patch(t.Context(), deploymentName, types.StrategicMergePatchType, patch, opts)
	return err
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

func replicas(t *testing.T, f *fixture) int32 {
	t.Helper()
	d, err := env.Clientset().AppsV1().Deployments(f.ns).Get(t.Context(), deploymentName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return *d.Spec.Replicas
}

func TestEditOfOwnedFieldIsDenied(t *testing.T) {
	f := install(t, "edit")
	alice := as(t, userAlice)

	err := editReplicas(t, alice, f.ns, 5, false)
	mustForbid(t, err, "spec.replicas", "release edit (revision 1) in namespace "+f.ns, "kubectl chart upgrade edit")
	if got := replicas(t, f); got != 2 {
		t.Errorf("replicas = %d after a denied edit, want 2", got)
	}
	f.waitEvent(t, ownership.EventBlockedWrite, "blocked: user alice changed spec.replicas", "Deployment.apps/"+f.ns+"/web", "via kubectl-edit")

	// The release's own operation may change it: the lock holder, with
	// field manager kubectl-chart, once it has recorded the revision.
	h, err := f.store.Acquire(t.Context(), f.ns, f.name, "upgrade", false)
	if err != nil {
		t.Fatal(err)
	}
	spec := map[string]any{"spec": map[string]any{
		"replicas": 3,
		"selector": map[string]any{"matchLabels": map[string]any{"app": "web"}},
		"template": map[string]any{
			"metadata": map[string]any{"labels": map[string]any{"app": "web"}},
			"spec":     map[string]any{"containers": []any{map[string]any{"name": "web", "image": "nginx:1.27"}}},
		},
	}}
	// Without a record, the lock alone does not let it write.
	err = f.tryApply(t, f.deployer, "apps/v1", "deployments", deploymentName, spec)
	mustForbid(t, err, "writes without a revision record", "the head's status is deployed, not pending")
	f.record(t, h, 2)
	f.apply(t, f.deployer, "apps/v1", "deployments", deploymentName, spec)
	if err := f.store.Release(t.Context(), h); err != nil {
		t.Fatal(err)
	}
	if got := replicas(t, f); got != 3 {
		t.Errorf("replicas = %d after the release's own apply, want 3", got)
	}
}

func TestDryRunDenialRecordsNoEvent(t *testing.T) {
	f := install(t, "dryrun")
	alice := as(t, userAlice)
	mustForbid(t, editReplicas(t, alice, f.ns, 7, true), "spec.replicas")
	// sideEffects: NoneOnDryRun: the denial is answered, not recorded.
	time.Sleep(500 * time.Millisecond)
	for _, e := range f.headEvents(t) {
		t.Errorf("Event recorded for a dry run: %s: %s", e.Reason, e.Message)
	}
}

func TestUnownedFieldsAreAllowed(t *testing.T) {
	f := install(t, "unowned")
	alice := as(t, userAlice)
	ctx := t.Context()

	// An annotation the release never set.
	patch := []byte(`{"metadata":{"annotations":{"example.com/note":"looked at it"}}}`)
	if _, err := alice.cs.AppsV1().Deployments(f.ns).Patch(ctx, deploymentName, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: "kubectl-annotate"}); err != nil {
		t.Errorf("annotate: %v", err)
	}
	// A data key the release does not own.
	patch = []byte(`{"data":{"extra":"added by hand"}}`)
	if _, err := alice.cs.CoreV1().ConfigMaps(f.ns).Patch(ctx, configMapName, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: "kubectl-patch"}); err != nil {
		t.Errorf("patch an unowned data key: %v", err)
	}
	// Subresources are not intercepted: kubectl scale.
	scale, err := alice.cs.AppsV1().Deployments(f.ns).GetScale(ctx, deploymentName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	scale.Spec.Replicas = 4
	if _, err := alice.cs.AppsV1().Deployments(f.ns).UpdateScale(ctx, deploymentName, scale, metav1.UpdateOptions{FieldManager: "kubectl-scale"}); err != nil {
		t.Errorf("scale: %v", err)
	}
	for _, e := range f.headEvents(t) {
		t.Errorf("Event recorded for an allowed write: %s: %s", e.Reason, e.Message)
	}
}

func TestDeleteAndLabelRemovalAreDenied(t *testing.T) {
	f := install(t, "delete")
	alice := as(t, userAlice)
	ctx := t.Context()

	err := alice.cs.AppsV1().Deployments(f.ns).Delete(ctx, deploymentName, metav1.DeleteOptions{})
	mustForbid(t, err, "release delete (revision 1)", "kubectl chart uninstall delete")
	f.waitEvent(t, ownership.EventBlockedDelete, "blocked: user alice deleted Deployment.apps/"+f.ns+"/web")

	patch := []byte(`{"metadata":{"labels":{"` + ownership.LabelRelease + `":null}}}`)
	_, err = alice.cs.CoreV1().ConfigMaps(f.ns).Patch(ctx, configMapName, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: "kubectl-label"})
	mustForbid(t, err, ownership.FormatPath(fieldpath.MakePathOrDie("metadata", "labels", ownership.LabelRelease)))

	if _, err := env.Clientset().AppsV1().Deployments(f.ns).Get(ctx, deploymentName, metav1.GetOptions{}); err != nil {
		t.Errorf("the Deployment is gone after a denied delete: %v", err)
	}
}

func TestBreakGlass(t *testing.T) {
	f := install(t, "breakglass")
	bob := as(t, userBob, breakGlassGroup)
	carol := as(t, userCarol)

	if err := editReplicas(t, bob, f.ns, 6, false); err != nil {
		t.Fatalf("break-glass group member: %v", err)
	}
	if got := replicas(t, f); got != 6 {
		t.Errorf("replicas = %d, want 6", got)
	}
	f.waitEvent(t, ownership.EventBreakGlassWrite, "break-glass: user bob changed spec.replicas", "via kubectl-edit")

	if err := carol.cs.CoreV1().ConfigMaps(f.ns).Delete(t.Context(), configMapName, metav1.DeleteOptions{}); err != nil {
		t.Fatalf("break-glass user: %v", err)
	}
	f.waitEvent(t, ownership.EventBreakGlassWrite, "break-glass: user carol deleted ConfigMap/"+f.ns+"/"+configMapName)
}

func TestCopiedLabelsOutsideTheInventoryWarn(t *testing.T) {
	f := install(t, "copied")
	alice := as(t, userAlice)
	alice.warnings.take()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{
		Name: "copied-by-a-controller", Namespace: f.ns,
		Labels: map[string]string{ownership.LabelRelease: f.name, ownership.LabelReleaseNamespace: f.ns},
	}}
	if _, err := alice.cs.CoreV1().ConfigMaps(f.ns).Create(t.Context(), cm, metav1.CreateOptions{FieldManager: "some-controller"}); err != nil {
		t.Fatalf("create: %v", err)
	}
	if w := alice.warnings.take(); len(w) == 0 {
		t.Errorf("no warning for an object with the release's labels outside its inventory")
	} else {
		t.Logf("warnings: %q", w)
	}
}

// TestLockUserIsStamped: whoever takes a head's lock is stamped on it as
// the API server authenticated them; a value written by the client is
// overwritten.
func TestLockUserIsStamped(t *testing.T) {
	f := install(t, "lock")
	alice := as(t, userAlice)
	ctx := t.Context()

	cms := alice.cs.CoreV1().ConfigMaps(f.ns)
	cm, err := cms.Get(ctx, ownership.HeadName(f.name), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	lock, _ := json.Marshal(release.Lock{Holder: "mallory@elsewhere (pid 1)", Operation: "upgrade", Started: now, Renewed: now, Expires: now.Add(time.Minute), ID: "forged"})
	cm.Data[release.HeadKeyLock] = string(lock)
	if cm.Annotations == nil {
		cm.Annotations = map[string]string{}
	}
	cm.Annotations[ownership.AnnotationLockUser] = "mallory"
	got, err := cms.Update(ctx, cm, metav1.UpdateOptions{FieldManager: "kubectl-edit"})
	if err != nil {
		t.Fatalf("take the lock: %v", err)
	}
	if u := got.Annotations[ownership.AnnotationLockUser]; u != userAlice {
		t.Errorf("lock-user = %q after alice took the lock writing %q, want %q", u, "mallory", userAlice)
	}
	h, err := f.store.Head(ctx, f.ns, f.name)
	if err != nil {
		t.Fatal(err)
	}
	if h.Lock == nil || h.Lock.User != userAlice {
		t.Errorf("head lock = %+v, want user %s", h.Lock, userAlice)
	}
}

// TestRevisionRecords: records are stamped with their creator and are
// append-only.
func TestRevisionRecords(t *testing.T) {
	f := install(t, "records")
	alice := as(t, userAlice)
	ctx := t.Context()

	// Revision 2, created by the lock holder with a forged applied-by.
	h, err := f.store.Acquire(ctx, f.ns, f.name, "upgrade", false)
	if err != nil {
		t.Fatal(err)
	}
	v1, err := f.deployer.cs.CoreV1().Secrets(f.ns).Get(ctx, ownership.RevisionName(f.name, 1), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := v1.Annotations[ownership.AnnotationAppliedBy]; got != userDeployer {
		t.Errorf("revision 1 applied-by = %q, want %q", got, userDeployer)
	}
	v2 := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Name: ownership.RevisionName(f.name, 2), Namespace: f.ns,
			Labels: map[string]string{
				ownership.LabelRelease: f.name, ownership.LabelRecord: ownership.RecordRevision,
				ownership.LabelRevision: "2", ownership.LabelChunk: "0", ownership.LabelStatus: string(release.StatusPendingUpgrade),
			},
			Annotations: map[string]string{ownership.AnnotationAppliedBy: "mallory"},
		},
		Type: ownership.SecretTypeRelease,
		Data: v1.Data,
	}
	got, err := f.deployer.cs.CoreV1().Secrets(f.ns).Create(ctx, v2, metav1.CreateOptions{FieldManager: ownership.FieldManager})
	if err != nil {
		t.Fatalf("create revision 2: %v", err)
	}
	if a := got.Annotations[ownership.AnnotationAppliedBy]; a != userDeployer {
		t.Errorf("revision 2 applied-by = %q (client wrote %q), want %q", a, "mallory", userDeployer)
	}
	if err := f.store.SetStatus(ctx, f.ns, f.name, 1, release.StatusSuperseded); err != nil {
		t.Fatalf("supersede revision 1: %v", err)
	}
	if err := f.store.SetStatus(ctx, f.ns, f.name, 2, release.StatusDeployed); err != nil {
		t.Fatalf("deploy revision 2: %v", err)
	}
	if err := f.store.Release(ctx, h); err != nil {
		t.Fatal(err)
	}

	secrets := alice.cs.CoreV1().Secrets(f.ns)
	// Its data: refused by the API server's own immutability check, which
	// runs before validating webhooks (the webhook denies it too: see
	// TestDecideRecord).
	patch := []byte(`{"data":{"` + release.RecordKeyRelease + `":"` + "Zm9yZ2Vk" + `"}}`)
	_, err = secrets.Patch(ctx, ownership.RevisionName(f.name, 1), types.MergePatchType, patch, metav1.PatchOptions{FieldManager: "kubectl-patch"})
	if !apierrors.IsInvalid(err) && !apierrors.IsForbidden(err) {
		t.Errorf("patch of a record's data: got %v, want refused", err)
	}
	// Its status, even forward and by the deployer with the release's own
	// field manager: only under the lock.
	patch = []byte(`{"metadata":{"labels":{"` + ownership.LabelStatus + `":"uninstalled"}}}`)
	_, err = f.deployer.cs.CoreV1().Secrets(f.ns).Patch(ctx, ownership.RevisionName(f.name, 1), types.MergePatchType, patch, metav1.PatchOptions{FieldManager: ownership.FieldManager})
	mustForbid(t, err, `metadata.labels["kubectl-chart.io/status"] of revision 1 of release records`, "written only by the release's running operation")
	// The current revision: not deletable.
	err = secrets.Delete(ctx, ownership.RevisionName(f.name, 2), metav1.DeleteOptions{})
	mustForbid(t, err, "within the history")

	r, err := f.store.Revision(ctx, f.ns, f.name, 1)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != release.StatusSuperseded || !strings.HasPrefix(r.Manifest, "# Source:") {
		t.Errorf("revision 1 after denied writes: status %s, manifest %.30q", r.Status, r.Manifest)
	}
}

// TestMetrics: requests, decisions by reason and the latency histogram are
// exported, and a denial counts.
func TestMetrics(t *testing.T) {
	f := install(t, "metrics")
	mustForbid(t, editReplicas(t, as(t, userAlice), f.ns, 5, false), "spec.replicas")
	families, err := startWebhook(t).registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range families {
		for _, m := range mf.GetMetric() {
			key := mf.GetName()
			for _, l := range m.GetLabel() {
				key += "," + l.GetName() + "=" + l.GetValue()
			}
			switch {
			case m.GetCounter() != nil:
				got[key] = m.GetCounter().GetValue()
			case m.GetHistogram() != nil:
				got[key] = float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	for _, key := range []string{
		MetricRequests + ",kind=Deployment,operation=UPDATE",
		MetricDecisions + ",allowed=false,reason=" + ownership.ReasonOwnedFieldsChanged,
		MetricDecisions + ",allowed=true,reason=" + ownership.ReasonLockTaken,
		MetricDuration,
	} {
		if got[key] < 1 {
			t.Errorf("%s = %v, want ≥ 1 (have %v)", key, got[key], got)
		}
	}
}
