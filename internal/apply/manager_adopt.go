package apply

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	"github.com/kubectl-chart/kubectl-chart/pkg/ownership"
	"github.com/kubectl-chart/kubectl-chart/pkg/release"
)

// AdoptOptions says how Adopt takes objects over from another tool.
type AdoptOptions struct {
	// Release and ReleaseNamespace name the release that adopts the
	// objects (required).
	Release, ReleaseNamespace string
	// From are the field managers whose fields the release takes ("helm"):
	// their managedFields entries of the main resource are removed.
	From []string
	// Concurrency bounds the parallel requests (default DefaultConcurrency).
	Concurrency int
	// DryRun reports what would be done and writes nothing.
	DryRun bool
	// Planned are the adoptions of a dry run of the same objects (in the
	// same order): the field sets it learnt are used again, sparing each
	// object its dry-run apply.
	Planned []Adoption
}

// Adoption is what Adopt did, or would do, to one object.
type Adoption struct {
	Ref release.ObjectRef
	// Missing: the object does not exist (nothing was done).
	Missing bool
	// Labelled: the ownership labels were added (false when the object
	// had them already).
	Labelled bool
	// Taken are the managers of From whose fields were taken, and Fields
	// how many fields (leaves and owned items) kubectl-chart owns of the
	// object afterwards. Taken is empty when the object was adopted
	// already.
	Taken  []string
	Fields int
	// Drift are the fields the manifest sets whose live value differs
	// from the manifest's (FormatPath): they are left as they are, owned
	// by kubectl-chart from now on, so the next upgrade sets them to what
	// the chart renders.
	Drift []string
	// Err is why the object could not be adopted.
	Err error

	// entry and owned are kubectl-chart's managedFields entry and its set
	// after a dry-run apply of the manifest (for AdoptOptions.Planned).
	entry metav1.ManagedFieldsEntry
	owned *fieldpath.Set
}

// adoptAttempts bounds the retries of the managedFields patch when the
// object changes between its read and the patch.
const adoptAttempts = 5

// Adopt makes objs the release's without changing any value of them: it
// adds the ownership labels (a server-side apply of the labels alone, as
// field manager kubectl-chart), then rewrites the managedFields so that
// kubectl-chart's Apply entry owns exactly the fields the object's
// manifest (obj) sets — the set the API server computes for a dry-run
// apply of it — and the managers of opts.From no longer own them. The
// managedFields patch changes no field, so no workload rolls (a
// Deployment's generation stays). Adopting an adopted object again writes
// nothing.
//
// An object that belongs to another release is refused (*OwnershipError);
// a missing one is reported (Missing). The adoptions are returned in the
// order of objs, with every failure joined in the error.
func (m *Manager) Adopt(ctx context.Context, objs []*unstructured.Unstructured, opts AdoptOptions) ([]Adoption, error) {
	if opts.Release == "" {
		return nil, errors.New("apply: adopt: no release")
	}
	out := make([]Adoption, len(objs))
	forEach(ctx, len(objs), opts.Concurrency, func(i int) {
		var planned *Adoption
		if i < len(opts.Planned) && opts.Planned[i].Ref == RefOf(objs[i]) && opts.Planned[i].owned != nil {
			planned = &opts.Planned[i]
		}
		out[i] = m.adoptOne(ctx, objs[i], opts, planned)
	}, func(i int) {
		out[i] = Adoption{Ref: RefOf(objs[i]), Err: ctx.Err()}
	})
	var errs []error
	for _, a := range out {
		if a.Err != nil {
			errs = append(errs, a.Err)
		}
	}
	return out, errors.Join(errs...)
}

func (m *Manager) adoptOne(ctx context.Context, obj *unstructured.Unstructured, opts AdoptOptions, planned *Adoption) Adoption {
	ref := RefOf(obj)
	a := Adoption{Ref: ref}
	mapping, ri, live, err := m.readLive(ctx, ref)
	if live == nil {
		a.Missing, a.Err = err == nil, err
		return a
	}
	labels := live.GetLabels()
	if rel, ok := labels[ownership.LabelRelease]; ok && (rel != opts.Release || labels[ownership.LabelReleaseNamespace] != opts.ReleaseNamespace) {
		a.Err = &OwnershipError{Ref: ref, Release: rel, ReleaseNamespace: labels[ownership.LabelReleaseNamespace]}
		return a
	}

	// What the manifest sets, as the API server computes it: kubectl-chart's
	// entry after a dry-run apply of the manifest with the labels (or as a
	// dry run of the same adoption learnt it).
	if planned != nil {
		a.entry, a.owned, a.Fields, a.Drift = planned.entry, planned.owned, planned.Fields, planned.Drift
	} else {
		desired := obj.DeepCopy()
		stampLabels(desired, opts.Release, opts.ReleaseNamespace)
		var quiet dynamic.ResourceInterface = m.quiet.Resource(mapping.Resource)
		if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
			quiet = m.quiet.Resource(mapping.Resource).Namespace(obj.GetNamespace())
		}
		dry, err := quiet.Apply(ctx, desired.GetName(), desired, metav1.ApplyOptions{FieldManager: ownership.FieldManager, Force: true, DryRun: []string{metav1.DryRunAll}})
		if err != nil {
			a.Err = &ObjectError{Ref: ref, Op: "dry-run apply", Err: err}
			return a
		}
		if a.entry, a.owned, err = appliedEntry(dry); err != nil {
			a.Err = &ObjectError{Ref: ref, Op: "dry-run apply", Err: err}
			return a
		}
		a.Fields = countLeaves(a.owned)
		for _, f := range ownership.ChangedFields(a.owned, live.Object, dry.Object) {
			if !isOwnershipLabel(f) {
				a.Drift = append(a.Drift, f)
			}
		}
	}
	entry, owned := a.entry, a.owned
	a.Labelled = !hasOwnershipLabels(live, opts)
	plan, taken, err := adoptedManagedFields(live, entry, owned, opts.From)
	if err != nil {
		a.Err = &ObjectError{Ref: ref, Op: "read managedFields", Err: err}
		return a
	}
	a.Taken = taken
	if opts.DryRun {
		return a
	}

	if a.Labelled {
		labelsOnly := &unstructured.Unstructured{Object: map[string]any{"apiVersion": obj.GetAPIVersion(), "kind": obj.GetKind()}}
		labelsOnly.SetName(obj.GetName())
		labelsOnly.SetNamespace(obj.GetNamespace())
		stampLabels(labelsOnly, opts.Release, opts.ReleaseNamespace)
		if live, err = ri.Apply(ctx, obj.GetName(), labelsOnly, metav1.ApplyOptions{FieldManager: ownership.FieldManager, Force: true}); err != nil {
			a.Err = &ObjectError{Ref: ref, Op: "apply labels", Err: err}
			return a
		}
		if plan, _, err = adoptedManagedFields(live, entry, owned, opts.From); err != nil {
			a.Err = &ObjectError{Ref: ref, Op: "read managedFields", Err: err}
			return a
		}
	}
	for attempt := 1; plan != nil; attempt++ {
		err := patchManagedFields(ctx, ri, live, plan)
		if err == nil {
			break
		}
		if !apierrors.IsConflict(err) && !apierrors.IsInvalid(err) || attempt == adoptAttempts {
			a.Err = &ObjectError{Ref: ref, Op: "patch managedFields", Err: err}
			return a
		}
		// The object changed since it was read (the patch tests its
		// resourceVersion): read it and plan again.
		if live, err = ri.Get(ctx, obj.GetName(), metav1.GetOptions{}); err != nil {
			a.Err = &ObjectError{Ref: ref, Op: "get", Err: err}
			return a
		}
		if plan, _, err = adoptedManagedFields(live, entry, owned, opts.From); err != nil {
			a.Err = &ObjectError{Ref: ref, Op: "read managedFields", Err: err}
			return a
		}
	}
	return a
}

// appliedEntry is kubectl-chart's Apply entry of the main resource in obj's
// managedFields, and its field set.
func appliedEntry(obj *unstructured.Unstructured) (metav1.ManagedFieldsEntry, *fieldpath.Set, error) {
	for _, e := range obj.GetManagedFields() {
		if e.Manager == ownership.FieldManager && e.Operation == metav1.ManagedFieldsOperationApply && e.Subresource == "" {
			set, err := fieldSet(e)
			return e, set, err
		}
	}
	return metav1.ManagedFieldsEntry{}, nil, errors.New("the dry run gave kubectl-chart no managedFields entry")
}

func fieldSet(e metav1.ManagedFieldsEntry) (*fieldpath.Set, error) {
	set := &fieldpath.Set{}
	if e.FieldsV1 == nil || len(e.FieldsV1.Raw) == 0 {
		return set, nil
	}
	if err := set.FromJSON(bytes.NewReader(e.FieldsV1.Raw)); err != nil {
		return nil, fmt.Errorf("manager %s: %w", e.Manager, err)
	}
	return set, nil
}

// adoptedManagedFields is live's managedFields with want (kubectl-chart's
// Apply entry, owning the set owned) in place of kubectl-chart's Apply
// entry, and the entries of the managers from (main resource only) without
// the fields of owned; nil when they are so already. taken are the
// managers of from that lose fields.
func adoptedManagedFields(live *unstructured.Unstructured, want metav1.ManagedFieldsEntry, owned *fieldpath.Set, from []string) (plan []metav1.ManagedFieldsEntry, taken []string, err error) {
	entries := live.GetManagedFields()
	changed := false
	placed := false
	for _, e := range entries {
		switch {
		case e.Manager == ownership.FieldManager && e.Operation == metav1.ManagedFieldsOperationApply && e.Subresource == "":
			placed = true
			set, err := fieldSet(e)
			if err != nil {
				return nil, nil, err
			}
			if set.Equals(owned) {
				plan = append(plan, e)
				continue
			}
			changed = true
			now := metav1.Now()
			want.Time = &now
			plan = append(plan, want)
		case slices.Contains(from, e.Manager) && e.Subresource == "":
			// The tool's entries go whole: what it owned beyond the manifest
			// is at most the containers of its fields ("." members of an
			// Update entry), which it has no reason to keep.
			changed = true
			if !slices.Contains(taken, e.Manager) {
				taken = append(taken, e.Manager)
			}
		default:
			plan = append(plan, e)
		}
	}
	if !placed {
		changed = true
		now := metav1.Now()
		want.Time = &now
		plan = append(plan, want)
	}
	if !changed {
		return nil, nil, nil
	}
	slices.Sort(taken)
	return plan, taken, nil
}

// patchManagedFields replaces live's managedFields with entries, a JSON
// patch that first tests live's resourceVersion. It changes no field.
func patchManagedFields(ctx context.Context, ri dynamic.ResourceInterface, live *unstructured.Unstructured, entries []metav1.ManagedFieldsEntry) error {
	patch, err := json.Marshal([]map[string]any{
		{"op": "test", "path": "/metadata/resourceVersion", "value": live.GetResourceVersion()},
		{"op": "replace", "path": "/metadata/managedFields", "value": entries},
	})
	if err != nil {
		return err
	}
	_, err = ri.Patch(ctx, live.GetName(), types.JSONPatchType, patch, metav1.PatchOptions{FieldManager: ownership.FieldManager})
	return err
}

// hasOwnershipLabels tells whether live carries the release's labels.
func hasOwnershipLabels(live *unstructured.Unstructured, opts AdoptOptions) bool {
	l := live.GetLabels()
	return l[ownership.LabelRelease] == opts.Release && l[ownership.LabelReleaseNamespace] == opts.ReleaseNamespace &&
		l[ownership.LabelApplySetPartOf] == ownership.ApplySetID(opts.Release, opts.ReleaseNamespace)
}

// releaseLabels are the labels stampLabels sets: what Adopt adds and Disown
// removes.
var releaseLabels = []string{ownership.LabelRelease, ownership.LabelReleaseNamespace, ownership.LabelApplySetPartOf}

// isOwnershipLabel tells whether path (as FormatPath writes it) is one of
// releaseLabels.
func isOwnershipLabel(path string) bool {
	for _, k := range releaseLabels {
		if path == ownership.FormatPath(fieldpath.MakePathOrDie("metadata", "labels", k)) {
			return true
		}
	}
	return false
}

// countLeaves counts the members of set (fields and items it owns).
func countLeaves(set *fieldpath.Set) int {
	n := 0
	set.Iterate(func(fieldpath.Path) { n++ })
	return n
}

// readLive reads the object ref names: its mapping, its client and the
// object; a nil object and error when it does not exist.
func (m *Manager) readLive(ctx context.Context, ref release.ObjectRef) (*meta.RESTMapping, dynamic.ResourceInterface, *unstructured.Unstructured, error) {
	mapping, err := m.mappingForRef(ref)
	if err != nil {
		return nil, nil, nil, &ObjectError{Ref: ref, Op: "map", Err: err}
	}
	ri := m.resource(mapping, ref.Namespace)
	live, err := ri.Get(ctx, ref.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return mapping, ri, nil, nil
	case err != nil:
		return mapping, ri, nil, &ObjectError{Ref: ref, Op: "get", Err: err}
	}
	return mapping, ri, live, nil
}
