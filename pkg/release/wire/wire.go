package wire

import (
	"slices"
	"time"
)

// ObjectRef names one object: an entry of a release's inventory (the head's
// data key inventory and a revision's record), and the object of an
// admission request.
type ObjectRef struct {
	Group     string `json:"group,omitempty"`
	Version   string `json:"version,omitempty"`
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
}

// String is Kind.group/namespace/name (Kind/name for cluster-scoped
// objects), as errors and messages name objects.
func (r ObjectRef) String() string {
	kind := r.Kind
	if r.Group != "" {
		kind += "." + r.Group
	}
	if r.Namespace == "" {
		return kind + "/" + r.Name
	}
	return kind + "/" + r.Namespace + "/" + r.Name
}

// Key identifies the object whatever its version.
func (r ObjectRef) Key() string { return r.Group + "/" + r.Kind + "/" + r.Namespace + "/" + r.Name }

// Keys of the head ConfigMap's data.
const (
	// HeadKeyRevision is the last revision created (decimal).
	HeadKeyRevision = "revision"
	// HeadKeyDeployed is the revision deployed (decimal; 0 when none).
	HeadKeyDeployed = "deployed"
	// HeadKeyStatus is the release's Status.
	HeadKeyStatus = "status"
	// HeadKeyInventory is every object the release may own ([]ObjectRef as
	// JSON).
	HeadKeyInventory = "inventory"
	// HeadKeyLock holds the Lock as JSON; absent when the release is
	// unlocked.
	HeadKeyLock = "lock"
	// HeadKeyRecord holds the webhook's seal of the revision record the
	// head's revision names (ownership.RecordSeal, JSON): the proof the
	// webhook asks for before it lets the operation write objects. Absent
	// without the webhook.
	HeadKeyRecord = "record"
	// HeadKeyLabels holds the release labels of the head's revision
	// (install/upgrade --labels, Helm 4's release labels) as a JSON object
	// of strings; absent when the revision has none. They are a copy of the
	// revision record's "labels" (written once, with the record), kept on
	// the head so that `kubectl chart list --selector` filters releases
	// without reading a record. They are data, not the ConfigMap's labels:
	// a user's key can never collide with, or pass for, the labels that make
	// the ConfigMap a head.
	HeadKeyLabels = "labels"
)

// Lock is an operation's hold on a release, as stored under HeadKeyLock.
// The server-verified user is not part of it: the webhook stamps it in an
// annotation (ownership.AnnotationLockUser).
type Lock struct {
	// Holder is user@host (pid N): who runs the operation, as the client
	// says; for messages only, never trusted.
	Holder string `json:"holder"`
	// Operation is install, upgrade, rollback or uninstall.
	Operation string    `json:"operation"`
	Started   time.Time `json:"started"`
	Renewed   time.Time `json:"renewed"`
	// Expires is when the lock stops holding unless renewed.
	Expires time.Time `json:"expires"`
	// ID is a random token identifying this holder (a new one for every
	// operation).
	ID string `json:"id"`
	// Forced is set when the lock was taken over from a live one
	// (--force-unlock): the webhook lets only users authorised to unlock
	// the release do that.
	Forced bool `json:"forced,omitempty"`
}

// Status is the status of a revision (its record's status label, and the
// head's HeadKeyStatus). It only moves forward, along CanMove's table.
type Status string

// Statuses.
const (
	StatusPendingInstall  Status = "pending-install"
	StatusPendingUpgrade  Status = "pending-upgrade"
	StatusPendingRollback Status = "pending-rollback"
	StatusDeployed        Status = "deployed"
	StatusFailed          Status = "failed"
	StatusSuperseded      Status = "superseded"
	StatusUninstalling    Status = "uninstalling"
	StatusUninstalled     Status = "uninstalled"
)

// IsPending tells whether an operation was under way (uninstalling
// included).
func (s Status) IsPending() bool {
	return s == StatusPendingInstall || s == StatusPendingUpgrade || s == StatusPendingRollback || s == StatusUninstalling
}

// Known tells whether s is one of the statuses above.
func (s Status) Known() bool {
	_, ok := moves[s]
	return ok
}

// moves is the table of forward status moves: from → the statuses it may
// move to. A revision's record is written once; its status label only moves
// along these edges, never back (DESIGN.md, "Releases").
var moves = map[Status][]Status{
	// An operation under way ends deployed or failed; an uninstall may
	// start over it (a crashed install is uninstalled).
	StatusPendingInstall:  {StatusDeployed, StatusFailed, StatusUninstalling, StatusUninstalled},
	StatusPendingUpgrade:  {StatusDeployed, StatusFailed, StatusUninstalling, StatusUninstalled},
	StatusPendingRollback: {StatusDeployed, StatusFailed, StatusUninstalling, StatusUninstalled},
	// A deployed revision is superseded by a newer one, or uninstalled.
	StatusDeployed: {StatusSuperseded, StatusUninstalling, StatusUninstalled},
	// Final outcomes move only to uninstalled.
	StatusFailed:     {StatusUninstalling, StatusUninstalled},
	StatusSuperseded: {StatusUninstalling, StatusUninstalled},
	// An uninstall ends uninstalled, or failed when it could not finish.
	StatusUninstalling: {StatusUninstalled, StatusFailed},
	StatusUninstalled:  nil,
}

// CanMove tells whether a revision's status may move from one status to
// another: pending-* → deployed | failed, deployed → superseded, and any
// status but uninstalled → uninstalling | uninstalled. Staying in place is
// not a move (the store treats it as a no-op, the webhook as no change);
// unknown statuses never move.
func CanMove(from, to Status) bool { return slices.Contains(moves[from], to) }
