package ownership_test

import (
	"bytes"
	"encoding/json"
	"math/big"
	"strconv"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-chart/kubectl-chart/pkg/ownership"
)

// FuzzDecideObject runs DecideObject, with a seal key, on arbitrary old and
// new objects whose old managedFields give the plugin deploymentFields. It
// must never panic, and never let a request that is neither the release's
// operation nor break-glass change a field the plugin owns or an ownership
// label, as an independent walk of the FieldsV1 JSON (below) tells them, or
// change kubectl-chart's managedFields entry. The release's operation (the
// lock holder with field manager kubectl-chart) is let through exactly when
// the head names a sealed pending record of its own (or uninstalls, or
// deletes).
//
// op selects, from its low bits up: the operation (2 bits: UPDATE, CREATE,
// DELETE, UPDATE), the writer (2 bits: bob with kubectl-edit, bob claiming
// kubectl-chart's field manager, the lock holder alice with it, the
// break-glass user root), the head (2 bits: sealed for alice, naming no
// record, sealed for bob, uninstalling without a record) and whether the new
// object gets the old object's managedFields (1 bit).
func FuzzDecideObject(f *testing.F) {
	oldJSON, err := yaml.YAMLToJSON([]byte(deploymentYAML))
	if err != nil {
		f.Fatal(err)
	}
	const keepManagedFields = 1 << 6
	f.Add(oldJSON, oldJSON, uint8(0))
	f.Add(oldJSON, oldJSON, uint8(keepManagedFields))
	for _, mutate := range []func(string) string{
		func(s string) string { return strings.Replace(s, `"replicas":3`, `"replicas":4`, 1) },
		func(s string) string { return strings.Replace(s, `"replicas":3`, `"replicas":3.0`, 1) },
		func(s string) string { return strings.Replace(s, `nginx:1.27`, `evil:1`, 1) },
		func(s string) string { return strings.Replace(s, `"name":"web"`, `"name":"web2"`, 1) },
		func(s string) string { return strings.Replace(s, `"containerPort":8080`, `"containerPort":8081`, 1) },
		func(s string) string { return strings.Replace(s, `"example.com/guard"`, `"example.com/other"`, 1) },
		func(s string) string { return strings.Replace(s, `"key":"dedicated"`, `"key":"other"`, 1) },
		func(s string) string { return strings.Replace(s, `"kubectl-chart.io/release":"web"`, `"x":"web"`, 1) },
		func(s string) string {
			return strings.Replace(s, `"status":{"replicas":3}`, `"status":{"replicas":0}`, 1)
		},
		func(s string) string {
			return strings.Replace(s, `"containers":[`, `"containers":[{"name":"web","image":"evil"},`, 1)
		},
		func(s string) string { return strings.Replace(s, `"spec":{`, `"spec":{"x":1,`, 1) },
		func(s string) string { return `{"metadata":[],"spec":"x"}` },
		// managedFields of the new object: kubectl-chart's entry emptied,
		// moved to another manager, or shrunk.
		func(s string) string { return strings.Replace(s, `"metadata":{`, `"metadata":{"managedFields":[],`, 1) },
		func(s string) string {
			return strings.Replace(s, `"metadata":{`, `"metadata":{"managedFields":[{"manager":"kubectl-edit","operation":"Update","fieldsType":"FieldsV1","fieldsV1":{"f:spec":{"f:replicas":{}}}}],`, 1)
		},
		func(s string) string {
			return strings.Replace(s, `"metadata":{`, `"metadata":{"managedFields":[{"manager":"kubectl-chart","operation":"Apply","fieldsType":"FieldsV1","fieldsV1":{"f:spec":{"f:replicas":{}}}}],`, 1)
		},
	} {
		for op := range uint8(4) {
			f.Add(oldJSON, []byte(mutate(string(oldJSON))), op<<2)
			f.Add(oldJSON, []byte(mutate(string(oldJSON))), op<<2|keepManagedFields)
		}
		for h := range uint8(4) {
			f.Add(oldJSON, []byte(mutate(string(oldJSON))), 2<<2|h<<4|keepManagedFields)
		}
	}
	f.Add(oldJSON, oldJSON, uint8(1))
	f.Add(oldJSON, oldJSON, uint8(2))
	f.Add(oldJSON, oldJSON, uint8(2|2<<2|1<<4))

	var fields map[string]any
	dec := json.NewDecoder(strings.NewReader(deploymentFields))
	dec.UseNumber()
	if err := dec.Decode(&fields); err != nil {
		f.Fatal(err)
	}

	managedFields := deployment(f).Object["metadata"].(map[string]any)["managedFields"]
	oldOwned, err := ownership.OwnedFields(deployment(f).Object)
	if err != nil || oldOwned.Empty() {
		f.Fatalf("the fixture's owned fields: %v, %v", oldOwned, err)
	}
	heads := [4]func() *ownership.Head{
		func() *ownership.Head { return sealedHead(nil) },
		func() *ownership.Head { return sealedHead(func(h *ownership.Head) { h.Record = nil }) },
		func() *ownership.Head {
			return sealedHead(func(h *ownership.Head) { h.Record = sealOf(3, "bob", "pending-upgrade") })
		},
		func() *ownership.Head {
			return sealedHead(func(h *ownership.Head) { h.Status, h.Record = "uninstalling", nil })
		},
	}

	f.Fuzz(func(t *testing.T, oldData, newData []byte, op uint8) {
		old, ok1 := decodeObject(oldData)
		nu, ok2 := decodeObject(newData)
		if !ok1 || !ok2 {
			return
		}
		meta, ok := old["metadata"].(map[string]any)
		if !ok {
			meta = map[string]any{}
			old["metadata"] = meta
		}
		meta["managedFields"] = managedFields // never written by the decision
		if op&keepManagedFields != 0 {
			if nm, ok := nu["metadata"].(map[string]any); ok {
				nm["managedFields"] = managedFields
			}
		}

		req := ownership.Request{Operation: "UPDATE", User: "bob", FieldManager: "kubectl-edit", Kind: deploymentRef,
			Old: &unstructured.Unstructured{Object: old}, New: &unstructured.Unstructured{Object: nu}}
		switch op & 3 {
		case 1:
			req.Operation, req.Old = "CREATE", nil
		case 2:
			req.Operation, req.New = "DELETE", nil
		}
		switch op >> 2 & 3 {
		case 1:
			req.FieldManager = ownership.FieldManager // claims to be the plugin
		case 2:
			req.User, req.FieldManager = "alice", ownership.FieldManager // the lock holder
		case 3:
			req.User = "root" // break-glass
		}
		headKind := int(op >> 4 & 3)
		h := heads[headKind]()

		d := ownership.DecideObject(sealedCfg, req, h)

		// The holder's write is the operation's when it deletes, or when the
		// head names a sealed pending record of alice's (0); uninstalling
		// without one (3) only deletes.
		recorded := req.Operation == "DELETE" || headKind == 0
		switch {
		case req.User == "root":
			if !d.Allowed {
				t.Fatalf("%s by %s denied: %s", req.Operation, req.User, d.Message)
			}
		case req.User == "alice" && recorded:
			if !d.Allowed || d.Reason != ownership.ReasonLockHolder {
				t.Fatalf("%s by the lock holder under head %d: %+v", req.Operation, headKind, d)
			}
		case req.User == "alice":
			if d.Allowed || d.Reason != ownership.ReasonNoRecord {
				t.Fatalf("%s by the lock holder without a record of hers (head %d): %+v", req.Operation, headKind, d)
			}
		case req.Operation == "DELETE":
			if d.Allowed {
				t.Fatalf("delete by %s allowed: %+v", req.User, d)
			}
		case req.Operation == "UPDATE":
			if path := oracleChange(fields, nil, []any{old}, []any{nu}); path != "" && d.Allowed {
				t.Fatalf("owned field %s changed, yet allowed: %+v", path, d)
			}
			for _, k := range []string{ownership.LabelRelease, ownership.LabelReleaseNamespace, ownership.LabelApplySetPartOf} {
				if v := labelValue(old, k); v != "" && labelValue(nu, k) != v && d.Allowed {
					t.Fatalf("label %s changed, yet allowed: %+v", k, d)
				}
			}
			if newOwned, err := ownership.OwnedFields(nu); (err != nil || !newOwned.Equals(oldOwned)) && d.Allowed {
				t.Fatalf("kubectl-chart's managedFields entry changed (%v), yet allowed: %+v", err, d)
			}
		}
	})
}

// FuzzOwnedFields reads arbitrary FieldsV1 and compares arbitrary objects
// at its paths: never a panic.
func FuzzOwnedFields(f *testing.F) {
	oldJSON, _ := yaml.YAMLToJSON([]byte(deploymentYAML))
	f.Add([]byte(deploymentFields), oldJSON, oldJSON)
	f.Add([]byte(`{"f:a":{"i:-1":{},"v:null":{},"k:{}":{".":{}}}}`), []byte(`{"a":[1,null,{}]}`), []byte(`{"a":{}}`))
	f.Add([]byte(`{"k:{\"a\":1.5e400}":{}}`), []byte(`[]`), []byte(`{}`))
	f.Fuzz(func(t *testing.T, fieldsV1, oldData, newData []byte) {
		var fv any
		if utiljson.Unmarshal(fieldsV1, &fv) != nil {
			return
		}
		old, _ := decodeObject(oldData)
		nu, _ := decodeObject(newData)
		obj := map[string]any{"metadata": map[string]any{"managedFields": []any{map[string]any{
			"manager": "kubectl-chart", "operation": "Apply", "fieldsType": "FieldsV1", "fieldsV1": fv,
		}}}}
		set, err := ownership.OwnedFields(obj)
		if err != nil {
			return
		}
		_ = ownership.ChangedFields(set, old, nu)
	})
}

func decodeObject(data []byte) (map[string]any, bool) {
	var v any
	if err := utiljson.Unmarshal(data, &v); err != nil {
		return nil, false
	}
	m, ok := v.(map[string]any)
	return m, ok
}

func labelValue(obj map[string]any, key string) string {
	meta, _ := obj["metadata"].(map[string]any)
	labels, _ := meta["labels"].(map[string]any)
	v, _ := labels[key].(string)
	return v
}

// oracleChange is an independent reading of the rules: it walks the
// FieldsV1 JSON itself (no structured-merge-diff) and, at each owned path,
// collects the values every match of the path has in old and in new. An
// owned leaf whose values differ, or an owned item ("." member) matched a
// different number of times, is a change; it returns the first such path
// ("" when none).
func oracleChange(node map[string]any, prefix []string, olds, news []any) string {
	for key, c := range node {
		if key == "." || oracleIgnored(prefix, key) {
			continue
		}
		child, _ := c.(map[string]any)
		_, member := child["."]
		kids := len(child)
		if member {
			kids--
		}
		leaf := len(child) == 0
		o, n := oracleSelect(olds, key), oracleSelect(news, key)
		path := strings.Join(append(append([]string{}, prefix...), key), " ")
		if (leaf || member) && len(o) != len(n) {
			return path
		}
		if leaf {
			for i := range o {
				if !oracleEqual(o[i], n[i]) {
					return path
				}
			}
		}
		if kids > 0 {
			if p := oracleChange(child, append(append([]string{}, prefix...), key), o, n); p != "" {
				return p
			}
		}
	}
	return ""
}

func oracleIgnored(prefix []string, key string) bool {
	p := strings.Join(prefix, " ")
	switch {
	case p == "":
		return key == "f:status"
	case p == "f:metadata":
		return key == "f:managedFields" || key == "f:resourceVersion" || key == "f:generation"
	case p == "f:metadata f:annotations":
		return key == "f:"+ownership.AnnotationAppliedBy || key == "f:"+ownership.AnnotationLockUser
	}
	return false
}

// oracleSelect is what key (f:, k:, v:, i:) selects in each of vals.
func oracleSelect(vals []any, key string) []any {
	var out []any
	kind, arg, _ := strings.Cut(key, ":")
	for _, v := range vals {
		switch kind {
		case "f":
			if m, ok := v.(map[string]any); ok {
				if c, ok := m[arg]; ok {
					out = append(out, c)
				}
			}
		case "i":
			n, err := strconv.Atoi(arg)
			if l, ok := v.([]any); ok && err == nil && n >= 0 && n < len(l) {
				out = append(out, l[n])
			}
		case "k", "v":
			want := oracleJSON(arg)
			l, _ := v.([]any)
			for _, item := range l {
				if kind == "v" && oracleEqual(item, want) {
					out = append(out, item)
				}
				if kind == "k" {
					m, ok := item.(map[string]any)
					keys, _ := want.(map[string]any)
					match := ok
					for name, kv := range keys {
						if iv, has := m[name]; !has || !oracleEqual(iv, kv) {
							match = false
						}
					}
					if match {
						out = append(out, item)
					}
				}
			}
		}
	}
	return out
}

func oracleJSON(s string) any {
	dec := json.NewDecoder(bytes.NewReader([]byte(s)))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil {
		panic("bad key in the fixed FieldsV1: " + s)
	}
	return v
}

// oracleEqual is deep equality with numbers compared exactly as rationals
// (int64, float64 and json.Number alike).
func oracleEqual(a, b any) bool {
	if x, ok := oracleNumber(a); ok {
		y, ok := oracleNumber(b)
		return ok && x.Cmp(y) == 0
	}
	switch a := a.(type) {
	case map[string]any:
		b, ok := b.(map[string]any)
		if !ok || len(a) != len(b) {
			return false
		}
		for k, v := range a {
			w, ok := b[k]
			if !ok || !oracleEqual(v, w) {
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
			if !oracleEqual(a[i], b[i]) {
				return false
			}
		}
		return true
	case string, bool, nil:
		return a == b
	}
	return false
}

func oracleNumber(v any) (*big.Rat, bool) {
	switch v := v.(type) {
	case int64:
		return new(big.Rat).SetInt64(v), true
	case float64:
		r := new(big.Rat)
		if r.SetFloat64(v) == nil {
			return nil, false
		}
		return r, true
	case json.Number:
		r, ok := new(big.Rat).SetString(string(v))
		return r, ok
	}
	return nil, false
}
