package apply

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDecodeManifest(t *testing.T) {
	manifest := `---
# Source: chart/crds/crds.yaml
apiVersion: v1
kind: ConfigMap
metadata: {name: one}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: two}
data: {n: "1", i: 2}
---
# Source: chart/templates/empty.yaml
# nothing rendered
---
# Source: chart/templates/list.yaml
apiVersion: v1
kind: List
items:
- {apiVersion: v1, kind: Secret, metadata: {name: s1}}
- {apiVersion: v1, kind: Secret, metadata: {name: s2}}
`
	objs, names, err := decodeManifest(manifest)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for i, o := range objs {
		got = append(got, names[i]+" "+o.GetKind()+"/"+o.GetName())
	}
	want := []string{
		"chart/crds/crds.yaml ConfigMap/one",
		"chart/crds/crds.yaml (document 2) ConfigMap/two",
		"chart/templates/list.yaml Secret/s1",
		"chart/templates/list.yaml Secret/s2",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("decoded (-want +got):\n%s", diff)
	}
	// Integers stay integers (int64), as the API server's JSON decodes them.
	if i, ok := objs[1].Object["data"].(map[string]any)["i"].(int64); !ok || i != 2 {
		t.Errorf("data.i = %#v, want int64(2)", objs[1].Object["data"].(map[string]any)["i"])
	}
}

func TestDecodeManifestErrors(t *testing.T) {
	tests := []struct {
		name     string
		manifest string
		want     []string // parts of the error
	}{
		{
			name:     "bad YAML names its source",
			manifest: "# Source: chart/templates/bad.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: [\n",
			want:     []string{"chart/templates/bad.yaml: "},
		},
		{
			name:     "no kind, without a source",
			manifest: "apiVersion: v1\nmetadata: {name: x}\n---\napiVersion: v1\nkind: ConfigMap\n",
			want:     []string{"document 1: ", "Kind", "document 2: ConfigMap has no metadata.name"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := decodeManifest(tt.manifest)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestSourceOf(t *testing.T) {
	for doc, want := range map[string]string{
		"# Source: a/b.yaml\nkind: X":       "a/b.yaml",
		"\n# comment\n# Source: c.yaml\n":   "c.yaml",
		"kind: X\n# Source: late.yaml\n":    "",
		"apiVersion: v1\nkind: ConfigMap\n": "",
	} {
		if got := sourceOf(doc); got != want {
			t.Errorf("sourceOf(%q) = %q, want %q", doc, got, want)
		}
	}
}

func TestDecode(t *testing.T) {
	m, _ := newManager(t)
	manifest := `---
# Source: c/templates/role.yaml
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: r, namespace: ignored}
---
# Source: c/templates/cm.yaml
apiVersion: v1
kind: ConfigMap
metadata: {name: a}
---
# Source: c/templates/cm-elsewhere.yaml
apiVersion: v1
kind: ConfigMap
metadata: {name: b, namespace: other}
---
# Source: c/templates/gadget.yaml
apiVersion: gadgets.example.com/v1
kind: Gadget
metadata: {name: g}
---
# Source: c/crds/gadgets.yaml
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: gadgets.gadgets.example.com}
spec:
  group: gadgets.example.com
  scope: Cluster
  names: {plural: gadgets, kind: Gadget}
  versions: [{name: v1, served: true, storage: true, schema: {openAPIV3Schema: {type: object}}}]
`
	objs, err := m.Decode(manifest, "rel")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range objs {
		got = append(got, RefOf(o).String())
	}
	want := []string{
		"ClusterRole.rbac.authorization.k8s.io/r",
		"ConfigMap/rel/a",
		"ConfigMap/other/b",
		"Gadget.gadgets.example.com/g",
		"CustomResourceDefinition.apiextensions.k8s.io/gadgets.gadgets.example.com",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("decoded (-want +got):\n%s", diff)
	}

	_, err = m.Decode("# Source: c/templates/thing.yaml\napiVersion: things.example.com/v1\nkind: Thing\nmetadata: {name: t}\n", "rel")
	if err == nil || !strings.Contains(err.Error(), `c/templates/thing.yaml: Thing.things.example.com/t: the server has no kind "Thing"`) {
		t.Errorf("unknown kind: error %v", err)
	}
}
