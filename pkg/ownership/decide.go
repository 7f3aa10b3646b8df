package ownership

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	"github.com/kubectl-chart/kubectl-chart/pkg/release/wire"
)

// This file is the webhook's admission decision (DESIGN.md, "Webhook
// rules"): pure functions of the request, the release head and the clock.
// The webhook builds their inputs, answers with their output and records
// their Events; nothing here reads or writes the cluster.

// ObjectRef names an object: an inventory entry of a release head, or the
// object of an admission request. It is the release records' wire format
// (package wire), the same type as release.ObjectRef.
type ObjectRef = wire.ObjectRef

// Admission operations, as AdmissionRequest.operation spells them.
const (
	OperationCreate = "CREATE"
	OperationUpdate = "UPDATE"
	OperationDelete = "DELETE"
)

// Request is what the decision needs from an AdmissionRequest.
type Request struct {
	// Operation is CREATE, UPDATE or DELETE (a patch is an UPDATE).
	Operation string
	// User and Groups are userInfo, as the API server authenticated it.
	User   string
	Groups []string
	// FieldManager is the fieldManager of the request's options
	// (CreateOptions, UpdateOptions, PatchOptions); empty when none was
	// given, and always for DELETE (DeleteOptions have none).
	FieldManager string
	// Kind names the object: group, version, kind, namespace, name.
	Kind ObjectRef
	// Old and New are the objects; nil when absent (CREATE has no Old,
	// DELETE no New).
	Old, New *unstructured.Unstructured
	// SubResource is the subresource written, if any (status, scale, …).
	SubResource string
	// UID and Extra are the rest of userInfo, for SubjectAccessReviews.
	UID   string
	Extra map[string][]string
	// Authorized are the answers of the SubjectAccessReviews the webhook
	// asked for the verbs LockChangeOf(…).Verbs() names (VerbDeploy,
	// VerbUnlock on the release): true when the user may. A verb missing
	// from a non-nil map is not authorised; a nil map means no authorizer
	// is configured, and every verb is (unit tests, benchmarks).
	Authorized map[string]bool
}

// may tells whether req's user may verb on the release.
func (req Request) may(verb string) bool {
	if req.Authorized == nil {
		return true
	}
	return req.Authorized[verb]
}

// Head is what the decision needs of a release head. HeadFromConfigMap
// reads it from the head ConfigMap.
type Head struct {
	// Release and Namespace identify the release.
	Release, Namespace string
	// Revision is the release's last revision; Deployed the one deployed (0
	// when none).
	Revision, Deployed int
	// Inventory is every object the release may own.
	Inventory []ObjectRef
	// LockUser is the user that took or last renewed the lock, as the
	// webhook stamped it (AnnotationLockUser); empty when unknown.
	LockUser string
	// LockHolder is the holder the client wrote into the lock (user@host
	// (pid N)): for messages only, never trusted.
	LockHolder string
	// LockExpires is when the lock stops holding (zero when unlocked).
	LockExpires time.Time
	// LockData is the lock as stored (its JSON); empty when unlocked.
	// DecideHead compares it to tell a lock taken, renewed or released.
	LockData string
	// HistoryMax is the number of revisions the release keeps; 0 means
	// DefaultHistoryMax, negative means no limit.
	HistoryMax int
	// Revisions are the revisions whose records exist, when known (nil:
	// assume every revision from 1 to Revision).
	Revisions []int
	// LockID is the lock's token (a new one for every operation) and
	// LockForced tells that its taker took over a live lock
	// (--force-unlock).
	LockID     string
	LockForced bool
	// Status is the release's status as the head says (pending-upgrade
	// while an upgrade runs).
	Status string
	// Record is the seal of the revision record the running operation
	// created (data key record), nil when none; see RecordSeal.
	Record *RecordSeal
}

// Config configures the decision.
type Config struct {
	// BreakGlassUsers and BreakGlassGroups may write what the rules would
	// deny; such writes are allowed with Decision.BreakGlass set.
	BreakGlassUsers, BreakGlassGroups []string
	// Now is the clock that tells whether a lock still holds; nil is
	// time.Now.
	Now func() time.Time
	// MaxLockTTL caps a lock's expiry at now + MaxLockTTL (+ ClockSkew for
	// the client's clock); 0 is DefaultMaxLockTTL.
	MaxLockTTL time.Duration
	// ClockSkew is how far ahead of the webhook's clock a client's may be;
	// 0 is DefaultClockSkew.
	ClockSkew time.Duration
	// SealKey is the HMAC key of record seals (RecordSeal). Empty: records
	// are not sealed and the release's writes are not tied to a record
	// (unit tests of other rules).
	SealKey []byte
}

// Defaults of Config.
const (
	// DefaultMaxLockTTL is ten times the plugin's default lock TTL (2m).
	DefaultMaxLockTTL = 20 * time.Minute
	DefaultClockSkew  = time.Minute
)

func (c Config) maxExpiry() time.Time {
	ttl, skew := c.MaxLockTTL, c.ClockSkew
	if ttl <= 0 {
		ttl = DefaultMaxLockTTL
	}
	if skew <= 0 {
		skew = DefaultClockSkew
	}
	return c.now().Add(ttl + skew)
}

func (c Config) now() time.Time {
	if c.Now == nil {
		return time.Now()
	}
	return c.Now()
}

// breakGlass tells whether the request comes from a break-glass user or
// group.
func (c Config) breakGlass(req Request) bool {
	if slices.Contains(c.BreakGlassUsers, req.User) {
		return true
	}
	for _, g := range req.Groups {
		if slices.Contains(c.BreakGlassGroups, g) {
			return true
		}
	}
	return false
}

// Reasons of decisions (Decision.Reason), for metrics and logs.
const (
	// Denials.
	ReasonOwnedFieldsChanged     = "OwnedFieldsChanged"
	ReasonOwnedFieldsUnknown     = "OwnedFieldsUnknown"
	ReasonManagedFieldsChanged   = "ManagedFieldsChanged"
	ReasonRecordLabelChanged     = "RecordLabelChanged"
	ReasonOwnershipLabelsRemoved = "OwnershipLabelsRemoved"
	ReasonOwnedObjectDeleted     = "OwnedObjectDeleted"
	ReasonRecordDataChanged      = "RecordDataChanged"
	ReasonStatusMovedBackwards   = "StatusMovedBackwards"
	ReasonRecordDeleted          = "RecordDeleted"
	ReasonNotLockHolder          = "NotLockHolder"
	ReasonInvalidHead            = "InvalidHead"
	ReasonNotAuthorized          = "NotAuthorized"
	ReasonLockHeld               = "LockHeld"
	ReasonLockTooLong            = "LockTooLong"
	ReasonNoRecord               = "NoRecord"
	ReasonReservedName           = "ReservedName"
	ReasonStampMissing           = "StampMissing"

	// Allowed.
	ReasonLockHolder       = "LockHolder"
	ReasonNotOwned         = "NotOwned"
	ReasonNotInInventory   = "NotInInventory"
	ReasonSystemController = "SystemController"
	ReasonSubResource      = "SubResource"
	ReasonBreakGlass       = "BreakGlass"
	ReasonLockTaken        = "LockTaken"
	ReasonLockReleased     = "LockReleased"
	ReasonLockRenewed      = "LockRenewed"
	ReasonLockTakenOver    = "LockTakenOver"
	ReasonRecordCreated    = "RecordCreated"
	ReasonStatusMoved      = "StatusMoved"
	ReasonBeyondHistory    = "BeyondHistory"
	ReasonNoRelease        = "NoRelease"
)

// PatchOp is one RFC 6902 JSON Patch operation on the new object. Its
// fields are those of gomodules.xyz/jsonpatch/v2's Operation (what
// controller-runtime's admission.Patched takes), so it converts to one:
// jsonpatch.Operation(op).
type PatchOp struct {
	Operation string `json:"op"`
	Path      string `json:"path"`
	Value     any    `json:"value,omitempty"`
}

// Decision is the answer to an admission request.
type Decision struct {
	// Allowed tells whether the request may go on.
	Allowed bool
	// Reason is the machine reason, one of the Reason… constants.
	Reason string
	// Message is for people: what was refused and why, naming the fields,
	// the release, its revision and the command that would make the change.
	Message string
	// Fields are the owned fields the request changed, as FormatPath writes
	// them (spec.template.spec.containers[name=web].image).
	Fields []string
	// Warnings go back to the client.
	Warnings []string
	// BreakGlass is set when the request is allowed only because it comes
	// from a break-glass user or group: record an Event (EventReason).
	BreakGlass bool
	// Patch stamps server-verified facts onto the new object: the lock user
	// on a head, applied-by on a revision record. Empty for denials.
	Patch []PatchOp
	// Event, when set, is the reason of an Event to record on the release
	// head although the request is allowed (EventLockTakenOver).
	Event string
}

// PatchJSON is the JSON Patch of d (nil when it has none), as an
// AdmissionResponse's patch carries it.
func (d Decision) PatchJSON() ([]byte, error) {
	if len(d.Patch) == 0 {
		return nil, nil
	}
	return json.Marshal(d.Patch)
}

// EventReason is the reason of the Event to record on the release head for
// d (EventBlockedWrite, EventBlockedDelete, EventBreakGlassWrite), or ""
// when d needs none.
func (d Decision) EventReason(operation string) string {
	switch {
	case d.BreakGlass:
		return EventBreakGlassWrite
	case d.Allowed:
		return d.Event
	case operation == OperationDelete:
		return EventBlockedDelete
	default:
		return EventBlockedWrite
	}
}

func allow(reason, message string) Decision {
	return Decision{Allowed: true, Reason: reason, Message: message}
}

func deny(reason, message string, fields ...string) Decision {
	return Decision{Reason: reason, Message: message, Fields: fields}
}

// finish lets a break-glass request through what the rules denied, and
// drops the patch of a denial.
func finish(cfg Config, req Request, d Decision) Decision {
	if d.Allowed {
		return d
	}
	if !cfg.breakGlass(req) {
		d.Patch = nil
		return d
	}
	d.Warnings = append(d.Warnings, fmt.Sprintf("break-glass: allowed for user %s, although: %s", req.User, d.Message))
	d.Message = fmt.Sprintf("break-glass write by user %s (%s): %s", req.User, d.Reason, d.Message)
	d.Allowed, d.BreakGlass, d.Reason = true, true, ReasonBreakGlass
	return d
}

// systemController tells whether user is a controller allowed to delete
// owned objects and strip their labels (garbage collection, namespace
// deletion).
func systemController(user string) bool {
	return user == UserGarbageCollector || user == UserNamespaceController || user == UserControllerManager
}

// live tells whether h's lock holds at now.
func (h *Head) live(now time.Time) bool {
	return h != nil && !h.LockExpires.IsZero() && now.Before(h.LockExpires)
}

// heldBy tells whether user runs h's operation: the webhook stamped user as
// the lock's taker, and the lock has not expired.
func (h *Head) heldBy(user string, now time.Time) bool {
	return h.live(now) && h.LockUser != "" && user == h.LockUser
}

// fromOperation tells whether req comes from the release's running
// operation: the lock holder, writing with the plugin's field manager (a
// DELETE carries no field manager: the holder suffices).
func fromOperation(req Request, h *Head, now time.Time) bool {
	if !h.heldBy(req.User, now) {
		return false
	}
	return req.Operation == OperationDelete || req.FieldManager == FieldManager
}

// unrecorded says why h does not name a pending revision record created
// by user, sealed by the webhook (RecordSeal), for its current revision;
// "" when it does, or when no SealKey is configured. (Uninstall only
// deletes, which needs no record: its status, uninstalling, is no licence
// to write.)
func (h *Head) unrecorded(cfg Config, user string) string {
	switch {
	case len(cfg.SealKey) == 0:
		return ""
	case !isPending(h.Status):
		return fmt.Sprintf("the head's status is %s, not pending", quoteEmpty(h.Status))
	case h.Record == nil:
		return "the head names no record"
	case !h.Record.Valid(cfg.SealKey, h.Namespace, h.Release):
		return "the head's record seal was not made by this webhook"
	case h.Record.Revision != h.Revision:
		return fmt.Sprintf("the head's record is of revision %d, its revision is %d", h.Record.Revision, h.Revision)
	case h.Record.User != user:
		return fmt.Sprintf("revision %d was recorded by user %s", h.Record.Revision, h.Record.User)
	case !isPending(h.Record.Status):
		return fmt.Sprintf("revision %d was recorded as %s, not pending", h.Record.Revision, h.Record.Status)
	}
	return ""
}

// describe is "release web (revision 3) in namespace apps".
func (h *Head) describe() string {
	return fmt.Sprintf("release %s (revision %d) in namespace %s", h.Release, h.Revision, h.Namespace)
}

// lockState says who holds h's lock, for messages.
func (h *Head) lockState(now time.Time) string {
	who := h.LockUser
	if who == "" {
		who = "an unknown user"
		if h.LockHolder != "" {
			who = "an unverified holder (" + h.LockHolder + ")"
		}
	} else {
		who = "user " + who
	}
	switch {
	case h.LockData == "" && h.LockExpires.IsZero():
		return fmt.Sprintf("release %s is not locked by a running operation", h.Release)
	case !h.live(now):
		return fmt.Sprintf("the lock of release %s taken by %s expired at %s", h.Release, who, h.LockExpires.UTC().Format(time.RFC3339))
	default:
		return fmt.Sprintf("the lock of release %s is held by %s until %s", h.Release, who, h.LockExpires.UTC().Format(time.RFC3339))
	}
}

func (h *Head) inInventory(ref ObjectRef) bool {
	key := ref.Key()
	for _, o := range h.Inventory {
		if o.Key() == key {
			return true
		}
	}
	return false
}

// ---------------------------------------------------------------------------
// Owned objects
// ---------------------------------------------------------------------------

// ownershipLabels are the labels that make an object a release's.
var ownershipLabels = []string{LabelRelease, LabelReleaseNamespace, LabelApplySetPartOf}

// DecideObject judges a write to an object that carries the ownership
// labels (on Old or New). head is the head of the release the labels name
// (the old object's, when it has them), nil when that release has no head.
//
//   - subresources and the garbage collector, namespace controller and
//     controller manager: allowed;
//   - the release's running operation (user = the head's lock user, lock
//     not expired, field manager FieldManager; any DELETE of the holder):
//     allowed;
//   - an object the release's inventory does not list: allowed, with a
//     warning (a controller copied the labels);
//   - deleting the object, changing or removing an ownership label, or
//     changing a field FieldManager owns in the old object's managedFields:
//     denied, naming the fields, the release, its revision and the command
//     to use; break-glass users and groups are let through (BreakGlass);
//   - anything else (fields the release does not own): allowed.
func DecideObject(cfg Config, req Request, head *Head) Decision {
	now := cfg.now()
	switch {
	case req.SubResource != "":
		return allow(ReasonSubResource, "subresources are not guarded")
	case systemController(req.User):
		return allow(ReasonSystemController, "user "+req.User+" is a system controller")
	case head == nil:
		d := allow(ReasonNotInInventory, "")
		d.Warnings = []string{fmt.Sprintf("%s carries the labels of release %s, which has no head: kubectl-chart does not guard it",
			req.Kind, releaseLabel(req))}
		return d
	case fromOperation(req, head, now):
		// What the inventory names is guarded; anything else (a hook, an
		// object the labels were copied to) is not, for anyone.
		if req.Operation != OperationDelete && head.inInventory(req.Kind) {
			if why := head.unrecorded(cfg, req.User); why != "" {
				return finish(cfg, req, deny(ReasonNoRecord, fmt.Sprintf(
					"%s: the operation of user %s on %s writes without a revision record: %s; every change a release makes is recorded first: run kubectl chart upgrade|rollback",
					req.Kind, req.User, head.describe(), why)))
			}
		}
		return allow(ReasonLockHolder, "from the running operation of "+head.describe())
	case !head.inInventory(req.Kind):
		d := allow(ReasonNotInInventory, "")
		d.Warnings = []string{fmt.Sprintf("%s carries the labels of %s but is not in its inventory (were they copied by a controller?): kubectl-chart does not guard it",
			req.Kind, head.describe())}
		return d
	}
	return finish(cfg, req, objectRules(req, head, now))
}

// releaseLabel is the release the request's object names.
func releaseLabel(req Request) string {
	for _, u := range []*unstructured.Unstructured{req.Old, req.New} {
		if v := labelOf(u, LabelRelease); v != "" {
			return v
		}
	}
	return ""
}

// objectRules are the rules for a request that does not come from the
// release's operation, on an object of its inventory.
func objectRules(req Request, head *Head, now time.Time) Decision {
	hint := ""
	if req.FieldManager == FieldManager {
		hint = fmt.Sprintf(" (the request names field manager %s, but %s)", FieldManager, head.lockState(now))
	}
	if req.Operation == OperationDelete {
		return deny(ReasonOwnedObjectDeleted, fmt.Sprintf(
			"%s is owned by %s; delete it by removing it from the chart and running: kubectl chart upgrade %s <chart> -n %s, or with: kubectl chart uninstall %s -n %s%s",
			req.Kind, head.describe(), head.Release, head.Namespace, head.Release, head.Namespace, hint))
	}
	if req.Old == nil {
		return allow(ReasonNotOwned, "no field of "+req.Kind.String()+" is owned yet")
	}
	var newObj map[string]any
	if req.New != nil {
		newObj = req.New.Object
	}

	var labelFields []string
	for _, k := range ownershipLabels {
		if v := labelOf(req.Old, k); v != "" && labelOf(req.New, k) != v {
			labelFields = append(labelFields, FormatPath(fieldpath.MakePathOrDie("metadata", "labels", k)))
		}
	}
	// The record label makes a ConfigMap a head and a Secret a revision
	// record, judged by other rules: put on an owned object it would forge
	// one, so only the release's operation may set it.
	if v := labelOf(req.New, LabelRecord); req.New != nil && v != labelOf(req.Old, LabelRecord) {
		path := FormatPath(fieldpath.MakePathOrDie("metadata", "labels", LabelRecord))
		return deny(ReasonRecordLabelChanged, fmt.Sprintf("%s: %s marks the records of releases and is set only by kubectl chart; %s is owned by %s%s",
			req.Kind, path, req.Kind, head.describe(), hint), path)
	}
	owned, err := OwnedFields(req.Old.Object)
	if err != nil {
		d := deny(ReasonOwnedFieldsUnknown, fmt.Sprintf("%s is owned by %s, and which of its fields it owns cannot be read: %v%s",
			req.Kind, head.describe(), err, hint))
		d.Fields = labelFields
		return d
	}
	changed := ChangedFields(owned, req.Old.Object, newObj)
	if len(labelFields) > 0 {
		fields := slices.Clone(labelFields)
		var also []string
		for _, f := range changed {
			if !slices.Contains(fields, f) {
				fields = append(fields, f)
				also = append(also, f)
			}
		}
		more := ""
		if len(also) > 0 {
			more = fmt.Sprintf(" (the request also changes %s, owned too)", listFields(also))
		}
		return deny(ReasonOwnershipLabelsRemoved, fmt.Sprintf(
			"%s: %s %s owned by %s%s; to let the release give the object up, remove it from the chart (with annotation %s: %s to keep it) and run: kubectl chart upgrade %s <chart> -n %s%s",
			req.Kind, listFields(labelFields), isAre(len(labelFields)), head.describe(), more, AnnotationResourcePolicy, ResourcePolicyKeep,
			head.Release, head.Namespace, hint), fields...)
	}
	if len(changed) > 0 {
		return deny(ReasonOwnedFieldsChanged, fmt.Sprintf("%s: %s %s owned by %s; change %s with: kubectl chart upgrade %s <chart> -n %s --set …%s",
			req.Kind, listFields(changed), isAre(len(changed)), head.describe(), itThem(len(changed)), head.Release, head.Namespace, hint), changed...)
	}
	// The fields are the release's because its managedFields entry says
	// so: emptying, removing or editing that entry (a managedFields reset,
	// a JSON patch, another manager forcing ownership of a field without
	// changing its value) would hand them to the next writer.
	// (OwnedFields reads only the plugin's entries: when they are as they
	// were, so is the set, and reading it again is skipped.)
	if req.New != nil && !owned.Empty() && !sameManagerEntries(req.Old.Object, req.New.Object) {
		newOwned, err := OwnedFields(req.New.Object)
		if err != nil || !newOwned.Equals(owned) {
			lost := owned
			if err == nil {
				lost = owned.Difference(newOwned)
			}
			var fields []string
			lost.Iterate(func(p fieldpath.Path) { fields = append(fields, FormatPath(p)) })
			what := "its managedFields entry of manager " + FieldManager
			if len(fields) > 0 {
				what += fmt.Sprintf(" (owning %s)", listFields(fields))
			}
			return deny(ReasonManagedFieldsChanged, fmt.Sprintf("%s: %s records what %s owns and is changed only by its operations; change the object with: kubectl chart upgrade %s <chart> -n %s%s",
				req.Kind, what, head.describe(), head.Release, head.Namespace, hint), fields...)
		}
	}
	return allow(ReasonNotOwned, "no field owned by "+head.describe()+" changed")
}

// maxMessageFields bounds the fields a message lists (Decision.Fields has
// them all).
const maxMessageFields = 5

func listFields(fields []string) string {
	if len(fields) > maxMessageFields {
		return fmt.Sprintf("%s and %d more fields", strings.Join(fields[:maxMessageFields], ", "), len(fields)-maxMessageFields)
	}
	if len(fields) <= 1 {
		return strings.Join(fields, "")
	}
	return strings.Join(fields[:len(fields)-1], ", ") + " and " + fields[len(fields)-1]
}

func isAre(n int) string {
	if n == 1 {
		return "is"
	}
	return "are"
}

func itThem(n int) string {
	if n == 1 {
		return "it"
	}
	return "them"
}

// labelOf is a label of u ("" when u is nil or has none).
func labelOf(u *unstructured.Unstructured, key string) string {
	if u == nil {
		return ""
	}
	v, _, _ := unstructured.NestedString(u.Object, "metadata", "labels", key)
	return v
}

// annotationOf is an annotation of u and whether it is set.
func annotationOf(u *unstructured.Unstructured, key string) (string, bool) {
	if u == nil {
		return "", false
	}
	ann, _, _ := unstructured.NestedFieldNoCopy(u.Object, "metadata", "annotations")
	m, _ := ann.(map[string]any)
	v, ok := m[key]
	if !ok {
		return "", false
	}
	s, _ := v.(string)
	return s, true
}

// ---------------------------------------------------------------------------
// Release heads
// ---------------------------------------------------------------------------

// headRelease is the release and namespace of a head, for messages.
func headRelease(h *Head, req Request) (string, string) {
	if h != nil {
		return h.Release, h.Namespace
	}
	name := releaseLabel(req)
	if name == "" {
		name = strings.TrimPrefix(req.Kind.Name, HeadName(""))
	}
	return name, req.Kind.Namespace
}

// headIdentityLabels are the labels that make a ConfigMap a release's head.
var headIdentityLabels = []string{LabelRelease, LabelRecord, LabelApplySetID}

// headChanges are the head's data keys (the lock aside) and identity
// labels that differ between old and new, as field paths.
func headChanges(old, new *unstructured.Unstructured) []string {
	od, _, _ := unstructured.NestedFieldNoCopy(old.Object, "data")
	nd, _, _ := unstructured.NestedFieldNoCopy(new.Object, "data")
	om, _ := od.(map[string]any)
	nm, _ := nd.(map[string]any)
	lock := FormatPath(fieldpath.MakePathOrDie("data", wire.HeadKeyLock))
	fields := slices.DeleteFunc(changedKeys(om, nm, "data"), func(f string) bool { return f == lock })
	for _, k := range headIdentityLabels {
		if labelOf(old, k) != labelOf(new, k) {
			fields = append(fields, FormatPath(fieldpath.MakePathOrDie("metadata", "labels", k)))
		}
	}
	return fields
}

// changedKeys are the keys whose values differ between maps o and n (or
// that only one has), in key order, as field paths under path.
func changedKeys(o, n map[string]any, path ...string) []string {
	var fields []string
	for _, k := range unionKeys(o, n) {
		ov, oOK := o[k]
		nv, nOK := n[k]
		if oOK != nOK || !equal(ov, nv) {
			fields = append(fields, FormatPath(fieldpath.MakePathOrDie(append(anySlice(path), k)...)))
		}
	}
	return fields
}

func anySlice(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

func unionKeys(a, b map[string]any) []string {
	keys := make([]string, 0, len(a)+len(b))
	for k := range a {
		keys = append(keys, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

// HeadFromConfigMap reads a release head ConfigMap: the release (label
// LabelRelease), the revisions (data keys revision, deployed), the status,
// the inventory (data key inventory, JSON), the lock (data key lock, JSON),
// the record seal (data key record, JSON) and the lock user (annotation
// AnnotationLockUser). HistoryMax and Revisions
// are not kept on the head: they are left zero.
func HeadFromConfigMap(cm *corev1.ConfigMap) (*Head, error) {
	ref := "ConfigMap/" + cm.Namespace + "/" + cm.Name
	h := &Head{Release: cm.Labels[LabelRelease], Namespace: cm.Namespace, LockUser: cm.Annotations[AnnotationLockUser]}
	if h.Release == "" {
		return nil, fmt.Errorf("%s: not a release head: label %s missing", ref, LabelRelease)
	}
	var err error
	if h.Revision, err = atoi(cm.Data[wire.HeadKeyRevision]); err != nil {
		return nil, fmt.Errorf("%s: %s: %w", ref, wire.HeadKeyRevision, err)
	}
	if h.Deployed, err = atoi(cm.Data[wire.HeadKeyDeployed]); err != nil {
		return nil, fmt.Errorf("%s: %s: %w", ref, wire.HeadKeyDeployed, err)
	}
	if v := cm.Data[wire.HeadKeyInventory]; v != "" {
		if err := json.Unmarshal([]byte(v), &h.Inventory); err != nil {
			return nil, fmt.Errorf("%s: %s: %w", ref, wire.HeadKeyInventory, err)
		}
	}
	if v, ok := cm.Data[wire.HeadKeyLock]; ok {
		var l wire.Lock
		if err := json.Unmarshal([]byte(v), &l); err != nil {
			return nil, fmt.Errorf("%s: %s: %w", ref, wire.HeadKeyLock, err)
		}
		h.LockData, h.LockHolder, h.LockExpires, h.LockID, h.LockForced = v, l.Holder, l.Expires, l.ID, l.Forced
	}
	h.Status = cm.Data[wire.HeadKeyStatus]
	if v := cm.Data[wire.HeadKeyRecord]; v != "" {
		seal, err := ParseRecordSeal(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", ref, wire.HeadKeyRecord, err)
		}
		h.Record = &seal
	}
	return h, nil
}

func atoi(s string) (int, error) {
	if s == "" {
		return 0, nil
	}
	return strconv.Atoi(s)
}

// ---------------------------------------------------------------------------
// Revision records
// ---------------------------------------------------------------------------

// recordIdentityLabels are the labels that make a Secret (a chunk of) a
// revision record.
var recordIdentityLabels = []string{LabelRelease, LabelRecord, LabelRevision, LabelChunk}

// canMove tells whether a record's status label may move from one status
// to another (wire.CanMove).
func canMove(from, to string) bool { return wire.CanMove(wire.Status(from), wire.Status(to)) }

// DecideRecord judges a write to a revision record Secret (any chunk of
// it). head is the release's head, nil when it has none.
//
//   - CREATE: only by the holder of the release's live lock; allowed with
//     AnnotationAppliedBy stamped to req.User (whatever the client wrote).
//   - UPDATE: the data (and type, immutability) never change, the identity
//     labels neither, and the status label moves only forward
//     (pending-* → deployed | failed, deployed → superseded, → uninstalled);
//     other labels and annotations may change, but applied-by keeps its
//     value.
//   - DELETE: by the lock holder (pruning history, uninstall), the system
//     controllers, and anyone for a revision beyond the history the release
//     keeps (the newest HistoryMax revisions, and the deployed one).
//
// Break-glass users and groups pass what would be denied.
func DecideRecord(cfg Config, req Request, head *Head) Decision {
	now := cfg.now()
	ref := req.Kind
	about := "a revision record"
	if rev := recordRevision(req); rev > 0 {
		name := releaseLabel(req)
		if head != nil {
			name = head.Release
		}
		about = fmt.Sprintf("revision %d of release %s in namespace %s", rev, name, ref.Namespace)
	}
	switch req.Operation {
	case OperationCreate:
		if d, ok := recordName(req); !ok {
			return finish(cfg, req, d)
		}
		if head.heldBy(req.User, now) {
			d := allow(ReasonRecordCreated, fmt.Sprintf("%s created by user %s", about, req.User))
			d.Patch = RecordStamp(cfg, req)
			return d
		}
		state := "release " + releaseLabel(req) + " has no head"
		if head != nil {
			state = head.lockState(now)
		}
		return finish(cfg, req, deny(ReasonNotLockHolder, fmt.Sprintf("%s: %s is created only by the release's running operation, and %s; use kubectl chart upgrade|rollback",
			ref, about, state)))

	case OperationDelete:
		switch {
		case systemController(req.User):
			return allow(ReasonSystemController, "user "+req.User+" is a system controller")
		case head == nil:
			return allow(ReasonNoRelease, fmt.Sprintf("%s: release %s has no head", about, releaseLabel(req)))
		case head.heldBy(req.User, now):
			return allow(ReasonLockHolder, "from the running operation of "+head.describe())
		}
		rev := recordRevision(req)
		if rev > 0 && beyondHistory(head, rev) {
			return allow(ReasonBeyondHistory, fmt.Sprintf("%s is beyond the history of %s", about, head.describe()))
		}
		return finish(cfg, req, deny(ReasonRecordDeleted, fmt.Sprintf(
			"%s: %s is within the history the release keeps (its newest %d revisions, up to revision %d, and the deployed one); kubectl chart upgrade --history-max N prunes older revisions, kubectl chart uninstall %s -n %s deletes them all",
			ref, about, historyMax(head), head.Revision, head.Release, head.Namespace)))
	}

	// UPDATE
	if req.Old == nil || req.New == nil {
		return finish(cfg, req, deny(ReasonRecordDataChanged, fmt.Sprintf("%s: the request carries no old or no new object", ref)))
	}
	if fields := recordDataChanges(req.Old, req.New); len(fields) > 0 {
		return finish(cfg, req, deny(ReasonRecordDataChanged, fmt.Sprintf("%s: %s is written once: %s cannot change",
			ref, about, listFields(fields)), fields...))
	}
	var labelFields []string
	for _, k := range recordIdentityLabels {
		if labelOf(req.Old, k) != labelOf(req.New, k) {
			labelFields = append(labelFields, FormatPath(fieldpath.MakePathOrDie("metadata", "labels", k)))
		}
	}
	if len(labelFields) > 0 {
		return finish(cfg, req, deny(ReasonOwnershipLabelsRemoved, fmt.Sprintf("%s: %s identify %s: they cannot change",
			ref, listFields(labelFields), about), labelFields...))
	}
	holder := head.heldBy(req.User, now)
	if !holder {
		if fields := metadataChanges(req.Old, req.New); len(fields) > 0 {
			state := "release " + releaseLabel(req) + " has no head"
			if head != nil {
				state = head.lockState(now)
			}
			return finish(cfg, req, deny(ReasonRecordDataChanged, fmt.Sprintf("%s: %s of %s %s written only by the release's running operation, and %s; history is changed only by kubectl chart upgrade|rollback|uninstall",
				ref, listFields(fields), about, isAre(len(fields)), state), fields...))
		}
	}
	var d Decision
	from, to := labelOf(req.Old, LabelStatus), labelOf(req.New, LabelStatus)
	switch {
	case from == to:
		d = allow(ReasonNotOwned, "neither the data nor the status of "+about+" changed")
	case canMove(from, to):
		d = allow(ReasonStatusMoved, fmt.Sprintf("%s moved from %s to %s", about, from, to))
	default:
		rollback := ""
		if head != nil {
			rollback = fmt.Sprintf("; to deploy it again, roll back: kubectl chart rollback %s %d -n %s", head.Release, recordRevision(req), head.Namespace)
		}
		return finish(cfg, req, deny(ReasonStatusMovedBackwards, fmt.Sprintf(
			"%s: the status of %s cannot move from %s to %s: it only moves forward (pending-* → deployed | failed, deployed → superseded, → uninstalled)%s",
			ref, about, quoteEmpty(from), quoteEmpty(to), rollback), FormatPath(fieldpath.MakePathOrDie("metadata", "labels", LabelStatus))))
	}
	if holder && d.Reason == ReasonNotOwned {
		d.Reason = ReasonLockHolder
	}
	d.Patch = RecordStamp(cfg, req)
	return d
}

// recordStamps are the annotations the webhook stamps on revision records.
var recordStamps = []string{AnnotationAppliedBy, AnnotationRecordSeal}

// RecordStamp is the patch that makes a revision record's stamps right:
// on CREATE, applied-by = req.User and, on chunk 0 when cfg has a SealKey,
// the record's seal (RecordSeal), whatever the client wrote; on UPDATE,
// the old object's values.
func RecordStamp(cfg Config, req Request) []PatchOp {
	if req.New == nil {
		return nil
	}
	want := map[string]string{}
	if req.Operation == OperationCreate {
		want[AnnotationAppliedBy] = req.User
		if chunk := labelOf(req.New, LabelChunk); len(cfg.SealKey) > 0 && (chunk == "" || chunk == "0") {
			seal := RecordSeal{Revision: recordRevision(req), User: req.User, Status: labelOf(req.New, LabelStatus), Digest: RecordDigest(req.New)}
			want[AnnotationRecordSeal] = seal.Sealed(cfg.SealKey, req.Kind.Namespace, releaseLabel(req)).JSON()
		}
	} else {
		for _, k := range recordStamps {
			if v, ok := annotationOf(req.Old, k); ok {
				want[k] = v
			}
		}
	}
	return annotationPatch(req.New, want, recordStamps)
}

// recordName checks a new record's name and type: a Secret labelled as
// chunk C of revision N of release R is named RevisionChunkName(R, N, C)
// and has type SecretTypeRelease.
func recordName(req Request) (Decision, bool) {
	rel, rev := releaseLabel(req), recordRevision(req)
	chunk, err := strconv.Atoi(labelOf(req.New, LabelChunk))
	if labelOf(req.New, LabelChunk) == "" {
		chunk, err = 0, nil
	}
	typ, _, _ := unstructured.NestedString(req.New.Object, "type")
	switch {
	case rev < 1 || err != nil || chunk < 0:
		return deny(ReasonReservedName, fmt.Sprintf("%s: a Secret labelled %s=%s needs a revision (≥ 1) and a chunk number in its labels %s and %s",
			req.Kind, LabelRecord, RecordRevision, LabelRevision, LabelChunk)), false
	case req.Kind.Name != RevisionChunkName(rel, rev, chunk):
		return deny(ReasonReservedName, fmt.Sprintf("%s: a Secret labelled as chunk %d of revision %d of release %s must be named %s",
			req.Kind, chunk, rev, rel, RevisionChunkName(rel, rev, chunk))), false
	case typ != SecretTypeRelease:
		return deny(ReasonReservedName, fmt.Sprintf("%s: a revision record has type %s, not %s", req.Kind, SecretTypeRelease, quoteEmpty(typ))), false
	}
	return Decision{}, true
}

// metadataChanges are the labels and annotations (as field paths) that
// differ between old and new.
func metadataChanges(old, new *unstructured.Unstructured) []string {
	var fields []string
	for _, what := range []string{"labels", "annotations"} {
		om, _, _ := unstructured.NestedFieldNoCopy(old.Object, "metadata", what)
		nm, _, _ := unstructured.NestedFieldNoCopy(new.Object, "metadata", what)
		o, _ := om.(map[string]any)
		n, _ := nm.(map[string]any)
		fields = append(fields, changedKeys(o, n, "metadata", what)...)
	}
	return fields
}

func quoteEmpty(s string) string {
	if s == "" {
		return `""`
	}
	return s
}

// recordRevision is the revision a record's label names (0 when it names
// none).
func recordRevision(req Request) int {
	v := labelOf(req.Old, LabelRevision)
	if v == "" {
		v = labelOf(req.New, LabelRevision)
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// recordDataChanges are the fields of a record's content that differ
// between old and new.
func recordDataChanges(old, new *unstructured.Unstructured) []string {
	var fields []string
	od, _, _ := unstructured.NestedFieldNoCopy(old.Object, "data")
	nd, _, _ := unstructured.NestedFieldNoCopy(new.Object, "data")
	om, oIsMap := od.(map[string]any)
	nm, nIsMap := nd.(map[string]any)
	if oIsMap && nIsMap {
		fields = changedKeys(om, nm, "data")
	} else if !equal(od, nd) {
		fields = append(fields, "data")
	}
	for _, f := range []string{"stringData", "type", "immutable"} {
		ov, oOK := old.Object[f]
		nv, nOK := new.Object[f]
		if oOK != nOK || !equal(ov, nv) {
			fields = append(fields, f)
		}
	}
	return fields
}

func historyMax(h *Head) int {
	if h.HistoryMax == 0 {
		return DefaultHistoryMax
	}
	return h.HistoryMax
}

// beyondHistory tells whether revision rev is one the release no longer
// keeps: HistoryMax (or more) newer revisions exist, and rev is not the
// deployed one.
func beyondHistory(h *Head, rev int) bool {
	limit := historyMax(h)
	if limit < 0 || rev == h.Deployed || rev >= h.Revision {
		return false
	}
	newer := h.Revision - rev
	if len(h.Revisions) > 0 {
		newer = 0
		for _, r := range h.Revisions {
			if r > rev {
				newer++
			}
		}
	}
	return newer >= limit
}

// ---------------------------------------------------------------------------
// Patches
// ---------------------------------------------------------------------------

// setAnnotation is the patch that sets annotation key of obj to v (none
// when it has that value already).
func setAnnotation(obj *unstructured.Unstructured, key, v string) []PatchOp {
	return annotationPatch(obj, map[string]string{key: v}, []string{key})
}

// annotationPatch is the patch that gives obj's annotations of keys the
// values of want (a key of keys absent from want is removed).
func annotationPatch(obj *unstructured.Unstructured, want map[string]string, keys []string) []PatchOp {
	if obj == nil {
		return nil
	}
	meta, ok := obj.Object["metadata"].(map[string]any)
	ann, _ := meta["annotations"].(map[string]any)
	if !ok || ann == nil {
		if len(want) == 0 {
			return nil
		}
		if !ok {
			return []PatchOp{{Operation: "add", Path: "/metadata", Value: map[string]any{"annotations": want}}}
		}
		return []PatchOp{{Operation: "add", Path: "/metadata/annotations", Value: want}}
	}
	var ops []PatchOp
	for _, k := range keys {
		cur, has := ann[k]
		v, wanted := want[k]
		switch {
		case wanted && (!has || cur != v):
			ops = append(ops, PatchOp{Operation: "add", Path: "/metadata/annotations/" + escapePointer(k), Value: v})
		case !wanted && has:
			ops = append(ops, PatchOp{Operation: "remove", Path: "/metadata/annotations/" + escapePointer(k)})
		}
	}
	return ops
}

// removeAnnotation is the patch that removes annotation key from obj (none
// when it has no such annotation).
func removeAnnotation(obj *unstructured.Unstructured, key string) []PatchOp {
	return annotationPatch(obj, nil, []string{key})
}

// escapePointer escapes a JSON Pointer token (RFC 6901).
func escapePointer(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}
