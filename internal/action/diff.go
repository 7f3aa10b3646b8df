package action

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kubectl-chart/kubectl-chart/internal/apply"
	"github.com/kubectl-chart/kubectl-chart/pkg/ownership"
	"github.com/kubectl-chart/kubectl-chart/pkg/release"
)

// DiffChange is what an upgrade or rollback would do to one object.
type DiffChange string

// Diff changes.
const (
	// DiffAdded: the object does not exist and would be created.
	DiffAdded DiffChange = "added"
	// DiffChanged: the object exists and would be changed.
	DiffChanged DiffChange = "changed"
	// DiffRemoved: the release owns the object and would prune it.
	DiffRemoved DiffChange = "removed"
	// DiffUnchanged: the object already is in its desired state.
	DiffUnchanged DiffChange = "unchanged"
)

// DiffEntry is one object of a diff.
type DiffEntry struct {
	Ref    release.ObjectRef
	Change DiffChange
	// Live is the object as the cluster has it (nil when added), Desired as
	// the server would have it after the operation (nil when removed); both
	// without the fields that change on every write (VolatileFields) and
	// without status.
	Live, Desired map[string]any
}

// DiffResult is what an upgrade or rollback would change, object by object:
// the rendered objects in apply order, then the objects it would prune.
type DiffResult struct {
	Entries []DiffEntry
	// Taken are the fields the operation would take from other field
	// managers (apply.Takeover): those the release applied in its previous
	// revision and someone changed since (kubectl scale, kubectl edit), and
	// with --force-conflicts any other.
	Taken []apply.Takeover
}

// Count is the number of entries with change ch.
func (r *DiffResult) Count(ch DiffChange) int {
	if r == nil {
		return 0
	}
	n := 0
	for _, e := range r.Entries {
		if e.Change == ch {
			n++
		}
	}
	return n
}

// HasChanges says whether any object would be added, changed or removed.
func (r *DiffResult) HasChanges() bool {
	return r.Count(DiffAdded)+r.Count(DiffChanged)+r.Count(DiffRemoved) > 0
}

// VolatileFields are the metadata fields a diff leaves out: the server
// writes them on every change, so they would differ whatever changed.
var VolatileFields = []string{"managedFields", "resourceVersion", "generation", "creationTimestamp", "uid"}

// DiffUpgrade says what Upgrade with o would change, without taking the
// lock or writing anything: the chart is rendered as the upgrade would
// render it, every object is applied with a server-side dry run (so that
// defaults, admission and field ownership are the server's) and compared
// with the live object, and the objects the release owns that the new
// revision no longer renders are listed as removed (unless kept). A missing
// release is an error unless o.Install (then everything is added).
//
// On an error the result holds what was compared before it.
func (c *Config) DiffUpgrade(ctx context.Context, o UpgradeOptions) (*DiffResult, error) {
	if err := validateName(o.Name); err != nil {
		return nil, err
	}
	head, err := c.Store.Head(ctx, o.Namespace, o.Name)
	switch {
	case errors.Is(err, release.ErrNotFound):
		if !o.Install {
			return nil, fmt.Errorf("release %q in namespace %q: %w; use --install to diff an install", o.Name, o.Namespace, ErrReleaseNotFound)
		}
		head = nil
	case err != nil:
		return nil, err
	}
	prev, err := c.previous(ctx, head)
	if err != nil {
		return nil, err
	}
	revision, op := 1, "install"
	if head != nil {
		revision = head.Revision + 1
		if head.Deployed > 0 {
			op = "upgrade"
		}
	}
	r, err := c.renderRevision(ctx, o, prev, revision, op)
	if err != nil {
		return nil, err
	}
	var owned []release.ObjectRef
	if head != nil {
		owned = head.Inventory
	}
	return c.diffRevision(ctx, c.newRevision(o, r, revision, op), owned, c.applyOptions(o, prev, true))
}

// DiffRollback says what Rollback with o would change, without taking the
// lock or writing anything (see DiffUpgrade): the target revision's
// manifest against the live objects.
func (c *Config) DiffRollback(ctx context.Context, o RollbackOptions) (*DiffResult, error) {
	head, err := c.Store.Head(ctx, o.Namespace, o.Name)
	if errors.Is(err, release.ErrNotFound) {
		return nil, fmt.Errorf("release %q in namespace %q: %w", o.Name, o.Namespace, ErrReleaseNotFound)
	}
	if err != nil {
		return nil, err
	}
	target, err := c.rollbackTarget(ctx, head, o.Revision)
	if err != nil {
		return nil, err
	}
	rev := rollbackRevision(target, head.Revision+1, o.Description, c.now())
	prev, err := c.previous(ctx, head)
	if err != nil {
		return nil, err
	}
	opts := apply.Options{
		Release:          o.Name,
		ReleaseNamespace: o.Namespace,
		Force:            o.ForceConflicts,
		Previous:         previousOf(prev),
		TakeOwnership:    o.TakeOwnership,
		Concurrency:      o.Concurrency,
		DryRun:           true,
	}
	return c.diffRevision(ctx, rev, head.Inventory, opts)
}

// diffRevision compares a revision's objects, dry-run applied with opts,
// with the live ones, and lists what of owned it would prune.
func (c *Config) diffRevision(ctx context.Context, rev *release.Revision, owned []release.ObjectRef, opts apply.Options) (*DiffResult, error) {
	opts.DryRun = true
	res := &DiffResult{}
	changes, applyErr := c.applyRevision(ctx, rev, opts)
	res.Taken = apply.Takeovers(changes)

	// The objects of the new revision, by the names the apply resolved
	// (cluster-scoped objects lose a namespace a template gave them).
	rendered := make([]release.ObjectRef, 0, len(changes)+len(rev.Inventory))
	var toRead []int
	for _, ch := range changes {
		rendered = append(rendered, ch.Ref)
		switch ch.Action {
		case apply.Created:
			res.Entries = append(res.Entries, DiffEntry{Ref: ch.Ref, Change: DiffAdded, Desired: comparableObject(ch.Object)})
		case apply.Unchanged:
			obj := comparableObject(ch.Object)
			res.Entries = append(res.Entries, DiffEntry{Ref: ch.Ref, Change: DiffUnchanged, Live: obj, Desired: obj})
		case apply.Configured:
			toRead = append(toRead, len(res.Entries))
			res.Entries = append(res.Entries, DiffEntry{Ref: ch.Ref, Change: DiffChanged, Desired: comparableObject(ch.Object)})
		}
	}
	if applyErr != nil {
		// Which objects were rendered is not known for certain: nothing is
		// listed as removed.
		return res, errors.Join(applyErr, c.readLive(ctx, res, toRead, opts))
	}
	rendered = append(rendered, rev.Inventory...)

	// What the release owns and the new revision does not have: pruned,
	// unless it is a CRD (never deleted), asks to be kept, is gone already or
	// another release took it.
	stale, _ := deletable(minus(owned, rendered))
	first := len(res.Entries)
	for _, ref := range stale {
		toRead = append(toRead, len(res.Entries))
		res.Entries = append(res.Entries, DiffEntry{Ref: ref, Change: DiffRemoved})
	}
	err := c.readLive(ctx, res, toRead, opts)
	kept := res.Entries[:first]
	for _, e := range res.Entries[first:] {
		if e.Live != nil {
			kept = append(kept, e)
		}
	}
	res.Entries = kept
	return res, err
}

// readLive reads the live object of the entries at indexes idx, in
// parallel. A changed object that has gone since the dry run is added; a
// removed one that is gone, kept or owned by another release is dropped
// (its Live stays nil): Delete would skip it.
func (c *Config) readLive(ctx context.Context, res *DiffResult, idx []int, opts apply.Options) error {
	concurrency := opts.Concurrency
	if concurrency <= 0 {
		concurrency = apply.DefaultConcurrency
	}
	errs := make([]error, len(idx))
	sem := make(chan struct{}, concurrency)
	var wg sync.WaitGroup
	for n, i := range idx {
		e := &res.Entries[i]
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			live, err := c.Applier.Get(ctx, e.Ref)
			switch {
			case apierrors.IsNotFound(err) || meta.IsNoMatchError(err):
				if e.Change == DiffChanged {
					e.Change = DiffAdded
				}
				return
			case err != nil:
				errs[n] = &apply.ObjectError{Ref: e.Ref, Op: "get", Err: err}
				return
			}
			if e.Change == DiffRemoved {
				labels := live.GetLabels()
				rel, labelled := labels[ownership.LabelRelease]
				adopted := labelled && (rel != opts.Release || labels[ownership.LabelReleaseNamespace] != opts.ReleaseNamespace)
				if ownership.Keep(live.GetAnnotations()) || adopted {
					return
				}
			}
			e.Live = comparableObject(live)
			if e.Change == DiffChanged && reflect.DeepEqual(e.Live, e.Desired) {
				// Only what the diff leaves out (field ownership) would change.
				e.Change = DiffUnchanged
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// comparableObject is obj without status and VolatileFields, as a diff
// compares and shows it; nil for nil.
func comparableObject(obj *unstructured.Unstructured) map[string]any {
	if obj == nil {
		return nil
	}
	out := obj.DeepCopy().Object
	delete(out, "status")
	if md, ok := out["metadata"].(map[string]any); ok {
		for _, f := range VolatileFields {
			delete(md, f)
		}
	}
	return out
}
