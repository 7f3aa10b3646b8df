package release_test

// The contract between the store and the ownership webhook: the heads
// KubeStore writes are ones the webhook reads and allows. These tests live
// here rather than in pkg/ownership so that the fuzz build of that package
// (make test instruments every package its tests import) does not compile
// client-go's fake clientset, which only these need.

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/kubectl-chart/kubectl-chart/pkg/ownership"
	"github.com/kubectl-chart/kubectl-chart/pkg/release"
)

// now is the webhook's clock in these tests.
var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// sealKey is the webhook's HMAC key of record seals in these tests.
var sealKey = []byte("0123456789abcdef0123456789abcdef")

// sealedCfg is the webhook's configuration with a seal key: the release's
// writes need a sealed record.
var sealedCfg = ownership.Config{Now: func() time.Time { return now }, SealKey: sealKey}

// sealOf is the seal of revision rev of release web in namespace apps,
// created by user with status, under sealKey.
func sealOf(rev int, user, status string) *ownership.RecordSeal {
	s := ownership.RecordSeal{Revision: rev, User: user, Status: status, Digest: strings.Repeat("ab", 32)}.Sealed(sealKey, "apps", "web")
	return &s
}

// seen is a head as the webhook sees it in an admission request: the
// object (nil for none) and the head read from it.
func seen(t testing.TB, cm *corev1.ConfigMap) (*unstructured.Unstructured, *ownership.Head) {
	t.Helper()
	if cm == nil {
		return nil, nil
	}
	obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(cm)
	if err != nil {
		t.Fatal(err)
	}
	h, err := ownership.HeadFromConfigMap(cm)
	if err != nil {
		t.Fatal(err)
	}
	return &unstructured.Unstructured{Object: obj}, h
}

// TestDecideHeadOfTheStore: the heads KubeStore writes pass the webhook's
// rules (ownership.DecideHead): the head it creates with its first lock is empty, and taking,
// renewing and releasing the lock change nothing else.
func TestDecideHeadOfTheStore(t *testing.T) {
	ctx := context.Background()
	client := fake.NewClientset()
	clock := now.Add(-time.Minute) // the store's clock: the plugin's, a minute behind the webhook's
	store := release.NewKubeStore(client, release.KubeStoreOptions{Holder: "alice@laptop (pid 1)", Now: func() time.Time { return clock }})
	read := func() *corev1.ConfigMap {
		t.Helper()
		cm, err := client.CoreV1().ConfigMaps("apps").Get(ctx, ownership.HeadName("web"), metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		cm.TypeMeta = metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"}
		if _, ok := cm.Data["lock"]; ok {
			if cm.Annotations == nil {
				cm.Annotations = map[string]string{}
			}
			cm.Annotations[ownership.AnnotationLockUser] = "alice" // the webhook's stamp
		} else {
			delete(cm.Annotations, ownership.AnnotationLockUser)
		}
		return cm
	}
	decide := func(what, op string, old, nu *corev1.ConfigMap, want string) {
		t.Helper()
		oldObj, oldHead := seen(t, old)
		newObj, newHead := seen(t, nu)
		req := ownership.Request{Operation: op, User: "alice", FieldManager: ownership.FieldManager,
			Kind: ownership.ObjectRef{Version: "v1", Kind: "ConfigMap", Namespace: "apps", Name: ownership.HeadName("web")},
			Old:  oldObj, New: newObj, Authorized: map[string]bool{ownership.VerbDeploy: true}}
		d := ownership.DecideHead(sealedCfg, req, oldHead, newHead)
		if !d.Allowed || d.Reason != want {
			t.Errorf("%s: allowed %v reason %s (%s), want allowed, %s", what, d.Allowed, d.Reason, d.Message, want)
		}
	}

	h, err := store.Acquire(ctx, "apps", "web", "install", false)
	if err != nil {
		t.Fatal(err)
	}
	created := read()
	decide("create", "CREATE", nil, created, "LockTaken")

	clock = clock.Add(40 * time.Second)
	if err := store.Renew(ctx, h); err != nil {
		t.Fatal(err)
	}
	renewed := read()
	decide("renew", "UPDATE", created, renewed, "LockRenewed")

	seal := sealOf(1, "alice", string(release.StatusPendingInstall))
	h.Revision, h.Status, h.Record = 1, release.StatusPendingInstall, seal.JSON()
	h.Inventory = []release.ObjectRef{{Group: "apps", Version: "v1", Kind: "Deployment", Namespace: "apps", Name: "web"}}
	if err := store.UpdateHead(ctx, h); err != nil {
		t.Fatal(err)
	}
	updated := read()
	decide("revision 1", "UPDATE", renewed, updated, "LockHolder")

	if err := store.Release(ctx, h); err != nil {
		t.Fatal(err)
	}
	decide("release", "UPDATE", updated, read(), "LockReleased")
}

// TestHeadFromStoreConfigMap: the webhook reads heads as KubeStore writes
// them (ownership.HeadFromConfigMap): the data keys and the lock's JSON are a contract between the two.
func TestHeadFromStoreConfigMap(t *testing.T) {
	ctx := context.Background()
	client := fake.NewClientset()
	store := release.NewKubeStore(client, release.KubeStoreOptions{Holder: "alice@laptop (pid 1)", Now: func() time.Time { return now }})
	h, err := store.Acquire(ctx, "apps", "web", "install", false)
	if err != nil {
		t.Fatal(err)
	}
	seal := sealOf(2, "alice", string(release.StatusPendingUpgrade))
	h.Revision, h.Deployed, h.Status, h.Record = 2, 1, release.StatusPendingUpgrade, seal.JSON()
	h.Inventory = []release.ObjectRef{{Group: "apps", Version: "v1", Kind: "Deployment", Namespace: "apps", Name: "web"}}
	if err := store.UpdateHead(ctx, h); err != nil {
		t.Fatal(err)
	}
	cm, err := client.CoreV1().ConfigMaps("apps").Get(ctx, ownership.HeadName("web"), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cm.Annotations[ownership.AnnotationLockUser] = "alice" // the webhook's stamp
	got, err := ownership.HeadFromConfigMap(cm)
	if err != nil {
		t.Fatal(err)
	}
	want := &ownership.Head{Release: "web", Namespace: "apps", Revision: 2, Deployed: 1,
		Inventory: h.Inventory,
		LockUser:  "alice", LockHolder: "alice@laptop (pid 1)", LockExpires: now.Add(release.DefaultLockTTL),
		LockData: cm.Data["lock"], LockID: h.Lock.ID, Status: "pending-upgrade", Record: seal}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("HeadFromConfigMap (-want +got):\n%s", diff)
	}
	if got.LockData == "" || got.LockID == "" {
		t.Error("no lock data or lock ID")
	}

	// A lock taken over from a live one says so.
	other := release.NewKubeStore(client, release.KubeStoreOptions{Holder: "bob@desk (pid 2)", Now: func() time.Time { return now }})
	if _, err := other.Acquire(ctx, "apps", "web", "upgrade", true); err != nil {
		t.Fatal(err)
	}
	cm, err = client.CoreV1().ConfigMaps("apps").Get(ctx, ownership.HeadName("web"), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, got := seen(t, cm); !got.LockForced || got.LockHolder != "bob@desk (pid 2)" {
		t.Errorf("taken over: LockForced %v, holder %q; want forced, bob@desk (pid 2)", got.LockForced, got.LockHolder)
	}
}
