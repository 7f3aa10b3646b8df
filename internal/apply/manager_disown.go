package apply

import (
	"context"
	"encoding/json"
	"errors"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	"github.com/kubectl-chart/kubectl-chart/pkg/ownership"
	"github.com/kubectl-chart/kubectl-chart/pkg/release"
)

// DisownOptions says how Disown hands objects to another tool.
type DisownOptions struct {
	// Release and ReleaseNamespace name the release that gives the
	// objects up (required).
	Release, ReleaseNamespace string
	// To is the field manager that receives kubectl-chart's fields, as an
	// Apply entry ("helm").
	To string
	// Concurrency bounds the parallel requests (default DefaultConcurrency).
	Concurrency int
	// DryRun reports what would be done and writes nothing.
	DryRun bool
}

// Disowned is what Disown did, or would do, to one object.
type Disowned struct {
	Ref release.ObjectRef
	// Missing: the object does not exist; Foreign: it is not the release's
	// (another release's labels, or none): both are left alone.
	Missing, Foreign bool
	// Fields is how many fields (leaves and items) passed to To.
	Fields int
	Err    error
}

// Disown is Adopt's way back: each object of refs that carries the
// release's labels loses them, and kubectl-chart's Apply entry becomes part
// of opts.To's Apply entry (managedFields rewritten, no other field
// written), in one JSON patch. No value changes, no workload rolls (labels
// do not move a Deployment's generation; annotations would).
// Objects already given up are left alone, so a rerun finishes a killed
// one.
func (m *Manager) Disown(ctx context.Context, refs []release.ObjectRef, opts DisownOptions) ([]Disowned, error) {
	if opts.Release == "" || opts.To == "" {
		return nil, errors.New("apply: disown: no release or no receiving field manager")
	}
	out := make([]Disowned, len(refs))
	forEach(ctx, len(refs), opts.Concurrency, func(i int) {
		out[i] = m.disownOne(ctx, refs[i], opts)
	}, func(i int) {
		out[i] = Disowned{Ref: refs[i], Err: ctx.Err()}
	})
	var errs []error
	for _, d := range out {
		if d.Err != nil {
			errs = append(errs, d.Err)
		}
	}
	return out, errors.Join(errs...)
}

func (m *Manager) disownOne(ctx context.Context, ref release.ObjectRef, opts DisownOptions) Disowned {
	d := Disowned{Ref: ref}
	_, ri, live, err := m.readLive(ctx, ref)
	if live == nil {
		d.Missing, d.Err = err == nil, err
		return d
	}
	labels := live.GetLabels()
	if labels[ownership.LabelRelease] != opts.Release || labels[ownership.LabelReleaseNamespace] != opts.ReleaseNamespace {
		d.Foreign = true
		return d
	}
	_, owned, err := appliedEntry(live)
	if err == nil {
		d.Fields = countLeaves(owned)
	}
	if opts.DryRun {
		return d
	}
	for attempt := 1; ; attempt++ {
		err := disownPatch(ctx, ri, live, opts.To)
		if err == nil {
			return d
		}
		if !apierrors.IsConflict(err) && !apierrors.IsInvalid(err) || attempt == adoptAttempts {
			d.Err = &ObjectError{Ref: ref, Op: "patch labels and managedFields", Err: err}
			return d
		}
		if live, err = ri.Get(ctx, ref.Name, metav1.GetOptions{}); err != nil {
			d.Err = &ObjectError{Ref: ref, Op: "get", Err: err}
			return d
		}
	}
}

// disownPatch removes the release's labels from live and moves
// kubectl-chart's Apply entry (without those labels) into to's Apply entry,
// a JSON patch that tests live's resourceVersion.
func disownPatch(ctx context.Context, ri dynamic.ResourceInterface, live *unstructured.Unstructured, to string) error {
	labelPaths := []fieldpath.Path{}
	ops := []map[string]any{{"op": "test", "path": "/metadata/resourceVersion", "value": live.GetResourceVersion()}}
	for _, k := range releaseLabels {
		labelPaths = append(labelPaths, fieldpath.MakePathOrDie("metadata", "labels", k))
		if _, ok := live.GetLabels()[k]; ok {
			ops = append(ops, map[string]any{"op": "remove", "path": "/metadata/labels/" + escapeJSONPointer(k)})
		}
	}
	drop := fieldpath.NewSet(labelPaths...)
	var (
		entries  []metav1.ManagedFieldsEntry
		moved    = &fieldpath.Set{}
		receiver = -1
	)
	for _, e := range live.GetManagedFields() {
		switch {
		case e.Manager == ownership.FieldManager && e.Subresource == "":
			if e.Operation == metav1.ManagedFieldsOperationApply {
				set, err := fieldSet(e)
				if err != nil {
					return err
				}
				moved = moved.Union(set)
			}
			// kubectl-chart's Update entries (none normally) are dropped too:
			// the object is no longer the release's.
		case e.Manager == to && e.Operation == metav1.ManagedFieldsOperationApply && e.Subresource == "":
			receiver = len(entries)
			entries = append(entries, e)
		default:
			entries = append(entries, e)
		}
	}
	moved = moved.Difference(drop)
	now := metav1.Now()
	if receiver < 0 {
		e := metav1.ManagedFieldsEntry{Manager: to, Operation: metav1.ManagedFieldsOperationApply, APIVersion: live.GetAPIVersion(),
			FieldsType: "FieldsV1", Time: &now}
		receiver = len(entries)
		entries = append(entries, e)
	}
	set, err := fieldSet(entries[receiver])
	if err != nil {
		return err
	}
	raw, err := set.Union(moved).ToJSON()
	if err != nil {
		return err
	}
	entries[receiver].FieldsV1 = &metav1.FieldsV1{Raw: raw}
	entries[receiver].Time = &now
	ops = append(ops, map[string]any{"op": "replace", "path": "/metadata/managedFields", "value": entries})
	patch, err := json.Marshal(ops)
	if err != nil {
		return err
	}
	_, err = ri.Patch(ctx, live.GetName(), types.JSONPatchType, patch, metav1.PatchOptions{FieldManager: ownership.FieldManager})
	return err
}

// escapeJSONPointer escapes a key for a JSON Pointer (RFC 6901).
func escapeJSONPointer(s string) string {
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(s)
}
