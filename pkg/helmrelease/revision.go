package helmrelease

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/kubectl-chart/kubectl-chart/pkg/chart"
	"github.com/kubectl-chart/kubectl-chart/pkg/release"
	"github.com/kubectl-chart/kubectl-chart/pkg/render"
	"github.com/kubectl-chart/kubectl-chart/pkg/values"
)

// Operations of a kubectl-chart revision (release.Revision.Operation).
const (
	OperationInstall  = "install"
	OperationUpgrade  = "upgrade"
	OperationRollback = "rollback"
)

// Descriptions Helm gives a revision when the user gives none, from which
// the operation is inferred.
const (
	descInstall        = "Install complete"
	descRollbackPrefix = "Rollback to "
)

// ToRevision is r as a kubectl-chart revision record:
//
//   - Name, Namespace, Revision (r.Version) and Status (Helm's, which is
//     ours; "unknown" or any other is an error);
//   - the chart's name, version, appVersion, annotations and dependencies
//     (a record without chart metadata is an error);
//   - Labels: the release labels (r.Labels, Helm 4's --labels);
//   - Values = r.Config, and ComputedValues = r.Config coalesced over the
//     stored chart's values, as `helm get values --all` computes them (the
//     stored chart has no subcharts);
//   - Manifest, Hooks (what our Hook keeps of Helm's), Notes, and
//     Description as Helm wrote it (the caller says it was imported);
//   - Started = LastDeployed (FirstDeployed when that is zero);
//   - Operation inferred: install for version 1 or the description
//     "Install complete", rollback for Helm 4's RollbackRevision or a
//     description starting "Rollback to ", else upgrade.
//
// Inventory and CRDs are left empty: the caller decodes the manifest, and
// Helm keeps no CRD text.
func ToRevision(r *Release) (*release.Revision, error) {
	if r == nil {
		return nil, errors.New("no helm release record")
	}
	id := fmt.Sprintf("helm release %s version %d", r.Name, r.Version)
	if r.Name == "" || r.Version <= 0 {
		return nil, fmt.Errorf("%s: the record has no name or version", id)
	}
	status := release.Status(r.Status())
	if !status.Known() {
		return nil, fmt.Errorf("%s: status %q is not one kubectl chart can adopt", id, r.Status())
	}
	if r.Chart == nil || r.Chart.Metadata == nil || r.Chart.Metadata.Name == "" {
		return nil, fmt.Errorf("%s: the record has no chart metadata", id)
	}
	md := r.Chart.Metadata
	ch := &chart.Chart{Metadata: &chart.Metadata{Name: md.Name, Version: md.Version}, Values: r.Chart.Values}
	computed, err := render.CoalesceValues(ch, r.Config, func(string, ...any) {})
	if err != nil {
		return nil, fmt.Errorf("%s: compute values: %w", id, err)
	}
	var vals map[string]any
	if r.Config != nil {
		vals = values.DeepCopy(r.Config)
	}
	rev := &release.Revision{
		Name:      r.Name,
		Namespace: r.Namespace,
		Revision:  r.Version,
		Status:    status,
		Chart: release.ChartInfo{Name: md.Name, Version: md.Version, AppVersion: md.AppVersion,
			Annotations: maps.Clone(md.Annotations), Dependencies: md.Copy().Dependencies},
		Labels:         maps.Clone(r.Labels),
		Values:         vals,
		ComputedValues: computed,
		Manifest:       r.Manifest,
		Operation:      operation(r),
	}
	if info := r.Info; info != nil {
		rev.Notes = info.Notes
		rev.Description = info.Description
		rev.Started = info.LastDeployed
		if rev.Started.IsZero() {
			rev.Started = info.FirstDeployed
		}
	}
	for _, h := range r.Hooks {
		if h == nil {
			continue
		}
		rev.Hooks = append(rev.Hooks, release.Hook{
			Name: h.Name, Kind: h.Kind, Path: h.Path, Manifest: h.Manifest,
			Events: slices.Clone(h.Events), Weight: h.Weight, DeletePolicies: slices.Clone(h.DeletePolicies),
		})
	}
	return rev, nil
}

// operation infers what made r.
func operation(r *Release) string {
	var desc string
	var rollbackTo int
	if r.Info != nil {
		desc, rollbackTo = r.Info.Description, r.Info.RollbackRevision
	}
	switch {
	case r.Version == 1 || desc == descInstall:
		return OperationInstall
	case rollbackTo > 0 || strings.HasPrefix(desc, descRollbackPrefix):
		return OperationRollback
	}
	return OperationUpgrade
}

// FromRevision is rev as a Helm release record that Helm 3 and Helm 4 read:
//
//   - Name, Namespace, Version = rev.Revision;
//   - Info: the status (ours are Helm's), description, notes, first
//     deployed = firstDeployed, last deployed = rev.Started, deleted =
//     rev.Updated for an uninstalling or uninstalled revision (Helm sets it
//     when the uninstall starts), and for a rollback whose description is
//     Helm's "Rollback to N" Helm 4's RollbackRevision N;
//   - Labels = rev.Labels, the release labels (the storage object's labels
//     beside Helm's system labels);
//   - Chart: metadata (apiVersion v2, name, version, appVersion,
//     annotations, dependencies) and Values
//     = rev.ComputedValues, so that `helm get values --all` prints what
//     `kubectl chart get values --all` does; no templates or files (Helm
//     rolls back to a stored manifest, it does not render the stored
//     chart);
//   - Config = rev.Values (never nil), Manifest = rev.Manifest (Helm's
//     manifest never holds CRDs: rev.CRDs are left out);
//   - Hooks as Helm writes them, with last_run's phase "Unknown" (kubectl
//     chart keeps no record of how its hooks ran).
//
// ApplyMethod is left empty for the caller.
func FromRevision(rev *release.Revision, firstDeployed time.Time) *Release {
	info := &Info{
		FirstDeployed: firstDeployed,
		LastDeployed:  rev.Started,
		Description:   rev.Description,
		Status:        string(rev.Status),
		Notes:         rev.Notes,
	}
	if rev.Status == release.StatusUninstalling || rev.Status == release.StatusUninstalled {
		info.Deleted = rev.Updated
	}
	if rev.Operation == OperationRollback {
		var n int
		if _, err := fmt.Sscanf(rev.Description, descRollbackPrefix+"%d", &n); err == nil && n > 0 &&
			rev.Description == fmt.Sprintf("%s%d", descRollbackPrefix, n) {
			info.RollbackRevision = n
		}
	}
	config := map[string]any{}
	if rev.Values != nil {
		config = values.DeepCopy(rev.Values)
	}
	var chartValues map[string]any
	if rev.ComputedValues != nil {
		chartValues = values.DeepCopy(rev.ComputedValues)
	}
	r := &Release{
		Name: rev.Name,
		Info: info,
		Chart: &Chart{
			Metadata: (&Metadata{
				APIVersion:   chart.APIVersionV2,
				Name:         rev.Chart.Name,
				Version:      rev.Chart.Version,
				AppVersion:   rev.Chart.AppVersion,
				Annotations:  maps.Clone(rev.Chart.Annotations),
				Dependencies: rev.Chart.Dependencies,
			}).Copy(),
			Values: chartValues,
		},
		Config:    config,
		Manifest:  rev.Manifest,
		Version:   rev.Revision,
		Namespace: rev.Namespace,
		Labels:    maps.Clone(rev.Labels),
	}
	for _, h := range rev.Hooks {
		r.Hooks = append(r.Hooks, &Hook{
			Name: h.Name, Kind: h.Kind, Path: h.Path, Manifest: h.Manifest,
			Events: slices.Clone(h.Events), Weight: h.Weight, DeletePolicies: slices.Clone(h.DeletePolicies),
			LastRun: HookExecution{Phase: HookPhaseUnknown},
		})
	}
	return r
}
