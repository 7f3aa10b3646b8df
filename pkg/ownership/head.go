package ownership

import (
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	"github.com/kubectl-chart/kubectl-chart/pkg/release/wire"
)

// LockChange is what a write of a release head does to its lock.
type LockChange int

// Lock changes.
const (
	// LockUnchanged: the lock is as it was.
	LockUnchanged LockChange = iota
	// LockTake: a lock is taken where none was live (or the head created).
	LockTake
	// LockRenew: the lock's user extends its own lock (same lock ID).
	LockRenew
	// LockTakeover: a live lock of another user, or of another operation,
	// is replaced (--force-unlock).
	LockTakeover
	// LockRelease: the lock's user drops its own lock.
	LockRelease
	// LockClear: another user's lock (live or expired) is dropped.
	LockClear
)

func (c LockChange) String() string {
	return [...]string{"unchanged", "take", "renew", "take over", "release", "clear"}[c]
}

// LockChangeOf classifies a write of a release head by user at now: old is
// the head before (nil on CREATE), new after (nil when unreadable).
func LockChangeOf(old, new *Head, user string, now time.Time) LockChange {
	oldLock, oldID, newLock := "", "", ""
	if old != nil {
		oldLock, oldID = old.LockData, old.LockID
	}
	if new != nil {
		newLock = new.LockData
	}
	own := old != nil && old.LockUser != "" && old.LockUser == user
	switch {
	case newLock == oldLock:
		return LockUnchanged
	case newLock == "" && own:
		return LockRelease
	case newLock == "":
		return LockClear
	case oldLock != "" && own && new.LockID != "" && new.LockID == oldID:
		return LockRenew
	case old.live(now):
		return LockTakeover
	}
	return LockTake
}

// Verbs are the verbs on the release (VerbDeploy, VerbUnlock) a user needs
// for c: the webhook asks a SubjectAccessReview for each before it decides.
func (c LockChange) Verbs() []string {
	switch c {
	case LockTake, LockRenew, LockRelease:
		return []string{VerbDeploy}
	case LockTakeover:
		return []string{VerbDeploy, VerbUnlock}
	case LockClear:
		return []string{VerbUnlock}
	}
	return nil
}

// HeadVerbs are the verbs DecideHead will consult for req (the heads as
// the webhook read them from req.Old and req.New).
func HeadVerbs(req Request, old, new *Head, now time.Time) []string {
	if req.Operation == OperationDelete || new == nil {
		return nil
	}
	return LockChangeOf(old, new, req.User, now).Verbs()
}

// DecideHead judges a write to a release head ConfigMap. old and new are
// the heads read from req.Old and req.New (nil when absent; the webhook
// passes a nil new when req.New is not a readable head, and the write is
// denied).
//
//   - A head is named HeadName of its release label, and keeps its record
//     label (the webhook reads heads by it).
//   - The lock (LockChangeOf): taking, renewing or releasing one's lock
//     needs VerbDeploy on the release; taking over a live lock needs
//     VerbDeploy and VerbUnlock and the lock's forced mark
//     (--force-unlock), and is recorded as an Event; clearing another
//     user's lock needs VerbUnlock (an Event too when it was live). The
//     expiry is capped at now + MaxLockTTL. A write that changes the lock
//     changes nothing else of the head (a CREATE makes an empty head).
//     The lock user is stamped (AnnotationLockUser = req.User) when a lock
//     is taken, removed when it is released; otherwise it keeps old's
//     value: clients never write it.
//   - Changes to the head's data (revision, status, inventory, record, …)
//     or to its identity labels: only by the holder of a live lock, and a
//     new revision only with the webhook's seal of that revision's record,
//     created by the holder (RecordSeal).
//   - DELETE: by the holder of a live lock (uninstall), the system
//     controllers (namespace deletion), and anyone for a head whose
//     inventory is empty and whose lock is not live.
//
// Break-glass users and groups pass what would be denied.
func DecideHead(cfg Config, req Request, old, new *Head) Decision {
	now := cfg.now()
	ref := req.Kind
	if req.Operation == OperationDelete {
		switch {
		case systemController(req.User):
			return allow(ReasonSystemController, "user "+req.User+" is a system controller")
		case old.heldBy(req.User, now):
			return allow(ReasonLockHolder, "from the running operation of "+old.describe())
		case old != nil && len(old.Inventory) == 0 && !old.live(now):
			return allow(ReasonNoRelease, fmt.Sprintf("%s owns no object and is not locked", old.describe()))
		}
		what := "a release head"
		if old != nil {
			what = "the head of " + old.describe() + ", and " + old.lockState(now)
		}
		release, ns := headRelease(old, req)
		return finish(cfg, req, deny(ReasonRecordDeleted, fmt.Sprintf("%s is %s; delete the release with: kubectl chart uninstall %s -n %s",
			ref, what, release, ns)))
	}
	if new == nil {
		return finish(cfg, req, deny(ReasonInvalidHead, fmt.Sprintf("%s is not a readable kubectl-chart release head", ref)))
	}
	if want := HeadName(new.Release); ref.Name != want {
		return finish(cfg, req, deny(ReasonReservedName, fmt.Sprintf("%s: a ConfigMap labelled %s=%s is the head of release %s and must be named %s",
			ref, LabelRecord, RecordHead, new.Release, want)))
	}
	// The record label is what makes the ConfigMap the head the webhook
	// reads (HeadSelector): without it the release would have no head and
	// nothing of it would be guarded, not even the ConfigMap. Nobody
	// changes it, the lock holder neither (the plugin never does).
	if v := labelOf(req.New, LabelRecord); req.Old != nil && v != labelOf(req.Old, LabelRecord) {
		path := FormatPath(fieldpath.MakePathOrDie("metadata", "labels", LabelRecord))
		return finish(cfg, req, deny(ReasonRecordLabelChanged, fmt.Sprintf("%s: %s makes the ConfigMap the head of release %s, which guards its objects: it cannot change",
			ref, path, new.Release), path))
	}

	change := LockChangeOf(old, new, req.User, now)
	d := decideLock(cfg, req, old, new, change, now)
	if !d.Allowed {
		return finish(cfg, req, d)
	}
	d.Patch = lockUserStamp(req, change)
	if change != LockUnchanged {
		// The lock moves alone: what the head says of the release is
		// written only under a lock already held.
		var fields []string
		if req.Old == nil {
			if new.Revision != 0 || new.Deployed != 0 || len(new.Inventory) > 0 || new.Record != nil {
				fields = []string{"data"}
			}
		} else {
			fields = headChanges(req.Old, req.New)
		}
		if len(fields) > 0 {
			return finish(cfg, req, deny(ReasonRecordDataChanged, fmt.Sprintf("%s: a write that changes the lock of release %s changes nothing else of its head, but this one changes %s; kubectl chart takes the lock first, then writes",
				ref, new.Release, listFields(fields)), fields...))
		}
		return d
	}
	if req.Old == nil {
		return finish(cfg, req, deny(ReasonNotLockHolder, fmt.Sprintf("%s: the head of release %s is created only with the lock of the operation that creates it; use kubectl chart install",
			ref, new.Release)))
	}
	if old.heldBy(req.User, now) {
		if new.Revision != old.Revision {
			if why := new.unrecorded(cfg, req.User); why != "" {
				return finish(cfg, req, deny(ReasonNoRecord, fmt.Sprintf("%s: revision %d of release %s is written into its head only after its record: %s",
					ref, new.Revision, new.Release, why)))
			}
		}
		d.Reason, d.Message = ReasonLockHolder, "from the running operation of "+old.describe()
		return d
	}
	if fields := headChanges(req.Old, req.New); len(fields) > 0 {
		state := "release " + new.Release + " has no head"
		if old != nil {
			state = old.lockState(now)
		}
		return finish(cfg, req, deny(ReasonRecordDataChanged, fmt.Sprintf("%s: %s of the head of %s %s written only by the release's running operation, and %s; use kubectl chart upgrade|rollback|uninstall %s -n %s",
			ref, listFields(fields), new.describe(), isAre(len(fields)), state, new.Release, new.Namespace), fields...))
	}
	return d
}

// decideLock judges the lock change of a head write: who may, and for how
// long.
func decideLock(cfg Config, req Request, old, new *Head, change LockChange, now time.Time) Decision {
	if change == LockUnchanged {
		return allow(ReasonNotOwned, "the lock of release "+new.Release+" is unchanged")
	}
	for _, verb := range change.Verbs() {
		if !req.may(verb) {
			return deny(ReasonNotAuthorized, fmt.Sprintf(
				"%s: user %s may not %s the lock of release %s in namespace %s: that needs verb %q on %s.%s/%s in namespace %s (ClusterRoles kubectl-chart-deployer, kubectl-chart-unlocker)",
				req.Kind, req.User, change, new.Release, new.Namespace, verb, ResourceReleases, APIGroup, new.Release, new.Namespace))
		}
	}
	if change == LockTakeover && !new.LockForced {
		return deny(ReasonLockHeld, fmt.Sprintf("%s: %s; take it over with --force-unlock", req.Kind, old.lockState(now)))
	}
	if (change == LockTake || change == LockRenew || change == LockTakeover) && new.LockExpires.After(cfg.maxExpiry()) {
		return deny(ReasonLockTooLong, fmt.Sprintf("%s: the lock of release %s would hold until %s, beyond the webhook's limit of %s from now",
			req.Kind, new.Release, new.LockExpires.UTC().Format(time.RFC3339), cfg.maxExpiry().Sub(cfg.now()).Round(time.Second)))
	}
	switch change {
	case LockTake:
		return allow(ReasonLockTaken, fmt.Sprintf("user %s holds the lock of release %s", req.User, new.Release))
	case LockRenew:
		return allow(ReasonLockRenewed, fmt.Sprintf("user %s renewed the lock of release %s", req.User, new.Release))
	case LockRelease:
		return allow(ReasonLockReleased, fmt.Sprintf("the lock of release %s is released", new.Release))
	}
	// A takeover or a clear: say whose lock went.
	verb := "cleared"
	if change == LockTakeover {
		verb = "took over"
	}
	d := allow(ReasonLockTakenOver, fmt.Sprintf("user %s %s: %s", req.User, verb, old.lockState(now)))
	if change == LockTakeover || old.live(now) {
		d.Event = EventLockTakenOver
		d.Warnings = append(d.Warnings, d.Message)
	}
	return d
}

// HeadStamp is the patch that makes the lock-user annotation of a head
// right (see DecideHead): what the mutating webhook answers.
func HeadStamp(req Request, old, new *Head, now time.Time) []PatchOp {
	if new == nil {
		return nil
	}
	return lockUserStamp(req, LockChangeOf(old, new, req.User, now))
}

// lockUserStamp is the patch that makes the lock-user annotation of the
// new head right: req.User for a lock taken, renewed or taken over, none
// for a lock released or cleared, and the old value otherwise.
func lockUserStamp(req Request, change LockChange) []PatchOp {
	switch change {
	case LockTake, LockRenew, LockTakeover:
		return setAnnotation(req.New, AnnotationLockUser, req.User)
	case LockRelease, LockClear:
		return removeAnnotation(req.New, AnnotationLockUser)
	}
	if v, ok := annotationOf(req.Old, AnnotationLockUser); ok && hasDataKey(req.New, wire.HeadKeyLock) {
		return setAnnotation(req.New, AnnotationLockUser, v)
	}
	return removeAnnotation(req.New, AnnotationLockUser)
}

// hasDataKey tells whether u has data key k.
func hasDataKey(u *unstructured.Unstructured, k string) bool {
	if u == nil {
		return false
	}
	data, _ := u.Object["data"].(map[string]any)
	_, ok := data[k]
	return ok
}
