package webhook

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/kubectl-chart/kubectl-chart/pkg/ownership"
	"github.com/kubectl-chart/kubectl-chart/pkg/release"
)

// latencyRequests is how many requests each latency figure is taken over.
const latencyRequests = 500

// percentiles returns p50 and p99 of ds.
func percentiles(ds []time.Duration) (p50, p99 time.Duration) {
	s := slices.Clone(ds)
	slices.Sort(s)
	at := func(p float64) time.Duration { return s[min(len(s)-1, int(p*float64(len(s))))] }
	return at(0.50), at(0.99)
}

// handlerCase is one request timed in process.
type handlerCase struct {
	name    string
	req     admission.Request
	allowed bool
	patched bool
}

// handlerCases builds a handler on the webhook's own informer cache and
// requests on objects and a head taken from the cluster (real
// managedFields), one per kind of decision, while the deployer holds the
// release's lock.
func handlerCases(t testing.TB) (*Handler, []handlerCase) {
	f := install(t, "latency")
	ctx := t.Context()
	cs := env.Clientset()
	h, err := f.store.Acquire(ctx, f.ns, f.name, "upgrade", false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.store.Release(context.Background(), h) })
	f.record(t, h, 2)
	heads := startWebhook(t).heads
	if err := wait.PollUntilContextTimeout(ctx, 10*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		var cm corev1.ConfigMap
		err := heads.Get(ctx, types.NamespacedName{Namespace: f.ns, Name: ownership.HeadName(f.name)}, &cm)
		return err == nil && cm.Annotations[ownership.AnnotationLockUser] == userDeployer && cm.Data[release.HeadKeyRecord] != "", nil
	}); err != nil {
		t.Fatalf("the cache did not see the lock: %v", err)
	}
	deploy, err := cs.AppsV1().Deployments(f.ns).Get(ctx, deploymentName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	deploy.APIVersion, deploy.Kind = "apps/v1", "Deployment"
	record, err := cs.CoreV1().Secrets(f.ns).Get(ctx, ownership.RevisionName(f.name, 1), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	record.APIVersion, record.Kind = "v1", "Secret"
	record.Name = ownership.RevisionName(f.name, 2)
	record.Labels[ownership.LabelRevision] = "2"
	delete(record.Annotations, ownership.AnnotationAppliedBy)

	handler, err := NewHandler(Options{
		Config: ownership.Config{BreakGlassUsers: []string{userCarol}},
		Heads:  heads,
	})
	if err != nil {
		t.Fatal(err)
	}
	annotated := deploy.DeepCopy()
	annotated.Annotations = map[string]string{"example.com/note": "x"}
	scaled := deploy.DeepCopy()
	scaled.Spec.Replicas = new(int32)
	*scaled.Spec.Replicas = 9
	return handler, []handlerCase{
		{name: "allowed: unowned annotation", req: admissionRequest(t, admissionv1.Update, "apps", "Deployment", userAlice, deploy, annotated, "kubectl-annotate"), allowed: true},
		{name: "denied: owned field", req: admissionRequest(t, admissionv1.Update, "apps", "Deployment", userAlice, deploy, scaled, "kubectl-edit")},
		{name: "denied: delete", req: admissionRequest(t, admissionv1.Delete, "apps", "Deployment", userAlice, deploy, nil, "")},
		{name: "allowed: break-glass", req: admissionRequest(t, admissionv1.Update, "apps", "Deployment", userCarol, deploy, scaled, "kubectl-edit"), allowed: true},
		{name: "allowed: lock holder", req: admissionRequest(t, admissionv1.Update, "apps", "Deployment", userDeployer, deploy, scaled, ownership.FieldManager), allowed: true},
		{name: "stamped: revision record", req: admissionRequest(t, admissionv1.Create, "", "Secret", userDeployer, nil, record, ownership.FieldManager), allowed: true, patched: true},
	}
}

// TestHandlerLatency times the handler in process, latencyRequests times
// per kind of decision.
func TestHandlerLatency(t *testing.T) {
	h, cases := handlerCases(t)
	for _, c := range cases {
		var ds []time.Duration
		var resp admission.Response
		for range latencyRequests {
			start := time.Now()
			resp = admit(h, c.req)
			ds = append(ds, time.Since(start))
		}
		p50, p99 := percentiles(ds)
		t.Logf("handler %-30s p50 %8s  p99 %8s", c.name, p50, p99)
		if resp.Allowed != c.allowed {
			t.Errorf("%s: allowed = %v, want %v (%s)", c.name, resp.Allowed, c.allowed, resultMessage(resp))
		}
		if c.patched != (len(resp.Patches) > 0) {
			t.Errorf("%s: %d patch operations, want a patch: %v", c.name, len(resp.Patches), c.patched)
		}
	}
}

// BenchmarkHandler is TestHandlerLatency's cases as benchmarks.
func BenchmarkHandler(b *testing.B) {
	h, cases := handlerCases(b)
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				admit(h, c.req)
			}
		})
	}
}

func resultMessage(r admission.Response) string {
	if r.Result == nil {
		return ""
	}
	return r.Result.Message
}

// admissionRequest builds the request the API server would send.
func admissionRequest(t testing.TB, op admissionv1.Operation, group, kind, user string, old, obj runtime.Object, manager string) admission.Request {
	t.Helper()
	raw := func(o runtime.Object) runtime.RawExtension {
		if o == nil {
			return runtime.RawExtension{}
		}
		b, err := json.Marshal(o)
		if err != nil {
			t.Fatal(err)
		}
		return runtime.RawExtension{Raw: b}
	}
	var m metav1.Object = &metav1.ObjectMeta{}
	for _, o := range []runtime.Object{obj, old} {
		if mo, ok := o.(metav1.Object); ok && o != nil {
			m = mo
			break
		}
	}
	var opts runtime.RawExtension
	if manager != "" {
		opts.Raw, _ = json.Marshal(map[string]string{"fieldManager": manager})
	}
	return admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
		UID:       types.UID("uid"),
		Kind:      metav1.GroupVersionKind{Group: group, Version: "v1", Kind: kind},
		Resource:  metav1.GroupVersionResource{Group: group, Version: "v1", Resource: strings.ToLower(kind) + "s"},
		Name:      m.GetName(),
		Namespace: m.GetNamespace(),
		Operation: op,
		UserInfo:  authenticationv1.UserInfo{Username: user, Groups: []string{"system:authenticated"}},
		Object:    raw(obj),
		OldObject: raw(old),
		Options:   opts,
	}}
}

// TestAdmissionLatency times writes through the API server: updates of an
// owned object (the webhook is called and allows them) against updates of
// an unlabelled one (the objectSelector keeps the webhook out), one at a
// time, over loopback.
func TestAdmissionLatency(t *testing.T) {
	f := install(t, "e2e-latency")
	alice := as(t, userAlice)
	ctx := t.Context()
	plain := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "unowned", Namespace: f.ns}}
	if _, err := alice.cs.CoreV1().ConfigMaps(f.ns).Create(ctx, plain, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	patch := func(name string, i int) time.Duration {
		p := fmt.Appendf(nil, `{"metadata":{"annotations":{"example.com/seq":"%d"}}}`, i)
		start := time.Now()
		_, err := alice.cs.CoreV1().ConfigMaps(f.ns).Patch(ctx, name, types.MergePatchType, p, metav1.PatchOptions{FieldManager: "latency-test"})
		took := time.Since(start)
		if err != nil {
			t.Fatalf("patch %s: %v", name, err)
		}
		return took
	}
	// Interleaved, so that both series see the same load on the machine.
	var with, without []time.Duration
	for i := range latencyRequests + 20 {
		o, w := patch("unowned", i), patch(configMapName, i)
		if i >= 20 { // warm-up
			without, with = append(without, o), append(with, w)
		}
	}
	w50, w99 := percentiles(with)
	o50, o99 := percentiles(without)
	t.Logf("update through the API server, %d sequential requests each:", latencyRequests)
	t.Logf("  without the webhook (unlabelled)  p50 %8s  p99 %8s", o50, o99)
	t.Logf("  with the webhook (owned, allowed) p50 %8s  p99 %8s", w50, w99)
	t.Logf("  added                             p50 %8s  p99 %8s", w50-o50, w99-o99)
}
