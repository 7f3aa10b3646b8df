package release

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/kubectl-chart/kubectl-chart/pkg/chart"
)

func TestApplySetAnnotations(t *testing.T) {
	tests := []struct {
		name       string
		inv        []ObjectRef
		groupKinds string
		namespaces string
	}{
		{name: "empty"},
		{
			name: "core kinds in the release namespace",
			inv: []ObjectRef{
				{Version: "v1", Kind: "Service", Namespace: "app", Name: "a"},
				{Version: "v1", Kind: "ConfigMap", Namespace: "app", Name: "b"},
				{Version: "v1", Kind: "ConfigMap", Namespace: "app", Name: "c"},
			},
			groupKinds: "ConfigMap,Service",
		},
		{
			name: "groups, cluster-scoped objects and other namespaces",
			inv: []ObjectRef{
				{Group: "apps", Version: "v1", Kind: "Deployment", Namespace: "app", Name: "web"},
				{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "ClusterRole", Name: "web"},
				{Version: "v1", Kind: "Namespace", Name: "other"},
				{Version: "v1", Kind: "ConfigMap", Namespace: "zeta", Name: "x"},
				{Version: "v1", Kind: "ConfigMap", Namespace: "other", Name: "x"},
				{Group: "apps", Version: "v1", Kind: "Deployment", Namespace: "other", Name: "web"},
				{Group: "apiextensions.k8s.io", Version: "v1", Kind: "CustomResourceDefinition", Name: "crs.example.com"},
			},
			groupKinds: "ClusterRole.rbac.authorization.k8s.io,ConfigMap,CustomResourceDefinition.apiextensions.k8s.io,Deployment.apps,Namespace",
			namespaces: "other,zeta",
		},
		{
			name: "same kind, several groups",
			inv: []ObjectRef{
				{Group: "networking.k8s.io", Kind: "Ingress", Namespace: "app", Name: "a"},
				{Group: "extensions", Kind: "Ingress", Namespace: "app", Name: "a"},
			},
			groupKinds: "Ingress.extensions,Ingress.networking.k8s.io",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := applySetGroupKinds(tt.inv); got != tt.groupKinds {
				t.Errorf("contains-group-kinds = %q, want %q", got, tt.groupKinds)
			}
			if got := applySetAdditionalNamespaces(tt.inv, "app"); got != tt.namespaces {
				t.Errorf("additional-namespaces = %q, want %q", got, tt.namespaces)
			}
		})
	}
}

func TestSplitChunks(t *testing.T) {
	tests := []struct {
		name string
		n    int
		size int
		want []int
	}{
		{"empty", 0, 10, []int{0}},
		{"fits", 10, 10, []int{10}},
		{"one more", 11, 10, []int{10, 1}},
		{"three", 25, 10, []int{10, 10, 5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := make([]byte, tt.n)
			for i := range b {
				b[i] = byte(i)
			}
			parts := splitChunks(b, tt.size)
			var got []int
			var joined []byte
			for _, p := range parts {
				got = append(got, len(p))
				joined = append(joined, p...)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("chunk sizes (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(b, joined, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("joined (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMemoryStore(t *testing.T) {
	testStore(t, func(t *testing.T) storeEnv {
		m := NewMemoryStore()
		n := 0
		return storeEnv{
			namespace: func() string { n++; return fmt.Sprintf("ns-%d", n) },
			client: func(o clientOptions) Store {
				return m.Client(MemoryStoreOptions{Holder: o.holder, LockTTL: o.ttl, Now: o.now})
			},
		}
	})
}

// ---------------------------------------------------------------------------
// The behaviour both stores share, run against each.
// ---------------------------------------------------------------------------

// storeEnv is one test's backend: namespaces in it, and clients of it.
type storeEnv struct {
	namespace func() string
	client    func(clientOptions) Store
}

type clientOptions struct {
	holder string
	ttl    time.Duration
	now    func() time.Time
}

type keepAliver interface {
	KeepAlive(ctx context.Context, h *Head) (stop func() error)
}

// testStore runs the shared behaviour tests; newEnv gives each its own
// backend or namespace.
func testStore(t *testing.T, newEnv func(t *testing.T) storeEnv) {
	tests := []struct {
		name string
		run  func(t *testing.T, e storeEnv)
	}{
		{"HeadRoundTrip", testHeadRoundTrip},
		{"LockedByAnother", testLockedByAnother},
		{"ConcurrentAcquire", testConcurrentAcquire},
		{"ExpiredLockTakenOver", testExpiredLockTakenOver},
		{"ForceUnlock", testForceUnlock},
		{"RenewAndKeepAlive", testRenewAndKeepAlive},
		{"OptimisticConflict", testOptimisticConflict},
		{"DeleteHead", testDeleteHead},
		{"RevisionRoundTrip", testRevisionRoundTrip},
		{"Outcome", testOutcome},
		{"StatusMovesForwardOnly", testStatusMovesForwardOnly},
		{"HistoryOrder", testHistoryOrder},
		{"DeleteRevision", testDeleteRevision},
		{"List", testList},
		{"BadInput", testBadInput},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.run(t, newEnv(t))
		})
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// headOpts compares heads as callers see them.
var headOpts = cmp.Options{cmpopts.IgnoreFields(Head{}, "ResourceVersion"), cmpopts.EquateEmpty()}

func testHeadRoundTrip(t *testing.T, e storeEnv) {
	ctx, ns := ctxT(t), e.namespace()
	s := e.client(clientOptions{holder: "alice@laptop (pid 1)"})
	if _, err := s.Head(ctx, ns, "web"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Head before any write: err = %v, want ErrNotFound", err)
	}
	h, err := s.Acquire(ctx, ns, "web", "install", false)
	must(t, err)
	if h.Lock == nil || h.Lock.Holder != "alice@laptop (pid 1)" || h.Lock.Operation != "install" || h.Lock.ID == "" {
		t.Fatalf("Acquire: lock = %+v", h.Lock)
	}
	if got := h.Lock.Expires.Sub(h.Lock.Started); got != DefaultLockTTL {
		t.Errorf("lock TTL = %s, want %s", got, DefaultLockTTL)
	}
	h.Revision, h.Deployed, h.Status = 1, 1, StatusDeployed
	h.Inventory = []ObjectRef{
		{Group: "apps", Version: "v1", Kind: "Deployment", Namespace: ns, Name: "web"},
		{Version: "v1", Kind: "Service", Namespace: ns, Name: "web"},
	}
	h.Labels = map[string]string{"team": "payments", "tier": ""}
	must(t, s.UpdateHead(ctx, h))
	got, err := s.Head(ctx, ns, "web")
	must(t, err)
	want := copyHead(h).withoutLockID()
	if diff := cmp.Diff(want, got, headOpts); diff != "" {
		t.Errorf("Head after UpdateHead (-want +got):\n%s", diff)
	}
	// A revision without labels takes them off the head.
	h.Labels = nil
	must(t, s.UpdateHead(ctx, h))
	got, err = s.Head(ctx, ns, "web")
	must(t, err)
	if got.Labels != nil {
		t.Errorf("Head after UpdateHead without labels: labels %v, want none", got.Labels)
	}
	want.Labels = nil
	must(t, s.Release(ctx, h))
	if h.Lock != nil {
		t.Errorf("Release left h.Lock = %+v", h.Lock)
	}
	got, err = s.Head(ctx, ns, "web")
	must(t, err)
	want.Lock = nil
	if diff := cmp.Diff(want, got, headOpts); diff != "" {
		t.Errorf("Head after Release (-want +got):\n%s", diff)
	}
	// Releasing again is a no-op.
	must(t, s.Release(ctx, h))
}

func testLockedByAnother(t *testing.T, e storeEnv) {
	ctx, ns := ctxT(t), e.namespace()
	a := e.client(clientOptions{holder: "alice@a (pid 1)"})
	b := e.client(clientOptions{holder: "bob@b (pid 2)"})
	ha, err := a.Acquire(ctx, ns, "web", "upgrade", false)
	must(t, err)
	for _, s := range []Store{b, a} { // the same client too: locks are not re-entrant
		start := time.Now()
		_, err = s.Acquire(ctx, ns, "web", "rollback", false)
		took := time.Since(start)
		var le *LockedError
		if !errors.As(err, &le) {
			t.Fatalf("second Acquire: err = %v, want *LockedError", err)
		}
		if took > time.Second {
			t.Errorf("second Acquire took %s: not fast", took)
		}
		if le.Lock.Holder != "alice@a (pid 1)" || le.Lock.Operation != "upgrade" || !le.Lock.Expires.Equal(ha.Lock.Expires) {
			t.Errorf("LockedError lock = %+v, want alice's upgrade", le.Lock)
		}
		for _, part := range []string{"alice@a (pid 1)", "upgrade", "--force-unlock", ns + "/web"} {
			if !strings.Contains(err.Error(), part) {
				t.Errorf("error %q does not say %q", err, part)
			}
		}
	}
	// b cannot write the head either, even having read it.
	hb, err := b.Head(ctx, ns, "web")
	must(t, err)
	hb.Revision = 7
	var le *LockedError
	if err := b.UpdateHead(ctx, hb); !errors.As(err, &le) {
		t.Errorf("UpdateHead by a reader while locked: err = %v, want *LockedError", err)
	}
	if err := b.Release(ctx, hb); err == nil {
		t.Errorf("Release by a reader while locked: no error")
	}
	must(t, a.Release(ctx, ha))
	hb, err = b.Acquire(ctx, ns, "web", "rollback", false)
	must(t, err)
	must(t, b.Release(ctx, hb))
}

// testConcurrentAcquire: of clients racing for a release (new, then
// existing), exactly one gets the lock and the others a *LockedError.
func testConcurrentAcquire(t *testing.T, e storeEnv) {
	ctx, ns := ctxT(t), e.namespace()
	const n = 8
	for round := range 2 {
		heads := make([]*Head, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			s := e.client(clientOptions{holder: fmt.Sprintf("user%d@h (pid %d)", i, i)})
			wg.Go(func() { heads[i], errs[i] = s.Acquire(ctx, ns, "web", "upgrade", false) })
		}
		wg.Wait()
		var winner *Head
		for i, err := range errs {
			var le *LockedError
			switch {
			case err == nil && winner == nil:
				winner = heads[i]
			case err == nil:
				t.Errorf("round %d: two clients got the lock", round)
			case !errors.As(err, &le):
				t.Errorf("round %d: client %d: err = %v, want *LockedError", round, i, err)
			}
		}
		if winner == nil {
			t.Fatalf("round %d: nobody got the lock", round)
		}
		must(t, e.client(clientOptions{}).Release(ctx, winner))
	}
}

func testExpiredLockTakenOver(t *testing.T, e storeEnv) {
	ctx, ns := ctxT(t), e.namespace()
	past := func() time.Time { return time.Now().Add(-10 * time.Minute) }
	a := e.client(clientOptions{holder: "alice@a (pid 1)", now: past})
	b := e.client(clientOptions{holder: "bob@b (pid 2)"})
	ha, err := a.Acquire(ctx, ns, "web", "install", false)
	must(t, err)
	if !ha.Lock.Expired(time.Now()) {
		t.Fatalf("a's lock %+v should have expired", ha.Lock)
	}
	hb, err := b.Acquire(ctx, ns, "web", "upgrade", false)
	must(t, err)
	if hb.Lock.Holder != "bob@b (pid 2)" || hb.Lock.ID == ha.Lock.ID {
		t.Fatalf("b's lock = %+v", hb.Lock)
	}
	// a lost its lock: every write of a's fails with ErrConflict.
	ha.Revision = 1
	if err := a.UpdateHead(ctx, ha); !errors.Is(err, ErrConflict) {
		t.Errorf("UpdateHead after takeover: err = %v, want ErrConflict", err)
	}
	if err := a.Renew(ctx, ha); !errors.Is(err, ErrConflict) {
		t.Errorf("Renew after takeover: err = %v, want ErrConflict", err)
	}
	if err := a.Release(ctx, ha); !errors.Is(err, ErrConflict) {
		t.Errorf("Release after takeover: err = %v, want ErrConflict", err)
	}
	got, err := b.Head(ctx, ns, "web")
	must(t, err)
	if got.Lock == nil || got.Lock.Holder != "bob@b (pid 2)" {
		t.Errorf("lock after a's attempts = %+v, want bob's", got.Lock)
	}
	must(t, b.Release(ctx, hb))
}

func testForceUnlock(t *testing.T, e storeEnv) {
	ctx, ns := ctxT(t), e.namespace()
	a := e.client(clientOptions{holder: "alice@a (pid 1)"})
	b := e.client(clientOptions{holder: "bob@b (pid 2)"})
	ha, err := a.Acquire(ctx, ns, "web", "install", false)
	must(t, err)
	hb, err := b.Acquire(ctx, ns, "web", "uninstall", true)
	must(t, err)
	if hb.Lock.Holder != "bob@b (pid 2)" || hb.Lock.Operation != "uninstall" {
		t.Fatalf("forced lock = %+v", hb.Lock)
	}
	if err := a.UpdateHead(ctx, ha); !errors.Is(err, ErrConflict) {
		t.Errorf("UpdateHead by the forced-out holder: err = %v, want ErrConflict", err)
	}
	must(t, b.Release(ctx, hb))
}

func testRenewAndKeepAlive(t *testing.T, e storeEnv) {
	ctx, ns := ctxT(t), e.namespace()
	const ttl = 900 * time.Millisecond
	a := e.client(clientOptions{holder: "alice@a (pid 1)", ttl: ttl})
	b := e.client(clientOptions{holder: "bob@b (pid 2)", ttl: ttl})
	h, err := a.Acquire(ctx, ns, "web", "upgrade", false)
	must(t, err)
	before := h.Lock.Expires
	time.Sleep(20 * time.Millisecond)
	must(t, a.Renew(ctx, h))
	if !h.Lock.Expires.After(before) || !h.Lock.Renewed.After(h.Lock.Started) {
		t.Errorf("Renew: lock %+v, expiry was %s", h.Lock, before)
	}

	stop := a.(keepAliver).KeepAlive(ctx, h)
	// Outlive the TTL twice while the caller keeps writing with h.
	for i := range 6 {
		time.Sleep(ttl / 3)
		h.Revision = i + 1
		if err := a.UpdateHead(ctx, h); err != nil {
			t.Fatalf("UpdateHead during KeepAlive: %v", err)
		}
	}
	var le *LockedError
	if _, err := b.Acquire(ctx, ns, "web", "upgrade", false); !errors.As(err, &le) {
		t.Fatalf("Acquire while kept alive: err = %v, want *LockedError", err)
	}
	must(t, stop())
	must(t, stop()) // idempotent
	// Without renewals the lock lapses within a TTL.
	time.Sleep(ttl + 100*time.Millisecond)
	hb, err := b.Acquire(ctx, ns, "web", "upgrade", false)
	must(t, err)
	if hb.Revision != 6 {
		t.Errorf("revision after the updates = %d, want 6", hb.Revision)
	}

	// A KeepAlive whose lock is taken reports it.
	stop = b.(keepAliver).KeepAlive(ctx, hb)
	_, err = a.Acquire(ctx, ns, "web", "uninstall", true)
	must(t, err)
	time.Sleep(ttl/3 + 200*time.Millisecond)
	if err := stop(); !errors.Is(err, ErrConflict) {
		t.Errorf("KeepAlive of a lost lock: stop() = %v, want ErrConflict", err)
	}
}

func testOptimisticConflict(t *testing.T, e storeEnv) {
	ctx, ns := ctxT(t), e.namespace()
	s := e.client(clientOptions{})
	h, err := s.Acquire(ctx, ns, "web", "install", false)
	must(t, err)
	must(t, s.Release(ctx, h))
	h1, err := s.Head(ctx, ns, "web")
	must(t, err)
	h2, err := s.Head(ctx, ns, "web")
	must(t, err)
	h1.Status = StatusDeployed
	must(t, s.UpdateHead(ctx, h1))
	h2.Status = StatusFailed
	if err := s.UpdateHead(ctx, h2); !errors.Is(err, ErrConflict) {
		t.Errorf("UpdateHead of a stale head: err = %v, want ErrConflict", err)
	}
	got, err := s.Head(ctx, ns, "web")
	must(t, err)
	if got.Status != StatusDeployed {
		t.Errorf("status = %s, want deployed (the first write)", got.Status)
	}
	// A head read before a lock was taken cannot write after it.
	h3, err := s.Head(ctx, ns, "web")
	must(t, err)
	hl, err := s.Acquire(ctx, ns, "web", "upgrade", false)
	must(t, err)
	var le *LockedError
	if err := s.UpdateHead(ctx, h3); !errors.As(err, &le) {
		t.Errorf("UpdateHead while locked: err = %v, want *LockedError", err)
	}
	must(t, s.Release(ctx, hl))
	if err := s.UpdateHead(ctx, h3); !errors.Is(err, ErrConflict) {
		t.Errorf("UpdateHead of a head read before a lock came and went: err = %v, want ErrConflict", err)
	}
}

func testDeleteHead(t *testing.T, e storeEnv) {
	ctx, ns := ctxT(t), e.namespace()
	a := e.client(clientOptions{holder: "alice@a (pid 1)"})
	b := e.client(clientOptions{holder: "bob@b (pid 2)"})
	h, err := a.Acquire(ctx, ns, "web", "uninstall", false)
	must(t, err)
	hb, err := b.Head(ctx, ns, "web")
	must(t, err)
	var le *LockedError
	if err := b.DeleteHead(ctx, hb); !errors.As(err, &le) {
		t.Errorf("DeleteHead by a non-holder: err = %v, want *LockedError", err)
	}
	must(t, a.DeleteHead(ctx, h))
	if _, err := a.Head(ctx, ns, "web"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Head after DeleteHead: err = %v, want ErrNotFound", err)
	}
	if err := a.Release(ctx, h); !errors.Is(err, ErrNotFound) {
		t.Errorf("Release after DeleteHead: err = %v, want ErrNotFound", err)
	}
}

func sampleRevision(ns, name string, rev int) *Revision {
	return &Revision{
		Name:      name,
		Namespace: ns,
		Revision:  rev,
		Status:    StatusPendingInstall,
		Chart: ChartInfo{Name: "web", Version: "1.2.3", AppVersion: "4.5", ChartOrigin: ChartOrigin{Source: "./web"},
			Annotations:  map[string]string{"example.com/team": "payments"},
			Dependencies: []*chart.Dependency{{Name: "cache", Version: "0.1.0", Repository: "file://charts/cache", Enabled: true, Alias: "cache"}},
		},
		Labels: map[string]string{"team": "payments", "tier": "backend"},
		Values: map[string]any{
			"replicas": float64(3), // JSON numbers come back as float64
			"image":    map[string]any{"tag": "v1", "pull": []any{"a", "b"}},
			"enabled":  true,
		},
		Manifest: "---\n# Source: web/templates/cm.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\n",
		Hooks: []Hook{{
			Name: "migrate", Kind: "Job", Path: "web/templates/job.yaml", Manifest: "kind: Job\n",
			Events: []string{"pre-upgrade"}, Weight: -5, DeletePolicies: []string{"hook-succeeded"},
		}},
		Notes:       "Thanks for installing web.",
		Inventory:   []ObjectRef{{Version: "v1", Kind: "ConfigMap", Namespace: ns, Name: "web"}},
		Description: "Install complete",
		Operation:   "install",
		Started:     time.Date(2026, 5, 4, 3, 2, 1, 123456789, time.UTC),
	}
}

// revisionOpts compares revisions as callers see them: Updated is the
// store's.
// Descriptions depend on the status (testOutcome checks them).
var revisionOpts = cmp.Options{cmpopts.IgnoreFields(Revision{}, "Updated", "StatusMoved", "Finished", "Description"), cmpopts.EquateEmpty()}

func testRevisionRoundTrip(t *testing.T, e storeEnv) {
	ctx, ns := ctxT(t), e.namespace()
	s := e.client(clientOptions{})
	if _, err := s.Revision(ctx, ns, "web", 1); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Revision before any write: err = %v, want ErrNotFound", err)
	}
	r := sampleRevision(ns, "web", 1)
	before := time.Now().Add(-2 * time.Second)
	must(t, s.CreateRevision(ctx, r))
	if r.Updated.Before(before) {
		t.Errorf("CreateRevision set Updated = %s", r.Updated)
	}
	got, err := s.Revision(ctx, ns, "web", 1)
	must(t, err)
	if diff := cmp.Diff(sampleRevision(ns, "web", 1), got, revisionOpts); diff != "" {
		t.Errorf("Revision (-want +got):\n%s", diff)
	}
	if got.Updated.Before(before) {
		t.Errorf("Updated = %s, want about now", got.Updated)
	}
	if err := s.CreateRevision(ctx, sampleRevision(ns, "web", 1)); !errors.Is(err, ErrConflict) {
		t.Errorf("CreateRevision of an existing revision: err = %v, want ErrConflict", err)
	}
	if _, err := s.Revision(ctx, ns, "web", 2); !errors.Is(err, ErrNotFound) {
		t.Errorf("Revision 2: err = %v, want ErrNotFound", err)
	}
	if _, err := s.Revision(ctx, ns, "other", 1); !errors.Is(err, ErrNotFound) {
		t.Errorf("Revision of another release: err = %v, want ErrNotFound", err)
	}
}

func testStatusMovesForwardOnly(t *testing.T, e storeEnv) {
	ctx, ns := ctxT(t), e.namespace()
	clock := time.Now()
	s := e.client(clientOptions{now: func() time.Time { return clock }})
	must(t, s.CreateRevision(ctx, sampleRevision(ns, "web", 1)))
	steps := []struct {
		to Status
		ok bool
	}{
		{StatusPendingUpgrade, false},
		{StatusSuperseded, false},
		{StatusDeployed, true},
		{StatusDeployed, true}, // no-op
		{StatusPendingUpgrade, false},
		{StatusFailed, false},
		{StatusSuperseded, true},
		{StatusDeployed, false},
		{StatusUninstalled, true},
		{StatusDeployed, false},
		{StatusUninstalling, false},
	}
	status := StatusPendingInstall
	for i, st := range steps {
		clock = clock.Add(time.Minute)
		err := s.SetStatus(ctx, ns, "web", 1, st.to)
		if (err == nil) != st.ok {
			t.Fatalf("step %d: %s → %s: err = %v, want ok=%v", i, status, st.to, err, st.ok)
		}
		if st.ok && st.to != status {
			status = st.to
			r, err := s.Revision(ctx, ns, "web", 1)
			must(t, err)
			if r.Status != status {
				t.Errorf("step %d: status = %s, want %s", i, r.Status, status)
			}
			if !r.Updated.Equal(clock.UTC()) {
				t.Errorf("step %d: updated = %s, want %s", i, r.Updated, clock.UTC())
			}
			if diff := cmp.Diff(sampleRevision(ns, "web", 1), r, revisionOpts, cmpopts.IgnoreFields(Revision{}, "Status")); diff != "" {
				t.Errorf("step %d: the record changed (-want +got):\n%s", i, diff)
			}
		}
	}
	if err := s.SetStatus(ctx, ns, "web", 2, StatusDeployed); !errors.Is(err, ErrNotFound) {
		t.Errorf("SetStatus of a missing revision: err = %v, want ErrNotFound", err)
	}
}

// testOutcome: a revision's description says what is under way while it
// is pending, then the outcome recorded with its status, in Revision and
// History alike; a status move without one keeps what was there.
func testOutcome(t *testing.T, e storeEnv) {
	ctx, ns := ctxT(t), e.namespace()
	s := e.client(clientOptions{})
	r1 := sampleRevision(ns, "web", 1)
	r1.Description = "Install complete"
	must(t, s.CreateRevision(ctx, r1))
	long := strings.Repeat("é", maxDescription) // 2 bytes each: cut
	steps := []struct {
		status      Status
		description string
		want        string
	}{
		{StatusPendingInstall, "", "Initial install underway"},
		{StatusFailed, `Release "web" failed: Deployment/ns/web: boom`, `Release "web" failed: Deployment/ns/web: boom`},
		{StatusUninstalled, long, strings.Repeat("é", (maxDescription-len("…"))/2) + "…"}, // cut on a rune boundary
	}
	for i, st := range steps {
		if i > 0 {
			must(t, s.SetOutcome(ctx, ns, "web", 1, Outcome{Status: st.status, Description: st.description}))
		}
		r, err := s.Revision(ctx, ns, "web", 1)
		must(t, err)
		hist, err := s.History(ctx, ns, "web")
		must(t, err)
		if len(hist) != 1 {
			t.Fatalf("step %d: history has %d revisions, want 1", i, len(hist))
		}
		for _, got := range []*Revision{r, hist[0]} {
			if got.Status != st.status || got.Description != st.want {
				t.Errorf("step %d: %s %.80q, want %s %.80q", i, got.Status, got.Description, st.status, st.want)
			}
			if !utf8.ValidString(got.Description) {
				t.Errorf("step %d: description is not valid UTF-8", i)
			}
		}
	}

	// Deployed without an outcome: the description written with the record.
	r2 := sampleRevision(ns, "web", 2)
	r2.Status, r2.Description = StatusPendingUpgrade, "Upgrade complete"
	must(t, s.CreateRevision(ctx, r2))
	r, err := s.Revision(ctx, ns, "web", 2)
	must(t, err)
	if r.Description != "Preparing upgrade" {
		t.Errorf("pending upgrade: description %q, want %q", r.Description, "Preparing upgrade")
	}
	must(t, s.SetStatus(ctx, ns, "web", 2, StatusDeployed))
	r, err = s.Revision(ctx, ns, "web", 2)
	must(t, err)
	if r.Description != "Upgrade complete" {
		t.Errorf("deployed: description %q, want %q", r.Description, "Upgrade complete")
	}
}

func testHistoryOrder(t *testing.T, e storeEnv) {
	ctx, ns := ctxT(t), e.namespace()
	s := e.client(clientOptions{})
	hist, err := s.History(ctx, ns, "web")
	must(t, err)
	if len(hist) != 0 {
		t.Fatalf("History of no release: %d revisions", len(hist))
	}
	order := rand.New(rand.NewPCG(1, 2)).Perm(12)
	for _, i := range order {
		must(t, s.CreateRevision(ctx, sampleRevision(ns, "web", i+1)))
	}
	// Another release with a prefix of the name is not in the history.
	must(t, s.CreateRevision(ctx, sampleRevision(ns, "web2", 1)))
	hist, err = s.History(ctx, ns, "web")
	must(t, err)
	var got []int
	for _, r := range hist {
		got = append(got, r.Revision)
	}
	if diff := cmp.Diff([]int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, got); diff != "" {
		t.Errorf("History order (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(sampleRevision(ns, "web", 10), hist[9], revisionOpts); diff != "" {
		t.Errorf("History[9] (-want +got):\n%s", diff)
	}
}

func testDeleteRevision(t *testing.T, e storeEnv) {
	ctx, ns := ctxT(t), e.namespace()
	s := e.client(clientOptions{})
	for i := 1; i <= 3; i++ {
		must(t, s.CreateRevision(ctx, sampleRevision(ns, "web", i)))
	}
	must(t, s.DeleteRevision(ctx, ns, "web", 2))
	if _, err := s.Revision(ctx, ns, "web", 2); !errors.Is(err, ErrNotFound) {
		t.Errorf("Revision after DeleteRevision: err = %v, want ErrNotFound", err)
	}
	if err := s.DeleteRevision(ctx, ns, "web", 2); !errors.Is(err, ErrNotFound) {
		t.Errorf("DeleteRevision again: err = %v, want ErrNotFound", err)
	}
	hist, err := s.History(ctx, ns, "web")
	must(t, err)
	if len(hist) != 2 || hist[0].Revision != 1 || hist[1].Revision != 3 {
		t.Errorf("History after deleting 2: %v", hist)
	}
}

func testList(t *testing.T, e storeEnv) {
	ctx := ctxT(t)
	ns1, ns2 := e.namespace(), e.namespace()
	s := e.client(clientOptions{})
	for _, r := range []struct{ ns, name string }{{ns1, "b"}, {ns2, "c"}, {ns1, "a"}} {
		h, err := s.Acquire(ctx, r.ns, r.name, "install", false)
		must(t, err)
		h.Revision = 1
		must(t, s.UpdateHead(ctx, h))
		if r.name != "a" { // a stays locked
			must(t, s.Release(ctx, h))
		}
	}
	names := func(heads []*Head, keep ...string) []string {
		var out []string
		for _, h := range heads {
			for _, ns := range keep {
				if h.Namespace == ns {
					out = append(out, h.Namespace+"/"+h.Name)
				}
			}
		}
		return out
	}
	one, err := s.List(ctx, ns1)
	must(t, err)
	if diff := cmp.Diff([]string{ns1 + "/a", ns1 + "/b"}, names(one, ns1, ns2)); diff != "" {
		t.Errorf("List(%s) (-want +got):\n%s", ns1, diff)
	}
	if one[0].Lock == nil || one[0].Lock.ID != "" || one[1].Lock != nil {
		t.Errorf("List locks: a %+v, b %+v; want a locked (without ID), b not", one[0].Lock, one[1].Lock)
	}
	all, err := s.List(ctx, "")
	must(t, err)
	want := []string{ns1 + "/a", ns1 + "/b", ns2 + "/c"}
	if ns2 < ns1 {
		want = []string{ns2 + "/c", ns1 + "/a", ns1 + "/b"}
	}
	if diff := cmp.Diff(want, names(all, ns1, ns2)); diff != "" {
		t.Errorf("List(all) (-want +got):\n%s", diff)
	}
}

func testBadInput(t *testing.T, e storeEnv) {
	ctx, ns := ctxT(t), e.namespace()
	s := e.client(clientOptions{})
	for _, name := range []string{"", "Web", "web_1", strings.Repeat("a", 54)} {
		if _, err := s.Acquire(ctx, ns, name, "install", false); err == nil {
			t.Errorf("Acquire(%q): no error", name)
		}
	}
	r := sampleRevision(ns, "web", 0)
	if err := s.CreateRevision(ctx, r); err == nil {
		t.Errorf("CreateRevision of revision 0: no error")
	}
	r = sampleRevision(ns, "web", 1)
	r.Status = "bogus"
	if err := s.CreateRevision(ctx, r); err == nil {
		t.Errorf("CreateRevision with status %q: no error", r.Status)
	}
	r = sampleRevision(ns, "web", 1)
	r.Values = map[string]any{"f": func() {}}
	if err := s.CreateRevision(ctx, r); err == nil {
		t.Errorf("CreateRevision with unencodable values: no error")
	}
}

// TestLockJSON: a Lock is stored as wire.Lock; the server-verified User is
// never written, and reading leaves it to the caller.
func TestLockJSON(t *testing.T) {
	at := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	l := Lock{Holder: "alice@laptop (pid 1)", Operation: "upgrade", Started: at, Renewed: at, Expires: at.Add(time.Minute),
		ID: "x", Forced: true, User: "alice"}
	got, err := json.Marshal(l)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := json.Marshal(l.Wire())
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("Lock JSON (-wire +got):\n%s", diff)
	}
	var back Lock
	if err := json.Unmarshal(got, &back); err != nil {
		t.Fatal(err)
	}
	l.User = ""
	if diff := cmp.Diff(l, back); diff != "" {
		t.Errorf("Lock round trip (-want +got):\n%s", diff)
	}
}
