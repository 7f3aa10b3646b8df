package action

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kubectl-chart/kubectl-chart/internal/apply"
	"github.com/kubectl-chart/kubectl-chart/pkg/helmrelease"
	"github.com/kubectl-chart/kubectl-chart/pkg/release"
)

// HelmFieldManager is the field manager Helm writes objects with, server-side
// (Helm 4) or client-side (Helm 3): import-helm takes its fields.
const HelmFieldManager = "helm"

// OperationImportHelm is the lock operation of import-helm.
const OperationImportHelm = "import-helm"

// importedSuffix ends the description of every revision import-helm
// records, and tells an imported release from one installed by kubectl
// chart (a rerun of import-helm finishes an import, and refuses the rest).
const importedSuffix = " (imported from Helm)"

// ImportHelmOptions are the options of import-helm.
type ImportHelmOptions struct {
	Name, Namespace string
	// DryRun reports what would be done and writes nothing.
	DryRun bool
	// DeleteHelmRecords deletes Helm's release records once the import is
	// done (they are kept by default: `helm` still sees the release).
	DeleteHelmRecords bool
	// ForceUnlock takes the release lock even from a live holder.
	ForceUnlock bool
	// Concurrency bounds the parallel requests (default: the apply engine's).
	Concurrency int
}

// ImportHelmResult is what import-helm did, or would do.
type ImportHelmResult struct {
	// Helm are Helm's records of the release, oldest first.
	Helm []*helmrelease.Record
	// Revisions are the revisions recorded (or to record), oldest first;
	// Deployed is the one deployed.
	Revisions []*release.Revision
	Deployed  int
	// Recorded are the revisions written by this run (a rerun writes only
	// what a killed run did not).
	Recorded []int
	// Objects are the objects of the deployed revision, adopted.
	Objects []apply.Adoption
	// HelmRecordsDeleted: Helm's records were deleted (--delete-helm-records).
	HelmRecordsDeleted bool
	// Warnings are things the user should know (drift, a revision whose
	// manifest cannot be decoded any more).
	Warnings []string
}

// Adopter is the apply engine's adoption, which import-helm needs beside
// Applier (internal/apply.Manager has both).
type Adopter interface {
	Adopt(ctx context.Context, objs []*unstructured.Unstructured, opts apply.AdoptOptions) ([]apply.Adoption, error)
}

// ImportError says why a Helm release cannot be imported (nothing was
// written).
type ImportError struct {
	Release, Namespace string
	Reason             string
}

func (e *ImportError) Error() string {
	return fmt.Sprintf("cannot import Helm release %s in namespace %s: %s", e.Release, e.Namespace, e.Reason)
}

// ImportHelm adopts a Helm release: its revisions become kubectl-chart's
// revision records (numbers, statuses, timestamps, values, manifests,
// hooks and notes kept, each description marked imported), and the objects
// of the deployed revision get the ownership labels and kubectl-chart's
// field ownership of exactly what the manifest sets, taken from Helm's
// field manager, without a single value changing (no workload rolls).
//
// It runs as an operation of the release (lock, a pending record of the
// deployed revision while the objects are written, then deployed), so the
// ownership webhook lets it through and a killed run leaves what the next
// run finishes: records already written are kept, objects already adopted
// are left alone. Helm's records are kept unless DeleteHelmRecords.
func (c *Config) ImportHelm(ctx context.Context, o ImportHelmOptions) (*ImportHelmResult, error) {
	if err := validateName(o.Name); err != nil {
		return nil, err
	}
	if c.Kube == nil {
		return nil, errors.New("import-helm: no Kubernetes client")
	}
	adopter, ok := c.Applier.(Adopter)
	if !ok {
		return nil, errors.New("import-helm: the apply engine cannot adopt objects")
	}
	refuse := func(format string, args ...any) error {
		return &ImportError{Release: o.Name, Namespace: o.Namespace, Reason: fmt.Sprintf(format, args...)}
	}
	recs, err := helmrelease.Read(ctx, c.Kube, o.Namespace, o.Name)
	if errors.Is(err, helmrelease.ErrNotFound) {
		return nil, refuse("Helm has no release of that name there (no Secret or ConfigMap labelled owner=helm,name=%s)", o.Name)
	}
	if err != nil {
		return nil, err
	}
	res := &ImportHelmResult{Helm: recs}
	last := recs[len(recs)-1].Release
	if last.Pending() {
		return nil, refuse("its revision %d is %s: a Helm operation is running or was interrupted; let it finish, or recover it with Helm first (helm rollback %s -n %s to the last deployed revision, or helm uninstall for a pending install), then import",
			last.Version, last.Status(), o.Name, o.Namespace)
	}
	deployedIdx := -1
	for i, r := range recs {
		if r.Release.Status() == "deployed" {
			deployedIdx = i
		}
	}
	if deployedIdx < 0 {
		return nil, refuse("no revision is deployed (the last, %d, is %s): there is nothing to adopt", last.Version, last.Status())
	}
	res.Deployed = recs[deployedIdx].Release.Version

	// Helm's revisions as ours; objs are the deployed one's objects.
	var objs []*unstructured.Unstructured
	for i, rec := range recs {
		rev, err := helmrelease.ToRevision(rec.Release)
		if err != nil {
			return nil, fmt.Errorf("Helm's revision %d (%s %s): %w", rec.Release.Version, rec.Driver, rec.Name, err)
		}
		rev.Name, rev.Namespace = o.Name, o.Namespace
		rev.Description = strings.TrimSpace(rev.Description) + importedSuffix
		switch {
		case rev.Status.IsPending() && i != deployedIdx:
			// An older revision Helm left pending (a crash it never recovered):
			// a record is created with a final status.
			rev.Status = release.StatusFailed
		case rev.Status == release.StatusDeployed && i != deployedIdx:
			// Helm leaves more than one deployed after some interrupted
			// upgrades; the newest is the one live.
			rev.Status = release.StatusSuperseded
		}
		decoded, err := c.Applier.Decode(rev.Manifest, o.Namespace)
		if err != nil {
			if i == deployedIdx {
				return nil, refuse("the manifest of its deployed revision %d cannot be read: %v", rev.Revision, err)
			}
			res.Warnings = append(res.Warnings, fmt.Sprintf("revision %d: its manifest cannot be read (%v): a rollback to it will fail", rev.Revision, err))
		}
		if i == deployedIdx {
			objs = decoded
		}
		rev.Inventory = refsOf(decoded)
		res.Revisions = append(res.Revisions, rev)
	}

	// An existing head: a killed import to finish, or another release.
	head, err := c.Store.Head(ctx, o.Namespace, o.Name)
	recorded := map[int]*release.Revision{}
	switch {
	case errors.Is(err, release.ErrNotFound):
	case err != nil:
		return nil, err
	default:
		hist, err := c.Store.History(ctx, o.Namespace, o.Name)
		if err != nil && !errors.Is(err, release.ErrNotFound) {
			return nil, err
		}
		// A pending record reads as "Preparing upgrade" whatever it says: it
		// is an import's when the head's (dead) lock was taken by import-helm.
		importing := head.Lock != nil && head.Lock.Operation == OperationImportHelm
		for _, r := range hist {
			if !strings.HasSuffix(r.Description, importedSuffix) && !(importing && r.Status.IsPending()) {
				return nil, refuse("kubectl chart already has a release %s there (revision %d, %s, not imported): import-helm adopts only releases kubectl chart does not manage yet",
					o.Name, r.Revision, r.Status)
			}
			recorded[r.Revision] = r
		}
	}

	// Check the objects without writing: missing ones and objects of
	// another release are refused; drift is reported.
	check, err := adopter.Adopt(ctx, objs, apply.AdoptOptions{Release: o.Name, ReleaseNamespace: o.Namespace, From: []string{HelmFieldManager}, Concurrency: o.Concurrency, DryRun: true})
	var missing []string
	for _, a := range check {
		if a.Missing {
			missing = append(missing, a.Ref.String())
		}
	}
	if len(missing) > 0 {
		return nil, refuse("%d object(s) of its deployed revision %d are missing from the cluster: %s; restore them (helm upgrade %s … -n %s re-creates them) or remove them from the chart, then import",
			len(missing), res.Deployed, strings.Join(missing, ", "), o.Name, o.Namespace)
	}
	if err != nil {
		var oe *apply.OwnershipError
		if errors.As(err, &oe) {
			return nil, refuse("%v", err)
		}
		return nil, err
	}
	for _, a := range check {
		if len(a.Drift) > 0 {
			res.Warnings = append(res.Warnings, fmt.Sprintf("%s: %s differ%s from Helm's manifest of revision %d; they are kept as they are, and the next kubectl chart upgrade sets them to what the chart renders",
				a.Ref, strings.Join(a.Drift, ", "), map[bool]string{true: "s", false: ""}[len(a.Drift) == 1], res.Deployed))
		}
	}
	if o.DryRun {
		res.Objects = check
		for _, r := range res.Revisions {
			if recorded[r.Revision] == nil {
				res.Recorded = append(res.Recorded, r.Revision)
			}
		}
		return res, nil
	}

	head, err = c.Store.Acquire(ctx, o.Namespace, o.Name, OperationImportHelm, o.ForceUnlock)
	if err != nil {
		return nil, err
	}
	out, err := whileLocked(ctx, c, head, func(ctx context.Context) (*ImportHelmResult, error) {
		return res, c.importLocked(ctx, o, head, res, deployedIdx, recorded, objs, check, adopter)
	})
	if rerr := c.Store.Release(context.WithoutCancel(ctx), head); rerr != nil && err == nil {
		err = fmt.Errorf("releasing the lock: %w", rerr)
	}
	if err != nil {
		return out, err
	}
	if o.DeleteHelmRecords {
		if err := c.deleteHelmRecords(ctx, recs); err != nil {
			return out, fmt.Errorf("the release is imported, but deleting Helm's records failed: %w", err)
		}
		out.HelmRecordsDeleted = true
	}
	return out, nil
}

// importLocked writes the records and adopts the objects, with the lock held.
func (c *Config) importLocked(ctx context.Context, o ImportHelmOptions, head *release.Head, res *ImportHelmResult, deployedIdx int,
	recorded map[int]*release.Revision, objs []*unstructured.Unstructured, check []apply.Adoption, adopter Adopter) error {
	create := func(rev *release.Revision) error {
		if r := recorded[rev.Revision]; r != nil {
			rev.Seal, rev.Status = r.Seal, r.Status
			return nil
		}
		if err := c.Store.CreateRevision(ctx, rev); err != nil {
			return fmt.Errorf("recording revision %d: %w", rev.Revision, err)
		}
		res.Recorded = append(res.Recorded, rev.Revision)
		return nil
	}
	// The revisions before the deployed one, as Helm left them.
	for _, rev := range res.Revisions[:deployedIdx] {
		if err := create(rev); err != nil {
			return err
		}
	}
	// The deployed one: pending while its objects are adopted, as any
	// operation's revision is while it writes.
	deployed := res.Revisions[deployedIdx]
	final := deployed.Status
	if recorded[deployed.Revision] == nil {
		deployed.Status = release.StatusPendingUpgrade
		if deployed.Operation == "install" {
			deployed.Status = release.StatusPendingInstall
		}
	}
	if err := create(deployed); err != nil {
		return err
	}
	if deployed.Status.IsPending() {
		head.SetRevision(deployed)
		head.Status = deployed.Status
		head.Inventory = union(head.Inventory, deployed.Inventory)
		if err := c.Store.UpdateHead(ctx, head); err != nil {
			return fmt.Errorf("updating release head: %w", err)
		}
	}
	var todo []string
	for _, a := range check {
		if a.Labelled || len(a.Taken) > 0 {
			todo = append(todo, a.Ref.String())
		}
	}
	switch {
	case deployed.Status.IsPending():
		adopted, err := adopter.Adopt(ctx, objs, apply.AdoptOptions{Release: o.Name, ReleaseNamespace: o.Namespace, From: []string{HelmFieldManager},
			Concurrency: o.Concurrency, Planned: check})
		res.Objects = adopted
		if err != nil {
			return fmt.Errorf("adopting the objects of revision %d: %w; run import-helm again to finish", deployed.Revision, err)
		}
	case len(todo) > 0:
		// Imported, then changed by hand (labels removed with break-glass):
		// only an operation with a record of its own may write them now.
		return fmt.Errorf("revision %d is recorded deployed, but %s %s not adopted (changed since the import?): kubectl chart upgrade %s <chart> -n %s writes them again",
			deployed.Revision, strings.Join(todo, ", "), map[bool]string{true: "is", false: "are"}[len(todo) == 1], o.Name, o.Namespace)
	default:
		res.Objects = check // adopted already: nothing to write
	}
	ctx = context.WithoutCancel(ctx)
	if deployed.Status.IsPending() {
		if err := c.Store.SetStatus(ctx, o.Namespace, o.Name, deployed.Revision, final); err != nil {
			return fmt.Errorf("recording revision %d deployed: %w", deployed.Revision, err)
		}
		deployed.Status = final
	}
	// The revisions after it (failed upgrades), as Helm left them.
	for _, rev := range res.Revisions[deployedIdx+1:] {
		if err := create(rev); err != nil {
			return err
		}
	}
	last := slices.MaxFunc(res.Revisions, func(a, b *release.Revision) int { return a.Revision - b.Revision })
	head.Revision = last.Revision
	head.Chart = &release.ChartRef{Name: last.Chart.Name, Version: last.Chart.Version, AppVersion: last.Chart.AppVersion}
	head.Deployed = deployed.Revision
	head.Status = release.StatusDeployed
	head.Inventory = deployed.Inventory
	if err := c.Store.UpdateHead(ctx, head); err != nil {
		return fmt.Errorf("updating release head: %w", err)
	}
	return nil
}

// deleteHelmRecords deletes Helm's storage objects of recs (already gone is
// fine).
func (c *Config) deleteHelmRecords(ctx context.Context, recs []*helmrelease.Record) error {
	var errs []error
	for _, r := range recs {
		var err error
		switch r.Driver {
		case helmrelease.DriverConfigMap:
			err = c.Kube.CoreV1().ConfigMaps(r.Release.Namespace).Delete(ctx, r.Name, metav1.DeleteOptions{})
		default:
			err = c.Kube.CoreV1().Secrets(r.Release.Namespace).Delete(ctx, r.Name, metav1.DeleteOptions{})
		}
		if err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("%s/%s/%s: delete: %w", r.Driver, r.Release.Namespace, r.Name, err))
		}
	}
	return errors.Join(errs...)
}
