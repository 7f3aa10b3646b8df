package action

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes/fake"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-chart/kubectl-chart/internal/apply"
	"github.com/kubectl-chart/kubectl-chart/pkg/ownership"
	"github.com/kubectl-chart/kubectl-chart/pkg/release"
	"github.com/kubectl-chart/kubectl-chart/pkg/release/wire"
)

// hookApplier is an Applier for test runs without a cluster: applied Pods
// and Jobs finish at once, failed when named in fail; it records what was
// applied (with the labels it carried) and deleted, in order.
type hookApplier struct {
	mu      sync.Mutex
	fail    map[string]bool
	live    map[string]*unstructured.Unstructured
	events  []string
	labels  map[string]map[string]string
	applied []string
}

func newHookApplier(fail ...string) *hookApplier {
	a := &hookApplier{fail: map[string]bool{}, live: map[string]*unstructured.Unstructured{}, labels: map[string]map[string]string{}}
	for _, f := range fail {
		a.fail[f] = true
	}
	return a
}

func (a *hookApplier) Decode(manifest, ns string) ([]*unstructured.Unstructured, error) {
	var out []*unstructured.Unstructured
	for _, doc := range strings.Split(manifest, "\n---") {
		if strings.TrimSpace(doc) == "" {
			continue
		}
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
			return nil, err
		}
		if u.GetNamespace() == "" {
			u.SetNamespace(ns)
		}
		out = append(out, u)
	}
	return out, nil
}

func (a *hookApplier) Apply(_ context.Context, objs []*unstructured.Unstructured, opts apply.Options) (*apply.ChangeSet, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, o := range objs {
		o = o.DeepCopy()
		if opts.Release != "" {
			o.SetLabels(map[string]string{ownership.LabelRelease: opts.Release})
		}
		a.labels[o.GetName()] = o.GetLabels()
		a.live[o.GetName()] = o
		a.events = append(a.events, "apply "+o.GetName())
	}
	return &apply.ChangeSet{}, nil
}

func (a *hookApplier) Delete(_ context.Context, refs []release.ObjectRef, _ apply.DeleteOptions) (*apply.ChangeSet, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, r := range refs {
		if _, ok := a.live[r.Name]; ok {
			delete(a.live, r.Name)
			a.events = append(a.events, "delete "+r.Name)
		}
	}
	return &apply.ChangeSet{}, nil
}

func (a *hookApplier) Wait(context.Context, []release.ObjectRef, apply.WaitOptions) error { return nil }

func (a *hookApplier) Get(_ context.Context, ref release.ObjectRef) (*unstructured.Unstructured, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	o, ok := a.live[ref.Name]
	if !ok {
		return nil, fmt.Errorf("%s: not found", ref)
	}
	o = o.DeepCopy()
	switch o.GetKind() {
	case "Pod":
		phase := "Succeeded"
		if a.fail[ref.Name] {
			phase = "Failed"
		}
		_ = unstructured.SetNestedField(o.Object, phase, "status", "phase")
	case "Job":
		typ := "Complete"
		if a.fail[ref.Name] {
			typ = "Failed"
		}
		_ = unstructured.SetNestedSlice(o.Object, []any{map[string]any{"type": typ, "status": "True", "reason": "BackoffLimitExceeded"}}, "status", "conditions")
	}
	return o, nil
}

func testPod(name string, weight int, policy string) release.Hook {
	ann := fmt.Sprintf("    helm.sh/hook: test\n    helm.sh/hook-weight: %q\n", fmt.Sprint(weight))
	return release.Hook{Name: name, Kind: "Pod", Path: "web/templates/tests/" + name + ".yaml", Events: []string{"test"}, Weight: weight,
		DeletePolicies: splitPolicies(policy),
		Manifest:       "apiVersion: v1\nkind: Pod\nmetadata:\n  name: " + name + "\n  annotations:\n" + ann + "spec:\n  containers: [{name: check, image: busybox}]\n"}
}

func testJob(name string, weight int) release.Hook {
	return release.Hook{Name: name, Kind: "Job", Path: "web/templates/tests/" + name + ".yaml", Events: []string{"test"}, Weight: weight,
		Manifest: "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: " + name + "\nspec:\n  template:\n    spec:\n      containers: [{name: run, image: busybox}]\n"}
}

func splitPolicies(p string) []string {
	if p == "" {
		return nil
	}
	return strings.Split(p, ",")
}

// seedTested writes release web, revision 1 deployed with hooks, in the
// memory store.
func seedTested(t *testing.T, store *release.MemoryStore, hooks ...release.Hook) {
	t.Helper()
	ctx := t.Context()
	h, err := store.Acquire(ctx, "ns", "web", "install", false)
	if err != nil {
		t.Fatal(err)
	}
	rev := &release.Revision{Name: "web", Namespace: "ns", Revision: 1, Status: release.StatusDeployed, Operation: "install",
		Hooks: hooks, Started: time.Now(), Description: "Install complete"}
	if err := store.CreateRevision(ctx, rev); err != nil {
		t.Fatal(err)
	}
	h.Revision, h.Deployed, h.Status = 1, 1, release.StatusDeployed
	if err := store.UpdateHead(ctx, h); err != nil {
		t.Fatal(err)
	}
	if err := store.Release(ctx, h); err != nil {
		t.Fatal(err)
	}
}

func runNames(runs []HookRun) []string {
	var out []string
	for _, r := range runs {
		out = append(out, r.Name+" "+r.Status)
	}
	return out
}

func hookNames(r *wire.TestResult) []string {
	var out []string
	for _, h := range r.Hooks {
		out = append(out, h.Name+" "+h.Phase)
	}
	return out
}

// TestTestRun runs test hooks without a cluster (memory store, an applier
// whose Pods and Jobs finish at once): Helm's order, --filter, the first
// failure ending the run, delete policies applied after the logs, the
// result recorded on the revision (filtered-out tests keep their last
// result), the lock released, test objects without the release's labels.
func TestTestRun(t *testing.T) {
	hooks := []release.Hook{
		testPod("web-test-b", 0, "hook-succeeded"),
		testJob("web-test-job", -5),
		testPod("web-test-a", 0, ""),
		testPod("web-test-fail", 10, "hook-failed"),
		{Name: "web-migrate", Kind: "Job", Events: []string{"pre-upgrade"}, Manifest: "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: web-migrate\n"},
	}
	store := release.NewMemoryStore()
	seedTested(t, store, hooks...)
	kube := fake.NewClientset(
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web-test-a", Namespace: "ns"}, Spec: corev1.PodSpec{
			InitContainers: []corev1.Container{{Name: "init"}}, Containers: []corev1.Container{{Name: "check"}}}},
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web-test-job-x7k2p", Namespace: "ns", Labels: map[string]string{"job-name": "web-test-job"}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "run"}}}},
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web-test-b", Namespace: "ns"}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "check"}}}},
	)
	ctx := t.Context()

	// 1. Every test but web-test-fail: Helm's order (weight, then name).
	a := newHookApplier("web-test-fail")
	c := &Config{Store: store, Applier: a, Kube: kube}
	o := DefaultTestOptions()
	o.Name, o.Namespace, o.Exclude, o.Logs, o.Poll = "web", "ns", []string{"web-test-fail"}, true, time.Millisecond
	run, err := c.Test(ctx, o)
	if err != nil {
		t.Fatalf("Test: %v", err)
	}
	if diff := cmp.Diff([]string{"web-test-job Succeeded", "web-test-a Succeeded", "web-test-b Succeeded"}, runNames(run.Hooks)); diff != "" {
		t.Errorf("tests run (-want +got):\n%s", diff)
	}
	// Logs are read before the hook-succeeded deletion, which comes last.
	wantEvents := []string{"apply web-test-job", "apply web-test-a", "apply web-test-b", "delete web-test-b"}
	if diff := cmp.Diff(wantEvents, a.events); diff != "" {
		t.Errorf("applies and deletes (-want +got):\n%s", diff)
	}
	for name, l := range a.labels {
		if l[ownership.LabelRelease] != "" {
			t.Errorf("test object %s applied with the release label: %v", name, l)
		}
	}
	wantLogs := []PodLog{
		{Pod: "web-test-job-x7k2p", Container: "run", Text: "fake logs"},
		{Pod: "web-test-a", Container: "init", Text: "fake logs"},
		{Pod: "web-test-a", Container: "check", Text: "fake logs"},
		{Pod: "web-test-b", Container: "check", Text: "fake logs"},
	}
	if diff := cmp.Diff(wantLogs, run.Logs); diff != "" {
		t.Errorf("logs (-want +got):\n%s", diff)
	}
	rev, err := store.Revision(ctx, "ns", "web", 1)
	if err != nil {
		t.Fatal(err)
	}
	if rev.Test == nil || rev.Test.Phase != wire.TestSucceeded {
		t.Fatalf("recorded result %+v, want Succeeded", rev.Test)
	}
	// Recorded in the revision's order, in which helm status lists them.
	if diff := cmp.Diff([]string{"web-test-b Succeeded", "web-test-job Succeeded", "web-test-a Succeeded"}, hookNames(rev.Test)); diff != "" {
		t.Errorf("recorded hooks (-want +got):\n%s", diff)
	}
	if h, _ := store.Head(ctx, "ns", "web"); h.Lock != nil {
		t.Errorf("lock still held after the run: %+v", h.Lock)
	}

	// 2. --filter name=web-test-fail,name=web-test-a: a fails the run and
	// is deleted (hook-failed); the others keep their last result.
	a2 := newHookApplier("web-test-fail")
	c.Applier = a2
	o.Exclude, o.Include, o.Logs = nil, []string{"web-test-fail", "web-test-a"}, false
	run, err = c.Test(ctx, o)
	var he *HookError
	if !errors.As(err, &he) || he.Hook != "web-test-fail" || he.Event != "test" {
		t.Fatalf("Test with a failing test: error %v, want a HookError naming web-test-fail", err)
	}
	if diff := cmp.Diff([]string{"web-test-a Succeeded", "web-test-fail Failed"}, runNames(run.Hooks)); diff != "" {
		t.Errorf("tests run (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"apply web-test-a", "apply web-test-fail", "delete web-test-fail"}, a2.events); diff != "" {
		t.Errorf("applies and deletes (-want +got):\n%s", diff)
	}
	rev, _ = store.Revision(ctx, "ns", "web", 1)
	if rev.Test.Phase != wire.TestFailed {
		t.Errorf("recorded phase %s, want Failed", rev.Test.Phase)
	}
	want := []string{"web-test-b Succeeded", "web-test-job Succeeded", "web-test-a Succeeded", "web-test-fail Failed"}
	if diff := cmp.Diff(want, hookNames(rev.Test)); diff != "" {
		t.Errorf("recorded hooks (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(run.Revision.Test, rev.Test); diff != "" {
		t.Errorf("the run's revision does not carry the recorded result (-run +store):\n%s", diff)
	}
	if h, _ := store.Head(ctx, "ns", "web"); h.Lock != nil {
		t.Errorf("lock still held after a failed run: %+v", h.Lock)
	}

	// 3. A release held by another operation is not tested.
	other := store.Client(release.MemoryStoreOptions{Holder: "alice@ci (pid 1)"})
	held, err := other.Acquire(ctx, "ns", "web", "upgrade", false)
	if err != nil {
		t.Fatal(err)
	}
	var locked *release.LockedError
	if _, err := c.Test(ctx, o); !errors.As(err, &locked) {
		t.Errorf("Test of a locked release: %v, want *release.LockedError", err)
	}
	_ = other.Release(ctx, held)

	// 4. A missing release.
	o.Name = "nope"
	if _, err := c.Test(ctx, o); !errors.Is(err, ErrReleaseNotFound) {
		t.Errorf("Test of a missing release: %v, want ErrReleaseNotFound", err)
	}
}

func TestFilterTests(t *testing.T) {
	all := testHooks([]release.Hook{testPod("c", 1, ""), testPod("b", 0, ""), testPod("a", 0, ""),
		{Name: "legacy", Events: []string{"test-success"}, Weight: -1}, {Name: "pre", Events: []string{"pre-install"}}})
	names := func(hs []release.Hook) []string {
		var out []string
		for _, h := range hs {
			out = append(out, h.Name)
		}
		return out
	}
	tests := []struct {
		name             string
		include, exclude []string
		want             []string
	}{
		{"all, in the revision's order", nil, nil, []string{"c", "b", "a", "legacy"}},
		{"include", []string{"a", "c"}, nil, []string{"c", "a"}},
		{"exclude", nil, []string{"a"}, []string{"c", "b", "legacy"}},
		{"exclude wins over include", []string{"a", "b"}, []string{"a"}, []string{"b"}},
		{"unknown name: none", []string{"zzz"}, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, names(filterTests(all, tt.include, tt.exclude))); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestPodFailure(t *testing.T) {
	pod := func(status map[string]any) *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]any{"kind": "Pod", "status": status}}
	}
	tests := []struct {
		name   string
		status map[string]any
		want   string
	}{
		{"nothing said", map[string]any{"phase": "Failed"}, "pod failed"},
		{"evicted", map[string]any{"phase": "Failed", "reason": "Evicted", "message": "low on memory"}, "pod failed: Evicted low on memory"},
		{"containers", map[string]any{"phase": "Failed",
			"initContainerStatuses": []any{map[string]any{"name": "init", "state": map[string]any{"terminated": map[string]any{"exitCode": int64(0)}}}},
			"containerStatuses": []any{
				map[string]any{"name": "check", "state": map[string]any{"terminated": map[string]any{"exitCode": int64(1), "reason": "Error"}}},
				map[string]any{"name": "sidecar", "state": map[string]any{"terminated": map[string]any{"exitCode": int64(137)}}},
			}}, "pod failed: container check exited with code 1 (Error); container sidecar exited with code 137"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			finished, got := hookState(pod(tt.status))
			if !finished || got != tt.want {
				t.Errorf("hookState = %v, %q; want true, %q", finished, got, tt.want)
			}
		})
	}
}
