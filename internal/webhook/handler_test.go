package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"time"

	jsonpatch "github.com/evanphx/json-patch/v5"
	"github.com/google/go-cmp/cmp"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/kubectl-chart/kubectl-chart/pkg/ownership"
)

// noHeads is a head cache that holds nothing, or fails with err.
type noHeads struct{ err error }

func (n noHeads) Get(_ context.Context, key client.ObjectKey, _ client.Object, _ ...client.GetOption) error {
	if n.err != nil {
		return n.err
	}
	return errNotFound(key.Name)
}

func (noHeads) List(context.Context, client.ObjectList, ...client.ListOption) error { return nil }

func errNotFound(name string) error {
	return &notFound{name}
}

type notFound struct{ name string }

func (e *notFound) Error() string { return "configmaps " + e.name + " not found" }
func (e *notFound) Status() metav1.Status {
	return metav1.Status{Status: metav1.StatusFailure, Code: http.StatusNotFound, Reason: metav1.StatusReasonNotFound, Message: e.Error()}
}

// recorded is an EventRecorder that keeps what it is given.
type recorded struct{ events []string }

func (r *recorded) Event(obj runtime.Object, _, reason, message string) {
	ref := obj.(*corev1.ObjectReference)
	r.events = append(r.events, ref.Namespace+"/"+ref.Name+" "+reason+": "+message)
}

func owned(name string) *corev1.ConfigMap {
	return &corev1.ConfigMap{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "apps", Labels: map[string]string{
			ownership.LabelRelease: "web", ownership.LabelReleaseNamespace: "apps",
		}},
		Data: map[string]string{"k": "v"},
	}
}

// TestHandleWithoutTheCluster covers the answers that depend on the request
// alone: bad requests, what the webhook lets through untouched, a release
// without a head, a head cache that fails.
func TestHandleWithoutTheCluster(t *testing.T) {
	plain := owned("plain")
	plain.Labels = nil
	req := func(op admissionv1.Operation, old, obj runtime.Object, mod func(*admissionv1.AdmissionRequest)) admission.Request {
		r := admissionRequest(t, op, "", "ConfigMap", userAlice, old, obj, "kubectl-edit")
		if mod != nil {
			mod(&r.AdmissionRequest)
		}
		return r
	}
	cases := []struct {
		name     string
		heads    client.Reader
		req      admission.Request
		allowed  bool
		code     int32
		warnings int
	}{
		{name: "object is not JSON", req: req(admissionv1.Create, nil, owned("x"), func(r *admissionv1.AdmissionRequest) {
			r.Object.Raw = []byte("{not json")
		}), code: http.StatusBadRequest},
		{name: "update without old object", req: req(admissionv1.Update, nil, owned("x"), nil), code: http.StatusBadRequest},
		{name: "delete without old object", req: req(admissionv1.Delete, nil, nil, func(r *admissionv1.AdmissionRequest) {
			r.Name, r.Namespace = "x", "apps"
		}), code: http.StatusBadRequest},
		{name: "connect", req: req(admissionv1.Connect, nil, owned("x"), nil), code: http.StatusBadRequest},
		{name: "subresource", req: req(admissionv1.Update, owned("x"), owned("x"), func(r *admissionv1.AdmissionRequest) {
			r.SubResource = "status"
		}), allowed: true, code: http.StatusOK},
		{name: "excluded namespace", req: req(admissionv1.Delete, owned("x"), nil, func(r *admissionv1.AdmissionRequest) {
			r.Namespace = "kube-system"
		}), allowed: true, code: http.StatusOK},
		{name: "unlabelled object", req: req(admissionv1.Delete, plain, nil, nil), allowed: true, code: http.StatusOK},
		{name: "release without a head", req: req(admissionv1.Delete, owned("x"), nil, nil), allowed: true, code: http.StatusOK, warnings: 1},
		{name: "head cache fails", heads: noHeads{err: errors.New("informer gone")}, req: req(admissionv1.Delete, owned("x"), nil, nil),
			code: http.StatusServiceUnavailable},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			heads := c.heads
			if heads == nil {
				heads = noHeads{}
			}
			rec := &recorded{}
			h, err := NewHandler(Options{Heads: heads, ExcludedNamespaces: []string{"kube-system"}, Recorder: rec})
			if err != nil {
				t.Fatal(err)
			}
			resp := (&admission.Webhook{Handler: h}).Handle(context.Background(), c.req)
			if resp.Allowed != c.allowed || resp.Result.Code != c.code {
				t.Errorf("allowed %v code %d (%s), want allowed %v code %d", resp.Allowed, resp.Result.Code, resp.Result.Message, c.allowed, c.code)
			}
			if len(resp.Warnings) != c.warnings {
				t.Errorf("warnings %q, want %d", resp.Warnings, c.warnings)
			}
			if len(rec.events) > 0 {
				t.Errorf("events recorded: %q", rec.events)
			}
		})
	}
}

func TestEventMessage(t *testing.T) {
	deploy := ownership.ObjectRef{Group: "apps", Version: "v1", Kind: "Deployment", Namespace: "apps", Name: "web"}
	many := []string{"spec.replicas", "spec.paused", "spec.strategy.type", "spec.minReadySeconds", "spec.template.spec.containers[name=web].image", "metadata.labels.app"}
	cases := []struct {
		name string
		req  ownership.Request
		d    ownership.Decision
		want string
	}{
		{"edit", ownership.Request{Operation: "UPDATE", User: "alice", FieldManager: "kubectl-edit", Kind: deploy},
			ownership.Decision{Fields: []string{"spec.replicas"}},
			"blocked: user alice changed spec.replicas of Deployment.apps/apps/web via kubectl-edit"},
		{"delete", ownership.Request{Operation: "DELETE", User: "alice", Kind: deploy},
			ownership.Decision{},
			"blocked: user alice deleted Deployment.apps/apps/web"},
		{"break-glass, many fields", ownership.Request{Operation: "UPDATE", User: "bob", FieldManager: "kubectl-client-side-apply", Kind: deploy},
			ownership.Decision{Allowed: true, BreakGlass: true, Fields: many},
			"break-glass: user bob changed spec.replicas, spec.paused, spec.strategy.type, spec.minReadySeconds, spec.template.spec.containers[name=web].image and 1 more of Deployment.apps/apps/web via kubectl-client-side-apply"},
		{"record create", ownership.Request{Operation: "CREATE", User: "mallory", FieldManager: "kubectl-create", Kind: ownership.ObjectRef{Version: "v1", Kind: "Secret", Namespace: "apps", Name: "kubectl-chart.web.v9"}},
			ownership.Decision{},
			"blocked: user mallory created Secret/apps/kubectl-chart.web.v9 via kubectl-create"},
	}
	for _, c := range cases {
		if diff := cmp.Diff(c.want, eventMessage(c.req, c.d)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", c.name, diff)
		}
	}
}

func TestFieldManager(t *testing.T) {
	for raw, want := range map[string]string{
		``:                                "",
		`{"kind":"DeleteOptions"}`:        "",
		`{"fieldManager":"kubectl-edit"}`: "kubectl-edit",
		`{"fieldManager":42}`:             "",
		`not json`:                        "",
		`{"kind":"PatchOptions","force":true,"fieldManager":"kubectl-chart"}`: "kubectl-chart",
	} {
		if got := requestOptions([]byte(raw)).FieldManager; got != want {
			t.Errorf("fieldManager(%q) = %q, want %q", raw, got, want)
		}
	}
}

func TestExcluded(t *testing.T) {
	o := DefaultServerOptions()
	o.Namespace = "kubectl-chart-system"
	o.ExcludedNamespaces = []string{"monitoring", "kube-system", ""}
	if diff := cmp.Diff([]string{"kube-system", "kubectl-chart-system", "monitoring"}, o.Excluded()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// heads is a head cache that holds the given ConfigMaps.
type headMap map[string]*corev1.ConfigMap

func (m headMap) Get(_ context.Context, key client.ObjectKey, obj client.Object, _ ...client.GetOption) error {
	cm, ok := m[key.Namespace+"/"+key.Name]
	if !ok {
		return errNotFound(key.Name)
	}
	cm.DeepCopyInto(obj.(*corev1.ConfigMap))
	return nil
}

func (headMap) List(context.Context, client.ObjectList, ...client.ListOption) error { return nil }

// TestDenialRecheck: the plugin takes the lock and writes at once, before
// the informer cache has seen the head; the handler reads the head from the
// API server once before denying, and allows.
func TestDenialRecheck(t *testing.T) {
	now := time.Now().UTC()
	lock, _ := json.Marshal(map[string]any{"holder": "deployer@test", "expires": now.Add(time.Minute), "id": "1"})
	head := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{
			Name: "kubectl-chart.web", Namespace: "apps", UID: "u1", ResourceVersion: "7",
			Labels:      map[string]string{ownership.LabelRelease: "web", ownership.LabelRecord: ownership.RecordHead},
			Annotations: map[string]string{ownership.AnnotationLockUser: userDeployer},
		},
		Data: map[string]string{"revision": "1", "inventory": `[{"version":"v1","kind":"Secret","namespace":"apps","name":"kubectl-chart.web.v1"}]`, "lock": string(lock)},
	}
	record := &corev1.Secret{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{Name: "kubectl-chart.web.v1", Namespace: "apps", Labels: map[string]string{
			ownership.LabelRelease: "web", ownership.LabelRecord: ownership.RecordRevision, ownership.LabelRevision: "1",
		}},
		Type: ownership.SecretTypeRelease,
	}
	req := admissionRequest(t, admissionv1.Create, "", "Secret", userDeployer, nil, record, ownership.FieldManager)
	unlocked := head.DeepCopy()
	delete(unlocked.Data, "lock")
	unlocked.ResourceVersion = "6"
	for _, c := range []struct {
		name    string
		cache   headMap
		live    client.Reader
		allowed bool
	}{
		{"no live reader: denied on the stale cache", headMap{}, nil, false},
		{"live reader: allowed", headMap{}, headMap{"apps/kubectl-chart.web": head}, true},
		{"lock taken since the cache saw the head: allowed", headMap{"apps/kubectl-chart.web": unlocked}, headMap{"apps/kubectl-chart.web": head}, true},
		{"head deleted since: denied", headMap{"apps/kubectl-chart.web": unlocked}, headMap{}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			rec := &recorded{}
			h, err := NewHandler(Options{Heads: c.cache, Live: c.live, Recorder: rec})
			if err != nil {
				t.Fatal(err)
			}
			resp := admit(h, req)
			if resp.Allowed != c.allowed {
				t.Fatalf("allowed = %v (%s), want %v", resp.Allowed, resultMessage(resp), c.allowed)
			}
			if c.allowed && len(resp.Patches) == 0 {
				t.Errorf("no applied-by stamp")
			}
			if !c.allowed && len(rec.events) != 1 {
				t.Errorf("events %q, want one", rec.events)
			}
		})
	}
}

// countingReader counts the reads that reach it.
type countingReader struct {
	headMap
	gets int
}

func (c *countingReader) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	c.gets++
	return c.headMap.Get(ctx, key, obj, opts...)
}

// TestDenialRecheckOnlyForTheRelease: only a write that could come from the
// release's running operation (kubectl-chart's field manager, or a delete)
// makes the handler read the head from the API server before denying;
// another tool's write is denied on the cached head, without a request.
func TestDenialRecheckOnlyForTheRelease(t *testing.T) {
	now := time.Now().UTC()
	lock, _ := json.Marshal(map[string]any{"holder": "deployer@test", "expires": now.Add(time.Minute), "id": "1"})
	head := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{
			Name: "kubectl-chart.web", Namespace: "apps", UID: "u1", ResourceVersion: "7",
			Labels:      map[string]string{ownership.LabelRelease: "web", ownership.LabelRecord: ownership.RecordHead},
			Annotations: map[string]string{ownership.AnnotationLockUser: userDeployer},
		},
		Data: map[string]string{"revision": "1", "inventory": `[{"version":"v1","kind":"Secret","namespace":"apps","name":"kubectl-chart.web.v1"}]`, "lock": string(lock)},
	}
	unlocked := head.DeepCopy()
	delete(unlocked.Data, "lock")
	unlocked.ResourceVersion = "6"
	record := &corev1.Secret{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{Name: "kubectl-chart.web.v1", Namespace: "apps", Labels: map[string]string{
			ownership.LabelRelease: "web", ownership.LabelRecord: ownership.RecordRevision, ownership.LabelRevision: "1",
		}},
		Type: ownership.SecretTypeRelease,
	}
	for _, c := range []struct {
		name      string
		manager   string
		op        admissionv1.Operation
		options   string // the request's raw options, when set
		wantReads int
		allowed   bool
	}{
		{"kubectl-chart's write: re-read, allowed", ownership.FieldManager, admissionv1.Create, "", 1, true},
		{"another tool's write: denied on the cache", "kubectl-edit", admissionv1.Create, "", 0, false},
		{"a delete with a UID precondition (kubectl-chart's): re-read", "", admissionv1.Delete, `{"preconditions":{"uid":"u-1"}}`, 1, true},
		{"a delete without (kubectl delete): denied on the cache", "", admissionv1.Delete, `{"propagationPolicy":"Background"}`, 0, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			live := &countingReader{headMap: headMap{"apps/kubectl-chart.web": head}}
			h, err := NewHandler(Options{Heads: headMap{"apps/kubectl-chart.web": unlocked}, Live: live, Recorder: &recorded{}})
			if err != nil {
				t.Fatal(err)
			}
			var req admission.Request
			if c.op == admissionv1.Delete {
				req = admissionRequest(t, c.op, "", "Secret", userDeployer, record, nil, c.manager)
				req.Options.Raw = []byte(c.options)
			} else {
				req = admissionRequest(t, c.op, "", "Secret", userDeployer, nil, record, c.manager)
			}
			resp := admit(h, req)
			if resp.Allowed != c.allowed {
				t.Errorf("allowed = %v (%s), want %v", resp.Allowed, resultMessage(resp), c.allowed)
			}
			if live.gets != c.wantReads {
				t.Errorf("%d reads from the API server, want %d", live.gets, c.wantReads)
			}
		})
	}
}

// admit answers req as the API server does with manifests/' two
// configurations: the Stamper (mutating) first, its patch applied to the
// object, then the Handler (validating). The response is the validating
// one, carrying the Stamper's patch.
func admit(h *Handler, req admission.Request) admission.Response {
	ctx := context.Background()
	s := h.Stamper().Handle(ctx, req)
	if !s.Allowed {
		return s
	}
	if len(s.Patches) > 0 {
		raw, err := json.Marshal(s.Patches)
		if err != nil {
			return admission.Errored(http.StatusInternalServerError, err)
		}
		p, err := jsonpatch.DecodePatch(raw)
		if err != nil {
			return admission.Errored(http.StatusInternalServerError, err)
		}
		if req.Object.Raw, err = p.Apply(req.Object.Raw); err != nil {
			return admission.Errored(http.StatusInternalServerError, err)
		}
		req.Object.Object = nil
	}
	resp := h.Handle(ctx, req)
	resp.Patches = s.Patches
	return resp
}
