package apply

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
	"sigs.k8s.io/structured-merge-diff/v6/value"

	"github.com/kubectl-chart/kubectl-chart/pkg/ownership"
	"github.com/kubectl-chart/kubectl-chart/pkg/release"
)

// This file is how an apply takes fields from other field managers: those
// the release applied in its previous revision (after a kubectl scale, a
// kubectl edit) without being asked, any with --force-conflicts, and in
// both cases only the fields the API server named in a conflict, each
// reported.

// Takeover is one field an apply took from another field manager.
type Takeover struct {
	Ref release.ObjectRef
	// Field is the field's path, as the API server writes it in conflicts
	// (".spec.replicas", `.spec.template.spec.containers[name="web"].image`).
	Field string
	// Manager is the field manager that had the field ("kubectl",
	// "kubectl-edit", …); Operation how it wrote it ("Update", "Apply");
	// Subresource the subresource it wrote through ("scale"), if any.
	Manager, Operation, Subresource string
	// Time is when the manager last changed its fields (the time of its
	// managedFields entry); zero when the API server did not record it, as
	// for writes through the scale subresource.
	Time time.Time
	// Reclaimed: the release applied the field in its previous revision, so
	// it was taken back without --force-conflicts. False: only
	// --force-conflicts took it.
	Reclaimed bool
}

// String says what was taken, without the time: "reclaimed .spec.replicas
// of Deployment/ns/web from kubectl (through /scale)", or "took … from …
// (--force-conflicts)" for a field the release never applied.
func (t Takeover) String() string {
	verb, why := "reclaimed", ""
	if !t.Reclaimed {
		verb, why = "took", " (--force-conflicts)"
	}
	via := ""
	if t.Subresource != "" {
		via = " (through /" + t.Subresource + ")"
	}
	return fmt.Sprintf("%s %s of %s from %s%s%s", verb, t.Field, t.Ref, t.Manager, via, why)
}

// Previous is what a release applied in its previous revision, for the
// apply of the next one: fields of it that other field managers have taken
// since (kubectl scale, kubectl edit) and that the new objects still set
// are taken back and reported (Change.Taken), where they would otherwise
// fail as conflicts. Its manifest is decoded the first time an apply asks,
// that is when a conflict happens. It is safe for concurrent use.
type Previous struct {
	manifest, namespace string

	once sync.Once
	objs []*unstructured.Unstructured
}

// NewPrevious is the previous revision of a release whose recorded manifest
// (CRDs and objects, with `# Source:` lines) is manifest and whose
// namespace is namespace.
func NewPrevious(manifest, namespace string) *Previous {
	return &Previous{manifest: manifest, namespace: namespace}
}

// Object is the object ref names as the previous revision applied it, nil
// when it did not have it. The manifest is decoded without the cluster:
// a document that does not decode any more is left out (its object is not
// taken back), and an object without a namespace is the namespace's (or
// cluster-scoped).
func (p *Previous) Object(ref release.ObjectRef) *unstructured.Unstructured {
	if p == nil {
		return nil
	}
	p.once.Do(func() {
		p.objs, _, _ = decodeManifest(p.manifest)
	})
	for _, o := range p.objs {
		gvk := o.GroupVersionKind()
		if gvk.Group != ref.Group || gvk.Kind != ref.Kind || o.GetName() != ref.Name {
			continue
		}
		ns := o.GetNamespace()
		if ns == ref.Namespace || ns == "" && (ref.Namespace == "" || ref.Namespace == p.namespace) {
			return o
		}
	}
	return nil
}

// takeOverAttempts bounds the rounds of takeOver on an object whose fields
// other managers keep taking (or whose managedFields keep moving).
const takeOverAttempts = 5

// takeOver applies obj after a conflict with other field managers, when
// every field the conflict names may be taken: a field the release applied
// in its previous revision (only fields obj sets can conflict, so the new
// revision still sets it), or any field with opts.Force. Else it fails
// with a *ConflictError naming the other fields and their managers.
//
// The fields are taken without force: they are first removed from the
// managedFields entries of the managers that own them (a JSON patch that
// tests each entry it changes is as it was read, so that it fails when one
// moved), then obj is applied as usual. So a field that another manager
// took after the conflict is not taken silently: the apply conflicts
// again, and the round starts again with the new conflict (with
// opts.Force, the last round applies with force). When a later round
// refuses, the fields released by the earlier ones stay released (owned by
// no one, their values untouched); when the first one does, nothing is
// written.
func (r *applyRun) takeOver(ctx context.Context, ri dynamic.ResourceInterface, it *item, conflict *ConflictError) Change {
	ref, obj := it.ref, it.obj
	fail := func(err error) Change { return Change{Ref: ref, Action: Failed, Err: err} }
	prev := r.previousObject(ref)
	var taken []Takeover
	for attempt := 1; ; attempt++ {
		last := attempt == takeOverAttempts
		live, err := ri.Get(ctx, obj.GetName(), metav1.GetOptions{})
		if err != nil {
			return fail(&ObjectError{Ref: ref, Op: "get", Err: err})
		}
		if err := r.checkOwnership(ref, live); err != nil {
			return fail(err)
		}
		owners, err := conflictOwners(ref, conflict.Conflicts, live)
		if err != nil {
			return fail(&ObjectError{Ref: ref, Op: "read managedFields", Err: err})
		}
		takeovers, refused := classifyTakeovers(owners, prev, r.opts.Force)
		if len(refused) > 0 {
			return fail(&ConflictError{Ref: ref, Conflicts: refused, Err: conflict.Err})
		}
		if r.opts.DryRun {
			// Nothing may be written: a forced dry run shows the outcome.
			dry, err := r.ssa(ctx, ri, obj, true, true)
			if err != nil {
				return fail(r.applyError(ref, "dry-run apply", err))
			}
			return Change{Ref: ref, Action: Configured, Object: dry, Taken: append(taken, takeovers...)}
		}
		if len(owners) > 0 {
			patch, err := releasePatch(live, owners)
			if err != nil {
				return fail(&ObjectError{Ref: ref, Op: "read managedFields", Err: err})
			}
			_, err = ri.Patch(ctx, obj.GetName(), types.JSONPatchType, patch, metav1.PatchOptions{FieldManager: ownership.FieldManager})
			switch {
			case apierrors.IsInvalid(err) && !last:
				continue // an entry changed since it was read: its test failed
			case err != nil:
				return fail(&ObjectError{Ref: ref, Op: "release the fields of other managers", Err: err})
			}
			taken = append(taken, takeovers...)
		}
		applied, err := r.ssa(ctx, ri, obj, r.opts.Force && last, false)
		if err == nil {
			return Change{Ref: ref, Action: Configured, Object: applied, Taken: taken}
		}
		err = r.applyError(ref, "apply", err)
		var again *ConflictError
		if !errors.As(err, &again) || last {
			return fail(err)
		}
		conflict = again // another manager took a field meanwhile
	}
}

// previousObject is ref's object in the previous revision, with the
// ownership labels that revision's apply stamped on it; nil when none.
func (r *applyRun) previousObject(ref release.ObjectRef) *unstructured.Unstructured {
	p := r.opts.Previous.Object(ref)
	if p == nil {
		return nil
	}
	p = p.DeepCopy()
	stampLabels(p, r.opts.Release, r.opts.ReleaseNamespace)
	return p
}

// takenField is a field of a conflict and the managedFields entry of live
// that owns it.
type takenField struct {
	path fieldpath.Path
	// entry is the index of the entry in live's metadata.managedFields.
	entry int
	Takeover
}

// conflictOwners finds, in live's managedFields, the entries that own the
// fields of conflicts (the API server names each field's manager, and its
// path as fieldpath.Path.String writes it): one takenField per field and
// entry, in the order of conflicts. A field that no entry of its manager
// owns any more (given up since the conflict) is left out.
func conflictOwners(ref release.ObjectRef, conflicts []FieldConflict, live *unstructured.Unstructured) ([]takenField, error) {
	entries := live.GetManagedFields()
	sets := make([]*fieldpath.Set, len(entries))
	var out []takenField
	for _, c := range conflicts {
		for i, e := range entries {
			if e.Manager != c.Manager {
				continue
			}
			if sets[i] == nil {
				set, err := entrySet(e)
				if err != nil {
					return nil, err
				}
				sets[i] = set
			}
			p, ok := findPath(sets[i], c.Field)
			if !ok {
				continue
			}
			var when time.Time
			if e.Time != nil {
				when = e.Time.UTC()
			}
			out = append(out, takenField{path: p, entry: i, Takeover: Takeover{
				Ref: ref, Field: c.Field, Manager: e.Manager, Operation: string(e.Operation),
				Subresource: e.Subresource, Time: when,
			}})
		}
	}
	return out, nil
}

// findPath is the path of set that String writes as field.
func findPath(set *fieldpath.Set, field string) (fieldpath.Path, bool) {
	var found fieldpath.Path
	set.Iterate(func(p fieldpath.Path) {
		if found == nil && p.String() == field {
			found = p.Copy()
		}
	})
	return found, found != nil
}

// releasePatch is the JSON patch that removes the fields of owners from
// the managedFields entries of live that own them, and removes an entry
// left empty. It first tests that each entry it changes is as in live, so
// that it fails (422) when one changed since.
func releasePatch(live *unstructured.Unstructured, owners []takenField) ([]byte, error) {
	raw, _, _ := unstructured.NestedSlice(live.Object, "metadata", "managedFields")
	entries := live.GetManagedFields()
	if len(entries) != len(raw) {
		return nil, fmt.Errorf("metadata.managedFields: %d entries, %d readable", len(raw), len(entries))
	}
	release := map[int]*fieldpath.Set{}
	for _, o := range owners {
		if release[o.entry] == nil {
			release[o.entry] = &fieldpath.Set{}
		}
		release[o.entry].Insert(o.path)
	}
	idx := make([]int, 0, len(release))
	for i := range release {
		idx = append(idx, i)
	}
	// From the last entry back, so that removing one leaves the indexes
	// of the others as they were.
	slices.Sort(idx)
	slices.Reverse(idx)
	var ops []map[string]any
	for _, i := range idx {
		ops = append(ops, map[string]any{"op": "test", "path": fmt.Sprintf("/metadata/managedFields/%d", i), "value": raw[i]})
	}
	for _, i := range idx {
		set, err := entrySet(entries[i])
		if err != nil {
			return nil, err
		}
		rest := set.Difference(release[i])
		if rest.Empty() {
			ops = append(ops, map[string]any{"op": "remove", "path": fmt.Sprintf("/metadata/managedFields/%d", i)})
			continue
		}
		js, err := rest.ToJSON()
		if err != nil {
			return nil, fmt.Errorf("manager %s: %w", entries[i].Manager, err)
		}
		ops = append(ops, map[string]any{"op": "replace", "path": fmt.Sprintf("/metadata/managedFields/%d/fieldsV1", i), "value": json.RawMessage(js)})
	}
	return json.Marshal(ops)
}

// entrySet is the field set of a managedFields entry.
func entrySet(e metav1.ManagedFieldsEntry) (*fieldpath.Set, error) {
	set := &fieldpath.Set{}
	if e.FieldsV1 == nil {
		return set, nil
	}
	if e.FieldsType != "" && e.FieldsType != "FieldsV1" {
		return nil, fmt.Errorf("manager %s: fieldsType %q, want FieldsV1", e.Manager, e.FieldsType)
	}
	if err := set.FromJSON(bytes.NewReader(e.FieldsV1.Raw)); err != nil {
		return nil, fmt.Errorf("manager %s: fieldsV1: %w", e.Manager, err)
	}
	return set, nil
}

// classifyTakeovers decides, for each field an apply would take from
// another manager, whether it may: a field prev (the object as the
// release's previous revision applied it; nil when it had none) sets is
// reclaimed; any other field is taken only with force, and refused
// otherwise.
func classifyTakeovers(taken []takenField, prev *unstructured.Unstructured, force bool) (takeovers []Takeover, refused []FieldConflict) {
	for _, t := range taken {
		t.Reclaimed = prev != nil && setsField(prev.Object, t.path)
		if !t.Reclaimed && !force {
			refused = append(refused, FieldConflict{Manager: t.Manager, Field: t.Field})
			continue
		}
		takeovers = append(takeovers, t.Takeover)
	}
	if len(refused) > 0 {
		return nil, refused
	}
	return takeovers, nil
}

// setsField tells whether obj (an object as a manifest has it) sets the
// field at p: each element of p selects a value in it, and the last one is
// not null (a null in an applied object removes a field, it does not set
// it).
func setsField(obj map[string]any, p fieldpath.Path) bool {
	var v any = obj
	for _, pe := range p {
		next, ok := pathChild(v, pe)
		if !ok {
			return false
		}
		v = next
	}
	return len(p) > 0 && v != nil
}

// pathChild is the value pe selects in v.
func pathChild(v any, pe fieldpath.PathElement) (any, bool) {
	switch {
	case pe.FieldName != nil:
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		c, ok := m[*pe.FieldName]
		return c, ok
	case pe.Key != nil:
		l, _ := v.([]any)
		for _, item := range l {
			if m, ok := item.(map[string]any); ok && hasKey(*pe.Key, m) {
				return item, true
			}
		}
	case pe.Value != nil:
		l, _ := v.([]any)
		for _, item := range l {
			if item != nil && value.Equals(*pe.Value, value.NewValueInterface(item)) {
				return item, true
			}
		}
	case pe.Index != nil:
		l, ok := v.([]any)
		if ok && *pe.Index >= 0 && *pe.Index < len(l) {
			return l[*pe.Index], true
		}
	}
	return nil, false
}

// hasKey tells whether the list item m of a manifest has key's values,
// allowing a missing protocol where the key says TCP (the API server
// defaults that key field of ports before computing field sets).
func hasKey(key value.FieldList, m map[string]any) bool {
	for _, f := range key {
		v, ok := m[f.Name]
		if !ok {
			if f.Name == "protocol" && f.Value.IsString() && f.Value.AsString() == "TCP" {
				continue
			}
			return false
		}
		if !value.Equals(f.Value, value.NewValueInterface(v)) {
			return false
		}
	}
	return true
}

// Takeovers lists the fields changes took from other field managers, in
// order.
func Takeovers(changes []Change) []Takeover {
	var out []Takeover
	for _, ch := range changes {
		out = append(out, ch.Taken...)
	}
	return out
}

// TakeoverSummary joins what takeovers took, one String each, "; "
// between: for a revision's description.
func TakeoverSummary(takeovers []Takeover) string {
	parts := make([]string, 0, len(takeovers))
	for _, t := range takeovers {
		parts = append(parts, t.String())
	}
	return strings.Join(parts, "; ")
}
