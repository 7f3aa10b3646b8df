package apply

import (
	"bytes"
	"reflect"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
	"sigs.k8s.io/structured-merge-diff/v6/value"

	"github.com/kubectl-chart/kubectl-chart/pkg/ownership"
)

// unchangedLocally tells, without asking the API server, whether applying
// desired over live would change nothing: neither the object nor what
// kubectl-chart owns of it. It answers true only when sure, and false
// whenever it cannot tell (then a server-side dry run decides).
//
// It holds when the fields kubectl-chart owns in live (its Apply entry of
// managedFields, in desired's apiVersion) are exactly the fields of desired,
// and live has desired's value at each of them: then server-side apply
// would neither set, remove nor take over any field. The field set is matched
// without the schema, guided by the owned set itself (which records how each
// list is keyed); anything it cannot match exactly (a value the server
// normalises, such as cpu: 0.5 stored as 500m, a write-only field such as
// a Secret's stringData, a list with elements of other managers, a null)
// makes it answer false.
func unchangedLocally(desired, live *unstructured.Unstructured) bool {
	owned := ownedFields(live, desired.GetAPIVersion())
	if owned == nil {
		return false
	}
	// The server leaves these out of field sets; the GET that found live
	// already matched them.
	top := make(map[string]any, len(desired.Object))
	for k, v := range desired.Object {
		if k != "apiVersion" && k != "kind" {
			top[k] = v
		}
	}
	if md, ok := desired.Object["metadata"].(map[string]any); ok {
		meta := make(map[string]any, len(md))
		for k, v := range md {
			if k != "name" && k != "namespace" {
				meta[k] = v
			}
		}
		if len(meta) == 0 {
			delete(top, "metadata")
		} else {
			top["metadata"] = meta
		}
	}
	return sameMap(top, live.Object, owned)
}

// ownedFields is the field set of kubectl-chart's Apply entry in live's
// managedFields, when there is exactly one, in apiVersion; else nil.
func ownedFields(live *unstructured.Unstructured, apiVersion string) *fieldpath.Set {
	var entry *metav1.ManagedFieldsEntry
	for _, e := range live.GetManagedFields() {
		if e.Manager != ownership.FieldManager || e.Operation != metav1.ManagedFieldsOperationApply || e.Subresource != "" {
			continue
		}
		if entry != nil {
			return nil
		}
		entry = &e
	}
	if entry == nil || entry.APIVersion != apiVersion || entry.FieldsV1 == nil {
		return nil
	}
	set := &fieldpath.Set{}
	if err := set.FromJSON(bytes.NewReader(entry.FieldsV1.Raw)); err != nil {
		return nil
	}
	return set
}

// sameMap: every field of d is owned (set) and has its value in l, and every
// owned field is in d.
func sameMap(d, l map[string]any, set *fieldpath.Set) bool {
	for k, dv := range d {
		lv, ok := l[k]
		if !ok || !sameElement(dv, lv, set, fieldpath.FieldNameElement(k)) {
			return false
		}
	}
	covered := true
	check := func(pe fieldpath.PathElement) {
		if pe.FieldName == nil {
			covered = false
			return
		}
		if _, ok := d[*pe.FieldName]; !ok {
			covered = false
		}
	}
	set.Members.Iterate(check)
	set.Children.Iterate(check)
	return covered
}

// sameElement compares the child pe of a map or list: d is desired, l live.
func sameElement(d, l any, set *fieldpath.Set, pe fieldpath.PathElement) bool {
	child, hasChild := set.Children.Get(pe)
	if !hasChild {
		// A leaf, or an atomic map or list, which must be equal as a whole.
		return set.Members.Has(pe) && d != nil && reflect.DeepEqual(d, l)
	}
	switch dv := d.(type) {
	case map[string]any:
		lv, ok := l.(map[string]any)
		return ok && sameMap(dv, lv, child)
	case []any:
		lv, ok := l.([]any)
		return ok && sameList(dv, lv, child)
	}
	return false
}

// sameList compares a list kubectl-chart owns elements of: keyed by fields
// (k:{…}) or by value (v:…). It must hold exactly desired's elements, in
// desired's order: elements of other managers, or another order, make it
// answer false.
func sameList(d, l []any, set *fieldpath.Set) bool {
	var elems []fieldpath.PathElement
	set.Members.Iterate(func(pe fieldpath.PathElement) { elems = append(elems, pe) })
	set.Children.Iterate(func(pe fieldpath.PathElement) {
		if !set.Members.Has(pe) {
			elems = append(elems, pe)
		}
	})
	if len(elems) != len(d) || len(d) != len(l) {
		return false
	}
	used := make([]bool, len(elems))
	for i := range d {
		j := matchElement(d[i], l[i], elems)
		if j < 0 || used[j] {
			return false
		}
		used[j] = true
		if !sameElement(d[i], l[i], set, elems[j]) {
			return false
		}
	}
	return true
}

// matchElement finds the owned path element naming list element d (live l at
// the same position), or -1.
func matchElement(d, l any, elems []fieldpath.PathElement) int {
	for j, pe := range elems {
		switch {
		case pe.Key != nil:
			dm, ok1 := d.(map[string]any)
			lm, ok2 := l.(map[string]any)
			if ok1 && ok2 && keyMatches(*pe.Key, dm, lm) {
				return j
			}
		case pe.Value != nil:
			if d != nil && reflect.DeepEqual(d, l) && value.Equals(*pe.Value, value.NewValueInterface(d)) {
				return j
			}
		}
	}
	return -1
}

// keyMatches: the live element has the key's values, and so does the desired
// one (hasKey: a missing protocol may stand for TCP).
func keyMatches(key value.FieldList, d, l map[string]any) bool {
	for _, f := range key {
		lv, ok := l[f.Name]
		if !ok || !value.Equals(f.Value, value.NewValueInterface(lv)) {
			return false
		}
	}
	return hasKey(key, d)
}
