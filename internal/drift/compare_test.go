package drift

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/structured-merge-diff/v6/typed"
	"sigs.k8s.io/yaml"
)

// testParser types a Deployment-like type: containers a list keyed by name,
// args atomic, labels a map.
var testParser = func() *typed.Parser {
	p, err := typed.NewParser(`types:
- name: obj
  map:
    fields:
    - {name: apiVersion, type: {scalar: string}}
    - {name: kind, type: {scalar: string}}
    - {name: metadata, type: {namedType: meta}}
    - {name: spec, type: {namedType: spec}}
    - {name: status, type: {map: {elementType: {scalar: untyped}, elementRelationship: atomic}}}
- name: meta
  map:
    fields:
    - {name: name, type: {scalar: string}}
    - {name: namespace, type: {scalar: string}}
    - {name: labels, type: {map: {elementType: {scalar: string}}}}
- name: spec
  map:
    fields:
    - {name: replicas, type: {scalar: numeric}}
    - name: containers
      type: {list: {elementType: {namedType: container}, elementRelationship: associative, keys: [name]}}
- name: container
  map:
    fields:
    - {name: name, type: {scalar: string}}
    - {name: image, type: {scalar: string}}
    - name: args
      type: {list: {elementType: {scalar: string}, elementRelationship: atomic}}
`)
	if err != nil {
		panic(err)
	}
	return p
}()

func typedOf(t *testing.T, y string) (*typed.TypedValue, map[string]any) {
	t.Helper()
	var m map[string]any
	if err := yaml.Unmarshal([]byte(y), &m); err != nil {
		t.Fatal(err)
	}
	tv, err := testParser.Type("obj").FromUnstructured(m)
	if err != nil {
		t.Fatal(err)
	}
	return tv, m
}

var when = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

func entry(manager, op, sub string, fields string) metav1.ManagedFieldsEntry {
	e := metav1.ManagedFieldsEntry{Manager: manager, Operation: metav1.ManagedFieldsOperationType(op), Subresource: sub,
		FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: []byte(fields)}}
	if sub == "" {
		e.Time = &metav1.Time{Time: when}
	}
	return e
}

const applied = `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: ns, labels: {app: web}}
spec:
  replicas: 2
  containers:
  - {name: web, image: web:1, args: [a, b]}
`

// chartAll is kubectl-chart's entry when it owns everything it applied.
const chartAll = `{"f:metadata":{"f:labels":{"f:app":{}}},"f:spec":{"f:replicas":{},"f:containers":{"k:{\"name\":\"web\"}":{".":{},"f:name":{},"f:image":{},"f:args":{}}}}}`

func TestCompareObject(t *testing.T) {
	t0 := when
	for _, tc := range []struct {
		name    string
		live    string
		entries []metav1.ManagedFieldsEntry
		want    []Field
	}{
		{
			name:    "as applied",
			live:    applied + "status: {ready: 2}\n",
			entries: []metav1.ManagedFieldsEntry{entry("kubectl-chart", "Apply", "", chartAll)},
		},
		{
			name: "fields only the server defaulted or other managers added",
			live: `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: ns, labels: {app: web, extra: x}}
spec:
  replicas: 2
  containers:
  - {name: web, image: web:1, args: [a, b]}
  - {name: sidecar, image: s:1}
`,
			entries: []metav1.ManagedFieldsEntry{entry("kubectl-chart", "Apply", "", chartAll),
				entry("injector", "Update", "", `{"f:metadata":{"f:labels":{"f:extra":{}}},"f:spec":{"f:containers":{"k:{\"name\":\"sidecar\"}":{".":{},"f:name":{},"f:image":{}}}}}`)},
		},
		{
			name: "scaled through /scale",
			live: `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: ns, labels: {app: web}}
spec:
  replicas: 5
  containers:
  - {name: web, image: web:1, args: [a, b]}
`,
			entries: []metav1.ManagedFieldsEntry{
				entry("kubectl-chart", "Apply", "", `{"f:metadata":{"f:labels":{"f:app":{}}},"f:spec":{"f:containers":{"k:{\"name\":\"web\"}":{".":{},"f:name":{},"f:image":{},"f:args":{}}}}}`),
				entry("kubectl", "Update", "scale", `{"f:spec":{"f:replicas":{}}}`),
			},
			want: []Field{{Path: "spec.replicas", Applied: float64(2), Live: float64(5), Owners: []Owner{{Manager: "kubectl", Operation: "Update", Subresource: "scale"}}}},
		},
		{
			name: "atomic list edited, label removed",
			live: `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: ns}
spec:
  replicas: 2
  containers:
  - {name: web, image: web:1, args: [c]}
`,
			entries: []metav1.ManagedFieldsEntry{
				entry("kubectl-chart", "Apply", "", `{"f:spec":{"f:replicas":{},"f:containers":{"k:{\"name\":\"web\"}":{".":{},"f:name":{},"f:image":{}}}}}`),
				entry("kubectl-edit", "Update", "", `{"f:spec":{"f:containers":{"k:{\"name\":\"web\"}":{"f:args":{}}}}}`),
			},
			want: []Field{
				{Path: "metadata.labels.app", Applied: "web"},
				{Path: "spec.containers[name=web].args", Applied: []any{"a", "b"}, Live: []any{"c"}, Owners: []Owner{{Manager: "kubectl-edit", Operation: "Update", Time: &t0}}},
			},
		},
		{
			name: "list item removed: one field for the item",
			live: `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: ns, labels: {app: web}}
spec:
  replicas: 2
  containers: []
`,
			entries: []metav1.ManagedFieldsEntry{
				entry("kubectl-chart", "Apply", "", `{"f:metadata":{"f:labels":{"f:app":{}}},"f:spec":{"f:replicas":{}}}`),
			},
			want: []Field{{Path: "spec.containers[name=web]", Applied: map[string]any{"name": "web", "image": "web:1", "args": []any{"a", "b"}}}},
		},
		{
			name: "taken by a forced apply, shared by another",
			live: `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: ns, labels: {app: web}}
spec:
  replicas: 2
  containers:
  - {name: web, image: web:2, args: [a, b]}
`,
			entries: []metav1.ManagedFieldsEntry{
				entry("kubectl-chart", "Apply", "", `{"f:metadata":{"f:labels":{"f:app":{}}},"f:spec":{"f:replicas":{},"f:containers":{"k:{\"name\":\"web\"}":{".":{},"f:name":{},"f:args":{}}}}}`),
				entry("someone", "Apply", "", `{"f:spec":{"f:containers":{"k:{\"name\":\"web\"}":{".":{},"f:name":{},"f:image":{}}}}}`),
				entry("other", "Apply", "", `{"f:spec":{"f:containers":{"k:{\"name\":\"web\"}":{".":{},"f:name":{},"f:image":{}}}}}`),
			},
			want: []Field{{Path: "spec.containers[name=web].image", Applied: "web:1", Live: "web:2", Owners: []Owner{
				{Manager: "someone", Operation: "Apply", Time: &t0}, {Manager: "other", Operation: "Apply", Time: &t0}}}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			at, _ := typedOf(t, applied)
			lt, lm := typedOf(t, tc.live)
			raw, err := json.Marshal(tc.entries)
			if err != nil {
				t.Fatal(err)
			}
			var mf []any
			if err := json.Unmarshal(raw, &mf); err != nil {
				t.Fatal(err)
			}
			lm["metadata"].(map[string]any)["managedFields"] = mf
			got, err := compareObject(at, lt, lm, tc.entries)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("compareObject (-want +got):\n%s", diff)
			}
		})
	}
}
