package release

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-chart/kubectl-chart/internal/testcluster"
	"github.com/kubectl-chart/kubectl-chart/pkg/ownership"
)

var env *testcluster.Env

func TestMain(m *testing.M) {
	testcluster.Main(m, &env, testcluster.Options{})
}

// kubeClient is a clientset of the test API server, without client-side
// throttling (tests run in parallel).
func kubeClient(t *testing.T) kubernetes.Interface {
	t.Helper()
	env.Require(t)
	cfg := env.Config()
	cfg.QPS, cfg.Burst = 500, 1000
	c, err := kubernetes.NewForConfig(cfg)
	must(t, err)
	return c
}

func newKubeEnv(t *testing.T) storeEnv {
	client := kubeClient(t)
	return storeEnv{
		namespace: func() string { return env.Namespace(t) },
		client: func(o clientOptions) Store {
			return NewKubeStore(client, KubeStoreOptions{Holder: o.holder, LockTTL: o.ttl, Now: o.now})
		},
	}
}

func TestKubeStore(t *testing.T) {
	env.Require(t)
	testStore(t, newKubeEnv)
}

// TestKubeHeadObject checks the head ConfigMap as other tools see it: the
// ApplySet parent of KEP-3659 and the data keys of DESIGN.md.
func TestKubeHeadObject(t *testing.T) {
	t.Parallel()
	ctx, ns, client := ctxT(t), env.Namespace(t), kubeClient(t)
	s := NewKubeStore(client, KubeStoreOptions{Tooling: "kubectl-chart/v1.2.3", Holder: "alice@a (pid 1)"})
	h, err := s.Acquire(ctx, ns, "web", "install", false)
	must(t, err)
	h.Revision, h.Deployed, h.Status = 2, 1, StatusPendingUpgrade
	h.Inventory = []ObjectRef{
		{Group: "apps", Version: "v1", Kind: "Deployment", Namespace: ns, Name: "web"},
		{Version: "v1", Kind: "ConfigMap", Namespace: "zz-other", Name: "web"},
		{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "ClusterRole", Name: "web"},
		{Version: "v1", Kind: "ConfigMap", Namespace: "aa-other", Name: "web"},
	}
	h.Labels = map[string]string{"team": "payments", "name": "not-the-release"}
	must(t, s.UpdateHead(ctx, h))

	cm, err := client.CoreV1().ConfigMaps(ns).Get(ctx, ownership.HeadName("web"), metav1.GetOptions{})
	must(t, err)
	wantLabels := map[string]string{
		"kubectl-chart.io/release":  "web",
		"kubectl-chart.io/record":   "head",
		"applyset.kubernetes.io/id": ownership.ApplySetID("web", ns),
	}
	if diff := cmp.Diff(wantLabels, cm.Labels); diff != "" {
		t.Errorf("labels (-want +got):\n%s", diff)
	}
	wantAnn := map[string]string{
		"applyset.kubernetes.io/tooling":               "kubectl-chart/v1.2.3",
		"applyset.kubernetes.io/contains-group-kinds":  "ClusterRole.rbac.authorization.k8s.io,ConfigMap,Deployment.apps",
		"applyset.kubernetes.io/additional-namespaces": "aa-other,zz-other",
	}
	if diff := cmp.Diff(wantAnn, cm.Annotations); diff != "" {
		t.Errorf("annotations (-want +got):\n%s", diff)
	}
	var keys []string
	for k := range cm.Data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if diff := cmp.Diff([]string{"deployed", "inventory", "labels", "lock", "revision", "status"}, keys); diff != "" {
		t.Errorf("data keys (-want +got):\n%s", diff)
	}
	// Release labels are data: the ConfigMap's own labels (wantLabels
	// above) stay the head's.
	if got, want := cm.Data["labels"], `{"name":"not-the-release","team":"payments"}`; got != want {
		t.Errorf("data labels = %s, want %s", got, want)
	}
	if cm.Data["revision"] != "2" || cm.Data["deployed"] != "1" || cm.Data["status"] != "pending-upgrade" {
		t.Errorf("data = %v", cm.Data)
	}
	var lock Lock
	must(t, json.Unmarshal([]byte(cm.Data["lock"]), &lock))
	if lock.Holder != "alice@a (pid 1)" || lock.Operation != "install" {
		t.Errorf("lock = %+v", lock)
	}
	var inv []ObjectRef
	must(t, json.Unmarshal([]byte(cm.Data["inventory"]), &inv))
	if diff := cmp.Diff(h.Inventory, inv); diff != "" {
		t.Errorf("inventory (-want +got):\n%s", diff)
	}
	if !slices.ContainsFunc(cm.ManagedFields, func(m metav1.ManagedFieldsEntry) bool { return m.Manager == ownership.FieldManager }) {
		t.Errorf("no managedFields entry of %s: %v", ownership.FieldManager, cm.ManagedFields)
	}

	must(t, s.Release(ctx, h))
	cm, err = client.CoreV1().ConfigMaps(ns).Get(ctx, ownership.HeadName("web"), metav1.GetOptions{})
	must(t, err)
	if _, ok := cm.Data["lock"]; ok {
		t.Errorf("lock key after Release: %q", cm.Data["lock"])
	}
}

// TestKubeLockUser: the webhook's lock-user stamp shows in LockedError, and
// goes when the lock changes hands.
func TestKubeLockUser(t *testing.T) {
	t.Parallel()
	ctx, ns, client := ctxT(t), env.Namespace(t), kubeClient(t)
	a := NewKubeStore(client, KubeStoreOptions{Holder: "alice@a (pid 1)"})
	b := NewKubeStore(client, KubeStoreOptions{Holder: "bob@b (pid 2)"})
	_, err := a.Acquire(ctx, ns, "web", "install", false)
	must(t, err)
	// What the webhook does at admission of the lock write.
	cms := client.CoreV1().ConfigMaps(ns)
	cm, err := cms.Get(ctx, ownership.HeadName("web"), metav1.GetOptions{})
	must(t, err)
	cm.Annotations[ownership.AnnotationLockUser] = "alice@example.com"
	_, err = cms.Update(ctx, cm, metav1.UpdateOptions{})
	must(t, err)

	_, err = b.Acquire(ctx, ns, "web", "upgrade", false)
	var le *LockedError
	if !errors.As(err, &le) {
		t.Fatalf("Acquire: err = %v, want *LockedError", err)
	}
	if le.Lock.User != "alice@example.com" || !strings.Contains(err.Error(), "(user alice@example.com)") {
		t.Errorf("LockedError = %q (user %q), want alice@example.com named", err, le.Lock.User)
	}
	hb, err := b.Acquire(ctx, ns, "web", "upgrade", true)
	must(t, err)
	if hb.Lock.User != "" {
		t.Errorf("lock user after takeover = %q, want none (no webhook)", hb.Lock.User)
	}
	cm, err = cms.Get(ctx, ownership.HeadName("web"), metav1.GetOptions{})
	must(t, err)
	if u, ok := cm.Annotations[ownership.AnnotationLockUser]; ok {
		t.Errorf("lock-user annotation %q survived the takeover", u)
	}
}

// TestKubeNotAHead: a ConfigMap of the head's name that is not a head is
// never taken over.
func TestKubeNotAHead(t *testing.T) {
	t.Parallel()
	ctx, ns, client := ctxT(t), env.Namespace(t), kubeClient(t)
	_, err := client.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: ownership.HeadName("web")},
		Data:       map[string]string{"x": "y"},
	}, metav1.CreateOptions{})
	must(t, err)
	s := NewKubeStore(client, KubeStoreOptions{})
	if _, err := s.Acquire(ctx, ns, "web", "install", false); err == nil || !strings.Contains(err.Error(), "not the head") {
		t.Errorf("Acquire over a foreign ConfigMap: err = %v", err)
	}
}

// recordSecrets lists the Secrets of a release's records.
func recordSecrets(t *testing.T, client kubernetes.Interface, ns, name string) []corev1.Secret {
	t.Helper()
	list, err := client.CoreV1().Secrets(ns).List(ctxT(t), metav1.ListOptions{LabelSelector: recordSelector(name, 0)})
	must(t, err)
	return list.Items
}

func dataBytes(secs []corev1.Secret) int {
	n := 0
	for _, s := range secs {
		for k, v := range s.Data {
			n += len(k) + len(v)
		}
	}
	return n
}

// TestKubeRevisionRecord checks the Secret of a small record and that the
// API server itself keeps its data immutable.
func TestKubeRevisionRecord(t *testing.T) {
	t.Parallel()
	ctx, ns, client := ctxT(t), env.Namespace(t), kubeClient(t)
	s := NewKubeStore(client, KubeStoreOptions{})
	must(t, s.CreateRevision(ctx, sampleRevision(ns, "web", 3)))
	secs := recordSecrets(t, client, ns, "web")
	if len(secs) != 1 {
		t.Fatalf("%d Secrets, want 1", len(secs))
	}
	sec := secs[0]
	if sec.Name != "kubectl-chart.web.v3" || sec.Type != "kubectl-chart.io/release.v1" || sec.Immutable == nil || !*sec.Immutable {
		t.Errorf("Secret %s type %s immutable %v", sec.Name, sec.Type, sec.Immutable)
	}
	wantLabels := map[string]string{
		"kubectl-chart.io/release":  "web",
		"kubectl-chart.io/record":   "revision",
		"kubectl-chart.io/revision": "3",
		"kubectl-chart.io/status":   "pending-install",
		"kubectl-chart.io/chunk":    "0",
	}
	if diff := cmp.Diff(wantLabels, sec.Labels); diff != "" {
		t.Errorf("labels (-want +got):\n%s", diff)
	}
	if _, ok := sec.Data[RecordKeyChunks]; ok || len(sec.Data) != 1 {
		t.Errorf("data keys of a one-chunk record: %v", slices.Collect(func(yield func(string) bool) {
			for k := range sec.Data {
				if !yield(k) {
					return
				}
			}
		}))
	}
	zr, err := gzip.NewReader(bytes.NewReader(sec.Data["release"]))
	must(t, err)
	var r Revision
	must(t, json.NewDecoder(zr).Decode(&r))
	if r.Revision != 3 || r.Chart.Name != "web" {
		t.Errorf("record = %+v", r)
	}

	sec.Data["release"] = []byte("changed")
	if _, err := client.CoreV1().Secrets(ns).Update(ctx, &sec, metav1.UpdateOptions{}); !apierrors.IsInvalid(err) {
		t.Errorf("changing a record's data: err = %v, want Invalid (immutable)", err)
	}
	// The applied-by stamp of the webhook is read back.
	p := []byte(`{"metadata":{"annotations":{"kubectl-chart.io/applied-by":"alice@example.com"}}}`)
	_, err = client.CoreV1().Secrets(ns).Patch(ctx, sec.Name, "application/merge-patch+json", p, metav1.PatchOptions{})
	must(t, err)
	got, err := s.Revision(ctx, ns, "web", 3)
	must(t, err)
	if got.AppliedBy != "alice@example.com" {
		t.Errorf("AppliedBy = %q", got.AppliedBy)
	}
}

// randomManifest is a manifest of about size bytes of ConfigMaps whose data
// is random base64, so that it compresses to about 3/4 of its size.
func randomManifest(size int, seed uint64) string {
	rnd := rand.New(rand.NewPCG(seed, seed))
	var b strings.Builder
	raw := make([]byte, 3<<10)
	for i := 0; b.Len() < size; i++ {
		fmt.Fprintf(&b, "---\n# Source: big/templates/cm.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: big-%d\ndata:\n  blob: ", i)
		for j := range raw {
			raw[j] = byte(rnd.Uint32())
		}
		b.WriteString(base64.StdEncoding.EncodeToString(raw))
		b.WriteString("\n")
	}
	return b.String()
}

// TestKubeLargeRevision stores a 3 MiB manifest across several Secrets,
// reads it back equal, and deletes every chunk.
func TestKubeLargeRevision(t *testing.T) {
	t.Parallel()
	ctx, ns, client := ctxT(t), env.Namespace(t), kubeClient(t)
	s := NewKubeStore(client, KubeStoreOptions{})
	const reps = 3
	var writes, reads []time.Duration
	for rev := 1; rev <= reps; rev++ {
		r := sampleRevision(ns, "big", rev)
		r.Manifest = randomManifest(3<<20, uint64(rev))
		start := time.Now()
		must(t, s.CreateRevision(ctx, r))
		writes = append(writes, time.Since(start))
		start = time.Now()
		got, err := s.Revision(ctx, ns, "big", rev)
		reads = append(reads, time.Since(start))
		must(t, err)
		if got.Manifest != r.Manifest {
			t.Fatalf("revision %d: manifest read back differs (%d bytes, want %d)", rev, len(got.Manifest), len(r.Manifest))
		}
		if diff := cmp.Diff(r, got, revisionOpts); diff != "" {
			t.Errorf("revision %d (-want +got):\n%s", rev, diff)
		}
	}
	var secs []corev1.Secret
	for _, sec := range recordSecrets(t, client, ns, "big") {
		if sec.Labels[ownership.LabelRevision] == "1" {
			secs = append(secs, sec)
		}
	}
	if len(secs) < 3 {
		t.Fatalf("a 3 MiB manifest in %d Secrets, want at least 3", len(secs))
	}
	for _, sec := range secs {
		if n := dataBytes([]corev1.Secret{sec}); n > DefaultMaxChunkBytes+200 {
			t.Errorf("Secret %s holds %d bytes", sec.Name, n)
		}
		if sec.Labels[ownership.LabelChunk] != "0" && sec.Name != ownership.RevisionChunkName("big", 1, mustAtoi(t, sec.Labels[ownership.LabelChunk])) {
			t.Errorf("chunk Secret named %s", sec.Name)
		}
	}
	slices.Sort(writes)
	slices.Sort(reads)
	t.Logf("3 MiB manifest: record %d bytes in %d Secrets; write median %s (min %s), read median %s (min %s)",
		dataBytes(secs), len(secs), writes[reps/2].Round(time.Millisecond), writes[0].Round(time.Millisecond),
		reads[reps/2].Round(time.Millisecond), reads[0].Round(time.Millisecond))

	hist, err := s.History(ctx, ns, "big")
	must(t, err)
	if len(hist) != reps || hist[0].Manifest != randomManifest(3<<20, 1) {
		t.Errorf("History: %d revisions", len(hist))
	}

	must(t, s.DeleteRevision(ctx, ns, "big", 1))
	for _, sec := range recordSecrets(t, client, ns, "big") {
		if sec.Labels[ownership.LabelRevision] == "1" {
			t.Errorf("Secret %s left after DeleteRevision", sec.Name)
		}
	}
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	must(t, err)
	return n
}

// TestKubeChunks covers the damaged and interrupted cases of split records
// (small chunks, so that a small record is split).
func TestKubeChunks(t *testing.T) {
	t.Parallel()
	ctx, ns, client := ctxT(t), env.Namespace(t), kubeClient(t)
	s := NewKubeStore(client, KubeStoreOptions{MaxChunkBytes: 512})
	big := func(rev int) *Revision {
		r := sampleRevision(ns, "web", rev)
		r.Manifest = randomManifest(4<<10, uint64(rev))
		return r
	}
	secrets := client.CoreV1().Secrets(ns)

	// A stale chunk left by an interrupted write is replaced.
	stale := recordSecret(big(1), 1, []byte("stale"))
	_, err := secrets.Create(ctx, stale, metav1.CreateOptions{})
	must(t, err)
	must(t, s.CreateRevision(ctx, big(1)))
	got, err := s.Revision(ctx, ns, "web", 1)
	must(t, err)
	if diff := cmp.Diff(big(1), got, revisionOpts); diff != "" {
		t.Errorf("revision 1 over a stale chunk (-want +got):\n%s", diff)
	}
	n := len(recordSecrets(t, client, ns, "web"))
	if n < 5 {
		t.Fatalf("%d Secrets for 4 KiB in 512-byte chunks", n)
	}

	// Chunks without their chunk 0 are not a revision.
	must(t, s.CreateRevision(ctx, big(2)))
	must(t, secrets.Delete(ctx, ownership.RevisionName("web", 2), metav1.DeleteOptions{}))
	// A record missing a chunk is reported, the others still listed.
	must(t, s.CreateRevision(ctx, big(3)))
	must(t, secrets.Delete(ctx, ownership.RevisionChunkName("web", 3, 2), metav1.DeleteOptions{}))
	if _, err := s.Revision(ctx, ns, "web", 3); err == nil || !strings.Contains(err.Error(), "missing chunk 2") {
		t.Errorf("Revision with a missing chunk: err = %v", err)
	}
	hist, err := s.History(ctx, ns, "web")
	if err == nil || !strings.Contains(err.Error(), "missing chunk 2") {
		t.Errorf("History with a missing chunk: err = %v", err)
	}
	if len(hist) != 1 || hist[0].Revision != 1 {
		t.Errorf("History: %d revisions, want revision 1 only", len(hist))
	}
	// Both can still be deleted, chunks and all.
	must(t, s.DeleteRevision(ctx, ns, "web", 3))
	must(t, s.DeleteRevision(ctx, ns, "web", 2))
	for _, sec := range recordSecrets(t, client, ns, "web") {
		if sec.Labels[ownership.LabelRevision] != "1" {
			t.Errorf("Secret %s left", sec.Name)
		}
	}
}

// manifest500 renders a release of 500 objects, as a chart of ConfigMaps,
// Services, Deployments and Secrets would (issue 4's benchmark chart).
func manifest500(ns string) (string, []ObjectRef) {
	var b strings.Builder
	var inv []ObjectRef
	for i := range 125 {
		fmt.Fprintf(&b, `---
# Source: bench/templates/configmap.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: bench-config-%[1]d
  labels:
    app.kubernetes.io/name: bench
    app.kubernetes.io/instance: bench
    app.kubernetes.io/component: part-%[1]d
data:
  settings.yaml: |
    index: %[1]d
    greeting: hello from part %[1]d
    features: [a, b, c]
---
# Source: bench/templates/secret.yaml
apiVersion: v1
kind: Secret
metadata:
  name: bench-secret-%[1]d
  labels:
    app.kubernetes.io/name: bench
    app.kubernetes.io/instance: bench
type: Opaque
data:
  password: %[2]s
---
# Source: bench/templates/service.yaml
apiVersion: v1
kind: Service
metadata:
  name: bench-svc-%[1]d
  labels:
    app.kubernetes.io/name: bench
    app.kubernetes.io/instance: bench
spec:
  type: ClusterIP
  selector:
    app.kubernetes.io/name: bench
    app.kubernetes.io/component: part-%[1]d
  ports:
    - name: http
      port: 80
      targetPort: http
---
# Source: bench/templates/deployment.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: bench-app-%[1]d
  labels:
    app.kubernetes.io/name: bench
    app.kubernetes.io/instance: bench
spec:
  replicas: 1
  selector:
    matchLabels:
      app.kubernetes.io/name: bench
      app.kubernetes.io/component: part-%[1]d
  template:
    metadata:
      labels:
        app.kubernetes.io/name: bench
        app.kubernetes.io/component: part-%[1]d
      annotations:
        checksum/config: %[3]x
    spec:
      containers:
        - name: app
          image: registry.example.com/bench/app:1.2.%[1]d
          ports:
            - name: http
              containerPort: 8080
          envFrom:
            - configMapRef:
                name: bench-config-%[1]d
            - secretRef:
                name: bench-secret-%[1]d
          resources:
            requests:
              cpu: 10m
              memory: 16Mi
`, i, base64.StdEncoding.EncodeToString([]byte(fmt.Sprintf("pw-%08x", i*2654435761))), i*2654435761)
		inv = append(inv,
			ObjectRef{Version: "v1", Kind: "ConfigMap", Namespace: ns, Name: fmt.Sprintf("bench-config-%d", i)},
			ObjectRef{Version: "v1", Kind: "Secret", Namespace: ns, Name: fmt.Sprintf("bench-secret-%d", i)},
			ObjectRef{Version: "v1", Kind: "Service", Namespace: ns, Name: fmt.Sprintf("bench-svc-%d", i)},
			ObjectRef{Group: "apps", Version: "v1", Kind: "Deployment", Namespace: ns, Name: fmt.Sprintf("bench-app-%d", i)},
		)
	}
	return b.String(), inv
}

// TestKubeRecordSize500 measures one revision record of a 500-object
// release: the bytes of its Secrets' data.
func TestKubeRecordSize500(t *testing.T) {
	t.Parallel()
	ctx, ns, client := ctxT(t), env.Namespace(t), kubeClient(t)
	s := NewKubeStore(client, KubeStoreOptions{})
	r := sampleRevision(ns, "bench", 1)
	r.Manifest, r.Inventory = manifest500(ns)
	must(t, s.CreateRevision(ctx, r))
	secs := recordSecrets(t, client, ns, "bench")
	if len(secs) != 1 {
		t.Fatalf("%d Secrets, want 1", len(secs))
	}
	js, err := json.Marshal(r)
	must(t, err)
	record := dataBytes(secs)
	// Helm keeps base64(gzip(JSON)) under data.release: the same payload
	// costs 4/3 as much there, before Helm's chart files are added.
	t.Logf("500-object release: manifest %d bytes, JSON %d bytes, record %d bytes of Secret data (%d as Helm encodes it)",
		len(r.Manifest), len(js), record, len("release")+base64.StdEncoding.EncodedLen(len(secs[0].Data["release"])))
	if record > 64<<10 {
		t.Errorf("record of %d bytes: compression lost?", record)
	}
}
