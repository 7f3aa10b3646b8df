package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"gomodules.xyz/jsonpatch/v2"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/kubectl-chart/kubectl-chart/pkg/ownership"
)

// Path is the URL path the webhook serves (the Service path of the
// MutatingWebhookConfiguration in manifests/).
const Path = "/mutate"

// Reasons of the answers the handler gives without asking the decision,
// besides ownership.ReasonSubResource and ownership.ReasonNotOwned
// (metrics label answers by reason).
const (
	ReasonBadRequest        = "BadRequest"
	ReasonExcludedNamespace = "ExcludedNamespace"
	ReasonHeadUnavailable   = "HeadUnavailable"
)

// Options configure a Handler.
type Options struct {
	// Config is the decision's configuration: break-glass users and groups,
	// the clock.
	Config ownership.Config
	// Heads reads release head ConfigMaps; it must be an informer cache
	// holding ConfigMaps labelled HeadSelector (the handler reads heads on
	// every request, and never from the API server directly).
	Heads client.Reader
	// Live, if set, is read once before a denial that depended on a head
	// from the cache, in case the cache has not caught up yet with a lock
	// taken a moment ago (the plugin takes the lock, then writes at once).
	// Allowed requests never cause a read.
	Live client.Reader
	// ExcludedNamespaces are let through untouched (the webhook
	// configuration's namespaceSelector should keep them away already).
	ExcludedNamespaces []string
	// Recorder records denials and break-glass writes as Events on the
	// release head; nil records none.
	Recorder EventRecorder
	// Metrics counts requests and decisions; nil counts nothing.
	Metrics *Metrics
}

// Handler is the ownership webhook's admission.Handler.
type Handler struct {
	opts  Options
	heads *heads
	now   func() time.Time
}

var _ admission.Handler = (*Handler)(nil)

// NewHandler returns the handler; opts.Heads is required.
func NewHandler(opts Options) (*Handler, error) {
	if opts.Heads == nil {
		return nil, errors.New("webhook: a head cache is required")
	}
	if opts.Config.Now == nil {
		opts.Config.Now = time.Now
	}
	return &Handler{opts: opts, heads: newHeads(opts.Heads, opts.Live), now: time.Now}, nil
}

// answer is a response and what metrics and Events need to know of it.
type answer struct {
	resp     admission.Response
	reason   string
	decision *ownership.Decision // nil when the decision was not asked
	request  ownership.Request   // as the decision saw it
	head     *headEntry          // the release head, where Events go
	release  ownership.ObjectRef // the head's name when head is nil
}

// Handle answers one admission request. It never panics on bad input:
// requests it cannot decode get 400.
func (h *Handler) Handle(ctx context.Context, req admission.Request) admission.Response {
	start := h.now()
	a := h.handle(ctx, req)
	allowed := a.resp.Allowed
	h.opts.Metrics.observe(string(req.Operation), req.Kind.Kind, allowed, a.reason, h.now().Sub(start))

	// admission.Webhook's logger names the object, resource, user and
	// request already.
	log := logf.FromContext(ctx).WithValues("operation", req.Operation, "kind", req.Kind.Kind)
	if d := a.decision; d != nil && d.EventReason(a.request.Operation) != "" {
		if req.DryRun == nil || !*req.DryRun {
			ref := corev1.ObjectReference{APIVersion: "v1", Kind: "ConfigMap", Namespace: a.release.Namespace, Name: a.release.Name}
			if a.head != nil {
				ref = a.head.ref
			}
			h.record(ref, a.request, *d)
		}
		log.Info("ownership", "allowed", d.Allowed, "breakGlass", d.BreakGlass, "reason", d.Reason,
			"fields", d.Fields, "fieldManager", a.request.FieldManager, "message", d.Message)
	} else {
		log.V(1).Info("ownership", "allowed", allowed, "reason", a.reason)
	}
	return a.resp
}

func (h *Handler) handle(ctx context.Context, req admission.Request) answer {
	if req.SubResource != "" {
		return answer{resp: admission.Allowed(""), reason: ownership.ReasonSubResource}
	}
	if req.Namespace != "" && slices.Contains(h.opts.ExcludedNamespaces, req.Namespace) {
		return answer{resp: admission.Allowed(""), reason: ReasonExcludedNamespace}
	}
	old, obj, err := decode(req)
	if err != nil {
		return answer{resp: admission.Errored(http.StatusBadRequest, err), reason: ReasonBadRequest}
	}
	opts := requestOptions(req.Options.Raw)
	recheck := mayBeReleaseOperation(string(req.Operation), opts)
	r := ownership.Request{
		Operation:    string(req.Operation),
		User:         req.UserInfo.Username,
		Groups:       req.UserInfo.Groups,
		FieldManager: opts.FieldManager,
		Kind: ownership.ObjectRef{
			Group:     req.Kind.Group,
			Version:   req.Kind.Version,
			Kind:      req.Kind.Kind,
			Namespace: req.Namespace,
			Name:      objectName(req, old, obj),
		},
		Old:         old,
		New:         obj,
		SubResource: req.SubResource,
	}

	// The release: the old object's labels when it had them (so that
	// removing them is judged against the release that owned it).
	var lbl map[string]string
	for _, u := range []*unstructured.Unstructured{old, obj} {
		if u != nil && u.GetLabels()[ownership.LabelRelease] != "" {
			lbl = u.GetLabels()
			break
		}
	}
	name := lbl[ownership.LabelRelease]
	if name == "" {
		// The objectSelector sends only labelled objects; be safe anyway.
		return answer{resp: admission.Allowed(""), reason: ownership.ReasonNotOwned}
	}
	a := answer{request: r, release: ownership.ObjectRef{Kind: "ConfigMap", Namespace: req.Namespace, Name: ownership.HeadName(name)}}

	switch {
	case req.Kind.Group == "" && req.Kind.Kind == "ConfigMap" && lbl[ownership.LabelRecord] == ownership.RecordHead:
		return h.onHead(r, a)
	case req.Kind.Group == "" && req.Kind.Kind == "Secret" && lbl[ownership.LabelRecord] == ownership.RecordRevision:
		return h.decide(ctx, r, a, req.Namespace, name, recheck, func(head *ownership.Head) ownership.Decision {
			return ownership.DecideRecord(h.opts.Config, r, head)
		})
	default:
		ns := lbl[ownership.LabelReleaseNamespace]
		if ns == "" {
			ns = req.Namespace
		}
		a.release.Namespace = ns
		return h.decide(ctx, r, a, ns, name, recheck, func(head *ownership.Head) ownership.Decision {
			return ownership.DecideObject(h.opts.Config, r, head)
		})
	}
}

// onHead judges a write to a release head: the old and new heads come with
// the request. A new object that is not a readable head goes to the
// decision as nil (it denies it).
func (h *Handler) onHead(r ownership.Request, a answer) answer {
	var oldHead, newHead *ownership.Head
	var ref corev1.ObjectReference
	for _, u := range []*unstructured.Unstructured{r.Old, r.New} {
		if u == nil {
			continue
		}
		cm, err := toConfigMap(u)
		if err != nil {
			return answer{resp: admission.Errored(http.StatusBadRequest, err), reason: ReasonBadRequest}
		}
		if ref.Name == "" {
			ref = headRef(cm)
		}
		head, _ := ownership.HeadFromConfigMap(cm) // unreadable: nil, and the decision judges that
		if u == r.Old {
			oldHead = head
		} else {
			newHead = head
		}
	}
	a.head = &headEntry{ref: ref, head: oldHead}
	d := ownership.DecideHead(h.opts.Config, r, oldHead, newHead)
	a.decision = &d
	a.resp, a.reason = h.respond(r, d), d.Reason
	return a
}

// decide judges a request with the head of release (namespace, name) from
// the cache, and before a denial once more with the head as the API server
// has it, when the request may be the release's operation (recheck), a live
// reader is configured and the head changed.
func (h *Handler) decide(ctx context.Context, r ownership.Request, a answer, namespace, name string, recheck bool, decide func(*ownership.Head) ownership.Decision) answer {
	e, err := h.heads.get(ctx, namespace, name)
	if err != nil {
		// Without the head nothing can be judged: fail closed, as the API
		// server does when the webhook is unreachable.
		a.resp = admission.Errored(http.StatusServiceUnavailable, fmt.Errorf("release %s/%s: %w", namespace, name, err))
		a.reason = ReasonHeadUnavailable
		return a
	}
	d := decide(e.headOrNil())
	if !d.Allowed && recheck {
		if fresh, ok, err := h.heads.fresh(ctx, namespace, name); ok && err == nil && fresh.rvOrEmpty() != e.rvOrEmpty() {
			e = fresh
			d = decide(e.headOrNil())
		}
	}
	a.head, a.decision = e, &d
	a.resp, a.reason = h.respond(r, d), d.Reason
	return a
}

// mayBeReleaseOperation tells whether a request could come from a
// release's running operation, the one writer a fresher head (a lock taken
// a moment ago) can turn a denial into an allowance for: kubectl-chart
// writes with its field manager, and deletes with a UID precondition (it
// deletes only the object it read). A kubectl edit, patch, label, delete or
// another tool's write is judged on the cached head alone: no request to
// the API server on its way to a denial. (A client copying these marks
// only gets its denial checked against the fresh head.)
func mayBeReleaseOperation(operation string, o options) bool {
	if operation == ownership.OperationDelete {
		return o.UIDPrecondition()
	}
	return o.FieldManager == ownership.FieldManager
}

func (e *headEntry) headOrNil() *ownership.Head {
	if e == nil {
		return nil
	}
	return e.head
}

func (e *headEntry) rvOrEmpty() string {
	if e == nil {
		return ""
	}
	return e.rv
}

// respond turns a decision into an admission response.
func (h *Handler) respond(r ownership.Request, d ownership.Decision) admission.Response {
	if !d.Allowed {
		return denied(r, d)
	}
	resp := admission.Allowed("")
	if len(d.Patch) > 0 && r.New != nil {
		ops := make([]jsonpatch.JsonPatchOperation, len(d.Patch))
		for i, op := range d.Patch {
			ops[i] = jsonpatch.JsonPatchOperation(op)
		}
		resp = admission.Patched("", ops...)
	}
	return resp.WithWarnings(d.Warnings...)
}

// denied is a 403 whose status carries the decision's message (fields,
// release, revision, command) and names its fields as causes.
func denied(r ownership.Request, d ownership.Decision) admission.Response {
	msg := d.Message
	if msg == "" {
		msg = fmt.Sprintf("%s: refused by the kubectl-chart ownership webhook (%s)", r.Kind, d.Reason)
	}
	st := &metav1.Status{
		Status:  metav1.StatusFailure,
		Code:    http.StatusForbidden,
		Reason:  metav1.StatusReasonForbidden,
		Message: msg,
		Details: &metav1.StatusDetails{Name: r.Kind.Name, Group: r.Kind.Group, Kind: r.Kind.Kind},
	}
	for _, f := range d.Fields {
		st.Details.Causes = append(st.Details.Causes, metav1.StatusCause{
			Type: metav1.CauseTypeForbidden, Field: f, Message: d.Reason,
		})
	}
	resp := admission.Response{AdmissionResponse: admissionv1.AdmissionResponse{Allowed: false, Result: st}}
	return resp.WithWarnings(d.Warnings...)
}

// decode reads the request's objects: the new one for CREATE and UPDATE,
// the old one for UPDATE and DELETE.
func decode(req admission.Request) (old, obj *unstructured.Unstructured, err error) {
	switch req.Operation {
	case admissionv1.Create:
		obj, err = decodeRaw("object", req.Object)
	case admissionv1.Update:
		if obj, err = decodeRaw("object", req.Object); err == nil {
			old, err = decodeRaw("oldObject", req.OldObject)
		}
	case admissionv1.Delete:
		old, err = decodeRaw("oldObject", req.OldObject)
	default:
		err = fmt.Errorf("unexpected operation %q", req.Operation)
	}
	return old, obj, err
}

func decodeRaw(what string, raw runtime.RawExtension) (*unstructured.Unstructured, error) {
	if len(raw.Raw) == 0 {
		return nil, fmt.Errorf("decode %s: the request has none", what)
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(raw.Raw); err != nil {
		return nil, fmt.Errorf("decode %s: %w", what, err)
	}
	return u, nil
}

func toConfigMap(u *unstructured.Unstructured) (*corev1.ConfigMap, error) {
	cm := &corev1.ConfigMap{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, cm); err != nil {
		return nil, fmt.Errorf("decode ConfigMap: %w", err)
	}
	return cm, nil
}

// options are what the handler reads of the request's options
// (CreateOptions, UpdateOptions, PatchOptions or DeleteOptions).
type options struct {
	FieldManager  string `json:"fieldManager"`
	Preconditions *struct {
		UID *string `json:"uid"`
	} `json:"preconditions"`
}

// UIDPrecondition tells whether DeleteOptions ask for a UID.
func (o options) UIDPrecondition() bool {
	return o.Preconditions != nil && o.Preconditions.UID != nil && *o.Preconditions.UID != ""
}

// requestOptions reads a request's options once (none: the zero value).
func requestOptions(raw []byte) options {
	var o options
	if len(raw) > 0 {
		_ = json.Unmarshal(raw, &o) // options the API server wrote
	}
	return o
}

func objectName(req admission.Request, old, obj *unstructured.Unstructured) string {
	switch {
	case req.Name != "":
		return req.Name
	case obj != nil:
		return obj.GetName()
	case old != nil:
		return old.GetName()
	}
	return ""
}
