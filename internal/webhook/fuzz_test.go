package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"gomodules.xyz/jsonpatch/v2"
	admissionv1 "k8s.io/api/admission/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/kubectl-chart/kubectl-chart/pkg/ownership"
)

// This file is FuzzHandle: the webhook's two handlers (Stamper, then
// Handler, as the API server calls them) on a head cache holding releases in
// every state the rules tell apart, with an invariant on what an allowed
// request may have changed. The fixtures say what each release's state is;
// the invariant reads them, never the decision's own helpers, except for
// ownership.OwnedFields and ownership.ChangedFields, the managedFields
// reading that the rules are defined by.

// fuzzNow is the clock of FuzzHandle's handler.
var fuzzNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// fuzzSealKey is the webhook's seal key in FuzzHandle.
var fuzzSealKey = []byte("fuzz-handle-seal-key-0123456789ab")

// fuzzNamespace is where every fixture lives.
const fuzzNamespace = "apps"

// fuzzDeployer holds the live locks of the fixtures.
const fuzzDeployer = "deployer"

// fuzzRelease is a release of FuzzHandle's head cache, with what the
// invariant must know of it.
type fuzzRelease struct {
	name     string
	lockUser string // the stamped lock user; "" when unlocked
	lockID   string
	live     bool // the lock expires after fuzzNow
	status   string
	revision int
	// record is the seal the head names (data key record), nil for none.
	record *ownership.RecordSeal
	// sealedFor is the user whose writes the head's seal covers: a seal the
	// webhook made, of the head's revision, by that user, pending, under a
	// pending head; "" when it covers nobody's.
	sealedFor string
	inventory []ownership.ObjectRef
}

// head is the release's head ConfigMap as the plugin and the webhook's
// stamps leave it.
func (r fuzzRelease) head() *corev1.ConfigMap {
	inv, _ := json.Marshal(r.inventory)
	cm := &corev1.ConfigMap{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{
			Name: ownership.HeadName(r.name), Namespace: fuzzNamespace, UID: types.UID("uid-head-" + r.name), ResourceVersion: "7",
			Labels: map[string]string{ownership.LabelRelease: r.name, ownership.LabelRecord: ownership.RecordHead,
				ownership.LabelApplySetID: ownership.ApplySetID(r.name, fuzzNamespace)},
			Annotations: map[string]string{ownership.AnnotationApplySetTooling: "kubectl-chart/v0.1.0"},
		},
		Data: map[string]string{"revision": strconv.Itoa(r.revision), "deployed": strconv.Itoa(r.revision - 1),
			"status": r.status, "inventory": string(inv)},
	}
	if r.lockUser != "" {
		cm.Data["lock"] = fuzzLock(r.lockUser+"@host (pid 1)", r.lockID, r.expires(), false)
		cm.Annotations[ownership.AnnotationLockUser] = r.lockUser
	}
	if r.record != nil {
		cm.Data["record"] = r.record.JSON()
	}
	return cm
}

func (r fuzzRelease) expires() time.Time {
	if r.live {
		return fuzzNow.Add(time.Minute)
	}
	return fuzzNow.Add(-time.Minute)
}

// fuzzLock is a lock's JSON as pkg/release writes it.
func fuzzLock(holder, id string, expires time.Time, forced bool) string {
	b, _ := json.Marshal(map[string]any{"holder": holder, "operation": "upgrade", "started": fuzzNow.Add(-time.Minute),
		"renewed": fuzzNow.Add(-time.Minute), "expires": expires, "id": id, "forced": forced})
	return string(b)
}

// fuzzSeal is the webhook's seal of revision rev of release by user.
func fuzzSeal(release string, rev int, user, status string) *ownership.RecordSeal {
	s := ownership.RecordSeal{Revision: rev, User: user, Status: status, Digest: strings.Repeat("0", 64)}.Sealed(fuzzSealKey, fuzzNamespace, release)
	return &s
}

func fuzzConfigMapRef(name string) ownership.ObjectRef {
	return ownership.ObjectRef{Version: "v1", Kind: "ConfigMap", Namespace: fuzzNamespace, Name: name}
}

// fuzzReleases are the heads of FuzzHandle's cache: the release's operation
// may write under web's only.
var fuzzReleases = func() map[string]fuzzRelease {
	forged := *fuzzSeal("forged", 2, fuzzDeployer, "pending-upgrade")
	forged.MAC = ownership.RecordSeal{Revision: 2, User: fuzzDeployer, Status: "pending-upgrade"}.Sealed([]byte("a key the webhook does not have"), fuzzNamespace, "forged").MAC
	list := []fuzzRelease{
		// An upgrade under way, sealed for its user.
		{name: "web", lockUser: fuzzDeployer, lockID: "op-web", live: true, status: "pending-upgrade", revision: 4,
			record: fuzzSeal("web", 4, fuzzDeployer, "pending-upgrade"), sealedFor: fuzzDeployer,
			inventory: []ownership.ObjectRef{
				fuzzConfigMapRef("web-config"),
				{Group: "apps", Version: "v1", Kind: "Deployment", Namespace: fuzzNamespace, Name: "web"},
				{Version: "v1", Kind: "Secret", Namespace: fuzzNamespace, Name: "web-secret"},
			}},
		// An operation that created no record.
		{name: "api", lockUser: fuzzDeployer, lockID: "op-api", live: true, status: "pending-upgrade", revision: 2,
			inventory: []ownership.ObjectRef{fuzzConfigMapRef("api-config")}},
		// A seal the webhook did not make.
		{name: "forged", lockUser: fuzzDeployer, lockID: "op-forged", live: true, status: "pending-upgrade", revision: 2,
			record: &forged, inventory: []ownership.ObjectRef{fuzzConfigMapRef("forged-config")}},
		// The seal of another user's record.
		{name: "theirs", lockUser: fuzzDeployer, lockID: "op-theirs", live: true, status: "pending-upgrade", revision: 2,
			record: fuzzSeal("theirs", 2, "alice", "pending-upgrade"), inventory: []ownership.ObjectRef{fuzzConfigMapRef("theirs-config")}},
		// A sealed operation whose lock expired.
		{name: "stale", lockUser: fuzzDeployer, lockID: "op-stale", live: false, status: "pending-upgrade", revision: 2,
			record: fuzzSeal("stale", 2, fuzzDeployer, "pending-upgrade"), inventory: []ownership.ObjectRef{fuzzConfigMapRef("stale-config")}},
		// A finished operation still holding its lock: the head is not pending.
		{name: "done", lockUser: fuzzDeployer, lockID: "op-done", live: true, status: "deployed", revision: 2,
			record: fuzzSeal("done", 2, fuzzDeployer, "pending-upgrade"), inventory: []ownership.ObjectRef{fuzzConfigMapRef("done-config")}},
		// An uninstall under way: it only deletes, so it writes nothing without a record.
		{name: "bye", lockUser: fuzzDeployer, lockID: "op-bye", live: true, status: "uninstalling", revision: 2,
			inventory: []ownership.ObjectRef{fuzzConfigMapRef("bye-config")}},
		// No operation.
		{name: "idle", status: "deployed", revision: 2, inventory: []ownership.ObjectRef{fuzzConfigMapRef("idle-config")}},
		// Nothing left.
		{name: "empty", status: "uninstalled", revision: 2, inventory: []ownership.ObjectRef{}},
	}
	m := map[string]fuzzRelease{}
	for _, r := range list {
		m[r.name] = r
	}
	return m
}()

// fuzzTarget is an object FuzzHandle writes: its kind and the old object
// (without managedFields: the fuzz input gives them).
type fuzzTarget struct {
	group, kind string
	name        string
	release     string // the release its labels name
	old         map[string]any
}

func (t fuzzTarget) ref() ownership.ObjectRef {
	return ownership.ObjectRef{Group: t.group, Version: "v1", Kind: t.kind, Namespace: fuzzNamespace, Name: t.name}
}

// ownedLabels are the ownership labels of release on an object.
func ownedLabels(release string) map[string]any {
	return map[string]any{"app": release, ownership.LabelRelease: release, ownership.LabelReleaseNamespace: fuzzNamespace,
		ownership.LabelApplySetPartOf: ownership.ApplySetID(release, fuzzNamespace)}
}

func fuzzObject(apiVersion, kind, name string, labels map[string]any, rest map[string]any) map[string]any {
	o := map[string]any{"apiVersion": apiVersion, "kind": kind,
		"metadata": map[string]any{"name": name, "namespace": fuzzNamespace, "uid": "uid-" + name, "resourceVersion": "3", "labels": labels}}
	for k, v := range rest {
		o[k] = v
	}
	return o
}

func toMap(o runtime.Object) map[string]any {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(o)
	if err != nil {
		panic(err)
	}
	return m
}

// fuzzTargets are FuzzHandle's objects: one in the inventory of every
// release, a Deployment and a Secret of web, an object carrying web's labels
// outside its inventory, one of a release without a head, heads and a
// revision record.
var fuzzTargets = func() []fuzzTarget {
	var ts []fuzzTarget
	for _, name := range []string{"web", "api", "forged", "theirs", "stale", "done", "bye", "idle"} {
		ts = append(ts, fuzzTarget{kind: "ConfigMap", name: name + "-config", release: name,
			old: fuzzObject("v1", "ConfigMap", name+"-config", ownedLabels(name), map[string]any{"data": map[string]any{"k": "v", "note": "n"}})})
	}
	ts = append(ts,
		fuzzTarget{group: "apps", kind: "Deployment", name: "web", release: "web",
			old: fuzzObject("apps/v1", "Deployment", "web", ownedLabels("web"), map[string]any{"spec": map[string]any{
				"replicas": int64(3),
				"selector": map[string]any{"matchLabels": map[string]any{"app": "web"}},
				"template": map[string]any{
					"metadata": map[string]any{"labels": map[string]any{"app": "web"}},
					"spec": map[string]any{"containers": []any{
						map[string]any{"name": "web", "image": "nginx:1.27", "imagePullPolicy": "IfNotPresent"},
						map[string]any{"name": "proxy", "image": "envoy:1"},
					}},
				},
			}})},
		fuzzTarget{kind: "Secret", name: "web-secret", release: "web",
			old: fuzzObject("v1", "Secret", "web-secret", ownedLabels("web"), map[string]any{"type": "Opaque", "data": map[string]any{"password": "aHVudGVyMg=="}})},
		fuzzTarget{kind: "ConfigMap", name: "web-stray", release: "web",
			old: fuzzObject("v1", "ConfigMap", "web-stray", ownedLabels("web"), map[string]any{"data": map[string]any{"k": "v"}})},
		fuzzTarget{kind: "ConfigMap", name: "ghost-config", release: "ghost",
			old: fuzzObject("v1", "ConfigMap", "ghost-config", ownedLabels("ghost"), map[string]any{"data": map[string]any{"k": "v"}})},
	)
	for _, name := range []string{"web", "idle", "stale", "empty"} {
		head := fuzzReleases[name].head()
		ts = append(ts, fuzzTarget{kind: "ConfigMap", name: head.Name, release: name, old: toMap(head)})
	}
	ts = append(ts, fuzzTarget{kind: "Secret", name: ownership.RevisionName("web", 4), release: "web", old: fuzzRecord("web", 4, 0, "pending-upgrade", fuzzDeployer)})
	// A ConfigMap named as the head of release new (not installed), with
	// the record label but no release label (from before the webhook):
	// adding the release label makes it new's head.
	ts = append(ts, fuzzTarget{kind: "ConfigMap", name: ownership.HeadName("new"), release: "new",
		old: fuzzObject("v1", "ConfigMap", ownership.HeadName("new"), map[string]any{ownership.LabelRecord: ownership.RecordHead}, nil)})
	return ts
}()

// fuzzRecord is chunk c of revision rev of release, created by user, with
// the webhook's stamps.
func fuzzRecord(release string, rev, chunk int, status, user string) map[string]any {
	labels := map[string]any{ownership.LabelRelease: release, ownership.LabelRecord: ownership.RecordRevision,
		ownership.LabelRevision: strconv.Itoa(rev), ownership.LabelChunk: strconv.Itoa(chunk), ownership.LabelStatus: status}
	o := fuzzObject("v1", "Secret", ownership.RevisionChunkName(release, rev, chunk), labels, map[string]any{
		"type": ownership.SecretTypeRelease, "immutable": true, "data": map[string]any{"release": "H4sIAAAAAAAA/wEAAP//AAAAAAAAAAA="}})
	u := &unstructured.Unstructured{Object: o}
	ann := map[string]any{ownership.AnnotationAppliedBy: user}
	if chunk == 0 {
		ann[ownership.AnnotationRecordSeal] = ownership.RecordSeal{Revision: rev, User: user, Status: status, Digest: ownership.RecordDigest(u)}.
			Sealed(fuzzSealKey, fuzzNamespace, release).JSON()
	}
	o["metadata"].(map[string]any)["annotations"] = ann
	return o
}

// fuzzUsers are the writers FuzzHandle picks from.
var fuzzUsers = []authenticationv1.UserInfo{
	{Username: fuzzDeployer, Groups: []string{"system:authenticated"}},
	{Username: "alice", Groups: []string{"system:authenticated"}},
	{Username: "bob", Groups: []string{"system:authenticated", "developers"}},
	{Username: "root", Groups: []string{"system:authenticated"}},         // break-glass user
	{Username: "carol", Groups: []string{"system:authenticated", "sre"}}, // break-glass group
	{Username: ownership.UserGarbageCollector, Groups: []string{"system:serviceaccounts"}},
	{Username: ownership.UserNamespaceController, Groups: []string{"system:serviceaccounts"}},
	{Username: ownership.UserControllerManager},
}

// Bits of FuzzHandle's flags input.
const (
	fuzzSubresource = 1 << iota // the write is on subresource status
	fuzzMayDeploy               // the authorizer grants verb deploy
	fuzzMayUnlock               // … and verb unlock
	fuzzAuthzFails              // the authorizer fails
	fuzzDryRun                  // the request is a dry run
	fuzzRawOld                  // the old object is the managedFields input itself, whatever it is (no invariant: only no panic, no server error)
)

// fuzzAuthorizer answers as FuzzHandle's input says, and keeps what it was
// asked.
type fuzzAuthorizer struct {
	deploy, unlock, fail bool
	asked                []Access
}

func (a *fuzzAuthorizer) Allowed(_ context.Context, acc Access) (bool, error) {
	a.asked = append(a.asked, acc)
	if a.fail {
		return false, errors.New("the API server is away")
	}
	switch acc.Verb {
	case ownership.VerbDeploy:
		return a.deploy, nil
	case ownership.VerbUnlock:
		return a.unlock, nil
	}
	return false, nil
}

// discardEvents records nothing.
type discardEvents struct{}

func (discardEvents) Event(runtime.Object, string, string, string) {}

// fuzzHeads is the head cache of every release of fuzzReleases.
func fuzzHeads() headMap {
	m := headMap{}
	for _, r := range fuzzReleases {
		m[fuzzNamespace+"/"+ownership.HeadName(r.name)] = r.head()
	}
	return m
}

// fuzzInput is one FuzzHandle input, for the seeds and TestFuzzHandleSeeds.
type fuzzInput struct {
	op, target, who, flags uint8
	manager                string
	oldFields, newObj      []byte
}

// fuzzOutcome is what one input came to.
type fuzzOutcome struct {
	resp      admission.Response
	stamped   bool // the Stamper answered, and its patch applied
	old, new  *unstructured.Unstructured
	req       admission.Request
	target    fuzzTarget
	user      authenticationv1.UserInfo
	authz     *fuzzAuthorizer
	operation admissionv1.Operation
	// untouched: ownership.MayChangeOwned said the request cannot change
	// anything owned (the API server skips it); full is then the answer of
	// the handler without that shortcut, and fullEvents the Events it
	// recorded.
	untouched  bool
	full       admission.Response
	fullEvents int
	// sent is the request as the API server sent it to the Stamper.
	sent admission.Request
}

// fuzzEnv is the webhook FuzzHandle runs: one handler (its decoded heads
// kept from one input to the next, as in the webhook) whose authorizer each
// input sets.
type fuzzEnv struct {
	h     *Handler
	authz *fuzzAuthorizer
	// full decides every request, without the ReasonOwnedUntouched
	// shortcut; events counts the Events it records.
	full   *Handler
	events *recorded
}

func newFuzzEnv() *fuzzEnv {
	cfg := ownership.Config{BreakGlassUsers: []string{"root"}, BreakGlassGroups: []string{"sre"},
		Now: func() time.Time { return fuzzNow }, SealKey: fuzzSealKey}
	authz := &fuzzAuthorizer{}
	h, err := NewHandler(Options{Config: cfg, Heads: fuzzHeads(), Recorder: discardEvents{}, Authorizer: authz})
	if err != nil {
		panic(err)
	}
	events := &recorded{}
	full, err := NewHandler(Options{Config: cfg, Heads: fuzzHeads(), Recorder: events, Authorizer: authz})
	if err != nil {
		panic(err)
	}
	full.decideAll = true
	return &fuzzEnv{h: h, authz: authz, full: full, events: events}
}

// run runs one input through the Stamper and the Handler as the API server
// would; ok is false when the input is not a request the API server sends
// (it is skipped).
func (e *fuzzEnv) run(in fuzzInput) (out fuzzOutcome, ok bool) {
	ops := []admissionv1.Operation{admissionv1.Create, admissionv1.Update, admissionv1.Delete}
	out.operation = ops[int(in.op)%len(ops)]
	out.target = fuzzTargets[int(in.target)%len(fuzzTargets)]
	out.user = fuzzUsers[int(in.who)%len(fuzzUsers)]
	*e.authz = fuzzAuthorizer{deploy: in.flags&fuzzMayDeploy != 0, unlock: in.flags&fuzzMayUnlock != 0, fail: in.flags&fuzzAuthzFails != 0}
	out.authz = e.authz

	oldRaw := in.oldFields
	if in.flags&fuzzRawOld == 0 {
		var managedFields any
		if err := utiljson.Unmarshal(in.oldFields, &managedFields); err != nil {
			return out, false
		}
		oldObj := runtime.DeepCopyJSON(out.target.old)
		oldObj["metadata"].(map[string]any)["managedFields"] = managedFields
		var err error
		if oldRaw, err = json.Marshal(oldObj); err != nil {
			return out, false
		}
		out.old = &unstructured.Unstructured{}
		if err := out.old.UnmarshalJSON(oldRaw); err != nil {
			return out, false // not an object the API server holds
		}
	}

	req := admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
		UID:       "fuzz",
		Kind:      metav1.GroupVersionKind{Group: out.target.group, Version: "v1", Kind: out.target.kind},
		Resource:  metav1.GroupVersionResource{Group: out.target.group, Version: "v1", Resource: strings.ToLower(out.target.kind) + "s"},
		Name:      out.target.name,
		Namespace: fuzzNamespace,
		Operation: out.operation,
		UserInfo:  out.user,
	}}
	if in.flags&fuzzSubresource != 0 {
		req.SubResource = "status"
	}
	if in.flags&fuzzDryRun != 0 {
		dry := true
		req.DryRun = &dry
	}
	if out.operation != admissionv1.Create {
		req.OldObject.Raw = oldRaw
	}
	if out.operation != admissionv1.Delete {
		req.Object.Raw = in.newObj
		req.Options.Raw, _ = json.Marshal(map[string]string{"fieldManager": in.manager})
		if out.operation == admissionv1.Create {
			// The API server names a created object after its metadata.
			var meta struct {
				Metadata struct {
					Name string `json:"name"`
				} `json:"metadata"`
			}
			if json.Unmarshal(in.newObj, &meta) == nil && meta.Metadata.Name != "" {
				req.Name = meta.Metadata.Name
			}
		}
	} else {
		req.Options.Raw = []byte(`{"kind":"DeleteOptions","apiVersion":"meta.k8s.io/v1"}`)
	}

	h := e.h
	ctx := logf.IntoContext(context.Background(), logr.Discard())

	// The mutating webhook first: its patch goes onto the object the
	// validating one judges.
	out.sent = req
	stamp := h.Stamper().Handle(ctx, req)
	if !stamp.Allowed {
		out.resp = stamp
		return out, true
	}
	if len(stamp.Patches) > 0 {
		patched, err := applyPatch(req.Object.Raw, stamp.Patches)
		if err != nil {
			return out, false // the API server would refuse the patch
		}
		req.Object.Raw = patched
	}
	out.stamped = true
	out.req = req
	out.resp = h.Handle(ctx, req)
	if r, _, err := request(req); err == nil && !ownership.MayChangeOwned(r) {
		out.untouched = true
		e.events.events = nil
		asked := len(e.authz.asked)
		out.full = e.full.Handle(ctx, req)
		out.fullEvents = len(e.events.events)
		e.authz.asked = e.authz.asked[:asked]
	}
	if len(req.Object.Raw) > 0 {
		u := &unstructured.Unstructured{}
		if u.UnmarshalJSON(req.Object.Raw) == nil {
			out.new = u
		}
	}
	return out, true
}

// applyPatch applies a JSON Patch of add, replace and remove operations on
// object members (the Stamper's) to doc.
func applyPatch(doc []byte, ops []jsonpatch.JsonPatchOperation) ([]byte, error) {
	var obj any
	if err := utiljson.Unmarshal(doc, &obj); err != nil {
		return nil, err
	}
	for _, op := range ops {
		tokens := strings.Split(strings.TrimPrefix(op.Path, "/"), "/")
		for i, t := range tokens {
			tokens[i] = strings.ReplaceAll(strings.ReplaceAll(t, "~1", "/"), "~0", "~")
		}
		parent, ok := obj.(map[string]any)
		for _, t := range tokens[:len(tokens)-1] {
			if !ok {
				break
			}
			parent, ok = parent[t].(map[string]any)
		}
		if !ok {
			return nil, fmt.Errorf("%s %s: no object at the parent path", op.Operation, op.Path)
		}
		last := tokens[len(tokens)-1]
		switch op.Operation {
		case "add", "replace":
			b, err := json.Marshal(op.Value)
			if err != nil {
				return nil, err
			}
			var v any
			if err := utiljson.Unmarshal(b, &v); err != nil {
				return nil, err
			}
			parent[last] = v
		case "remove":
			if _, ok := parent[last]; !ok {
				return nil, fmt.Errorf("remove %s: no such member", op.Path)
			}
			delete(parent, last)
		default:
			return nil, fmt.Errorf("%s %s: unexpected operation", op.Operation, op.Path)
		}
	}
	return json.Marshal(obj)
}

// exempt tells whether the rules let user through whatever the request
// changes: break-glass users and groups, the system controllers.
func exempt(u authenticationv1.UserInfo) bool {
	switch u.Username {
	case "root", ownership.UserGarbageCollector, ownership.UserNamespaceController, ownership.UserControllerManager:
		return true
	}
	return slices.Contains(u.Groups, "sre")
}

// ownedChange says what of the release's an UPDATE from old to new changes
// ("" when nothing): a field kubectl-chart's managedFields entry owns,
// that entry itself, or an ownership label. Unreadable managedFields count
// as a change: the rules fail closed there.
func ownedChange(old, new *unstructured.Unstructured) string {
	owned, err := ownership.OwnedFields(old.Object)
	if err != nil {
		return "unreadable managedFields: " + err.Error()
	}
	if changed := ownership.ChangedFields(owned, old.Object, new.Object); len(changed) > 0 {
		return "owned fields " + strings.Join(changed, ", ")
	}
	if !owned.Empty() {
		newOwned, err := ownership.OwnedFields(new.Object)
		if err != nil || !newOwned.Equals(owned) {
			return "kubectl-chart's managedFields entry"
		}
	}
	for _, k := range []string{ownership.LabelRelease, ownership.LabelReleaseNamespace, ownership.LabelApplySetPartOf} {
		if v := old.GetLabels()[k]; v != "" && new.GetLabels()[k] != v {
			return "label " + k
		}
	}
	return ""
}

// checkFuzzOutcome is FuzzHandle's invariant; it returns what is wrong
// ("" when nothing).
func checkFuzzOutcome(o fuzzOutcome) string {
	resp := o.resp
	// What the match condition skips, the full decision allows as it is.
	if o.untouched && (!o.full.Allowed || len(o.full.Patches) > 0 || o.fullEvents > 0) {
		return fmt.Sprintf("MayChangeOwned lets the API server skip %s of %s by %s, but the full decision answers allowed=%v with %d patches and %d Events: %+v",
			o.operation, o.req.Name, o.user.Username, o.full.Allowed, len(o.full.Patches), o.fullEvents, o.full.Result)
	}
	if resp.Result != nil && resp.Result.Code >= 500 {
		if resp.Result.Code != http.StatusServiceUnavailable || !o.authz.fail {
			return fmt.Sprintf("server error %d: %s", resp.Result.Code, resp.Result.Message)
		}
	}
	for _, a := range o.authz.asked {
		if a.User != o.user.Username || !slices.Equal(a.Groups, o.user.Groups) {
			return fmt.Sprintf("the authorizer was asked %+v for user %s", a, o.user.Username)
		}
	}
	if !resp.Allowed || !o.stamped || o.req.SubResource != "" || exempt(o.user) || o.old == nil && o.operation != admissionv1.Create {
		return ""
	}
	// What was authorised is the release whose head was written.
	for _, a := range o.authz.asked {
		if a.Namespace != fuzzNamespace || ownership.HeadName(a.Name) != o.req.Name {
			return fmt.Sprintf("%s of %s allowed on an answer about release %s in namespace %q", o.operation, o.req.Name, a.Name, a.Namespace)
		}
	}
	rel, hasHead := fuzzReleases[o.target.release]
	user, op := o.user.Username, o.operation
	manager := ""
	if op != admissionv1.Delete {
		var opts struct {
			FieldManager string `json:"fieldManager"`
		}
		_ = json.Unmarshal(o.req.Options.Raw, &opts)
		manager = opts.FieldManager
	}
	holder := hasHead && rel.lockUser != "" && rel.lockUser == user && rel.live

	if op == admissionv1.Create {
		// What is created is the new object, named after its metadata.
		if o.new == nil {
			return "an unreadable object created"
		}
		switch lbl := o.new.GetLabels(); {
		case lbl[ownership.LabelRelease] == "":
		case o.target.kind == "ConfigMap" && lbl[ownership.LabelRecord] == ownership.RecordHead:
			return checkNewHead(o)
		case o.target.kind == "Secret" && lbl[ownership.LabelRecord] == ownership.RecordRevision:
			return checkRecord(o, false)
		}
		return ""
	}
	switch {
	case strings.HasPrefix(o.target.name, ownership.HeadName("")) && o.target.kind == "ConfigMap":
		return checkHead(o, rel, holder)
	case o.target.kind == "Secret" && o.target.old["metadata"].(map[string]any)["labels"].(map[string]any)[ownership.LabelRecord] != nil:
		return checkRecord(o, holder)
	}

	// An object of a release's inventory.
	if !hasHead || !slices.Contains(rel.inventory, o.target.ref()) {
		return ""
	}
	what := "the object"
	if op == admissionv1.Update {
		if o.new == nil {
			return "an unreadable update allowed"
		}
		if what = ownedChange(o.old, o.new); what == "" {
			return ""
		}
	}
	operation := holder && (op == admissionv1.Delete ||
		(manager == ownership.FieldManager && rel.sealedFor == user))
	if !operation {
		return fmt.Sprintf("%s of %s by user %s (field manager %q) changed %s of release %s, which it may not: allowed",
			op, o.target.ref(), user, manager, what, rel.name)
	}
	return ""
}

// checkHead: an allowed write of a head changes its data only from the
// lock holder, its lock only with the verbs the change needs, and deletes
// a head only of the holder or one that owns nothing and is unlocked.
func checkHead(o fuzzOutcome, rel fuzzRelease, holder bool) string {
	switch o.operation {
	case admissionv1.Delete:
		if !holder && (len(rel.inventory) > 0 || rel.live) {
			return fmt.Sprintf("user %s deleted the head of %s", o.user.Username, o.target.release)
		}
		return ""
	}
	if o.new == nil {
		return "an unreadable head update allowed"
	}
	oldData, _, _ := unstructured.NestedStringMap(o.old.Object, "data")
	newData, _, _ := unstructured.NestedStringMap(o.new.Object, "data")
	for _, k := range []string{"revision", "deployed", "status", "inventory", "record"} {
		if oldData[k] != newData[k] && !holder {
			return fmt.Sprintf("user %s changed data.%s of the head of %s", o.user.Username, k, o.target.release)
		}
	}
	for _, k := range []string{ownership.LabelRelease, ownership.LabelRecord} {
		if o.old.GetLabels()[k] != o.new.GetLabels()[k] {
			return fmt.Sprintf("user %s changed label %s of the head of %s", o.user.Username, k, o.target.release)
		}
	}
	if oldLock, newLock := oldData["lock"], newData["lock"]; oldLock != newLock {
		if !o.authz.deploy && !o.authz.unlock {
			return fmt.Sprintf("user %s changed the lock of %s without any verb", o.user.Username, o.target.release)
		}
		var l struct {
			ID      string    `json:"id"`
			Forced  bool      `json:"forced"`
			Expires time.Time `json:"expires"`
		}
		if newLock != "" {
			if err := json.Unmarshal([]byte(newLock), &l); err != nil {
				return "an unreadable lock allowed: " + err.Error()
			}
			if l.Expires.After(fuzzNow.Add(ownership.DefaultMaxLockTTL + ownership.DefaultClockSkew)) {
				return fmt.Sprintf("a lock until %s allowed", l.Expires)
			}
			renewal := o.user.Username == rel.lockUser && l.ID == rel.lockID
			if rel.live && !renewal && !(o.authz.deploy && o.authz.unlock && l.Forced) {
				return fmt.Sprintf("user %s took over the live lock of %s (forced %v, deploy %v, unlock %v)",
					o.user.Username, o.target.release, l.Forced, o.authz.deploy, o.authz.unlock)
			}
		}
		for _, k := range []string{"revision", "deployed", "status", "inventory", "record"} {
			if oldData[k] != newData[k] {
				return fmt.Sprintf("the lock of %s changed with data.%s", o.target.release, k)
			}
		}
		if newLock != "" && o.new.GetAnnotations()[ownership.AnnotationLockUser] != o.user.Username {
			return fmt.Sprintf("a lock taken by %s stamped %q", o.user.Username, o.new.GetAnnotations()[ownership.AnnotationLockUser])
		}
	}
	return ""
}

// checkNewHead: a head is created empty (no revision, deployed revision,
// inventory or record), under the name of its release, with a lock of
// its creator's no longer than the limit, by a user with verb deploy.
func checkNewHead(o fuzzOutcome) string {
	user, release := o.user.Username, o.new.GetLabels()[ownership.LabelRelease]
	if !o.authz.deploy {
		return fmt.Sprintf("user %s created the head of %s without verb deploy", user, release)
	}
	if o.req.Name != ownership.HeadName(release) {
		return fmt.Sprintf("the head of %s created as %s", release, o.req.Name)
	}
	data, _, _ := unstructured.NestedStringMap(o.new.Object, "data")
	for _, k := range []string{"revision", "deployed"} {
		if n, err := strconv.Atoi(data[k]); data[k] != "" && (err != nil || n != 0) {
			return fmt.Sprintf("the head of %s created with data.%s %q", release, k, data[k])
		}
	}
	if inv := strings.TrimSpace(data["inventory"]); inv != "" && inv != "[]" && inv != "null" {
		return fmt.Sprintf("the head of %s created with inventory %s", release, inv)
	}
	if data["record"] != "" {
		return fmt.Sprintf("the head of %s created with a record", release)
	}
	var l struct {
		Expires time.Time `json:"expires"`
	}
	if err := json.Unmarshal([]byte(data["lock"]), &l); err != nil {
		return fmt.Sprintf("the head of %s created without a readable lock: %v", release, err)
	}
	if l.Expires.After(fuzzNow.Add(ownership.DefaultMaxLockTTL + ownership.DefaultClockSkew)) {
		return fmt.Sprintf("the head of %s created with a lock until %s", release, l.Expires)
	}
	if got := o.new.GetAnnotations()[ownership.AnnotationLockUser]; got != user {
		return fmt.Sprintf("the head of %s created by %s stamped with lock user %q", release, user, got)
	}
	return ""
}

// checkRecord: an allowed write of a revision record changes its labels and
// annotations only from the lock holder, never its data, and a created
// record carries the stamps of its creator (a valid seal on chunk 0).
func checkRecord(o fuzzOutcome, holder bool) string {
	user := o.user.Username
	switch o.operation {
	case admissionv1.Delete:
		if !holder {
			return fmt.Sprintf("user %s deleted the current revision's record", user)
		}
		return ""
	case admissionv1.Create:
		if o.new == nil {
			return "an unreadable record created"
		}
		labels := o.new.GetLabels()
		rel, ok := fuzzReleases[labels[ownership.LabelRelease]]
		if labels[ownership.LabelRecord] != ownership.RecordRevision || labels[ownership.LabelRelease] == "" {
			return "" // judged as an object
		}
		if !ok || rel.lockUser != user || !rel.live {
			return fmt.Sprintf("user %s created a record of release %s without its lock", user, labels[ownership.LabelRelease])
		}
		ann := o.new.GetAnnotations()
		if ann[ownership.AnnotationAppliedBy] != user {
			return fmt.Sprintf("a record created by %s says applied-by %q", user, ann[ownership.AnnotationAppliedBy])
		}
		if chunk := labels[ownership.LabelChunk]; chunk == "" || chunk == "0" {
			seal, err := ownership.ParseRecordSeal(ann[ownership.AnnotationRecordSeal])
			rev, _ := strconv.Atoi(labels[ownership.LabelRevision])
			if err != nil || !seal.Valid(fuzzSealKey, fuzzNamespace, rel.name) || seal.User != user || seal.Revision != rev ||
				seal.Digest != ownership.RecordDigest(o.new) {
				return fmt.Sprintf("a record created by %s carries seal %q (%v)", user, ann[ownership.AnnotationRecordSeal], err)
			}
		}
		return ""
	}
	if o.new == nil {
		return "an unreadable record update allowed"
	}
	oldData, _, _ := unstructured.NestedFieldNoCopy(o.old.Object, "data")
	newData, _, _ := unstructured.NestedFieldNoCopy(o.new.Object, "data")
	if b1, b2 := mustJSON(oldData), mustJSON(newData); b1 != b2 {
		return fmt.Sprintf("user %s changed the data of a record", user)
	}
	if !holder && (mustJSON(o.old.GetLabels()) != mustJSON(o.new.GetLabels()) || mustJSON(o.old.GetAnnotations()) != mustJSON(o.new.GetAnnotations())) {
		return fmt.Sprintf("user %s changed the labels or annotations of a record", user)
	}
	for _, k := range []string{ownership.AnnotationAppliedBy, ownership.AnnotationRecordSeal} {
		if o.old.GetAnnotations()[k] != o.new.GetAnnotations()[k] {
			return fmt.Sprintf("user %s changed the record's stamp %s", user, k)
		}
	}
	return ""
}

// mustJSON is v as JSON with sorted keys (for comparisons).
func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// FuzzHandle feeds the webhook's two handlers requests on a head cache with
// releases in every state the rules tell apart (fuzzReleases): the input
// picks the operation, the object (fuzzTargets), the user (fuzzUsers), the
// authorizer's answers and a few more flags, and gives the field manager,
// the old object's managedFields and the whole new object. On every input:
// no panic, no server error but the authorizer's, and checkFuzzOutcome's
// invariant: an allowed UPDATE or DELETE of an object of a release's
// inventory that changes what the release owns (a field of kubectl-chart's
// managedFields entry, that entry, an ownership label) comes from the
// release's operation (the live lock's user, with field manager
// kubectl-chart and the head's seal of a record of its own)
// or from a break-glass user, a system controller or a subresource; and
// likewise for heads and records.
func FuzzHandle(f *testing.F) {
	for _, in := range fuzzSeeds(f) {
		f.Add(in.op, in.target, in.who, in.flags, in.manager, in.oldFields, in.newObj)
	}
	env := newFuzzEnv()
	f.Fuzz(func(t *testing.T, op, target, who, flags uint8, manager string, oldFields, newObj []byte) {
		out, ok := env.run(fuzzInput{op: op, target: target, who: who, flags: flags, manager: manager, oldFields: oldFields, newObj: newObj})
		if !ok {
			return
		}
		if msg := checkFuzzOutcome(out); msg != "" {
			t.Fatalf("%s\nresponse: allowed %v %s", msg, out.resp.Allowed, resultMessage(out.resp))
		}
	})
}

// Indices into fuzzUsers and operations, for seeds.
const (
	seedDeployer, seedAlice, seedBob, seedRoot, seedCarol, seedGC = 0, 1, 2, 3, 4, 5
	seedCreate, seedUpdate, seedDelete                            = 0, 1, 2
)

func seedTarget(name string) uint8 {
	for i, t := range fuzzTargets {
		if t.name == name {
			return uint8(i)
		}
	}
	panic("no fuzz target " + name)
}

// fuzzManagedFields are managedFields of a ConfigMap of fuzzTargets: the
// plugin's apply owning data.k and the ownership labels, kubectl-edit's
// data.note.
const fuzzManagedFields = `[{"manager":"kubectl-chart","operation":"Apply","apiVersion":"v1","fieldsType":"FieldsV1","fieldsV1":{` +
	`"f:data":{"f:k":{}},"f:metadata":{"f:labels":{"f:app":{},"f:applyset.kubernetes.io/part-of":{},"f:kubectl-chart.io/release":{},"f:kubectl-chart.io/release-namespace":{}}}}},` +
	`{"manager":"kubectl-edit","operation":"Update","apiVersion":"v1","fieldsType":"FieldsV1","fieldsV1":{"f:data":{"f:note":{}}}}]`

// fuzzDeploymentFields are the Deployment's: the plugin owns replicas and
// its container web; a sidecar injector owns proxy.
const fuzzDeploymentFields = `[{"manager":"kubectl-chart","operation":"Apply","apiVersion":"apps/v1","fieldsType":"FieldsV1","fieldsV1":{` +
	`"f:metadata":{"f:labels":{"f:kubectl-chart.io/release":{}}},"f:spec":{"f:replicas":{},"f:selector":{},"f:template":{"f:metadata":{"f:labels":{"f:app":{}}},` +
	`"f:spec":{"f:containers":{"k:{\"name\":\"web\"}":{".":{},"f:image":{},"f:name":{}}}}}}}},` +
	`{"manager":"injector","operation":"Update","apiVersion":"apps/v1","fieldsType":"FieldsV1","fieldsV1":{"f:spec":{"f:template":{"f:spec":{"f:containers":{"k:{\"name\":\"proxy\"}":{".":{},"f:image":{},"f:name":{}}}}}}}}]`

// fuzzTargetJSON is fuzz target's object with managedFields, changed by
// change (when not nil), as JSON.
func fuzzTargetJSON(t testing.TB, target, managedFields string, change func(o map[string]any)) []byte {
	t.Helper()
	o := runtime.DeepCopyJSON(fuzzTargets[seedTarget(target)].old)
	var mf any
	if err := utiljson.Unmarshal([]byte(managedFields), &mf); err != nil {
		t.Fatal(err)
	}
	o["metadata"].(map[string]any)["managedFields"] = mf
	if change != nil {
		change(o)
	}
	b, err := json.Marshal(o)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fuzzSeeds are meaningful requests: the release's operation at work, kubectl
// edits of owned and unowned fields, managedFields resets, label removals,
// deletes, break-glass, lock moves and records.
func fuzzSeeds(t testing.TB) []fuzzInput {
	t.Helper()
	object := func(target string, managedFields string, change func(o map[string]any)) []byte {
		return fuzzTargetJSON(t, target, managedFields, change)
	}
	meta := func(o map[string]any) map[string]any { return o["metadata"].(map[string]any) }
	data := func(o map[string]any) map[string]any { return o["data"].(map[string]any) }
	changes := map[string]func(o map[string]any){
		"none":          nil,
		"owned field":   func(o map[string]any) { data(o)["k"] = "changed" },
		"unowned field": func(o map[string]any) { data(o)["note"] = "changed" },
		"owned removed": func(o map[string]any) { delete(data(o), "k") },
		"reset":         func(o map[string]any) { meta(o)["managedFields"] = []any{map[string]any{}} },
		"emptied":       func(o map[string]any) { meta(o)["managedFields"] = []any{} },
		"entry removed": func(o map[string]any) { meta(o)["managedFields"] = meta(o)["managedFields"].([]any)[1:] },
		"label removed": func(o map[string]any) { delete(meta(o)["labels"].(map[string]any), ownership.LabelRelease) },
		"record label": func(o map[string]any) {
			meta(o)["labels"].(map[string]any)[ownership.LabelRecord] = ownership.RecordHead
		},
		"new annotation": func(o map[string]any) { meta(o)["annotations"] = map[string]any{"example.com/note": "x"} },
		"entry shrunk": func(o map[string]any) {
			e := meta(o)["managedFields"].([]any)[0].(map[string]any)
			delete(e["fieldsV1"].(map[string]any), "f:data")
		},
		"entry taken by another manager": func(o map[string]any) {
			meta(o)["managedFields"].([]any)[0].(map[string]any)["manager"] = "kubectl-edit"
		},
		"new label, another manager's entry": func(o map[string]any) {
			meta(o)["labels"].(map[string]any)["team"] = "a"
			meta(o)["managedFields"] = append(meta(o)["managedFields"].([]any), map[string]any{"manager": "kubectl-label",
				"operation": "Update", "apiVersion": "v1", "fieldsType": "FieldsV1",
				"fieldsV1": map[string]any{"f:metadata": map[string]any{"f:labels": map[string]any{"f:team": map[string]any{}}}}})
		},
		"claimed annotation": func(o map[string]any) {
			meta(o)["annotations"] = map[string]any{"claimed": "x"}
			e := meta(o)["managedFields"].([]any)[0].(map[string]any)["fieldsV1"].(map[string]any)["f:metadata"].(map[string]any)
			e["f:annotations"] = map[string]any{"f:claimed": map[string]any{}}
		},
	}
	var seeds []fuzzInput
	for _, target := range []string{"web-config", "api-config", "forged-config", "theirs-config", "stale-config", "done-config", "bye-config", "idle-config", "web-stray", "ghost-config"} {
		for _, name := range []string{"none", "owned field", "unowned field", "owned removed", "reset", "emptied", "entry removed", "entry shrunk", "entry taken by another manager", "label removed", "record label", "new annotation", "new label, another manager's entry"} {
			nu := object(target, fuzzManagedFields, changes[name])
			seeds = append(seeds,
				fuzzInput{op: seedUpdate, target: seedTarget(target), who: seedDeployer, manager: ownership.FieldManager, oldFields: []byte(fuzzManagedFields), newObj: nu},
				fuzzInput{op: seedUpdate, target: seedTarget(target), who: seedBob, manager: "kubectl-edit", oldFields: []byte(fuzzManagedFields), newObj: nu},
			)
		}
		seeds = append(seeds,
			fuzzInput{op: seedUpdate, target: seedTarget(target), who: seedBob, manager: ownership.FieldManager, oldFields: []byte(fuzzManagedFields), newObj: object(target, fuzzManagedFields, changes["owned field"])},
			fuzzInput{op: seedUpdate, target: seedTarget(target), who: seedDeployer, manager: "kubectl-edit", oldFields: []byte(fuzzManagedFields), newObj: object(target, fuzzManagedFields, changes["owned field"])},
			fuzzInput{op: seedUpdate, target: seedTarget(target), who: seedRoot, manager: "kubectl-edit", oldFields: []byte(fuzzManagedFields), newObj: object(target, fuzzManagedFields, changes["owned field"])},
			fuzzInput{op: seedUpdate, target: seedTarget(target), who: seedBob, flags: fuzzSubresource, manager: "kubectl-edit", oldFields: []byte(fuzzManagedFields), newObj: object(target, fuzzManagedFields, changes["owned field"])},
			fuzzInput{op: seedDelete, target: seedTarget(target), who: seedDeployer, oldFields: []byte(fuzzManagedFields)},
			fuzzInput{op: seedDelete, target: seedTarget(target), who: seedBob, oldFields: []byte(fuzzManagedFields)},
			fuzzInput{op: seedDelete, target: seedTarget(target), who: seedGC, oldFields: []byte(fuzzManagedFields)},
			fuzzInput{op: seedCreate, target: seedTarget(target), who: seedDeployer, manager: ownership.FieldManager, oldFields: []byte(`null`), newObj: object(target, fuzzManagedFields, nil)},
			fuzzInput{op: seedUpdate, target: seedTarget(target), who: seedBob, manager: "kubectl-edit", oldFields: []byte(`"garbage"`), newObj: object(target, fuzzManagedFields, changes["unowned field"])},
		)
	}

	// The Deployment: a container's image, the sidecar's, replicas.
	container := func(o map[string]any, i int) map[string]any {
		return o["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)["containers"].([]any)[i].(map[string]any)
	}
	for _, change := range []func(o map[string]any){
		nil,
		func(o map[string]any) { container(o, 0)["image"] = "evil:1" },
		func(o map[string]any) { container(o, 1)["image"] = "envoy:2" },
		func(o map[string]any) { o["spec"].(map[string]any)["replicas"] = int64(9) },
		func(o map[string]any) { container(o, 0)["name"] = "web2" },
		func(o map[string]any) { container(o, 0)["imagePullPolicy"] = "Always" },
	} {
		nu := object("web", fuzzDeploymentFields, change)
		for _, who := range []uint8{seedDeployer, seedBob, seedCarol} {
			manager := "kubectl-edit"
			if who == seedDeployer {
				manager = ownership.FieldManager
			}
			seeds = append(seeds, fuzzInput{op: seedUpdate, target: seedTarget("web"), who: who, manager: manager, oldFields: []byte(fuzzDeploymentFields), newObj: nu})
		}
	}

	// Heads: lock moves, data, deletes.
	headObj := func(release string, change func(cm *corev1.ConfigMap)) []byte {
		cm := fuzzReleases[release].head()
		if change != nil {
			change(cm)
		}
		b, err := json.Marshal(cm)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	web, idle := ownership.HeadName("web"), ownership.HeadName("idle")
	in := func(limit time.Duration) time.Time { return fuzzNow.Add(limit) }
	for _, s := range []struct {
		target string
		op     uint8
		who    uint8
		flags  uint8
		change func(cm *corev1.ConfigMap)
		rel    string
	}{
		{web, seedUpdate, seedDeployer, fuzzMayDeploy, func(cm *corev1.ConfigMap) { cm.Data["lock"] = fuzzLock("d", "op-web", in(2*time.Minute), false) }, "web"},
		{web, seedUpdate, seedDeployer, fuzzMayDeploy, func(cm *corev1.ConfigMap) { cm.Data["lock"] = fuzzLock("d", "op-web", in(time.Hour), false) }, "web"},
		{web, seedUpdate, seedBob, fuzzMayDeploy | fuzzMayUnlock, func(cm *corev1.ConfigMap) { cm.Data["lock"] = fuzzLock("b", "op-b", in(time.Minute), true) }, "web"},
		{web, seedUpdate, seedBob, fuzzMayDeploy | fuzzMayUnlock, func(cm *corev1.ConfigMap) { cm.Data["lock"] = fuzzLock("b", "op-b", in(time.Minute), false) }, "web"},
		{web, seedUpdate, seedBob, fuzzMayDeploy, func(cm *corev1.ConfigMap) { cm.Data["lock"] = fuzzLock("b", "op-b", in(time.Minute), true) }, "web"},
		{web, seedUpdate, seedBob, fuzzMayUnlock, func(cm *corev1.ConfigMap) { delete(cm.Data, "lock") }, "web"},
		{web, seedUpdate, seedDeployer, fuzzMayDeploy, func(cm *corev1.ConfigMap) { delete(cm.Data, "lock") }, "web"},
		{web, seedUpdate, seedDeployer, fuzzMayDeploy | fuzzAuthzFails, func(cm *corev1.ConfigMap) { delete(cm.Data, "lock") }, "web"},
		{web, seedUpdate, seedDeployer, 0, func(cm *corev1.ConfigMap) {
			cm.Data["revision"], cm.Data["record"] = "5", fuzzSeal("web", 5, fuzzDeployer, "pending-upgrade").JSON()
		}, "web"},
		{web, seedUpdate, seedDeployer, 0, func(cm *corev1.ConfigMap) { cm.Data["revision"] = "5" }, "web"},
		{web, seedUpdate, seedBob, 0, func(cm *corev1.ConfigMap) { cm.Data["inventory"] = "[]" }, "web"},
		{web, seedUpdate, seedBob, 0, func(cm *corev1.ConfigMap) { cm.Annotations[ownership.AnnotationLockUser] = "bob" }, "web"},
		{web, seedDelete, seedBob, 0, nil, "web"},
		{web, seedUpdate, seedDeployer, 0, func(cm *corev1.ConfigMap) { delete(cm.Labels, ownership.LabelRecord) }, "web"},
		{web, seedUpdate, seedDeployer, 0, func(cm *corev1.ConfigMap) { cm.Labels[ownership.LabelRecord] = ownership.RecordRevision }, "web"},
		{idle, seedUpdate, seedBob, fuzzMayDeploy, func(cm *corev1.ConfigMap) { cm.Data["lock"] = fuzzLock("b", "op-b", in(time.Minute), false) }, "idle"},
		{idle, seedUpdate, seedBob, 0, func(cm *corev1.ConfigMap) { cm.Data["lock"] = fuzzLock("b", "op-b", in(time.Minute), false) }, "idle"},
		{idle, seedUpdate, seedBob, fuzzMayDeploy, func(cm *corev1.ConfigMap) {
			cm.Data["lock"], cm.Data["inventory"] = fuzzLock("b", "op-b", in(time.Minute), false), "[]"
		}, "idle"},
		{idle, seedCreate, seedBob, fuzzMayDeploy, func(cm *corev1.ConfigMap) {
			cm.Data = map[string]string{"revision": "0", "deployed": "0", "status": "", "inventory": "[]", "lock": fuzzLock("b", "op-b", in(time.Minute), false)}
		}, "idle"},
		{ownership.HeadName("stale"), seedUpdate, seedBob, fuzzMayDeploy, func(cm *corev1.ConfigMap) { cm.Data["lock"] = fuzzLock("b", "op-b", in(time.Minute), false) }, "stale"},
		{ownership.HeadName("empty"), seedDelete, seedBob, 0, nil, "empty"},
		{ownership.HeadName("new"), seedUpdate, seedBob, fuzzMayDeploy | fuzzMayUnlock, func(cm *corev1.ConfigMap) {
			cm.Name, cm.Labels[ownership.LabelRelease], cm.Labels[ownership.LabelApplySetID] = ownership.HeadName("new"), "new", ownership.ApplySetID("new", fuzzNamespace)
			cm.Data = map[string]string{"revision": "0", "deployed": "0", "status": "", "inventory": "[]", "lock": fuzzLock("b", "op-b", in(time.Minute), false)}
		}, "idle"},
		{ownership.HeadName("new"), seedUpdate, seedBob, 0, func(cm *corev1.ConfigMap) {
			cm.Name, cm.Labels[ownership.LabelRelease], cm.Labels[ownership.LabelApplySetID] = ownership.HeadName("new"), "new", ownership.ApplySetID("new", fuzzNamespace)
			cm.Data = map[string]string{"revision": "1", "deployed": "0", "status": "uninstalling", "inventory": `[{"version":"v1","kind":"ConfigMap","namespace":"apps","name":"x"}]`,
				"lock": fuzzLock("b", "op-b", in(1000*time.Hour), false)}
		}, "idle"},
		{ownership.HeadName("new"), seedUpdate, seedBob, 0, func(cm *corev1.ConfigMap) {
			cm.Name, cm.Labels = ownership.HeadName("new"), map[string]string{ownership.LabelRecord: ownership.RecordHead}
			cm.Data = map[string]string{"revision": "1"}
		}, "idle"},
	} {
		var nu []byte
		if s.op != seedDelete {
			nu = headObj(s.rel, s.change)
		}
		seeds = append(seeds, fuzzInput{op: s.op, target: seedTarget(s.target), who: s.who, flags: s.flags, manager: ownership.FieldManager, oldFields: []byte(`[]`), newObj: nu})
	}

	// Records: the operation creating the next one, others trying.
	recordObj := func(rev, chunk int, change func(o map[string]any)) []byte {
		o := fuzzRecord("web", rev, chunk, "pending-upgrade", "mallory")
		delete(o["metadata"].(map[string]any), "annotations")
		if change != nil {
			change(o)
		}
		b, _ := json.Marshal(o)
		return b
	}
	v4 := ownership.RevisionName("web", 4)
	v4Obj := func(change func(o map[string]any)) []byte {
		o := runtime.DeepCopyJSON(fuzzTargets[seedTarget(v4)].old)
		if change != nil {
			change(o)
		}
		b, _ := json.Marshal(o)
		return b
	}
	labels := func(o map[string]any) map[string]any {
		return o["metadata"].(map[string]any)["labels"].(map[string]any)
	}
	annotations := func(o map[string]any) map[string]any {
		return o["metadata"].(map[string]any)["annotations"].(map[string]any)
	}
	seeds = append(seeds,
		fuzzInput{op: seedCreate, target: seedTarget(v4), who: seedDeployer, manager: ownership.FieldManager, oldFields: []byte(`[]`), newObj: recordObj(5, 0, nil)},
		fuzzInput{op: seedCreate, target: seedTarget(v4), who: seedDeployer, manager: ownership.FieldManager, oldFields: []byte(`[]`), newObj: recordObj(5, 1, nil)},
		fuzzInput{op: seedCreate, target: seedTarget(v4), who: seedBob, manager: ownership.FieldManager, oldFields: []byte(`[]`), newObj: recordObj(5, 0, nil)},
		fuzzInput{op: seedCreate, target: seedTarget(v4), who: seedDeployer, manager: ownership.FieldManager, oldFields: []byte(`[]`), newObj: recordObj(5, 0, func(o map[string]any) { o["type"] = "Opaque" })},
		fuzzInput{op: seedUpdate, target: seedTarget(v4), who: seedDeployer, manager: ownership.FieldManager, oldFields: []byte(`[]`), newObj: v4Obj(func(o map[string]any) { labels(o)[ownership.LabelStatus] = "deployed" })},
		fuzzInput{op: seedUpdate, target: seedTarget(v4), who: seedBob, manager: "kubectl-label", oldFields: []byte(`[]`), newObj: v4Obj(func(o map[string]any) { labels(o)[ownership.LabelStatus] = "deployed" })},
		fuzzInput{op: seedUpdate, target: seedTarget(v4), who: seedBob, manager: "kubectl-annotate", oldFields: []byte(`[]`), newObj: v4Obj(func(o map[string]any) { annotations(o)["example.com/x"] = "y" })},
		fuzzInput{op: seedUpdate, target: seedTarget(v4), who: seedDeployer, manager: ownership.FieldManager, oldFields: []byte(`[]`), newObj: v4Obj(func(o map[string]any) { annotations(o)[ownership.AnnotationAppliedBy] = "alice" })},
		fuzzInput{op: seedDelete, target: seedTarget(v4), who: seedBob, oldFields: []byte(`[]`)},
		fuzzInput{op: seedDelete, target: seedTarget(v4), who: seedDeployer, oldFields: []byte(`[]`)},
	)
	return seeds
}

// TestFuzzHandleSeeds: FuzzHandle's seeds reach the rules: the release's
// operation writes under web's sealed record and nowhere else, and the
// others are judged by the rules they are meant to exercise.
func TestFuzzHandleSeeds(t *testing.T) {
	seeds := fuzzSeeds(t)
	env := newFuzzEnv()
	reasons := map[string]int{}
	var allowed, denied, untouched int
	for i, in := range seeds {
		out, ok := env.run(in)
		if !ok {
			t.Errorf("seed %d is not a request the API server sends", i)
			continue
		}
		if out.untouched {
			untouched++
		}
		if msg := checkFuzzOutcome(out); msg != "" {
			t.Errorf("seed %d: %s (%s)", i, msg, resultMessage(out.resp))
		}
		if out.resp.Allowed {
			allowed++
		} else {
			denied++
			if r := out.resp.Result; r != nil && r.Details != nil && len(r.Details.Causes) > 0 {
				reasons[r.Details.Causes[0].Message]++
			}
		}
	}
	if allowed == 0 || denied == 0 {
		t.Errorf("%d seeds allowed, %d denied: want both", allowed, denied)
	}
	// The match condition's shortcut is checked against the full decision
	// on seeds of every release state.
	if untouched < 20 {
		t.Errorf("%d seeds cannot change anything owned (MayChangeOwned): want at least one per target and user", untouched)
	}

	// The decisive seeds, one by one.
	updateBy := func(target string, who uint8, manager string, change func(o map[string]any)) fuzzInput {
		b := fuzzTargetJSON(t, target, fuzzManagedFields, change)
		return fuzzInput{op: seedUpdate, target: seedTarget(target), who: who, manager: manager, oldFields: []byte(fuzzManagedFields), newObj: b}
	}
	owned := func(o map[string]any) { o["data"].(map[string]any)["k"] = "changed" }
	entryRemoved := func(o map[string]any) {
		m := o["metadata"].(map[string]any)
		m["managedFields"] = m["managedFields"].([]any)[1:]
	}
	cases := []struct {
		name    string
		in      fuzzInput
		allowed bool
		message string
	}{
		{"the operation under its sealed record", updateBy("web-config", seedDeployer, ownership.FieldManager, owned), true, ""},
		{"the operation without a record", updateBy("api-config", seedDeployer, ownership.FieldManager, owned), false, "the head names no record"},
		{"the operation under a forged seal", updateBy("forged-config", seedDeployer, ownership.FieldManager, owned), false, "not made by this webhook"},
		{"the operation under another user's record", updateBy("theirs-config", seedDeployer, ownership.FieldManager, owned), false, "recorded by user alice"},
		{"the operation under a head not pending", updateBy("done-config", seedDeployer, ownership.FieldManager, owned), false, "not pending"},
		{"the operation uninstalling writes without a record", updateBy("bye-config", seedDeployer, ownership.FieldManager, owned), false, "the head names no record"},
		{"an expired lock's user", updateBy("stale-config", seedDeployer, ownership.FieldManager, owned), false, "expired"},
		{"kubectl edit of an owned field", updateBy("web-config", seedBob, "kubectl-edit", owned), false, `data.k is owned by release web`},
		{"kubectl-chart's managedFields entry removed", updateBy("web-config", seedBob, "kubectl-edit", entryRemoved), false, "managedFields entry of manager kubectl-chart"},
		{"the lock holder with kubectl edit", updateBy("web-config", seedDeployer, "kubectl-edit", owned), false, "data.k is owned"},
		{"break-glass", updateBy("api-config", seedRoot, "kubectl-edit", owned), true, ""},
	}
	for _, c := range cases {
		out, ok := env.run(c.in)
		if !ok {
			t.Fatalf("%s: skipped", c.name)
		}
		if out.resp.Allowed != c.allowed || !strings.Contains(resultMessage(out.resp), c.message) {
			t.Errorf("%s: allowed %v (%s), want %v (%q)", c.name, out.resp.Allowed, resultMessage(out.resp), c.allowed, c.message)
		}
	}
	t.Logf("%d seeds: %d allowed (%d that cannot change anything owned), %d denied %v", len(seeds), allowed, untouched, denied, reasons)
}
