package apply

import (
	"context"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kubectl-chart/kubectl-chart/pkg/ownership"
	"github.com/kubectl-chart/kubectl-chart/pkg/release"
	"github.com/kubectl-chart/kubectl-chart/pkg/render"
)

// DeleteOptions says how Delete removes objects.
type DeleteOptions struct {
	// Release and ReleaseNamespace, when set, protect objects that another
	// release owns now (it adopted them): those are Skipped, not deleted.
	Release, ReleaseNamespace string
	// Concurrency bounds the parallel requests within a stage (default
	// DefaultConcurrency).
	Concurrency int
	// DryRun asks the server to check the deletions and deletes nothing.
	DryRun bool
	// IgnoreKeep deletes objects even when they ask to be kept (hooks).
	IgnoreKeep bool
	// Wait waits until the deleted objects are gone (hooks re-created under
	// the same name), for at most Timeout (default 5 minutes).
	Wait    bool
	Timeout time.Duration
	// Propagation is the deletion's propagation policy (Helm's --cascade):
	// background when empty.
	Propagation metav1.DeletionPropagation
}

// Delete deletes objects in the reverse of the install order: custom
// resources (kinds Helm's order does not list) first, then Helm's uninstall
// order (render.UninstallOrder), CRDs, and Namespaces last; in parallel
// within a stage, with background propagation. Objects whose annotations ask
// to be kept (kubectl-chart.io/resource-policy or helm.sh/resource-policy:
// keep) are Kept; objects already gone count as Deleted. A failure does not
// stop the other deletions; the error joins every failure.
func (m *Manager) Delete(ctx context.Context, refs []release.ObjectRef, opts DeleteOptions) (*ChangeSet, error) {
	cs := &ChangeSet{}
	for _, stage := range deleteStages(refs) {
		changes := make([]Change, len(stage))
		forEach(ctx, len(stage), opts.Concurrency,
			func(i int) { changes[i] = m.deleteOne(ctx, stage[i], opts) },
			func(i int) { changes[i] = Change{Ref: stage[i], Action: Skipped} })
		cs.Add(changes...)
	}
	if err := ctx.Err(); err != nil {
		return cs, err
	}
	if err := cs.Failed(); err != nil {
		return cs, err
	}
	if opts.Wait && !opts.DryRun {
		return cs, m.waitGone(ctx, cs, opts.Timeout)
	}
	return cs, nil
}

// waitGone polls until every deleted object of cs is gone.
func (m *Manager) waitGone(ctx context.Context, cs *ChangeSet, timeout time.Duration) error {
	if timeout <= 0 {
		timeout = 5 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for _, c := range cs.Changes {
		if c.Action != Deleted {
			continue
		}
		for {
			_, err := m.Get(ctx, c.Ref)
			if apierrors.IsNotFound(err) || meta.IsNoMatchError(err) {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("%s: still there after %s: %w", c.Ref, timeout, ctx.Err())
			case <-time.After(200 * time.Millisecond):
			}
		}
	}
	return nil
}

// Get reads one object as the server has it.
func (m *Manager) Get(ctx context.Context, ref release.ObjectRef) (*unstructured.Unstructured, error) {
	mapping, err := m.mappingForRef(ref)
	if err != nil {
		return nil, err
	}
	return m.resource(mapping, ref.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
}

func (m *Manager) deleteOne(ctx context.Context, ref release.ObjectRef, opts DeleteOptions) Change {
	fail := func(op string, err error) Change {
		return Change{Ref: ref, Action: Failed, Err: &ObjectError{Ref: ref, Op: op, Err: err}}
	}
	mapping, err := m.mappingForRef(ref)
	if err != nil {
		// Without its kind (its CRD is gone) the object cannot exist.
		if meta.IsNoMatchError(err) {
			return Change{Ref: ref, Action: Deleted}
		}
		return fail("resolve kind", err)
	}
	ri := m.resource(mapping, ref.Namespace)
	live, err := ri.Get(ctx, ref.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return Change{Ref: ref, Action: Deleted}
	}
	if err != nil {
		return fail("get", err)
	}
	if !opts.IgnoreKeep && ownership.Keep(live.GetAnnotations()) {
		return Change{Ref: ref, Action: Kept, Object: live}
	}
	if opts.Release != "" {
		// Only what carries this release's labels is deleted: an object
		// another release adopted, or one of another tool that an
		// interrupted operation never got to write, stays.
		labels := live.GetLabels()
		if rel, ok := labels[ownership.LabelRelease]; !ok ||
			rel != opts.Release || labels[ownership.LabelReleaseNamespace] != opts.ReleaseNamespace {
			return Change{Ref: ref, Action: Skipped, Object: live}
		}
	}
	policy := metav1.DeletePropagationBackground
	if opts.Propagation != "" {
		policy = opts.Propagation
	}
	del := metav1.DeleteOptions{
		PropagationPolicy: &policy,
		// Delete what was read, not an object created since under the same name.
		Preconditions: &metav1.Preconditions{UID: ptr(live.GetUID())},
	}
	if opts.DryRun {
		del.DryRun = []string{metav1.DryRunAll}
	}
	err = ri.Delete(ctx, ref.Name, del)
	if err != nil && !apierrors.IsNotFound(err) {
		return fail("delete", err)
	}
	return Change{Ref: ref, Action: Deleted}
}

// deleteStages groups references into the stages Delete runs one after the
// other (see Delete).
func deleteStages(refs []release.ObjectRef) [][]release.ObjectRef {
	rank := func(r release.ObjectRef) int {
		switch {
		case isNamespace(r.Group, r.Kind):
			return 4
		case isCRD(r.Group, r.Kind):
			return 3
		}
		if _, known := indexOf(render.UninstallOrder, r.Kind); known {
			return 2
		}
		return 1
	}
	return groupStages(refs, func(a, b release.ObjectRef) (less, same bool) {
		ra, rb := rank(a), rank(b)
		switch {
		case ra != rb:
			return ra < rb, false
		case ra >= 3 || a.Kind == b.Kind:
			return false, true
		case ra == 1:
			return b.Kind < a.Kind, false // the reverse of Apply's order by name
		}
		return render.UninstallOrder.Less(a.Kind, b.Kind), false
	})
}

func indexOf(order render.KindSortOrder, kind string) (int, bool) {
	for i, k := range order {
		if k == kind {
			return i, true
		}
	}
	return 0, false
}

func ptr[T any](v T) *T { return &v }
