package release

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/kubectl-chart/kubectl-chart/pkg/chart"
	"github.com/kubectl-chart/kubectl-chart/pkg/release/wire"
)

// Status is the status of a revision; its values, IsPending, Known and
// the move table (CanMove) are the wire format's (package wire).
type Status = wire.Status

// Statuses.
const (
	StatusPendingInstall  = wire.StatusPendingInstall
	StatusPendingUpgrade  = wire.StatusPendingUpgrade
	StatusPendingRollback = wire.StatusPendingRollback
	StatusDeployed        = wire.StatusDeployed
	StatusFailed          = wire.StatusFailed
	StatusSuperseded      = wire.StatusSuperseded
	StatusUninstalling    = wire.StatusUninstalling
	StatusUninstalled     = wire.StatusUninstalled
)

// ObjectRef names one object of a release's inventory (package wire's,
// which the webhook reads too).
type ObjectRef = wire.ObjectRef

// ChartInfo is what a revision keeps of the chart (not its files).
type ChartInfo struct {
	Name       string `json:"name"`
	Version    string `json:"version"`
	AppVersion string `json:"appVersion,omitempty"`
	// Annotations are the annotations of the chart's Chart.yaml (get
	// metadata prints them). Absent from records written before they were
	// kept.
	Annotations map[string]string `json:"annotations,omitempty"`
	// Dependencies are the chart's dependencies as rendering left them, as
	// Helm stores them: disabled ones removed, an alias as the name, Enabled
	// set (get metadata prints them). Absent from records written before
	// they were kept.
	Dependencies []*chart.Dependency `json:"dependencies,omitempty"`
	ChartOrigin
}

// ChartOrigin is where a chart came from, so that history and status can say
// it and an upgrade can take the same chart again.
type ChartOrigin struct {
	// Source is where the chart was loaded from: a path, the URL of the
	// archive in a repository, or an OCI reference with its tag.
	Source string `json:"source,omitempty"`
	// Reference is the chart as the user named it (./web, repo/web,
	// oci://host/charts/web, https://…/web-1.0.0.tgz).
	Reference string `json:"reference,omitempty"`
	// RepoURL is the repository given with --repo, if any.
	RepoURL string `json:"repoURL,omitempty"`
	// Digest is the sha256 digest of the archive (of the manifest, for OCI).
	Digest string `json:"digest,omitempty"`
}

// Hook is a hook of a revision, as rendered.
type Hook struct {
	Name           string   `json:"name"`
	Kind           string   `json:"kind"`
	Path           string   `json:"path"`
	Manifest       string   `json:"manifest"`
	Events         []string `json:"events"`
	Weight         int      `json:"weight"`
	DeletePolicies []string `json:"deletePolicies,omitempty"`
}

// Revision is one revision record. Its content is written once; only its
// status (a label) moves afterwards.
type Revision struct {
	Name      string    `json:"name"`
	Namespace string    `json:"namespace"`
	Revision  int       `json:"revision"`
	Status    Status    `json:"-"`
	Chart     ChartInfo `json:"chart"`
	// Labels are the release labels of this revision (Helm 4's release
	// labels): install --labels as given, upgrade's merged into those of
	// the release's last revision, a rollback's those of the revision it
	// goes back to. The head keeps a copy (HeadKeyLabels) for list
	// --selector. Nil when none.
	Labels map[string]string `json:"labels,omitempty"`
	// Values are the values the user supplied (not the chart's defaults).
	Values map[string]any `json:"values,omitempty"`
	// ComputedValues are the values the templates saw: the chart's defaults
	// (and its subcharts') coalesced with Values. get values --all prints
	// them, and upgrade --reuse-values starts from them, as Helm does from
	// the previous chart. Absent from records written before they were kept.
	ComputedValues map[string]any `json:"computedValues,omitempty"`
	// Manifest is the rendered manifest with `# Source:` lines (templates
	// only).
	Manifest string `json:"manifest"`
	// CRDs are the files of the chart's crds/ folders, with `# Source:`
	// lines. Like Helm, they are shared (not labelled for the release, not
	// in its inventory, never deleted), but unlike Helm they are applied on
	// every upgrade.
	CRDs  string `json:"crds,omitempty"`
	Hooks []Hook `json:"hooks,omitempty"`
	Notes string `json:"notes,omitempty"`
	// Inventory is every object this revision applies (hooks excluded).
	Inventory   []ObjectRef `json:"inventory"`
	Description string      `json:"description,omitempty"`
	// Operation is install, upgrade or rollback (or export-helm: the revision
	// that records a release handed back to Helm).
	Operation string    `json:"operation"`
	Started   time.Time `json:"started"`
	// AppliedBy is the user that created the record, as stamped by the
	// webhook (empty without it). Read-only: set from the record's annotation.
	AppliedBy string `json:"-"`
	// Seal is the webhook's seal of the record (ownership.RecordSeal as
	// JSON; empty without the webhook). Read-only: set from the record's
	// annotation when it is created or read.
	Seal string `json:"-"`
	// Updated is when the status last moved (from the record's metadata).
	Updated time.Time `json:"-"`
	// Finished is when the revision's operation ended: its status moved
	// from pending-* to deployed or failed (AnnotationFinished); zero while
	// pending, and in records written before it was kept or with their
	// final status (import-helm).
	Finished time.Time `json:"-"`
	// StatusMoved tells that the status moved since the record was written
	// (Updated is that move's time, not the record's creation): an
	// operation's record moved to deployed or failed says when it ended.
	StatusMoved bool `json:"-"`
	// Test is the result of the revision's last test run (`kubectl chart
	// test`), nil when never tested; read-only, from the record's
	// wire.AnnotationTest.
	Test *wire.TestResult `json:"-"`
	// FailedHook is the hook event whose hook failed the revision
	// (Outcome.FailedHook); read-only, from the record's annotation.
	FailedHook string `json:"-"`
}

// Lock is an operation's hold on a release. Its JSON is wire.Lock's (the
// User aside, which is not stored in it); MarshalJSON and UnmarshalJSON
// go through wire.Lock.
type Lock struct {
	// Holder is user@host (pid N): who runs the operation, as the client says.
	Holder    string
	Operation string
	Started   time.Time
	Renewed   time.Time
	Expires   time.Time
	// ID is a random token identifying this holder.
	ID string
	// Forced is set when the lock was taken over from a live one
	// (--force-unlock): the webhook lets only users authorised to unlock
	// the release do that.
	Forced bool
	// User is the server-verified user (the webhook's lock-user stamp);
	// read-only, never stored in the lock's JSON.
	User string
}

// Wire is l as stored (without User).
func (l Lock) Wire() wire.Lock {
	return wire.Lock{Holder: l.Holder, Operation: l.Operation, Started: l.Started, Renewed: l.Renewed,
		Expires: l.Expires, ID: l.ID, Forced: l.Forced}
}

// MarshalJSON writes l as wire.Lock.
func (l Lock) MarshalJSON() ([]byte, error) { return json.Marshal(l.Wire()) }

// UnmarshalJSON reads l from wire.Lock's JSON; User is left as it was.
func (l *Lock) UnmarshalJSON(b []byte) error {
	var w wire.Lock
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	l.Holder, l.Operation, l.Started, l.Renewed, l.Expires, l.ID, l.Forced =
		w.Holder, w.Operation, w.Started, w.Renewed, w.Expires, w.ID, w.Forced
	return nil
}

// Expired tells whether the lock no longer holds at time now.
func (l *Lock) Expired(now time.Time) bool { return l == nil || !now.Before(l.Expires) }

// Head is the release head: ApplySet parent, current revision, inventory,
// lock.
type Head struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
	// Revision is the last revision created (whatever its status).
	Revision int `json:"revision"`
	// Deployed is the revision currently deployed (0 when none).
	Deployed int    `json:"deployed"`
	Status   Status `json:"status"`
	// Inventory is every object the release may own: during an operation,
	// the union of the old and new revisions' inventories, so that a crash
	// never orphans an object.
	Inventory []ObjectRef `json:"inventory"`
	Lock      *Lock       `json:"lock,omitempty"`
	// Record is the seal of Revision's record (Revision.Seal), which the
	// webhook checks before the operation writes objects; empty without
	// the webhook.
	Record string `json:"record,omitempty"`
	// Chart is the chart of Revision (nil in heads written before it was
	// kept): the webhook's release metrics name it without reading a
	// record.
	Chart *ChartRef `json:"chart,omitempty"`
	// Labels are the release labels of Revision (Revision.Labels), kept
	// on the head (HeadKeyLabels) so that list filters by them without
	// reading records; nil when none, and in heads written before they
	// were kept.
	Labels map[string]string `json:"labels,omitempty"`
	// ResourceVersion of the head ConfigMap, for optimistic concurrency.
	ResourceVersion string `json:"-"`
}

// Outcome is how an operation ended, as its revision's record keeps it.
type Outcome struct {
	// Status is the revision's final status.
	Status Status
	// Description replaces the record's description unless empty.
	Description string
	// FailedHook is the hook event (pre-upgrade, …) whose hook made the
	// revision fail (wire.AnnotationFailedHook), empty otherwise.
	FailedHook string

	// statusOnly: a status move that is not an operation's end (SetStatus:
	// superseded, or a record import-helm writes as Helm left it), which
	// records no AnnotationFinished.
	statusOnly bool
}

// ChartRef is the chart of a head's revision (package wire's).
type ChartRef = wire.ChartRef

// SetRevision makes r the head's revision: its number, its record's seal,
// its chart and its labels. The status and inventory are the caller's to
// set.
func (h *Head) SetRevision(r *Revision) {
	h.Revision = r.Revision
	h.Record = r.Seal
	h.Chart = &ChartRef{Name: r.Chart.Name, Version: r.Chart.Version, AppVersion: r.Chart.AppVersion}
	h.Labels = maps.Clone(r.Labels)
}

// Errors callers branch on.
var (
	// ErrNotFound: no such release or revision.
	ErrNotFound = errors.New("release: not found")
	// ErrConflict: the head changed since it was read (optimistic concurrency).
	ErrConflict = errors.New("release: changed concurrently")
)

// LockedError says another operation holds the release.
type LockedError struct {
	Release string
	Lock    Lock
}

func (e *LockedError) Error() string {
	who := e.Lock.Holder
	if e.Lock.User != "" {
		who = fmt.Sprintf("%s (user %s)", e.Lock.Holder, e.Lock.User)
	}
	return fmt.Sprintf("release %s is locked by %s running %s since %s; the lock expires at %s (in %s) unless renewed; use --force-unlock to take it now",
		e.Release, who, e.Lock.Operation, e.Lock.Started.Format(time.RFC3339), e.Lock.Expires.Format(time.RFC3339),
		time.Until(e.Lock.Expires).Round(time.Second))
}

// Store keeps releases. The Kubernetes implementation writes the head
// ConfigMap and revision Secrets; the in-memory one serves unit tests.
type Store interface {
	// Head reads a release's head; ErrNotFound when there is none.
	Head(ctx context.Context, namespace, name string) (*Head, error)
	// Acquire takes the lock for an operation, creating the head if needed.
	// It fails with *LockedError when a live lock is held by someone else,
	// unless force. It returns the head as locked.
	Acquire(ctx context.Context, namespace, name, operation string, force bool) (*Head, error)
	// UpdateHead writes the head (inventory, revision, status) while the
	// lock is held; ErrConflict when the head changed meanwhile.
	UpdateHead(ctx context.Context, h *Head) error
	// Release drops the lock held by h.
	Release(ctx context.Context, h *Head) error
	// Renew extends the lock held by h.
	Renew(ctx context.Context, h *Head) error
	// DeleteHead removes the head (uninstall without --keep-history).
	DeleteHead(ctx context.Context, h *Head) error

	// CreateRevision writes a new revision record (status in r.Status).
	CreateRevision(ctx context.Context, r *Revision) error
	// SetStatus moves a revision's status forward.
	SetStatus(ctx context.Context, namespace, name string, revision int, status Status) error
	// SetOutcome moves a revision's status forward, as SetStatus, and
	// records the outcome's description (why it failed, that it was
	// uninstalled), which Revision and History return from then on. An
	// empty description keeps the one written with the record.
	SetOutcome(ctx context.Context, namespace, name string, revision int, o Outcome) error
	// Revision reads one revision; ErrNotFound when it does not exist.
	Revision(ctx context.Context, namespace, name string, revision int) (*Revision, error)
	// History lists a release's revisions, oldest first.
	History(ctx context.Context, namespace, name string) ([]*Revision, error)
	// SetAnnotations sets annotations on a revision record (an empty value
	// removes one), such as a test run's result; its data and status stay.
	SetAnnotations(ctx context.Context, namespace, name string, revision int, annotations map[string]string) error
	// DeleteRevision removes a revision record (history-max, uninstall).
	DeleteRevision(ctx context.Context, namespace, name string, revision int) error
	// List lists heads in a namespace ("" for all namespaces).
	List(ctx context.Context, namespace string) ([]*Head, error)
}
