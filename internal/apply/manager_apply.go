package apply

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/kubectl-chart/kubectl-chart/pkg/ownership"
	"github.com/kubectl-chart/kubectl-chart/pkg/release"
)

// Options says how Apply writes.
type Options struct {
	// Release and ReleaseNamespace name the release the objects belong to.
	// Every object gets the labels kubectl-chart.io/release,
	// kubectl-chart.io/release-namespace and applyset.kubernetes.io/part-of
	// on its own metadata (never on pod templates), and objects of another
	// release or tool are refused (unless TakeOwnership). With an empty
	// Release, no labels are set and no ownership is checked.
	Release, ReleaseNamespace string
	// Force takes fields that other field managers own (--force-conflicts);
	// without it such conflicts fail with a *ConflictError, except for the
	// fields of Previous. Either way, only the fields the API server names
	// in a conflict are taken, and each is reported (Change.Taken).
	Force bool
	// Previous is what the release applied in its previous revision (nil:
	// nothing, as on install). Fields of it that other managers took since
	// (kubectl scale, kubectl edit) and that the objects still set are
	// taken back, as Helm users expect an upgrade to restore what the
	// chart renders, and reported (Change.Taken).
	Previous *Previous
	// TakeOwnership adopts objects that another release owns or another tool
	// created (--take-ownership); without it they fail with an
	// *OwnershipError.
	TakeOwnership bool
	// Concurrency bounds the parallel requests within a stage (default
	// DefaultConcurrency).
	Concurrency int
	// DryRun asks the server what would change and writes nothing.
	// Objects that depend on a Namespace or CRD the same apply would create
	// are reported created without asking the server.
	DryRun bool
}

// DefaultOptions are the options of an apply without flags.
func DefaultOptions() Options { return Options{Concurrency: DefaultConcurrency} }

// crdEstablishTimeout bounds the wait for new or changed CRDs to be
// Established before custom resources are applied.
const crdEstablishTimeout = time.Minute

var crdGVR = schema.GroupVersionResource{Group: groupCRD, Version: "v1", Resource: "customresourcedefinitions"}

// Apply applies objects with server-side apply, in stages: CRDs (then waits
// until they are Established, and refreshes discovery), Namespaces, then one
// stage per kind in Helm's install order. The objects of a stage are applied
// in parallel, at most opts.Concurrency at a time.
//
// An object whose desired state is live is not written (Unchanged). Live
// objects are read with one LIST per resource and namespace when there are
// many (else a GET each); a missing object is created by apply; an existing
// one is first checked for ownership, then compared locally with what
// kubectl-chart owns of it (unchangedLocally), and only when that cannot
// tell, with the result of a server-side dry run. Only objects that would
// change are applied.
//
// When objects of a stage fail, the others of the stage are still applied,
// the later stages are not started (their objects are Skipped), and the
// error joins every failure. The change set is returned in every case. objs
// are not modified.
func (m *Manager) Apply(ctx context.Context, objs []*unstructured.Unstructured, opts Options) (*ChangeSet, error) {
	desired := make([]*unstructured.Unstructured, 0, len(objs))
	seen := make(map[string]bool, len(objs))
	var errs []error
	for _, o := range objs {
		ref := RefOf(o)
		if seen[ref.Key()] {
			errs = append(errs, fmt.Errorf("%s: appears more than once", ref))
			continue
		}
		seen[ref.Key()] = true
		o = o.DeepCopy()
		prepareDesired(o, opts.Release, opts.ReleaseNamespace)
		desired = append(desired, o)
	}
	if len(errs) > 0 {
		return &ChangeSet{}, errors.Join(errs...)
	}

	run := &applyRun{m: m, opts: opts, newNamespaces: map[string]bool{}, newKinds: map[schema.GroupKind]bool{}}
	cs := &ChangeSet{}
	stages := installStages(desired)
	var prepared []*preparedStage // stages from `from` on, resolved and prefetched
	from := -1
	for i, stage := range stages {
		// CRDs and Namespaces change what the later stages resolve to (and,
		// in a dry run, what the server can check): the stages after them
		// are resolved, and their live objects read, all at once — a round
		// of LISTs for the whole apply instead of one per stage.
		var ps *preparedStage
		if gvk := stage[0].GroupVersionKind(); isCRD(gvk.Group, gvk.Kind) || isNamespace(gvk.Group, gvk.Kind) {
			ps = run.prepare(ctx, stage)
		} else {
			if from < 0 {
				from = i
				prepared = run.prepareAll(ctx, stages[i:])
			}
			ps = prepared[i-from]
		}
		changes := run.stage(ctx, ps)
		cs.Add(changes...)
		err := (&ChangeSet{Changes: changes}).Failed()
		if err == nil && isCRD(stage[0].GroupVersionKind().Group, stage[0].GetKind()) {
			err = run.afterCRDs(ctx, stage, changes)
		}
		if err == nil {
			err = ctx.Err()
		}
		if err != nil {
			for _, rest := range stages[i+1:] {
				for _, o := range rest {
					cs.Add(Change{Ref: RefOf(o), Action: Skipped})
				}
			}
			return cs, err
		}
	}
	return cs, nil
}

// applyRun is the state of one Apply.
type applyRun struct {
	m    *Manager
	opts Options
	// In a dry run: Namespaces and CRD kinds the apply would create; objects
	// in them cannot be checked by the server.
	newNamespaces map[string]bool
	newKinds      map[schema.GroupKind]bool
}

// preparedStage is a stage whose objects are resolved and whose live
// objects are read: items[i] is nil when changes[i] is decided already.
type preparedStage struct {
	objs    []*unstructured.Unstructured
	items   []*item
	changes []Change
}

func (r *applyRun) resolveStage(objs []*unstructured.Unstructured) *preparedStage {
	ps := &preparedStage{objs: objs, items: make([]*item, len(objs)), changes: make([]Change, len(objs))}
	for i, o := range objs {
		ps.items[i] = &item{obj: o, ref: RefOf(o)}
		if ch := r.resolve(ps.items[i]); ch != nil {
			ps.changes[i] = *ch
			ps.items[i] = nil
		}
	}
	return ps
}

// prepare resolves one stage and reads its live objects.
func (r *applyRun) prepare(ctx context.Context, objs []*unstructured.Unstructured) *preparedStage {
	ps := r.resolveStage(objs)
	r.m.prefetch(ctx, ps.items, r.opts)
	return ps
}

// prepareAll resolves stages and reads their live objects with one round of
// parallel LISTs.
func (r *applyRun) prepareAll(ctx context.Context, stages [][]*unstructured.Unstructured) []*preparedStage {
	out := make([]*preparedStage, len(stages))
	var all []*item
	for i, objs := range stages {
		out[i] = r.resolveStage(objs)
		all = append(all, out[i].items...)
	}
	r.m.prefetch(ctx, all, r.opts)
	return out
}

func (r *applyRun) stage(ctx context.Context, ps *preparedStage) []Change {
	objs, items, changes := ps.objs, ps.items, ps.changes
	forEach(ctx, len(objs), r.opts.Concurrency,
		func(i int) {
			if items[i] != nil {
				changes[i] = r.one(ctx, items[i])
			}
		},
		func(i int) {
			if items[i] != nil {
				changes[i] = Change{Ref: items[i].ref, Action: Skipped}
			}
		})
	if r.opts.DryRun {
		for i, ch := range changes {
			if ch.Action != Created {
				continue
			}
			gvk := objs[i].GroupVersionKind()
			switch {
			case isNamespace(gvk.Group, gvk.Kind):
				r.newNamespaces[objs[i].GetName()] = true
			case isCRD(gvk.Group, gvk.Kind):
				group, _, _ := unstructured.NestedString(objs[i].Object, "spec", "group")
				kind, _, _ := unstructured.NestedString(objs[i].Object, "spec", "names", "kind")
				r.newKinds[schema.GroupKind{Group: group, Kind: kind}] = true
			}
		}
	}
	return changes
}

// item is one object of a stage on its way.
type item struct {
	obj     *unstructured.Unstructured
	ref     release.ObjectRef
	mapping *meta.RESTMapping
	// fetched: live is what the server has (nil: no such object), read by
	// prefetch; else one asks.
	fetched bool
	live    *unstructured.Unstructured
}

// resolve finds an item's resource; it returns the item's change when that
// is decided already (a failure, or a dry run's object in a Namespace or of
// a CRD that the same apply creates).
func (r *applyRun) resolve(it *item) *Change {
	mapping, err := r.m.mapping(it.obj.GroupVersionKind())
	if err != nil {
		if r.opts.DryRun && meta.IsNoMatchError(err) && r.newKinds[it.obj.GroupVersionKind().GroupKind()] {
			return &Change{Ref: it.ref, Action: Created, Object: it.obj}
		}
		return &Change{Ref: it.ref, Action: Failed, Err: &ObjectError{Ref: it.ref, Op: "resolve kind", Err: err}}
	}
	namespaced := mapping.Scope.Name() == meta.RESTScopeNameNamespace
	switch {
	case namespaced && it.obj.GetNamespace() == "":
		return &Change{Ref: it.ref, Action: Failed, Err: fmt.Errorf("%s: namespaced object without a namespace", it.ref)}
	case !namespaced && it.obj.GetNamespace() != "":
		it.obj.SetNamespace("")
		it.ref.Namespace = ""
	}
	if r.opts.DryRun && namespaced && r.newNamespaces[it.obj.GetNamespace()] {
		return &Change{Ref: it.ref, Action: Created, Object: it.obj}
	}
	it.mapping = mapping
	return nil
}

// one applies one object.
func (r *applyRun) one(ctx context.Context, it *item) Change {
	ref, obj := it.ref, it.obj
	fail := func(err error) Change { return Change{Ref: ref, Action: Failed, Err: err} }
	ri := r.m.resource(it.mapping, obj.GetNamespace())

	live := it.live
	if !it.fetched {
		var err error
		live, err = ri.Get(ctx, obj.GetName(), metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			live = nil
		case err != nil:
			return fail(&ObjectError{Ref: ref, Op: "get", Err: err})
		}
	}
	if live == nil {
		applied, err := r.ssa(ctx, ri, obj, r.opts.Force, r.opts.DryRun)
		if err != nil {
			return fail(r.applyError(ref, "apply", err))
		}
		return Change{Ref: ref, Action: Created, Object: applied}
	}

	if err := r.checkOwnership(ref, live); err != nil {
		return fail(err)
	}
	if !r.m.noLocalCompare && unchangedLocally(obj, live) {
		return Change{Ref: ref, Action: Unchanged, Object: live}
	}
	dry, err := r.dryRun(ctx, ri, ref, obj, &live)
	if ce := (*ConflictError)(nil); errors.As(err, &ce) && r.mayTakeOver(ref) {
		return r.takeOver(ctx, ri, it, ce)
	}
	if err != nil {
		return fail(err)
	}
	if sameObject(dry, live) {
		return Change{Ref: ref, Action: Unchanged, Object: live}
	}
	if r.opts.DryRun {
		return Change{Ref: ref, Action: Configured, Object: dry}
	}
	applied, err := r.ssa(ctx, ri, obj, false, false)
	if err != nil {
		err = r.applyError(ref, "apply", err)
		if ce := (*ConflictError)(nil); errors.As(err, &ce) && r.mayTakeOver(ref) {
			// Another manager took a field since the dry run.
			return r.takeOver(ctx, ri, it, ce)
		}
		return fail(err)
	}
	return Change{Ref: ref, Action: Configured, Object: applied}
}

// mayTakeOver tells whether a conflict on ref may be resolved by taking
// fields (takeOver): with Force, or when the previous revision had the
// object.
func (r *applyRun) mayTakeOver(ref release.ObjectRef) bool {
	return r.opts.Force || r.opts.Previous.Object(ref) != nil
}

// dryRunAttempts bounds the dry runs of one object whose live state keeps
// moving (a controller writing it) between the read and the dry run.
const dryRunAttempts = 3

// dryRun asks the server what applying obj over *live gives. The answer is
// comparable with *live only when both have the same resourceVersion: when a
// controller wrote the object in between, *live is read again (and the dry
// run repeated, a few times at most).
func (r *applyRun) dryRun(ctx context.Context, ri dynamic.ResourceInterface, ref release.ObjectRef, obj *unstructured.Unstructured, live **unstructured.Unstructured) (*unstructured.Unstructured, error) {
	for attempt := 1; ; attempt++ {
		dry, err := r.ssa(ctx, ri, obj, false, true)
		if err != nil {
			return nil, r.applyError(ref, "dry-run apply", err)
		}
		if dry.GetResourceVersion() == (*live).GetResourceVersion() || attempt == dryRunAttempts {
			return dry, nil
		}
		again, err := ri.Get(ctx, obj.GetName(), metav1.GetOptions{})
		if err != nil {
			return nil, &ObjectError{Ref: ref, Op: "get", Err: err}
		}
		*live = again
		if dry.GetResourceVersion() == again.GetResourceVersion() {
			return dry, nil
		}
	}
}

// ssa sends a server-side apply request.
func (r *applyRun) ssa(ctx context.Context, ri dynamic.ResourceInterface, obj *unstructured.Unstructured, force, dryRun bool) (*unstructured.Unstructured, error) {
	o := metav1.ApplyOptions{FieldManager: ownership.FieldManager, Force: force}
	if dryRun {
		o.DryRun = []string{metav1.DryRunAll}
	}
	return ri.Apply(ctx, obj.GetName(), obj, o)
}

func (r *applyRun) applyError(ref release.ObjectRef, op string, err error) error {
	if ce := conflictError(ref, err); ce != nil {
		return ce
	}
	return &ObjectError{Ref: ref, Op: op, Err: err}
}

// checkOwnership refuses a live object that is not this release's.
func (r *applyRun) checkOwnership(ref release.ObjectRef, live *unstructured.Unstructured) error {
	if r.opts.Release == "" || r.opts.TakeOwnership {
		return nil
	}
	labels := live.GetLabels()
	if rel, ok := labels[ownership.LabelRelease]; ok {
		relNS := labels[ownership.LabelReleaseNamespace]
		if rel == r.opts.Release && relNS == r.opts.ReleaseNamespace {
			return nil
		}
		return &OwnershipError{Ref: ref, Release: rel, ReleaseNamespace: relNS}
	}
	return &OwnershipError{Ref: ref, Managers: managers(live)}
}

// managers lists an object's field managers, sorted, without repeats.
func managers(obj *unstructured.Unstructured) []string {
	var out []string
	for _, e := range obj.GetManagedFields() {
		if !slices.Contains(out, e.Manager) {
			out = append(out, e.Manager)
		}
	}
	slices.Sort(out)
	return out
}

// sameObject compares a dry-run result with the live object read before it.
// It ignores what the dry run leaves as it was or what controllers may have
// written since the read: status, resourceVersion, generation and the
// managedFields entries of other managers; of kubectl-chart's own entry it
// compares all but the time.
func sameObject(dry, live *unstructured.Unstructured) bool {
	return reflect.DeepEqual(comparable(dry.Object), comparable(live.Object))
}

func comparable(obj map[string]any) map[string]any {
	out := make(map[string]any, len(obj))
	for k, v := range obj {
		if k != "status" {
			out[k] = v
		}
	}
	md, ok := obj["metadata"].(map[string]any)
	if !ok {
		return out
	}
	meta := make(map[string]any, len(md))
	for k, v := range md {
		switch k {
		case "resourceVersion", "generation":
		case "managedFields":
			entries, _ := v.([]any)
			var ours []any
			for _, e := range entries {
				em, _ := e.(map[string]any)
				if em["manager"] != ownership.FieldManager {
					continue
				}
				c := make(map[string]any, len(em))
				for ek, ev := range em {
					if ek != "time" {
						c[ek] = ev
					}
				}
				ours = append(ours, c)
			}
			meta[k] = ours
		default:
			meta[k] = v
		}
	}
	out["metadata"] = meta
	return out
}

// afterCRDs waits until the CRDs of a stage are Established, then makes the
// mapper see their kinds.
func (r *applyRun) afterCRDs(ctx context.Context, crds []*unstructured.Unstructured, changes []Change) error {
	if r.opts.DryRun {
		return nil
	}
	changed := false
	for _, ch := range changes {
		changed = changed || ch.Action == Created || ch.Action == Configured
	}
	if err := r.m.waitEstablished(ctx, crds, changes); err != nil {
		return err
	}
	if changed {
		r.m.resetMapper(time.Now())
	}
	return nil
}

// waitEstablished waits until every CRD is Established, starting from the
// state the apply returned.
func (m *Manager) waitEstablished(ctx context.Context, crds []*unstructured.Unstructured, changes []Change) error {
	ctx, cancel := context.WithTimeout(ctx, crdEstablishTimeout)
	defer cancel()
	errs := make([]error, len(crds))
	forEach(ctx, len(crds), DefaultConcurrency, func(i int) {
		ref := RefOf(crds[i])
		ref.Namespace = ""
		obj := changes[i].Object
		for {
			if obj != nil {
				established, err := crdEstablished(obj)
				if err != nil {
					errs[i] = fmt.Errorf("%s: %w", ref, err)
					return
				}
				if established {
					return
				}
			}
			select {
			case <-ctx.Done():
				errs[i] = fmt.Errorf("%s: not Established after %s: %w", ref, crdEstablishTimeout, ctx.Err())
				return
			case <-time.After(50 * time.Millisecond):
			}
			var err error
			obj, err = m.dynamic.Resource(crdGVR).Get(ctx, crds[i].GetName(), metav1.GetOptions{})
			if err != nil && ctx.Err() == nil {
				errs[i] = &ObjectError{Ref: ref, Op: "get", Err: err}
				return
			}
		}
	}, func(i int) { errs[i] = fmt.Errorf("%s: %w", RefOf(crds[i]), ctx.Err()) })
	return errors.Join(errs...)
}

// crdEstablished reads a CRD's conditions: true once Established, an error
// when its names are refused.
func crdEstablished(crd *unstructured.Unstructured) (bool, error) {
	conds, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
	established := false
	for _, c := range conds {
		cm, _ := c.(map[string]any)
		typ, _ := cm["type"].(string)
		status, _ := cm["status"].(string)
		switch {
		case typ == "NamesAccepted" && status == "False":
			reason, _ := cm["reason"].(string)
			msg, _ := cm["message"].(string)
			return false, fmt.Errorf("names not accepted (%s): %s", reason, msg)
		case typ == "Established" && status == "True":
			established = true
		}
	}
	return established, nil
}
