package ownership

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
	"sigs.k8s.io/structured-merge-diff/v6/value"
)

// OwnedFields is the set of fields the plugin owns on an object: the union
// of the FieldsV1 sets of its managedFields entries with manager
// FieldManager and operation Apply on the main resource (the plugin writes
// owned objects with server-side apply only). It is empty, not an error,
// when the object has no such entry. It is an error when an entry exists
// but cannot be read: callers fail closed then, since they cannot tell what
// is owned.
func OwnedFields(obj map[string]any) (*fieldpath.Set, error) {
	owned := &fieldpath.Set{}
	meta, _ := obj["metadata"].(map[string]any)
	raw, ok := meta["managedFields"]
	if !ok || raw == nil {
		return owned, nil
	}
	entries, ok := raw.([]any)
	if !ok {
		return nil, fmt.Errorf("metadata.managedFields: not a list")
	}
	for i, e := range entries {
		entry, ok := e.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("metadata.managedFields[%d]: not an object", i)
		}
		if entry["manager"] != FieldManager || entry["operation"] != "Apply" {
			continue
		}
		if sub, _ := entry["subresource"].(string); sub != "" {
			continue
		}
		if ft, _ := entry["fieldsType"].(string); ft != "FieldsV1" {
			return nil, fmt.Errorf("metadata.managedFields[%d] (manager %s): fieldsType %q, want FieldsV1", i, FieldManager, entry["fieldsType"])
		}
		fields, ok := entry["fieldsV1"]
		if !ok || fields == nil {
			continue
		}
		set, err := setFromFieldsV1(fields)
		if err != nil {
			return nil, fmt.Errorf("metadata.managedFields[%d] (manager %s): fieldsV1: %w", i, FieldManager, err)
		}
		owned = owned.Union(set)
	}
	return owned, nil
}

// setFromFieldsV1 reads a FieldsV1 set from its decoded JSON, as
// fieldpath.Set.FromJSON reads it from its text (which the webhook would
// have to encode again first): each key a path element ("f:name",
// "k:{…}", "v:…", "i:N"), "." marking the node itself a member, an empty
// object a leaf; keys of an unknown element type are skipped, as FromJSON
// skips them.
func setFromFieldsV1(v any) (*fieldpath.Set, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("not an object")
	}
	children, _, err := readFieldsV1(m)
	if err != nil {
		return nil, err
	}
	if children == nil {
		return &fieldpath.Set{}, nil
	}
	return children, nil
}

func readFieldsV1(m map[string]any) (children *fieldpath.Set, isMember bool, err error) {
	for key, v := range m {
		if key == "." {
			isMember = true
			continue
		}
		pe, err := fieldpath.DeserializePathElement(key)
		if errors.Is(err, fieldpath.ErrUnknownPathElementType) {
			continue
		}
		if err != nil {
			return nil, false, fmt.Errorf("parsing key as path element: %w", err)
		}
		sub, ok := v.(map[string]any)
		if !ok {
			return nil, false, fmt.Errorf("%s: not an object", key)
		}
		grandchildren, childIsMember, err := readFieldsV1(sub)
		if err != nil {
			return nil, false, err
		}
		if childIsMember {
			if children == nil {
				children = &fieldpath.Set{}
			}
			children.Members.Insert(pe)
		}
		if grandchildren != nil {
			if children == nil {
				children = &fieldpath.Set{}
			}
			*children.Children.Descend(pe) = *grandchildren
		}
	}
	if children == nil {
		isMember = true
	}
	return children, isMember, nil
}

// ChangedFields compares old and new (unstructured objects, either nil when
// absent) only at the paths of owned and returns the paths that changed, as
// FormatPath writes them, in the set's order. A leaf whose value differs is
// a change, and so is an owned item (a map field, a keyed list item k:, a
// set item v:, an index i:) that was removed or added. Fields the API
// server or the webhook maintain are ignored: metadata.managedFields,
// resourceVersion and generation, status (a subresource), and the
// annotations the webhook stamps (AnnotationAppliedBy, AnnotationLockUser).
func ChangedFields(owned *fieldpath.Set, old, new map[string]any) []string {
	if owned == nil {
		return nil
	}
	w := &walker{seen: map[string]bool{}}
	var o, n any
	if old != nil {
		o = old
	}
	if new != nil {
		n = new
	}
	w.walk(owned, nil, o, old != nil, n, new != nil)
	return w.out
}

type walker struct {
	out  []string
	seen map[string]bool
}

func (w *walker) report(p fieldpath.Path) {
	s := FormatPath(p)
	if !w.seen[s] {
		w.seen[s] = true
		w.out = append(w.out, s)
	}
}

// walk compares the children of set below path, where old and new are the
// values at path (oldOK, newOK: whether they are present).
func (w *walker) walk(set *fieldpath.Set, path fieldpath.Path, old any, oldOK bool, new any, newOK bool) {
	for _, pe := range elements(set) {
		if ignored(path, pe) {
			continue
		}
		child, hasChildren := set.Children.Get(pe)
		hasChildren = hasChildren && !child.Empty()
		member := set.Members.Has(pe)
		p := append(slices.Clip(path), pe)
		var os, ns []any
		if oldOK {
			os = resolve(old, pe)
		}
		if newOK {
			ns = resolve(new, pe)
		}
		switch {
		case len(os) == 0 && len(ns) == 0:
			// Absent on both sides: nothing below can differ.
		case len(os) != len(ns):
			if !member && hasChildren && len(os)+len(ns) == 1 {
				// A container the plugin does not own itself appeared or
				// went: name the owned fields below it.
				var o, n any
				if len(os) == 1 {
					o = os[0]
				}
				if len(ns) == 1 {
					n = ns[0]
				}
				w.walk(child, p, o, len(os) == 1, n, len(ns) == 1)
				continue
			}
			w.report(p)
		case !hasChildren:
			for i := range os {
				if !equal(os[i], ns[i]) {
					w.report(p)
					break
				}
			}
		default:
			for i := range os {
				w.walk(child, p, os[i], true, ns[i], true)
			}
		}
	}
}

// elements is the members and children of set, in the set's order.
func elements(set *fieldpath.Set) []fieldpath.PathElement {
	var pes []fieldpath.PathElement
	set.Members.Iterate(func(pe fieldpath.PathElement) { pes = append(pes, pe) })
	set.Children.Iterate(func(pe fieldpath.PathElement) {
		if !set.Members.Has(pe) {
			pes = append(pes, pe)
		}
	})
	slices.SortFunc(pes, fieldpath.PathElement.Compare)
	return pes
}

// ignored tells whether the field pe below path is one ChangedFields leaves
// alone.
func ignored(path fieldpath.Path, pe fieldpath.PathElement) bool {
	if pe.FieldName == nil {
		return false
	}
	name := *pe.FieldName
	switch {
	case len(path) == 0:
		return name == "status"
	case len(path) == 1 && isField(path[0], "metadata"):
		return name == "managedFields" || name == "resourceVersion" || name == "generation"
	case len(path) == 2 && isField(path[0], "metadata") && isField(path[1], "annotations"):
		return name == AnnotationAppliedBy || name == AnnotationLockUser
	}
	return false
}

func isField(pe fieldpath.PathElement, name string) bool {
	return pe.FieldName != nil && *pe.FieldName == name
}

// resolve is the values pe selects in v: none when v has no such child (or
// is not of the kind pe selects in), one normally, several when a list
// holds several items with the same key or value (the API server refuses
// those for associative lists, but the rules must not rely on it).
func resolve(v any, pe fieldpath.PathElement) []any {
	switch {
	case pe.FieldName != nil:
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		if c, ok := m[*pe.FieldName]; ok {
			return []any{c}
		}
		return nil
	case pe.Key != nil:
		l, ok := v.([]any)
		if !ok {
			return nil
		}
		var out []any
		for _, item := range l {
			m, ok := item.(map[string]any)
			if !ok {
				continue
			}
			match := true
			for _, f := range *pe.Key {
				c, ok := m[f.Name]
				if !ok || !equal(c, unstructuredValue(f.Value)) {
					match = false
					break
				}
			}
			if match {
				out = append(out, item)
			}
		}
		return out
	case pe.Value != nil:
		l, ok := v.([]any)
		if !ok {
			return nil
		}
		want := unstructuredValue(*pe.Value)
		var out []any
		for _, item := range l {
			if equal(item, want) {
				out = append(out, item)
			}
		}
		return out
	case pe.Index != nil:
		l, ok := v.([]any)
		if !ok || *pe.Index < 0 || *pe.Index >= len(l) {
			return nil
		}
		return []any{l[*pe.Index]}
	}
	return nil
}

func unstructuredValue(v value.Value) any {
	if v == nil {
		return nil
	}
	return v.Unstructured()
}

// equal compares two unstructured JSON values. Numbers compare by value,
// exactly: an int64 equals a float64 only when the float is that integer.
func equal(a, b any) bool {
	switch a := a.(type) {
	case nil:
		return b == nil
	case bool:
		b, ok := b.(bool)
		return ok && a == b
	case string:
		b, ok := b.(string)
		return ok && a == b
	case map[string]any:
		b, ok := b.(map[string]any)
		if !ok || len(a) != len(b) {
			return false
		}
		for k, av := range a {
			bv, ok := b[k]
			if !ok || !equal(av, bv) {
				return false
			}
		}
		return true
	case []any:
		b, ok := b.([]any)
		if !ok || len(a) != len(b) {
			return false
		}
		for i := range a {
			if !equal(a[i], b[i]) {
				return false
			}
		}
		return true
	}
	ai, aInt := asInt(a)
	af, aFloat := asFloat(a)
	bi, bInt := asInt(b)
	bf, bFloat := asFloat(b)
	switch {
	case aInt && bInt:
		return ai == bi
	case aFloat && bFloat:
		return af == bf
	case aInt && bFloat:
		return floatIsInt(bf, ai)
	case aFloat && bInt:
		return floatIsInt(af, bi)
	}
	return false
}

func asInt(v any) (int64, bool) {
	switch v := v.(type) {
	case int64:
		return v, true
	case int:
		return int64(v), true
	case int32:
		return int64(v), true
	}
	return 0, false
}

func asFloat(v any) (float64, bool) {
	switch v := v.(type) {
	case float64:
		return v, true
	case float32:
		return float64(v), true
	}
	return 0, false
}

// floatIsInt tells whether f is exactly the integer i.
func floatIsInt(f float64, i int64) bool {
	if f != math.Trunc(f) || f < -(1<<63) || f >= 1<<63 {
		return false
	}
	return int64(f) == i
}

// FormatPath writes a field path for people: fields joined by dots
// (spec.replicas), a field whose name has dots or brackets in brackets
// (metadata.labels["kubectl-chart.io/release"]), keyed list items by their
// keys (spec.template.spec.containers[name=web].image), set items by their
// value ([=foo]) and indexed items by index ([0]).
func FormatPath(p fieldpath.Path) string {
	var b strings.Builder
	for _, pe := range p {
		switch {
		case pe.FieldName != nil:
			name := *pe.FieldName
			if plainName(name) {
				if b.Len() > 0 {
					b.WriteByte('.')
				}
				b.WriteString(name)
			} else {
				b.WriteByte('[')
				b.WriteString(strconv.Quote(name))
				b.WriteByte(']')
			}
		case pe.Key != nil:
			b.WriteByte('[')
			for i, f := range *pe.Key {
				if i > 0 {
					b.WriteByte(',')
				}
				b.WriteString(f.Name)
				b.WriteByte('=')
				b.WriteString(formatValue(f.Value))
			}
			b.WriteByte(']')
		case pe.Value != nil:
			b.WriteString("[=")
			b.WriteString(formatValue(*pe.Value))
			b.WriteByte(']')
		case pe.Index != nil:
			b.WriteString("[" + strconv.Itoa(*pe.Index) + "]")
		}
	}
	return b.String()
}

func plainName(name string) bool {
	return name != "" && !strings.ContainsAny(name, ".[]\"' \t\n")
}

// formatValue writes a key or set value: a plain string as it is, any
// other value (or a string that would read ambiguously) as JSON.
func formatValue(v value.Value) string {
	if v == nil {
		return "null"
	}
	if v.IsString() {
		s := v.AsString()
		if s != "" && !strings.ContainsAny(s, ",=[]\"' \t\n") && s != "null" && s != "true" && s != "false" {
			if _, err := strconv.ParseFloat(s, 64); err != nil {
				return s
			}
		}
		return strconv.Quote(s)
	}
	b, err := json.Marshal(v.Unstructured())
	if err != nil {
		return value.ToString(v)
	}
	return string(b)
}
