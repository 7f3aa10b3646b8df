package ownership_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
	"sigs.k8s.io/structured-merge-diff/v6/value"

	"github.com/kubectl-chart/kubectl-chart/pkg/ownership"
)

func TestFormatPath(t *testing.T) {
	tests := []struct {
		name string
		path fieldpath.Path
		want string
	}{
		{"fields", fieldpath.MakePathOrDie("spec", "replicas"), "spec.replicas"},
		{"field with dots and slash", fieldpath.MakePathOrDie("metadata", "labels", "kubectl-chart.io/release"),
			`metadata.labels["kubectl-chart.io/release"]`},
		{"keyed item", fieldpath.MakePathOrDie("spec", "containers", fieldpath.KeyByFields("name", "web"), "image"),
			"spec.containers[name=web].image"},
		{"two keys, number", fieldpath.MakePathOrDie("ports", fieldpath.KeyByFields("containerPort", 8080, "protocol", "TCP")),
			"ports[containerPort=8080,protocol=TCP]"},
		{"key that reads as a number", fieldpath.MakePathOrDie("env", fieldpath.KeyByFields("name", "80")), `env[name="80"]`},
		{"key with a comma", fieldpath.MakePathOrDie("env", fieldpath.KeyByFields("name", "a,b")), `env[name="a,b"]`},
		{"set item", fieldpath.MakePathOrDie("metadata", "finalizers", value.NewValueInterface("example.com/guard")),
			"metadata.finalizers[=example.com/guard]"},
		{"index", fieldpath.MakePathOrDie("spec", "items", 2, "x"), "spec.items[2].x"},
		{"first field needs brackets", fieldpath.MakePathOrDie("a.b", "c"), `["a.b"].c`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ownership.FormatPath(tt.path); got != tt.want {
				t.Errorf("FormatPath = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestOwnedFields(t *testing.T) {
	entry := func(manager, op, sub, fields string) string {
		return `{"manager":"` + manager + `","operation":"` + op + `","subresource":"` + sub +
			`","fieldsType":"FieldsV1","fieldsV1":` + fields + `}`
	}
	tests := []struct {
		name    string
		entries string
		want    []string // paths, as FormatPath writes them
		wantErr string
	}{
		{name: "no managedFields", entries: "", want: nil},
		{
			name: "only kubectl-chart's Apply entry of the main resource counts",
			entries: "[" + strings.Join([]string{
				entry("kubectl-chart", "Apply", "", `{"f:spec":{"f:replicas":{}}}`),
				entry("kubectl-chart", "Update", "", `{"f:spec":{"f:paused":{}}}`),
				entry("kubectl-chart", "Apply", "status", `{"f:status":{"f:x":{}}}`),
				entry("kubectl-edit", "Update", "", `{"f:spec":{"f:minReadySeconds":{}}}`),
			}, ",") + "]",
			want: []string{"spec.replicas"},
		},
		{
			name: "entries of the manager are joined",
			entries: "[" + entry("kubectl-chart", "Apply", "", `{"f:spec":{"f:replicas":{}}}`) + "," +
				entry("kubectl-chart", "Apply", "", `{"f:data":{"f:a":{}}}`) + "]",
			want: []string{"data.a", "spec.replicas"},
		},
		{name: "not a list", entries: `{"a":1}`, wantErr: "not a list"},
		{name: "an entry not an object", entries: `[1]`, wantErr: "not an object"},
		{
			name:    "unknown fieldsType",
			entries: `[{"manager":"kubectl-chart","operation":"Apply","fieldsType":"FieldsV2","fieldsV1":{}}]`,
			wantErr: "FieldsV2",
		},
		{
			name:    "unreadable path element",
			entries: "[" + entry("kubectl-chart", "Apply", "", `{"k:{bad":{}}`) + "]",
			wantErr: "fieldsV1",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			obj := map[string]any{"metadata": map[string]any{}}
			if tt.entries != "" {
				obj["metadata"].(map[string]any)["managedFields"] = mustJSON(t, tt.entries)
			}
			set, err := ownership.OwnedFields(obj)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("OwnedFields error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			set.Leaves().Iterate(func(p fieldpath.Path) { got = append(got, ownership.FormatPath(p)) })
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("owned leaves (-want +got):\n%s", diff)
			}
		})
	}
}

func TestChangedFields(t *testing.T) {
	owned := fieldSet(t, deploymentFields)
	tests := []struct {
		name   string
		change func(o map[string]any)
		want   []string
	}{
		{name: "nothing", change: func(map[string]any) {}},
		{name: "replicas", change: func(o map[string]any) { set(o, int64(5), "spec", "replicas") },
			want: []string{"spec.replicas"}},
		{name: "replicas as a float of the same value", change: func(o map[string]any) { set(o, 3.0, "spec", "replicas") }},
		{name: "replicas as a float of another value", change: func(o map[string]any) { set(o, 3.5, "spec", "replicas") },
			want: []string{"spec.replicas"}},
		{name: "replicas null", change: func(o map[string]any) { set(o, nil, "spec", "replicas") },
			want: []string{"spec.replicas"}},
		{name: "image of a keyed container", change: func(o map[string]any) { container(o, 0)["image"] = "evil:1" },
			want: []string{"spec.template.spec.containers[name=web].image"}},
		{name: "atomic list (args)", change: func(o map[string]any) { container(o, 0)["args"] = []any{"--port=9090"} },
			want: []string{"spec.template.spec.containers[name=web].args"}},
		{name: "unowned field of an owned container", change: func(o map[string]any) { container(o, 0)["imagePullPolicy"] = "Always" }},
		{
			name: "container removed",
			change: func(o map[string]any) {
				set(o, []any{}, "spec", "template", "spec", "containers")
			},
			want: []string{"spec.template.spec.containers[name=web]"},
		},
		{
			name: "unowned container added before the owned one",
			change: func(o map[string]any) {
				c := get(o, "spec", "template", "spec", "containers").([]any)
				set(o, append([]any{map[string]any{"name": "sidecar", "image": "x"}}, c...), "spec", "template", "spec", "containers")
			},
		},
		{
			name:   "owned container renamed",
			change: func(o map[string]any) { container(o, 0)["name"] = "web2" },
			want:   []string{"spec.template.spec.containers[name=web]"},
		},
		{
			name: "duplicate of an owned container",
			change: func(o map[string]any) {
				c := get(o, "spec", "template", "spec", "containers").([]any)
				set(o, append(c, map[string]any{"name": "web", "image": "nginx:1.27"}), "spec", "template", "spec", "containers")
			},
			want: []string{"spec.template.spec.containers[name=web]"},
		},
		{
			name: "port keyed by two fields",
			change: func(o map[string]any) {
				set(o, []any{map[string]any{"containerPort": int64(9090), "protocol": "TCP"}}, portsPath...)
			},
			want: []string{"spec.template.spec.containers[name=web].ports[containerPort=8080,protocol=TCP]"},
		},
		{name: "set item removed", change: func(o map[string]any) { set(o, []any{"example.com/other"}, "metadata", "finalizers") },
			want: []string{"metadata.finalizers[=example.com/guard]"}},
		{name: "set item added", change: func(o map[string]any) {
			set(o, []any{"example.com/guard", "example.com/other"}, "metadata", "finalizers")
		}},
		{name: "indexed item", change: func(o map[string]any) { set(o, "other", "spec", "template", "spec", "tolerations", 0, "key") },
			want: []string{"spec.template.spec.tolerations[0].key"}},
		{name: "indexed item gone", change: func(o map[string]any) { set(o, []any{}, "spec", "template", "spec", "tolerations") },
			want: []string{"spec.template.spec.tolerations[0]"}},
		{name: "owned label", change: func(o map[string]any) { set(o, "other", "metadata", "labels", "app") },
			want: []string{"metadata.labels.app"}},
		{name: "new annotation", change: func(o map[string]any) { set(o, "x", "metadata", "annotations", "example.com/note") }},
		{name: "status, even where owned", change: func(o map[string]any) { set(o, int64(0), "status", "replicas") }},
		{
			name: "what the API server and the webhook maintain",
			change: func(o map[string]any) {
				set(o, "11", "metadata", "resourceVersion")
				set(o, int64(3), "metadata", "generation")
				set(o, []any{}, "metadata", "managedFields")
				set(o, "mallory", "metadata", "annotations", ownership.AnnotationAppliedBy)
			},
		},
		{
			name:   "spec gone: every owned field below it",
			change: func(o map[string]any) { delete(o, "spec") },
			want: []string{
				"spec.replicas", "spec.selector", "spec.template.metadata.labels.app",
				"spec.template.spec.containers[name=web]", "spec.template.spec.tolerations[0]",
			},
		},
		{
			name:   "spec of another type",
			change: func(o map[string]any) { o["spec"] = "x" },
			want: []string{
				"spec.replicas", "spec.selector", "spec.template.metadata.labels.app",
				"spec.template.spec.containers[name=web]", "spec.template.spec.tolerations[0]",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old := deployment(t)
			nu := deployment(t)
			tt.change(nu.Object)
			got := ownership.ChangedFields(owned, old.Object, nu.Object)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ChangedFields (-want +got):\n%s", diff)
			}
		})
	}
}

func TestChangedFieldsAbsentObjects(t *testing.T) {
	owned := fieldSet(t, `{"f:spec":{"f:replicas":{}}}`)
	old := map[string]any{"spec": map[string]any{"replicas": int64(1)}}
	if diff := cmp.Diff([]string{"spec.replicas"}, ownership.ChangedFields(owned, old, nil)); diff != "" {
		t.Errorf("new absent (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"spec.replicas"}, ownership.ChangedFields(owned, nil, old)); diff != "" {
		t.Errorf("old absent (-want +got):\n%s", diff)
	}
	if got := ownership.ChangedFields(nil, old, nil); got != nil {
		t.Errorf("no owned set: %v", got)
	}
}
