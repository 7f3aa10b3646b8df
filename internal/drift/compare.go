package drift

import (
	"bytes"
	"fmt"
	"slices"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
	"sigs.k8s.io/structured-merge-diff/v6/typed"

	"github.com/kubectl-chart/kubectl-chart/pkg/ownership"
)

// serverFields are the fields of an applied object that are never the
// applier's: the object's identity and what the API server maintains
// (the API server strips them from every field set), and status, which
// the main resource does not write.
var serverFields = fieldpath.NewSet(
	fieldpath.MakePathOrDie("apiVersion"),
	fieldpath.MakePathOrDie("kind"),
	fieldpath.MakePathOrDie("status"),
	fieldpath.MakePathOrDie("metadata", "name"),
	fieldpath.MakePathOrDie("metadata", "namespace"),
	fieldpath.MakePathOrDie("metadata", "creationTimestamp"),
	fieldpath.MakePathOrDie("metadata", "selfLink"),
	fieldpath.MakePathOrDie("metadata", "uid"),
	fieldpath.MakePathOrDie("metadata", "resourceVersion"),
	fieldpath.MakePathOrDie("metadata", "generation"),
	fieldpath.MakePathOrDie("metadata", "managedFields"),
)

// compareObject is the drift of one live object from the object the
// release applied: every field of applied's field set (serverFields
// aside) that kubectl-chart's Apply entry of live's managedFields does not
// hold, with the applied and live values and the entries that own it now.
// A field below another that drifted (the leaves of a removed list item)
// is not reported on its own; neither is a field applied as null (that
// removes a field, it does not set it). applied and live must be typed
// with the same schema; liveObj is live's unstructured content, whose
// managedFields are read.
func compareObject(applied, live *typed.TypedValue, liveObj map[string]any, entries []metav1.ManagedFieldsEntry) ([]Field, error) {
	appliedSet, err := applied.ToFieldSet()
	if err != nil {
		return nil, fmt.Errorf("field set of the applied object: %w", err)
	}
	owned, err := ownership.OwnedFields(liveObj)
	if err != nil {
		return nil, err
	}
	drifted := appliedSet.RecursiveDifference(serverFields).Difference(owned)
	if drifted.Empty() {
		return nil, nil
	}
	sets, err := entrySets(entries)
	if err != nil {
		return nil, err
	}
	var out []Field
	for _, p := range topmost(drifted) {
		av, ok := valueAt(applied, p)
		if !ok || av == nil {
			continue
		}
		f := Field{Path: ownership.FormatPath(p), Applied: av}
		if lv, ok := valueAt(live, p); ok {
			f.Live = lv
		}
		for i, e := range entries {
			if isChartApply(e) || !covers(sets[i], p) {
				continue
			}
			o := Owner{Manager: e.Manager, Operation: string(e.Operation), Subresource: e.Subresource}
			if e.Time != nil {
				t := e.Time.UTC()
				o.Time = &t
			}
			f.Owners = append(f.Owners, o)
		}
		slices.SortStableFunc(f.Owners, func(a, b Owner) int { return compareTimes(b.Time, a.Time) })
		out = append(out, f)
	}
	return out, nil
}

// isChartApply tells kubectl-chart's own Apply entry on the main resource.
func isChartApply(e metav1.ManagedFieldsEntry) bool {
	return e.Manager == ownership.FieldManager && e.Operation == metav1.ManagedFieldsOperationApply && e.Subresource == ""
}

// compareTimes orders times, nil first.
func compareTimes(a, b *time.Time) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return -1
	case b == nil:
		return 1
	}
	return a.Compare(*b)
}

// entrySets are the field sets of entries (an entry whose set cannot be
// read is an error: who owns what cannot be told).
func entrySets(entries []metav1.ManagedFieldsEntry) ([]*fieldpath.Set, error) {
	sets := make([]*fieldpath.Set, len(entries))
	for i, e := range entries {
		sets[i] = &fieldpath.Set{}
		if e.FieldsV1 == nil {
			continue
		}
		if err := sets[i].FromJSON(bytes.NewReader(e.FieldsV1.Raw)); err != nil {
			return nil, fmt.Errorf("metadata.managedFields[%d] (manager %s): fieldsV1: %w", i, e.Manager, err)
		}
	}
	return sets, nil
}

// topmost is the paths of set that have no ancestor in set, in order.
func topmost(set *fieldpath.Set) []fieldpath.Path {
	var out []fieldpath.Path
	set.Iterate(func(p fieldpath.Path) {
		for i := 1; i < len(p); i++ {
			if set.Has(p[:i]) {
				return
			}
		}
		out = append(out, p.Copy())
	})
	slices.SortFunc(out, fieldpath.Path.Compare)
	return out
}

// covers tells whether set has p, or fields below it.
func covers(set *fieldpath.Set, p fieldpath.Path) bool {
	if set.Has(p) {
		return true
	}
	s := set
	for _, pe := range p {
		child, ok := s.Children.Get(pe)
		if !ok {
			return false
		}
		s = child
	}
	return !s.Empty()
}

// valueAt is the value at p in tv, as unstructured JSON; false when tv has
// no value there. It extracts p with structured-merge-diff (which matches
// keyed list items as the schema says, default key values included), then
// follows p through what is left: one field per map, one item per list.
func valueAt(tv *typed.TypedValue, p fieldpath.Path) (any, bool) {
	var v any = tv.ExtractItems(fieldpath.NewSet(p)).AsValue().Unstructured()
	for _, pe := range p {
		switch {
		case pe.FieldName != nil:
			m, ok := v.(map[string]any)
			if !ok {
				return nil, false
			}
			if v, ok = m[*pe.FieldName]; !ok {
				return nil, false
			}
		default:
			l, ok := v.([]any)
			if !ok || len(l) == 0 {
				return nil, false
			}
			if pe.Index != nil && *pe.Index < len(l) {
				v = l[*pe.Index]
			} else {
				v = l[0]
			}
		}
	}
	return v, true
}
