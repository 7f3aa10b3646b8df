package apply

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/kubectl-chart/kubectl-chart/pkg/release"
)

// requests counts a client's requests by kind: "get", "list", "apply",
// "dry-run apply", "delete", "other write".
type requests struct {
	mu sync.Mutex
	n  map[string]int
}

func (r *requests) RoundTrip(next http.RoundTripper) http.RoundTripper {
	return roundTripper(func(req *http.Request) (*http.Response, error) {
		kind := "other write"
		dry := req.URL.Query().Has("dryRun")
		switch {
		case req.Method == http.MethodGet && strings.Contains(req.URL.RawQuery, "watch"):
			kind = "watch"
		case req.Method == http.MethodGet:
			kind = "get"
		case req.Method == http.MethodPatch && dry:
			kind = "dry-run apply"
		case req.Method == http.MethodPatch:
			kind = "apply"
		case req.Method == http.MethodDelete:
			kind = "delete"
		}
		r.mu.Lock()
		r.n[kind]++
		r.mu.Unlock()
		return next.RoundTrip(req)
	})
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

// take returns the counts and starts again from zero.
func (r *requests) take() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := r.n
	r.n = map[string]int{}
	return n
}

// newManager returns a Manager on the test cluster and its request counts.
func newManager(t testing.TB) (*Manager, *requests) {
	t.Helper()
	env.Require(t)
	cfg := env.Config()
	reqs := &requests{n: map[string]int{}}
	cfg.Wrap(reqs.RoundTrip)
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m, reqs
}

func testContext(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func dynamicClient(t testing.TB) dynamic.Interface {
	t.Helper()
	return dynamic.NewForConfigOrDie(env.Config())
}

var (
	configMaps  = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	deployments = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
	namespaces  = schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}
)

// get reads an object; nil when it does not exist.
func get(t testing.TB, gvr schema.GroupVersionResource, ns, name string) *unstructured.Unstructured {
	t.Helper()
	var ri dynamic.ResourceInterface = dynamicClient(t).Resource(gvr)
	if ns != "" {
		ri = dynamicClient(t).Resource(gvr).Namespace(ns)
	}
	o, err := ri.Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		if strings.Contains(err.Error(), "not found") {
			return nil
		}
		t.Fatal(err)
	}
	return o
}

// actions maps each change's Kind/namespace/name to its action.
func actions(cs *ChangeSet) map[string]Action {
	out := map[string]Action{}
	for _, c := range cs.Changes {
		out[c.Ref.Kind+"/"+c.Ref.Name] = c.Action
	}
	return out
}

func decode(t testing.TB, m *Manager, manifest, ns string) []*unstructured.Unstructured {
	t.Helper()
	objs, err := m.Decode(manifest, ns)
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

// deleteLater removes cluster-scoped objects a test created.
func deleteLater(t testing.TB, gvr schema.GroupVersionResource, name string) {
	t.Cleanup(func() {
		_ = dynamicClient(t).Resource(gvr).Delete(context.Background(), name, metav1.DeleteOptions{})
	})
}

// liveObject reads the object ref names.
func liveObject(t testing.TB, m *Manager, ref release.ObjectRef) *unstructured.Unstructured {
	t.Helper()
	mapping, err := m.mappingForRef(ref)
	if err != nil {
		t.Fatal(err)
	}
	o, err := m.resource(mapping, ref.Namespace).Get(context.Background(), ref.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func sprintf(format string, args ...any) string { return fmt.Sprintf(format, args...) }
