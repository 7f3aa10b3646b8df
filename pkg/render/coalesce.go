package render

import (
	"fmt"
	"maps"

	"github.com/kubectl-chart/kubectl-chart/pkg/chart"
	"github.com/kubectl-chart/kubectl-chart/pkg/values"
)

// warnFunc receives coalescing warnings (conflicting types and the like),
// which Helm logs and does not treat as errors.
type warnFunc func(format string, args ...any)

func concatPrefix(a, b string) string {
	if a == "" {
		return b
	}
	return a + "." + b
}

// CoalesceValues merges user-supplied values over a chart's defaults and those
// of its subcharts, as Helm does for rendering: a null from the user deletes
// the key, globals flow down to subcharts. vals is not modified.
func CoalesceValues(ch *chart.Chart, vals map[string]any, warn warnFunc) (values.Values, error) {
	return coalesce(warn, ch, copyValues(vals), "", false)
}

// MergeValues is CoalesceValues that keeps nulls (used while importing
// values from subcharts).
func MergeValues(ch *chart.Chart, vals map[string]any, warn warnFunc) (values.Values, error) {
	return coalesce(warn, ch, copyValues(vals), "", true)
}

func copyValues(vals map[string]any) map[string]any {
	if vals == nil {
		return map[string]any{}
	}
	return values.DeepCopy(vals)
}

func coalesce(warn warnFunc, ch *chart.Chart, dest map[string]any, prefix string, merge bool) (map[string]any, error) {
	coalesceValues(warn, ch, dest, prefix, merge)
	return coalesceDeps(warn, ch, dest, prefix, merge)
}

func coalesceDeps(warn warnFunc, ch *chart.Chart, dest map[string]any, prefix string, merge bool) (map[string]any, error) {
	for _, sub := range ch.Dependencies() {
		if c, ok := dest[sub.Name()]; !ok {
			dest[sub.Name()] = make(map[string]any)
		} else if !values.IsTable(c) {
			return dest, fmt.Errorf("type mismatch on %s: %t", sub.Name(), c)
		}
		dvmap := dest[sub.Name()].(map[string]any)
		subPrefix := concatPrefix(prefix, ch.Name())
		coalesceGlobals(warn, dvmap, dest, subPrefix)
		var err error
		if dest[sub.Name()], err = coalesce(warn, sub, dvmap, subPrefix, merge); err != nil {
			return dest, err
		}
	}
	return dest, nil
}

func coalesceGlobals(warn warnFunc, dest, src map[string]any, prefix string) {
	var dg, sg map[string]any
	if destglob, ok := dest[values.GlobalKey]; !ok {
		dg = make(map[string]any)
	} else if dg, ok = destglob.(map[string]any); !ok {
		warn("warning: skipping globals because destination %s is not a table.", values.GlobalKey)
		return
	}
	if srcglob, ok := src[values.GlobalKey]; !ok {
		sg = make(map[string]any)
	} else if sg, ok = srcglob.(map[string]any); !ok {
		warn("warning: skipping globals because source %s is not a table.", values.GlobalKey)
		return
	}
	for key, val := range sg {
		if vm, ok := val.(map[string]any); ok {
			vv := maps.Clone(vm)
			if destv, ok := dg[key]; !ok {
				dg[key] = vv
			} else if destvmap, ok := destv.(map[string]any); !ok {
				warn("Conflict: cannot merge map onto non-map for %q. Skipping.", key)
			} else {
				coalesceTablesFullKey(warn, vv, destvmap, concatPrefix(prefix, key), true)
				dg[key] = vv
			}
		} else if dv, ok := dg[key]; ok && values.IsTable(dv) {
			warn("key %s is table. Skipping", key)
		} else {
			dg[key] = val
		}
	}
	dest[values.GlobalKey] = dg
}

func coalesceValues(warn warnFunc, ch *chart.Chart, v map[string]any, prefix string, merge bool) {
	subPrefix := concatPrefix(prefix, ch.Name())
	// The chart's defaults are copied: coalescing writes them into v, and
	// later changes to v (by templates) must not reach the chart.
	vc := values.DeepCopy(ch.Values)
	for key, val := range vc {
		if value, ok := v[key]; ok {
			if value == nil && !merge {
				delete(v, key)
			} else if dest, ok := value.(map[string]any); ok {
				src, ok := val.(map[string]any)
				if !ok {
					if val != nil {
						warn("warning: skipped value for %s.%s: Not a table.", subPrefix, key)
					}
					continue
				}
				merge := merge || isSubchart(ch, key)
				if !merge {
					cleanNilValues(src)
				}
				coalesceTablesFullKey(warn, dest, src, concatPrefix(subPrefix, key), merge)
			}
		} else {
			if !merge {
				if val == nil {
					continue
				}
				if sub, ok := val.(map[string]any); ok {
					cleanNilValues(sub)
				}
			}
			v[key] = val
		}
	}
}

// isSubchart tells whether key names a subchart of ch: null values meant for
// a subchart must reach it, so they are merged, not dropped.
func isSubchart(ch *chart.Chart, key string) bool {
	for _, sub := range ch.Dependencies() {
		if sub.Name() == key {
			return true
		}
	}
	return false
}

// CoalesceTables merges src into dst, dst winning; a null in dst deletes.
func CoalesceTables(dst, src map[string]any, warn warnFunc) map[string]any {
	return coalesceTablesFullKey(warn, dst, src, "", false)
}

// MergeTables merges src into dst, dst winning, keeping nulls.
func MergeTables(dst, src map[string]any, warn warnFunc) map[string]any {
	return coalesceTablesFullKey(warn, dst, src, "", true)
}

func coalesceTablesFullKey(warn warnFunc, dst, src map[string]any, prefix string, merge bool) map[string]any {
	if src == nil {
		return dst
	}
	if dst == nil {
		return src
	}
	srcOriginalNonNil := make(map[string]bool, len(src))
	for key, val := range src {
		if val != nil {
			srcOriginalNonNil[key] = true
		}
	}
	for key, val := range dst {
		if val == nil {
			src[key] = nil
		}
	}
	for key, val := range src {
		fullkey := concatPrefix(prefix, key)
		dv, ok := dst[key]
		switch {
		case ok && !merge && dv == nil && srcOriginalNonNil[key]:
			delete(dst, key)
		case !ok:
			dst[key] = val
		case values.IsTable(val):
			if values.IsTable(dv) {
				coalesceTablesFullKey(warn, dv.(map[string]any), val.(map[string]any), fullkey, merge)
			} else {
				warn("warning: cannot overwrite table with non table for %s (%v)", fullkey, val)
			}
		case values.IsTable(dv) && val != nil:
			warn("warning: destination for %s is a table. Ignoring non-table value (%v)", fullkey, val)
		}
	}
	return dst
}

func cleanNilValues(m map[string]any) {
	for key, val := range m {
		if val == nil {
			delete(m, key)
		} else if sub, ok := val.(map[string]any); ok {
			cleanNilValues(sub)
		}
	}
}
