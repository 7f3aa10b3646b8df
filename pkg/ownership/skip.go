package ownership

import (
	"slices"
	"strings"
)

// MatchConditionName is the name of the match condition of the validating
// webhook ownership.kubectl-chart.io (manifests/) that MayChangeOwned is
// the Go twin of.
const MatchConditionName = "may-change-owned"

// metadataFree are the metadata fields a write that cannot change an owned
// field may change: labels and annotations (only by adding keys),
// managedFields (only other managers' entries), and generation, which the
// API server maintains (a Deployment's moves with its annotations) and no
// manager owns.
var metadataFree = []string{"labels", "annotations", "managedFields", "generation"}

// addedKeyPrefixes are the label and annotation key prefixes that are sent
// to the webhook even when only added: the keys of kubectl-chart and of
// the ApplySet standard.
var addedKeyPrefixes = []string{"kubectl-chart.io/", "applyset.kubernetes.io/"}

// MayChangeOwned tells whether a request on an object labelled with a
// release may change anything a release owns, or is a release record's or
// the release's own operation's: when false, DecideObject allows it
// whatever the head, with no stamp and no Event, and the API server need
// not call the webhook at all. It is the webhook configuration's match
// condition MatchConditionName (CEL, in manifests/), written in Go: the
// webhook applies it first when the API server did not (one without
// matchConditions support), and tests check both against each other on a
// real API server and against the decision, rule by rule.
//
// It is false only for an UPDATE of the main resource that
//
//   - is not written with the plugin's field manager,
//   - is not on a ConfigMap or Secret named like a record (kubectl-chart.…)
//     and carries the record label on neither object,
//   - leaves every top-level field other than metadata equal, and every
//     metadata field other than labels, annotations, managedFields and
//     generation,
//   - changes or removes no existing label or annotation, and adds none
//     whose key is kubectl-chart's or the ApplySet standard's, or that an
//     entry of the plugin's field manager claims,
//   - leaves the managedFields entries of the plugin's field manager
//     exactly as they were (any operation, subresource or not).
func MayChangeOwned(req Request) bool {
	if req.Operation != OperationUpdate || req.SubResource != "" || req.Old == nil || req.New == nil {
		return true
	}
	if req.FieldManager == FieldManager || strings.HasPrefix(req.New.GetName(), HeadName("")) {
		return true
	}
	old, new := req.Old.Object, req.New.Object
	if hasLabel(old, LabelRecord) || hasLabel(new, LabelRecord) {
		return true
	}
	if !equalExcept(old, new, "metadata") {
		return true
	}
	om, _ := old["metadata"].(map[string]any)
	nm, _ := new["metadata"].(map[string]any)
	if !equalExcept(om, nm, metadataFree...) {
		return true
	}
	oldEntries, newEntries := managerEntries(om), managerEntries(nm)
	if !equal(oldEntries, newEntries) {
		return true
	}
	for _, field := range []string{"labels", "annotations"} {
		o, _ := om[field].(map[string]any)
		n, _ := nm[field].(map[string]any)
		for k, ov := range o {
			if nv, ok := n[k]; !ok || !equal(ov, nv) {
				return true
			}
		}
		for k := range n {
			if _, ok := o[k]; ok {
				continue
			}
			if hasAnyPrefix(k, addedKeyPrefixes) || claimed(oldEntries, field, k) {
				return true
			}
		}
	}
	return false
}

// hasLabel tells whether obj carries label key (with any value).
func hasLabel(obj map[string]any, key string) bool {
	meta, _ := obj["metadata"].(map[string]any)
	labels, _ := meta["labels"].(map[string]any)
	_, ok := labels[key]
	return ok
}

// equalExcept tells whether maps a and b are equal but for the keys skip.
func equalExcept(a, b map[string]any, skip ...string) bool {
	for k, av := range a {
		if slices.Contains(skip, k) {
			continue
		}
		if bv, ok := b[k]; !ok || !equal(av, bv) {
			return false
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok && !slices.Contains(skip, k) {
			return false
		}
	}
	return true
}

// managerEntries are the managedFields entries of FieldManager in meta, in
// order ([]any{} when none).
func managerEntries(meta map[string]any) []any {
	entries, _ := meta["managedFields"].([]any)
	out := []any{}
	for _, e := range entries {
		if m, ok := e.(map[string]any); ok && m["manager"] == FieldManager {
			out = append(out, e)
		}
	}
	return out
}

// sameManagerEntries tells whether objects old and new have the same
// managedFields entries of FieldManager.
func sameManagerEntries(old, new map[string]any) bool {
	om, _ := old["metadata"].(map[string]any)
	nm, _ := new["metadata"].(map[string]any)
	return equal(managerEntries(om), managerEntries(nm))
}

// claimed tells whether one of entries claims metadata.<field>.<key>.
func claimed(entries []any, field, key string) bool {
	for _, e := range entries {
		fields, _ := e.(map[string]any)["fieldsV1"].(map[string]any)
		meta, _ := fields["f:metadata"].(map[string]any)
		keys, _ := meta["f:"+field].(map[string]any)
		if _, ok := keys["f:"+key]; ok {
			return true
		}
	}
	return false
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}
