package apply

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fluxcd/cli-utils/pkg/kstatus/status"
	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
)

// readCounter counts a client's reads by resource: "list configmaps",
// "get configmaps" (the path's last segment is the resource for a LIST).
type readCounter struct {
	mu sync.Mutex
	n  map[string]int
}

func (r *readCounter) RoundTrip(next http.RoundTripper) http.RoundTripper {
	return roundTripper(func(req *http.Request) (*http.Response, error) {
		if req.Method == http.MethodGet {
			parts := strings.Split(strings.Trim(req.URL.Path, "/"), "/")
			key := ""
			switch {
			case len(parts) >= 2 && parts[len(parts)-2] == "namespaces":
				key = "get namespace" // not expected
			case len(parts) >= 3 && parts[len(parts)-3] == "namespaces":
				key = "list " + parts[len(parts)-1]
			case len(parts) >= 4 && parts[len(parts)-4] == "namespaces":
				key = "get " + parts[len(parts)-2]
			}
			if key != "" {
				r.mu.Lock()
				r.n[key]++
				r.mu.Unlock()
			}
		}
		return next.RoundTrip(req)
	})
}

func (r *readCounter) take() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := r.n
	r.n = map[string]int{}
	return n
}

// TestObserveOneListPerKind: N objects of one kind in one namespace cost
// one LIST, whatever N; a missing object and one whose labels were removed
// cost a GET each.
func TestObserveOneListPerKind(t *testing.T) {
	ns := env.Namespace(t)
	env.Require(t)
	cfg := env.Config()
	reads := &readCounter{n: map[string]int{}}
	cfg.Wrap(reads.RoundTrip)
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := testContext(t)
	var manifest strings.Builder
	for i := range 30 {
		manifest.WriteString(sprintf("---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c%02d}\ndata: {k: v}\n", i))
	}
	for i := range 3 {
		manifest.WriteString(sprintf("---\napiVersion: v1\nkind: Secret\nmetadata: {name: s%d}\nstringData: {k: v}\n", i))
	}
	objs := decode(t, m, manifest.String(), ns)
	if _, err := m.Apply(ctx, objs, releaseOptions(ns)); err != nil {
		t.Fatal(err)
	}
	refs := refsOf(objs)
	sel := ReleaseSelector("app", ns)

	reads.take()
	obs, err := m.Observe(ctx, refs, ObserveOptions{LabelSelector: sel})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]int{"list configmaps": 1, "list secrets": 1}, reads.take()); diff != "" {
		t.Errorf("requests of 30 ConfigMaps and 3 Secrets (-want +got):\n%s", diff)
	}
	for _, o := range obs {
		if o.Object == nil || o.Status.Status != status.CurrentStatus {
			t.Errorf("%s: %+v, want a Current object", o.Ref, o.Status)
		}
	}

	// One deleted, one whose labels another tool removed.
	cms := env.Clientset().CoreV1().ConfigMaps(ns)
	if err := cms.Delete(ctx, "c00", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cms.Patch(ctx, "c01", types.JSONPatchType, []byte(`[{"op":"remove","path":"/metadata/labels"}]`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	obs, err = m.Observe(ctx, refs, ObserveOptions{LabelSelector: sel})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]int{"list configmaps": 1, "list secrets": 1, "get configmaps": 2}, reads.take()); diff != "" {
		t.Errorf("requests with one ConfigMap deleted and one unlabelled (-want +got):\n%s", diff)
	}
	if !obs[0].Missing() || obs[0].Status.Status != status.NotFoundStatus {
		t.Errorf("deleted c00: %+v, want missing, NotFound", obs[0])
	}
	if obs[1].Object == nil || obs[1].Object.GetName() != "c01" {
		t.Errorf("unlabelled c01: %+v, want it read", obs[1])
	}
}

// TestStatusAndWaitAgreeOnJobs: Observe (what status shows) and Wait judge
// a running Job InProgress and a completed one Current (kstatus alone
// calls a running Job Current).
func TestStatusAndWaitAgreeOnJobs(t *testing.T) {
	ns := env.Namespace(t)
	m, _ := newManager(t)
	ctx := testContext(t)
	objs := decode(t, m, `
apiVersion: batch/v1
kind: Job
metadata: {name: done}
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: c, image: busybox}]
---
apiVersion: batch/v1
kind: Job
metadata: {name: running}
spec:
  template:
    spec:
      restartPolicy: Never
      nodeSelector: {nowhere: 'true'}
      containers: [{name: c, image: busybox}]
`, ns)
	if _, err := m.Apply(ctx, objs, releaseOptions(ns)); err != nil {
		t.Fatal(err)
	}
	refs := refsOf(objs)
	// The barrier: done has completed, running has a pod (Pending).
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		obs, err := m.Observe(ctx, refs, ObserveOptions{LabelSelector: ReleaseSelector("app", ns)})
		if err != nil {
			return false, err
		}
		active, _, _ := unstructured.NestedInt64(obs[1].Object.Object, "status", "active")
		return jobComplete(obs[0].Object) && active == 1, nil
	})
	if err != nil {
		t.Fatal(err)
	}

	obs, err := m.Observe(ctx, refs, ObserveOptions{LabelSelector: ReleaseSelector("app", ns)})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]status.Status{}
	for _, o := range obs {
		got[o.Ref.Name] = o.Status.Status
	}
	if diff := cmp.Diff(map[string]status.Status{"done": status.CurrentStatus, "running": status.InProgressStatus}, got); diff != "" {
		t.Errorf("Observe (-want +got):\n%s", diff)
	}
	if err := m.Wait(ctx, refs[:1], WaitOptions{Timeout: 10 * time.Second, WaitForJobs: true}); err != nil {
		t.Errorf("wait for the completed Job: %v", err)
	}
	err = m.Wait(ctx, refs, WaitOptions{Timeout: time.Second, Interval: 200 * time.Millisecond, WaitForJobs: true})
	var nre *NotReadyError
	if !errors.As(err, &nre) || !nre.TimedOut || len(nre.Objects) != 1 {
		t.Fatalf("wait for both Jobs: %v, want a timeout on one", err)
	}
	if o := nre.Objects[0]; o.Ref.Name != "running" || o.Status != status.InProgressStatus {
		t.Errorf("wait for both Jobs: %+v, want running InProgress", o)
	}
}
