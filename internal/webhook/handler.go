package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
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

// The URL paths the webhook serves (the Service paths of the webhook
// configurations in manifests/): PathMutate only stamps server-verified
// facts (Stamper), PathValidate decides (Handler), after every mutating
// webhook has run, so that what it judges is what will be stored.
const (
	PathMutate   = "/mutate"
	PathValidate = "/validate"
)

// Reasons of the answers the handler gives without asking the decision,
// besides ownership.ReasonSubResource and ownership.ReasonNotOwned
// (metrics label answers by reason).
const (
	ReasonBadRequest        = "BadRequest"
	ReasonExcludedNamespace = "ExcludedNamespace"
	ReasonHeadUnavailable   = "HeadUnavailable"
	// ReasonAuthorizationUnavailable: a SubjectAccessReview failed; the
	// request is refused (503), as when a head cannot be read.
	ReasonAuthorizationUnavailable = "AuthorizationUnavailable"
	// ReasonOwnedUntouched: the request cannot change anything a release
	// owns (ownership.MayChangeOwned is false), so the API server need not
	// have called: the webhook configuration's match condition skips such
	// requests, and the handler answers them at once when an API server
	// without matchConditions support sends them.
	ReasonOwnedUntouched = "OwnedUntouched"
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
	// Authorizer answers whether a user may deploy or unlock a release,
	// asked before a lock is taken, renewed, taken over or cleared; nil
	// lets everyone (tests of other rules only: NewManager always sets
	// one).
	Authorizer Authorizer
}

// Handler is the ownership webhook's admission.Handler.
type Handler struct {
	opts  Options
	heads *heads
	now   func() time.Time
	// decideAll turns off the ReasonOwnedUntouched shortcut (tests that
	// check it against the full decision).
	decideAll bool
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
	// releaseName is the release the request is about ("" when none).
	releaseName string
	// target is what the request writes: targetHead, targetRecord, or
	// an owned object (targetObject), as handle routed it.
	target int
}

// Targets of a request (answer.target).
const (
	targetObject = iota
	targetHead
	targetRecord
)

// Handle answers one admission request. It never panics on bad input:
// requests it cannot decode get 400.
func (h *Handler) Handle(ctx context.Context, req admission.Request) admission.Response {
	start := h.now()
	a := h.handle(ctx, req)
	allowed := a.resp.Allowed
	h.opts.Metrics.observe(string(req.Operation), req.Kind.Kind, allowed, a.reason, h.now().Sub(start))
	h.releaseEvents(req, a)

	// The logger's values are added only when it logs: a logger with
	// values costs allocations on every request.
	log := logf.FromContext(ctx)
	if d := a.decision; d != nil && d.EventReason(a.request.Operation) != "" {
		if req.DryRun == nil || !*req.DryRun {
			ref := corev1.ObjectReference{APIVersion: "v1", Kind: "ConfigMap", Namespace: a.release.Namespace, Name: a.release.Name}
			if a.head != nil {
				ref = a.head.ref
			}
			h.record(ref, a.request, *d)
		}
		log.Info("ownership", requestValues(req, "allowed", d.Allowed, "breakGlass", d.BreakGlass, "reason", d.Reason,
			"fields", d.Fields, "fieldManager", a.request.FieldManager, "message", d.Message)...)
	} else if v := log.V(1); v.Enabled() {
		v.Info("ownership", requestValues(req, "allowed", allowed, "reason", a.reason)...)
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
	r, lbl, err := request(req)
	if err != nil {
		return answer{resp: admission.Errored(http.StatusBadRequest, err), reason: ReasonBadRequest}
	}
	if !h.decideAll && !ownership.MayChangeOwned(r) {
		return answer{resp: admission.Allowed(""), reason: ReasonOwnedUntouched, request: r}
	}
	recheck := mayBeReleaseOperation(string(req.Operation), requestOptions(req.Options.Raw))
	name := lbl[ownership.LabelRelease]
	// A record names its release: one with the record label but without
	// the release label would be judged as nobody's.
	if reserved(r) && (lbl[ownership.LabelRecord] == "" || name == "") && r.New != nil {
		d := ownership.Decision{Reason: ownership.ReasonReservedName, Message: fmt.Sprintf(
			"%s: names starting with %q are kept for the records of kubectl-chart releases, which carry the labels %s and %s",
			r.Kind, ownership.HeadName(""), ownership.LabelRecord, ownership.LabelRelease)}
		return answer{resp: denied(r, d), reason: d.Reason, request: r}
	}
	if name == "" {
		// The objectSelector sends only labelled objects; be safe anyway.
		return answer{resp: admission.Allowed(""), reason: ownership.ReasonNotOwned}
	}
	a := answer{request: r, releaseName: name, release: ownership.ObjectRef{Kind: "ConfigMap", Namespace: req.Namespace, Name: ownership.HeadName(name)}}

	switch {
	case isHead(r, lbl):
		a.target = targetHead
		return h.onHead(ctx, r, a)
	case isRecord(r, lbl):
		a.target = targetRecord
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

// requestValues are the log values that name req (as admission.Webhook's
// logger named them), then more.
func requestValues(req admission.Request, more ...any) []any {
	return append([]any{"operation", req.Operation, "kind", req.Kind.Kind, "namespace", req.Namespace, "name", req.Name,
		"resource", req.Resource, "user", req.UserInfo.Username, "requestID", req.UID}, more...)
}

// reserved tells whether r is on a ConfigMap or Secret whose name is that
// of a release record (kubectl-chart.…).
func reserved(r ownership.Request) bool {
	return r.Kind.Group == "" && (r.Kind.Kind == "ConfigMap" || r.Kind.Kind == "Secret") && strings.HasPrefix(r.Kind.Name, ownership.HeadName(""))
}

func isHead(r ownership.Request, lbl map[string]string) bool {
	return r.Kind.Group == "" && r.Kind.Kind == "ConfigMap" && lbl[ownership.LabelRecord] == ownership.RecordHead
}

func isRecord(r ownership.Request, lbl map[string]string) bool {
	return r.Kind.Group == "" && r.Kind.Kind == "Secret" && lbl[ownership.LabelRecord] == ownership.RecordRevision
}

// request reads an admission request into the decision's terms, with the
// labels that name the release: the old object's when it had them (so that
// removing them is judged against the release that owned it).
func request(req admission.Request) (ownership.Request, map[string]string, error) {
	old, obj, err := decode(req)
	if err != nil {
		return ownership.Request{}, nil, err
	}
	opts := requestOptions(req.Options.Raw)
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
		UID:         req.UserInfo.UID,
	}
	if len(req.UserInfo.Extra) > 0 {
		r.Extra = make(map[string][]string, len(req.UserInfo.Extra))
		for k, v := range req.UserInfo.Extra {
			r.Extra[k] = v
		}
	}
	// The labels of the first object that names a release; only without
	// one, those of the first with the record label. (An old object with
	// the record label alone must not hide the release the new one names:
	// a head or record would be written as nobody's.)
	var lbl map[string]string
	for _, key := range []string{ownership.LabelRelease, ownership.LabelRecord} {
		for _, u := range []*unstructured.Unstructured{old, obj} {
			if lbl == nil && u != nil && u.GetLabels()[key] != "" {
				lbl = u.GetLabels()
			}
		}
	}
	return r, lbl, nil
}

// Stamper is the mutating webhook's handler (PathMutate): it stamps the
// facts only the API server knows onto release records, as it
// authenticated the request, and judges nothing (the validating webhook,
// Handler, does, and denies a record whose stamps are not right):
//
//   - on a head, the lock user (ownership.AnnotationLockUser) of a lock
//     taken, renewed or taken over; none once released;
//   - on a revision record, applied-by (ownership.AnnotationAppliedBy)
//     and on chunk 0 the record's seal (ownership.RecordSeal).
type Stamper struct{ h *Handler }

// Stamper returns the mutating handler that goes with h.
func (h *Handler) Stamper() *Stamper { return &Stamper{h: h} }

var _ admission.Handler = (*Stamper)(nil)

// Handle stamps one admission request.
func (s *Stamper) Handle(_ context.Context, req admission.Request) admission.Response {
	if req.SubResource != "" || req.Operation == admissionv1.Delete || (req.Namespace != "" && slices.Contains(s.h.opts.ExcludedNamespaces, req.Namespace)) {
		return admission.Allowed("")
	}
	r, lbl, err := request(req)
	if err != nil {
		return admission.Errored(http.StatusBadRequest, err)
	}
	switch {
	case isHead(r, lbl):
		old, new, _, err := requestHeads(r)
		if err != nil {
			return admission.Errored(http.StatusBadRequest, err)
		}
		return patched(ownership.HeadStamp(r, old, new, s.h.opts.Config.Now()))
	case isRecord(r, lbl):
		return patched(ownership.RecordStamp(s.h.opts.Config, r))
	}
	return admission.Allowed("")
}

// onHead judges a write to a release head: the old and new heads come with
// the request. A new object that is not a readable head goes to the
// decision as nil (it denies it).
func (h *Handler) onHead(ctx context.Context, r ownership.Request, a answer) answer {
	oldHead, newHead, ref, err := requestHeads(r)
	if err != nil {
		return answer{resp: admission.Errored(http.StatusBadRequest, err), reason: ReasonBadRequest}
	}
	a.head = &headEntry{ref: ref, head: oldHead}
	// A misnamed head is denied whoever asks: no review for it.
	if h.opts.Authorizer != nil && newHead != nil && r.Kind.Name == ownership.HeadName(newHead.Release) {
		verbs := ownership.HeadVerbs(r, oldHead, newHead, h.opts.Config.Now())
		if len(verbs) > 0 {
			r.Authorized = make(map[string]bool, len(verbs))
			for _, verb := range verbs {
				ok, err := h.opts.Authorizer.Allowed(ctx, Access{
					User: r.User, UID: r.UID, Groups: r.Groups, Extra: r.Extra,
					Verb: verb, Namespace: newHead.Namespace, Name: newHead.Release,
				})
				if err != nil {
					// Fail closed, as without a head.
					a.resp, a.reason = admission.Errored(http.StatusServiceUnavailable, err), ReasonAuthorizationUnavailable
					return a
				}
				r.Authorized[verb] = ok
			}
			a.request = r
		}
	}
	d := ownership.DecideHead(h.opts.Config, r, oldHead, newHead)
	a.decision = &d
	a.resp, a.reason = h.respond(r, d), d.Reason
	return a
}

// requestHeads reads the heads of a request on a head ConfigMap: old and
// new (nil when absent or unreadable: the decision judges that) and the
// reference Events go to.
func requestHeads(r ownership.Request) (old, new *ownership.Head, ref corev1.ObjectReference, err error) {
	for _, u := range []*unstructured.Unstructured{r.Old, r.New} {
		if u == nil {
			continue
		}
		cm, err := toConfigMap(u)
		if err != nil {
			return nil, nil, ref, err
		}
		if ref.Name == "" {
			ref = headRef(cm)
		}
		head, _ := ownership.HeadFromConfigMap(cm) // unreadable: nil
		if u == r.Old {
			old = head
		} else {
			new = head
		}
	}
	return old, new, ref, nil
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
//
// The validating webhook patches nothing: the stamps (lock user, applied-by,
// record seal) are the mutating webhook's (Stamper). A decision that would
// still stamp means the object lacks them, or another mutating webhook
// changed them after ours: the request is denied.
func (h *Handler) respond(r ownership.Request, d ownership.Decision) admission.Response {
	if d.Allowed && len(d.Patch) > 0 && r.New != nil && !d.BreakGlass {
		var keys []string
		for _, op := range d.Patch {
			keys = append(keys, op.Path)
		}
		d = ownership.Decision{Reason: ownership.ReasonStampMissing, Message: fmt.Sprintf(
			"%s: the stamps of the kubectl-chart webhook (%s) are missing or were changed after it stamped them: is the MutatingWebhookConfiguration %s installed, and does another mutating webhook change them?",
			r.Kind, strings.Join(keys, ", "), ownership.WebhookConfigurationName)}
	}
	if !d.Allowed {
		return denied(r, d)
	}
	return admission.Allowed("").WithWarnings(d.Warnings...)
}

// patched is an allowed response carrying ops.
func patched(ops []ownership.PatchOp) admission.Response {
	if len(ops) == 0 {
		return admission.Allowed("")
	}
	jops := make([]jsonpatch.JsonPatchOperation, len(ops))
	for i, op := range ops {
		jops[i] = jsonpatch.JsonPatchOperation(op)
	}
	return admission.Patched("", jops...)
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
	if u, ok := raw.Object.(*unstructured.Unstructured); ok && u != nil && len(raw.Raw) == 0 {
		return u, nil // decoded with the review (Serve)
	}
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
