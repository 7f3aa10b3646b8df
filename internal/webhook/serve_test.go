package webhook

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-logr/logr"
	"github.com/google/go-cmp/cmp"
	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
)

// post sends body to h as the API server does and decodes the review it
// answers.
func post(t *testing.T, h http.Handler, contentType string, body []byte) (int, admissionv1.AdmissionReview) {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/validate", bytes.NewReader(body))
	r.Header.Set("Content-Type", contentType)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	var out admissionv1.AdmissionReview
	if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
		t.Fatalf("the answer is not an AdmissionReview: %v\n%s", err, w.Body.String())
	}
	return w.Code, out
}

// TestServeAnswersAsAdmissionWebhook: Serve, the webhook's own review
// server, answers every request of the fuzz seeds (allowed, denied, stamped
// with a JSON patch, errored) exactly as controller-runtime's
// admission.Webhook did, through both handlers.
func TestServeAnswersAsAdmissionWebhook(t *testing.T) {
	env := newFuzzEnv()
	seeds := fuzzSeeds(t)
	for _, h := range []admission.Handler{env.h, env.h.Stamper()} {
		ours, theirs := Serve(h, logr.Discard()), &admission.Webhook{Handler: h}
		var patched, denied int
		for i, in := range seeds {
			out, ok := env.run(in)
			if !ok {
				continue
			}
			req := out.req
			if _, stamper := h.(*Stamper); stamper {
				req = out.sent
			}
			body, err := json.Marshal(admissionv1.AdmissionReview{
				TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
				Request:  &req.AdmissionRequest,
			})
			if err != nil {
				t.Fatal(err)
			}
			codeOurs, got := post(t, ours, "application/json", body)
			codeTheirs, want := post(t, theirs, "application/json", body)
			if codeOurs != codeTheirs {
				t.Errorf("seed %d: HTTP %d, admission.Webhook %d", i, codeOurs, codeTheirs)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("seed %d: the review differs from admission.Webhook's (-theirs +ours):\n%s", i, diff)
			}
			if got.Response != nil && len(got.Response.Patch) > 0 {
				patched++
			}
			if got.Response != nil && !got.Response.Allowed {
				denied++
			}
		}
		if _, stamper := h.(*Stamper); stamper && patched == 0 || !stamper && denied == 0 {
			t.Errorf("%T: %d answers with a patch, %d denials: the seeds should give some", h, patched, denied)
		}
	}
}

// TestServeBadInput: what is not an AdmissionReview is answered with one
// that refuses it (400), never a panic.
func TestServeBadInput(t *testing.T) {
	s := Serve(newFuzzEnv().h, logr.Discard())
	tests := []struct {
		name, contentType, body string
		want                    int32
	}{
		{"not JSON", "application/json", "{", http.StatusBadRequest},
		{"no request", "application/json", `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}`, http.StatusBadRequest},
		{"v1beta1", "application/json", `{"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview","request":{"uid":"x"}}`, http.StatusBadRequest},
		{"a list", "application/json", `[]`, http.StatusBadRequest},
		{"YAML", "application/yaml", "apiVersion: admission.k8s.io/v1", http.StatusBadRequest},
		{"an object that is not one", "application/json", `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"x","operation":"CREATE","object":"text"}}`, http.StatusBadRequest},
		{"too large", "application/json", `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"x","name":"` + strings.Repeat("x", maxReviewSize) + `"}}`, http.StatusRequestEntityTooLarge},
		{"no object", "application/json", `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"x","operation":"CREATE","kind":{"version":"v1","kind":"ConfigMap"}}}`, http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, out := post(t, s, tt.contentType, []byte(tt.body))
			if out.Response == nil || out.Response.Allowed || out.Response.Result == nil || out.Response.Result.Code != tt.want {
				t.Errorf("answer %+v, want a refusal with code %d", out.Response, tt.want)
			}
		})
	}
}

// BenchmarkServe: one AdmissionReview through Serve and through
// admission.Webhook, for a write the handler must decide (another user's
// change of a field the release does not own: allowed) and a denial.
func BenchmarkServe(b *testing.B) {
	env := newFuzzEnv()
	seeds := fuzzSeeds(b)
	pick := func(target string, who uint8, change string) []byte {
		for _, in := range seeds {
			if in.op != seedUpdate || in.target != seedTarget(target) || in.who != who || in.manager != "kubectl-edit" {
				continue
			}
			out, ok := env.run(in)
			if !ok || out.untouched {
				continue
			}
			var nu map[string]any
			_ = json.Unmarshal(out.req.Object.Raw, &nu)
			data, _ := nu["data"].(map[string]any)
			if (change == "unowned" && data["note"] == "changed" && out.resp.Allowed) || (change == "owned" && data["k"] == "changed" && !out.resp.Allowed) {
				body, _ := json.Marshal(admissionv1.AdmissionReview{
					TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
					Request:  &out.req.AdmissionRequest,
				})
				return body
			}
		}
		b.Fatalf("no seed for %s %s", target, change)
		return nil
	}
	for _, c := range []struct{ name, change string }{{"allow", "unowned"}, {"deny", "owned"}} {
		body := pick("web-config", seedBob, c.change)
		for _, s := range []struct {
			name string
			h    http.Handler
		}{{"Serve", Serve(env.h, logr.Discard())}, {"admission.Webhook", &admission.Webhook{Handler: env.h}}} {
			b.Run(c.name+"/"+s.name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					r := httptest.NewRequest(http.MethodPost, "/validate", bytes.NewReader(body))
					r.Header.Set("Content-Type", "application/json")
					s.h.ServeHTTP(httptest.NewRecorder(), r)
				}
			})
		}
	}
}
