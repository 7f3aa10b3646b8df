package webhook

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"

	"github.com/go-logr/logr"
	admissionv1 "k8s.io/api/admission/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
	sigsjson "sigs.k8s.io/json"
)

// maxReviewSize bounds an AdmissionReview's body, as controller-runtime's
// admission.Webhook does (an object is at most about 3 MiB, and a review
// holds two).
const maxReviewSize = 7 << 20

// reviewIn is an AdmissionReview (admission.k8s.io/v1) as the webhook reads
// it: the objects straight into unstructured maps (integers kept as int64),
// in one pass over the body, where admission.Webhook decodes the review
// with the objects as raw bytes and the handler parsed them again.
type reviewIn struct {
	APIVersion string     `json:"apiVersion"`
	Kind       string     `json:"kind"`
	Request    *requestIn `json:"request"`
}

type requestIn struct {
	UID         types.UID                   `json:"uid"`
	Kind        metav1.GroupVersionKind     `json:"kind"`
	Resource    metav1.GroupVersionResource `json:"resource"`
	SubResource string                      `json:"subResource"`
	Name        string                      `json:"name"`
	Namespace   string                      `json:"namespace"`
	Operation   admissionv1.Operation       `json:"operation"`
	UserInfo    authenticationv1.UserInfo   `json:"userInfo"`
	Object      map[string]any              `json:"object"`
	OldObject   map[string]any              `json:"oldObject"`
	DryRun      *bool                       `json:"dryRun"`
	Options     json.RawMessage             `json:"options"`
}

// admissionRequest is the request as admission.Handler takes it: the
// decoded objects ride in RawExtension.Object (decodeRaw takes them from
// there), the options as their JSON.
func (r *requestIn) admissionRequest() admission.Request {
	req := admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
		UID: r.UID, Kind: r.Kind, Resource: r.Resource, SubResource: r.SubResource,
		Name: r.Name, Namespace: r.Namespace, Operation: r.Operation, UserInfo: r.UserInfo,
		DryRun: r.DryRun, Options: runtime.RawExtension{Raw: r.Options},
	}}
	if r.Object != nil {
		req.Object.Object = &unstructured.Unstructured{Object: r.Object}
	}
	if r.OldObject != nil {
		req.OldObject.Object = &unstructured.Unstructured{Object: r.OldObject}
	}
	return req
}

// buffers are the bodies of requests and responses, reused.
var buffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// reviewServer serves AdmissionReviews to an admission.Handler: the
// webhook's HTTP handler for PathMutate and PathValidate. It does what
// controller-runtime's admission.Webhook does for them (the review in, the
// response completed with its UID, status code and JSON patch, the review
// out), with a single decoding pass, reused buffers and no logger built per
// request.
type reviewServer struct {
	handler admission.Handler
	log     logr.Logger
}

// Serve returns the http.Handler that serves AdmissionReviews to h.
func Serve(h admission.Handler, log logr.Logger) http.Handler {
	return &reviewServer{handler: h, log: log}
}

func (s *reviewServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "an AdmissionReview is POSTed", http.StatusMethodNotAllowed)
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		s.write(w, "", admission.Errored(http.StatusBadRequest, fmt.Errorf("content type %q, want application/json", ct)), admission.Request{})
		return
	}
	body := buffers.Get().(*bytes.Buffer)
	defer putBuffer(body)
	n, err := body.ReadFrom(io.LimitReader(r.Body, maxReviewSize+1))
	switch {
	case err != nil:
		s.write(w, "", admission.Errored(http.StatusBadRequest, fmt.Errorf("read the AdmissionReview: %w", err)), admission.Request{})
		return
	case n > maxReviewSize:
		s.write(w, "", admission.Errored(http.StatusRequestEntityTooLarge, fmt.Errorf("the AdmissionReview is larger than %d bytes", maxReviewSize)), admission.Request{})
		return
	}
	var in reviewIn
	if err := sigsjson.UnmarshalCaseSensitivePreserveInts(body.Bytes(), &in); err != nil {
		s.write(w, "", admission.Errored(http.StatusBadRequest, fmt.Errorf("decode the AdmissionReview: %w", err)), admission.Request{})
		return
	}
	if in.Request == nil || in.APIVersion != admissionv1.SchemeGroupVersion.String() || in.Kind != "AdmissionReview" {
		s.write(w, in.APIVersion, admission.Errored(http.StatusBadRequest, errors.New("not an admission.k8s.io/v1 AdmissionReview with a request")), admission.Request{})
		return
	}
	req := in.Request.admissionRequest()
	ctx := logr.NewContext(r.Context(), s.log)
	s.write(w, in.APIVersion, s.handler.Handle(ctx, req), req)
}

func putBuffer(b *bytes.Buffer) {
	if b.Cap() > 1<<20 {
		return // let a rare large one go
	}
	b.Reset()
	buffers.Put(b)
}

// write completes resp for req and writes it in an AdmissionReview.
func (s *reviewServer) write(w http.ResponseWriter, apiVersion string, resp admission.Response, req admission.Request) {
	if err := resp.Complete(req); err != nil {
		resp = admission.Errored(http.StatusInternalServerError, err)
		_ = resp.Complete(req)
	}
	if apiVersion == "" {
		apiVersion = admissionv1.SchemeGroupVersion.String()
	}
	out := admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: apiVersion, Kind: "AdmissionReview"},
		Response: &resp.AdmissionResponse,
	}
	buf := buffers.Get().(*bytes.Buffer)
	defer putBuffer(buf)
	if err := json.NewEncoder(buf).Encode(&out); err != nil {
		s.log.Error(err, "encode the AdmissionReview response")
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if _, err := w.Write(buf.Bytes()); err != nil {
		s.log.V(1).Info("write the AdmissionReview response", "error", err.Error())
	}
}
