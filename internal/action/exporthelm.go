package action

import (
	"context"
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-chart/kubectl-chart/internal/apply"
	"github.com/kubectl-chart/kubectl-chart/pkg/helmrelease"
	"github.com/kubectl-chart/kubectl-chart/pkg/release"
)

// OperationExportHelm is the lock operation, and the operation of the last
// revision, of export-helm.
const OperationExportHelm = "export-helm"

// Disowner is the apply engine's hand-over of objects, which export-helm
// needs beside Applier (internal/apply.Manager has both).
type Disowner interface {
	Disown(ctx context.Context, refs []release.ObjectRef, opts apply.DisownOptions) ([]apply.Disowned, error)
}

// ExportHelmOptions are the options of export-helm.
type ExportHelmOptions struct {
	Name, Namespace string
	// DeleteRecords deletes kubectl-chart's head and revision records once
	// the release is Helm's (kept by default, with the export recorded as
	// the last revision, status uninstalled).
	DeleteRecords bool
	DryRun        bool
	ForceUnlock   bool
	Concurrency   int
}

// HelmRecordWrite is one of Helm's records export-helm writes.
type HelmRecordWrite struct {
	Version int
	Status  string
	// Action is "created", "status updated" or "kept".
	Action string
}

// ExportHelmResult is what export-helm did, or would do.
type ExportHelmResult struct {
	// Deployed is the revision handed to Helm (Helm's deployed one).
	Deployed int
	// Helm are Helm's records, oldest first.
	Helm []HelmRecordWrite
	// Objects are the deployed revision's objects, given to Helm.
	Objects []apply.Disowned
	// Revision is the revision that records the export (0 on a dry run,
	// or when the records were deleted).
	Revision       int
	RecordsDeleted bool
}

// ExportHelm hands a release back to Helm: every revision of its history
// becomes a Helm release record (Secrets driver, readable by Helm 3 and 4;
// Helm's own records of an imported release are kept, their statuses
// brought up to date), and every object of the deployed revision loses
// kubectl-chart's labels and passes kubectl-chart's fields to Helm's field
// manager — no value changes. Helm needs no ownership annotations on them:
// they are in the manifest of the release's deployed record, which makes
// them Helm's. kubectl-chart records the export as a last revision
// (uninstalled), or deletes its records with DeleteRecords. A killed
// export is finished by running it again.
func (c *Config) ExportHelm(ctx context.Context, o ExportHelmOptions) (*ExportHelmResult, error) {
	if c.Kube == nil {
		return nil, errors.New("export-helm: no Kubernetes client")
	}
	disowner, ok := c.Applier.(Disowner)
	if !ok {
		return nil, errors.New("export-helm: the apply engine cannot hand objects over")
	}
	head, err := c.Store.Head(ctx, o.Namespace, o.Name)
	if errors.Is(err, release.ErrNotFound) {
		return nil, fmt.Errorf("release %s in namespace %s: %w", o.Name, o.Namespace, ErrReleaseNotFound)
	}
	if err != nil {
		return nil, err
	}
	hist, err := c.Store.History(ctx, o.Namespace, o.Name)
	if err != nil {
		return nil, err
	}
	// The revisions Helm gets: all but export-helm's own; the deployed one
	// is the last deployed (kept deployed in a resumed export).
	var revs []*release.Revision
	var export *release.Revision
	for _, r := range hist {
		if r.Operation == OperationExportHelm {
			export = r
			continue
		}
		revs = append(revs, r)
	}
	res := &ExportHelmResult{}
	var deployed *release.Revision
	for _, r := range revs {
		switch {
		case export == nil && r.Status == release.StatusDeployed:
			deployed = r
		case export != nil && r.Manifest == export.Manifest && (r.Status == release.StatusDeployed || r.Status == release.StatusSuperseded):
			// A resumed (or repeated) export: the revision it copied.
			deployed = r
		}
	}
	if deployed == nil {
		return nil, fmt.Errorf("release %s in namespace %s has no deployed revision (status %s): there is nothing to hand to Helm", o.Name, o.Namespace, head.Status)
	}
	res.Deployed = deployed.Revision

	existing := map[int]*helmrelease.Record{}
	recs, err := helmrelease.Read(ctx, c.Kube, o.Namespace, o.Name)
	if err != nil && !errors.Is(err, helmrelease.ErrNotFound) {
		return nil, err
	}
	for _, r := range recs {
		existing[r.Release.Version] = r
		if r.Release.Version > revs[len(revs)-1].Revision {
			return nil, fmt.Errorf("Helm has revision %d of release %s (%s %s), which kubectl chart does not: Helm changed the release since it was imported; resolve it with Helm, or delete that record, then export",
				r.Release.Version, o.Name, r.Driver, r.Name)
		}
	}
	type write struct {
		rel    *helmrelease.Release
		record *helmrelease.Record
		action string
	}
	var writes []write
	first := revs[0].Started
	for _, r := range revs {
		status := string(r.Status)
		if r.Revision == deployed.Revision {
			status = string(release.StatusDeployed)
		} else if r.Status == release.StatusDeployed {
			status = string(release.StatusSuperseded)
		}
		w := write{}
		if rec := existing[r.Revision]; rec != nil {
			w.record, w.rel = rec, rec.Release
			w.action = "kept"
			if rec.Release.Status() != status {
				w.action = "status updated"
			}
		} else {
			w.rel = helmrelease.FromRevision(r, first)
			// The objects' fields go to Helm's field manager as an Apply
			// entry: Helm 4 then upgrades them server-side (Helm 3 ignores it).
			w.rel.ApplyMethod = helmrelease.ApplyMethodServerSide
			w.action = "created"
		}
		if w.rel.Info == nil {
			w.rel.Info = &helmrelease.Info{}
		}
		w.rel.Info.Status = status
		writes = append(writes, w)
		res.Helm = append(res.Helm, HelmRecordWrite{Version: r.Revision, Status: status, Action: w.action})
	}
	if o.DryRun {
		res.Objects, err = disowner.Disown(ctx, deployed.Inventory, apply.DisownOptions{Release: o.Name, ReleaseNamespace: o.Namespace, To: HelmFieldManager, DryRun: true})
		return res, err
	}

	// Helm's records first: from here on Helm sees the release.
	for _, w := range writes {
		if w.action == "kept" {
			continue
		}
		if err := c.writeHelmRecord(ctx, w.rel, w.record); err != nil {
			return res, err
		}
	}

	head, err = c.Store.Acquire(ctx, o.Namespace, o.Name, OperationExportHelm, o.ForceUnlock)
	if err != nil {
		return res, err
	}
	out, err := whileLocked(ctx, c, head, func(ctx context.Context) (*ExportHelmResult, error) {
		return res, c.exportLocked(ctx, o, head, deployed, export, res, disowner)
	})
	if err == nil && o.DeleteRecords {
		err = c.deleteRecords(context.WithoutCancel(ctx), head, hist)
		if err == nil {
			out.RecordsDeleted, out.Revision = true, 0
			return out, nil
		}
	}
	if rerr := c.Store.Release(context.WithoutCancel(ctx), head); rerr != nil && err == nil {
		err = fmt.Errorf("releasing the lock: %w", rerr)
	}
	return out, err
}

// exportLocked records the export and hands the objects over, with the lock
// held.
func (c *Config) exportLocked(ctx context.Context, o ExportHelmOptions, head *release.Head, deployed, export *release.Revision, res *ExportHelmResult,
	disowner Disowner) error {
	if export == nil || !export.Status.IsPending() && export.Status != release.StatusUninstalled {
		export = &release.Revision{
			Name: o.Name, Namespace: o.Namespace, Revision: head.Revision + 1, Status: release.StatusPendingUpgrade,
			Chart: deployed.Chart, Labels: deployed.Labels, Values: deployed.Values, ComputedValues: deployed.ComputedValues, Manifest: deployed.Manifest,
			CRDs: deployed.CRDs, Hooks: deployed.Hooks, Notes: deployed.Notes, Inventory: deployed.Inventory,
			Description: fmt.Sprintf("Exported to Helm, which has it as revision %d", deployed.Revision),
			Operation:   OperationExportHelm, Started: c.now(),
		}
		if err := c.Store.CreateRevision(ctx, export); err != nil {
			return fmt.Errorf("recording revision %d: %w", export.Revision, err)
		}
	}
	res.Revision = export.Revision
	if export.Status.IsPending() {
		head.SetRevision(export)
		head.Status = export.Status
		head.Inventory = union(head.Inventory, deployed.Inventory)
		if err := c.Store.UpdateHead(ctx, head); err != nil {
			return fmt.Errorf("updating release head: %w", err)
		}
	}
	objs, err := disowner.Disown(ctx, deployed.Inventory, apply.DisownOptions{
		Release: o.Name, ReleaseNamespace: o.Namespace, To: HelmFieldManager, Concurrency: o.Concurrency,
	})
	res.Objects = objs
	if err != nil {
		return fmt.Errorf("handing the objects of revision %d to Helm: %w; run export-helm again to finish", deployed.Revision, err)
	}
	ctx = context.WithoutCancel(ctx)
	if export.Status.IsPending() {
		if err := c.Store.SetStatus(ctx, o.Namespace, o.Name, export.Revision, release.StatusUninstalled); err != nil {
			return fmt.Errorf("recording revision %d: %w", export.Revision, err)
		}
	}
	if deployed.Status == release.StatusDeployed {
		if err := c.Store.SetStatus(ctx, o.Namespace, o.Name, deployed.Revision, release.StatusSuperseded); err != nil {
			return fmt.Errorf("recording revision %d superseded: %w", deployed.Revision, err)
		}
	}
	head.Status = release.StatusUninstalled
	head.Deployed = 0
	head.Inventory = nil
	if err := c.Store.UpdateHead(ctx, head); err != nil {
		return fmt.Errorf("updating release head: %w", err)
	}
	return nil
}

// deleteRecords deletes the release's revision records and head (the lock
// held by head).
func (c *Config) deleteRecords(ctx context.Context, head *release.Head, hist []*release.Revision) error {
	var errs []error
	for _, r := range hist {
		if err := c.Store.DeleteRevision(ctx, head.Namespace, head.Name, r.Revision); err != nil && !errors.Is(err, release.ErrNotFound) {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return c.Store.DeleteHead(ctx, head)
}

// writeHelmRecord creates rel as a Helm record (Secrets driver) when record
// is nil, or brings record's status up to rel's.
func (c *Config) writeHelmRecord(ctx context.Context, rel *helmrelease.Release, record *helmrelease.Record) error {
	if record == nil {
		sec, err := helmrelease.Secret(rel, c.now())
		if err != nil {
			return err
		}
		_, err = c.Kube.CoreV1().Secrets(sec.Namespace).Create(ctx, sec, metav1.CreateOptions{FieldManager: HelmFieldManager})
		if apierrors.IsAlreadyExists(err) {
			return nil // a killed export wrote it
		}
		if err != nil {
			return fmt.Errorf("Secret/%s/%s: create Helm's record: %w", sec.Namespace, sec.Name, err)
		}
		return nil
	}
	data, err := helmrelease.Encode(rel)
	if err != nil {
		return err
	}
	status := rel.Status()
	switch record.Driver {
	case helmrelease.DriverConfigMap:
		cms := c.Kube.CoreV1().ConfigMaps(rel.Namespace)
		cm, err := cms.Get(ctx, record.Name, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("ConfigMap/%s/%s: %w", rel.Namespace, record.Name, err)
		}
		cm.Data["release"] = string(data)
		cm.Labels["status"] = status
		_, err = cms.Update(ctx, cm, metav1.UpdateOptions{FieldManager: HelmFieldManager})
		if err != nil {
			return fmt.Errorf("ConfigMap/%s/%s: update Helm's record: %w", rel.Namespace, record.Name, err)
		}
	default:
		secs := c.Kube.CoreV1().Secrets(rel.Namespace)
		sec, err := secs.Get(ctx, record.Name, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("Secret/%s/%s: %w", rel.Namespace, record.Name, err)
		}
		sec.Data["release"] = data
		sec.Labels["status"] = status
		_, err = secs.Update(ctx, sec, metav1.UpdateOptions{FieldManager: HelmFieldManager})
		if err != nil {
			return fmt.Errorf("Secret/%s/%s: update Helm's record: %w", rel.Namespace, record.Name, err)
		}
	}
	return nil
}
