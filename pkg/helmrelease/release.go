package helmrelease

import (
	"encoding/json"
	"time"

	"github.com/kubectl-chart/kubectl-chart/pkg/chart"
)

// Statuses as Helm writes them (helm.sh/helm pkg/release/common, Helm 3's
// pkg/release): the "status" of a record's Info and its storage object's
// "status" label.
const (
	StatusUnknown         = "unknown"
	StatusDeployed        = "deployed"
	StatusUninstalled     = "uninstalled"
	StatusSuperseded      = "superseded"
	StatusFailed          = "failed"
	StatusUninstalling    = "uninstalling"
	StatusPendingInstall  = "pending-install"
	StatusPendingUpgrade  = "pending-upgrade"
	StatusPendingRollback = "pending-rollback"
)

// Apply methods of Helm 4 (Release.ApplyMethod); empty means client-side
// apply, which is all Helm 3 does.
const (
	ApplyMethodClientSide = "csa"
	ApplyMethodServerSide = "ssa"
)

// Hook phases (HookExecution.Phase).
const (
	HookPhaseUnknown   = "Unknown"
	HookPhaseRunning   = "Running"
	HookPhaseSucceeded = "Succeeded"
	HookPhaseFailed    = "Failed"
)

// Release is Helm's release record (Helm 3 and 4, pkg/release/v1), as its
// JSON reads. Field order and JSON names are Helm 4's, so that a record Helm
// 4 wrote is written back byte for byte.
type Release struct {
	Name  string `json:"name,omitempty"`
	Info  *Info  `json:"info,omitempty"`
	Chart *Chart `json:"chart,omitempty"`
	// Config are the user-supplied values.
	Config   map[string]any `json:"config,omitempty"`
	Manifest string         `json:"manifest,omitempty"`
	Hooks    []*Hook        `json:"hooks,omitempty"`
	// Version is the revision.
	Version   int    `json:"version,omitempty"`
	Namespace string `json:"namespace,omitempty"`
	// ApplyMethod is Helm 4's: "ssa" or "csa"; empty from Helm 3 (which
	// Helm 4 takes as client-side apply).
	ApplyMethod string `json:"apply_method,omitempty"`
	// Labels are the storage object's labels other than Helm's system
	// labels (name, owner, status, version, createdAt, modifiedAt): Helm
	// 4's --labels. Not part of the JSON.
	Labels map[string]string `json:"-"`
}

// Status is the release's status (r.Info.Status), "" when it has no Info.
func (r *Release) Status() string {
	if r == nil || r.Info == nil {
		return ""
	}
	return r.Info.Status
}

// Pending tells whether an operation on the release is (or was left)
// under way: a pending-install, pending-upgrade or pending-rollback status,
// as Helm's Status.IsPending says (not uninstalling).
func (r *Release) Pending() bool {
	switch r.Status() {
	case StatusPendingInstall, StatusPendingUpgrade, StatusPendingRollback:
		return true
	}
	return false
}

// Info is a release's information (Helm's release v1 Info). Zero times are
// left out when writing, as Helm 4 does; reading takes them absent, null,
// "" (Helm 3 writes zero times so) or "0001-01-01T00:00:00Z".
type Info struct {
	FirstDeployed time.Time `json:"first_deployed,omitzero"`
	LastDeployed  time.Time `json:"last_deployed,omitzero"`
	// Deleted is when an uninstall started.
	Deleted     time.Time `json:"deleted,omitzero"`
	Description string    `json:"description,omitempty"`
	Status      string    `json:"status,omitempty"`
	// RollbackRevision is the revision a rollback went back to (Helm 4
	// only; 0 when not a rollback).
	RollbackRevision int    `json:"rollback_revision,omitempty"`
	Notes            string `json:"notes,omitempty"`
	// Resources is Helm's map of deployed objects, kept as its JSON. Helm
	// fills it for display and never stores it; it is here only so that a
	// record holding it is written back whole.
	Resources json.RawMessage `json:"resources,omitempty"`
}

// UnmarshalJSON reads Info as Helm 3 and Helm 4 write it.
func (i *Info) UnmarshalJSON(b []byte) error {
	var w struct {
		FirstDeployed    jsonTime        `json:"first_deployed"`
		LastDeployed     jsonTime        `json:"last_deployed"`
		Deleted          jsonTime        `json:"deleted"`
		Description      string          `json:"description"`
		Status           string          `json:"status"`
		RollbackRevision int             `json:"rollback_revision"`
		Notes            string          `json:"notes"`
		Resources        json.RawMessage `json:"resources"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*i = Info{
		FirstDeployed:    w.FirstDeployed.Time,
		LastDeployed:     w.LastDeployed.Time,
		Deleted:          w.Deleted.Time,
		Description:      w.Description,
		Status:           w.Status,
		RollbackRevision: w.RollbackRevision,
		Notes:            w.Notes,
		Resources:        nullToNil(w.Resources),
	}
	return nil
}

// Chart is the chart a release was made from, as Helm stores it (chart v2's
// JSON): its own files, without its subcharts (which Helm does not store).
type Chart struct {
	Metadata *Metadata `json:"metadata"`
	// Lock is Chart.lock, kept as its JSON (null when none).
	Lock      json.RawMessage `json:"lock"`
	Templates []*File         `json:"templates"`
	// Values are the chart's default values (values.yaml).
	Values map[string]any `json:"values"`
	// Schema is values.schema.json.
	Schema []byte `json:"schema"`
	// SchemaModTime is Helm 4's (always written, zero when unknown); Helm
	// 3 ignores it.
	SchemaModTime time.Time `json:"schemamodtime"`
	Files         []*File   `json:"files"`
	// ModTime is Helm 4's, written when not zero.
	ModTime time.Time `json:"modtime,omitzero"`
}

// UnmarshalJSON reads a chart; a null lock reads as none.
func (c *Chart) UnmarshalJSON(b []byte) error {
	type plain Chart
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	p.Lock = nullToNil(p.Lock)
	*c = Chart(p)
	return nil
}

// Metadata, Maintainer and Dependency are Chart.yaml as Helm stores it
// (chart v2's Metadata): the same JSON as our chart model's.
type (
	Metadata   = chart.Metadata
	Maintainer = chart.Maintainer
	Dependency = chart.Dependency
)

// File is a file of a stored chart, its path relative to the chart root.
type File struct {
	Name string `json:"name"`
	Data []byte `json:"data"`
	// ModTime is Helm 4's, written when not zero.
	ModTime time.Time `json:"modtime,omitzero"`
}

// Hook is a hook of a release, as rendered, and how it last ran.
type Hook struct {
	Name string `json:"name,omitempty"`
	// Kind is the Kubernetes kind.
	Kind string `json:"kind,omitempty"`
	// Path is the template's path ("mychart/templates/job.yaml").
	Path     string `json:"path,omitempty"`
	Manifest string `json:"manifest,omitempty"`
	// Events are the hook's events (pre-install, post-upgrade, test, …).
	Events  []string      `json:"events,omitempty"`
	LastRun HookExecution `json:"last_run"`
	Weight  int           `json:"weight,omitempty"`
	// DeletePolicies are hook-succeeded, hook-failed, before-hook-creation.
	DeletePolicies []string `json:"delete_policies,omitempty"`
	// OutputLogPolicies are hook-succeeded, hook-failed.
	OutputLogPolicies []string `json:"output_log_policies,omitempty"`
}

// HookExecution is how a hook last ran. Zero times are left out when
// writing (Helm 4) and read from "" (Helm 3) as from their absence.
type HookExecution struct {
	StartedAt   time.Time `json:"started_at,omitzero"`
	CompletedAt time.Time `json:"completed_at,omitzero"`
	// Phase is one of the HookPhase constants; "" for a hook never run.
	Phase string `json:"phase"`
}

// UnmarshalJSON reads a hook execution as Helm 3 and Helm 4 write it.
func (h *HookExecution) UnmarshalJSON(b []byte) error {
	var w struct {
		StartedAt   jsonTime `json:"started_at"`
		CompletedAt jsonTime `json:"completed_at"`
		Phase       string   `json:"phase"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*h = HookExecution{StartedAt: w.StartedAt.Time, CompletedAt: w.CompletedAt.Time, Phase: w.Phase}
	return nil
}

// jsonTime reads a time as Helm does: null and "" are the zero time (Helm
// 3's pkg/time writes zero times as "", Helm 4 reads them so).
type jsonTime struct{ time.Time }

func (t *jsonTime) UnmarshalJSON(b []byte) error {
	if s := string(b); s == "null" || s == `""` {
		t.Time = time.Time{}
		return nil
	}
	return t.Time.UnmarshalJSON(b)
}

// nullToNil is raw, or nil when it is JSON's null.
func nullToNil(raw json.RawMessage) json.RawMessage {
	if string(raw) == "null" {
		return nil
	}
	return raw
}
