package apply

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kubectl-chart/kubectl-chart/pkg/ownership"
	"github.com/kubectl-chart/kubectl-chart/pkg/release"
)

func obj(apiVersion, kind, name string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetAPIVersion(apiVersion)
	u.SetKind(kind)
	u.SetName(name)
	return u
}

func stageNames(stages [][]*unstructured.Unstructured) [][]string {
	var out [][]string
	for _, s := range stages {
		var names []string
		for _, o := range s {
			names = append(names, o.GetKind()+"/"+o.GetName())
		}
		out = append(out, names)
	}
	return out
}

func TestInstallStages(t *testing.T) {
	tests := []struct {
		name string
		in   []*unstructured.Unstructured
		want [][]string
	}{
		{
			name: "empty",
		},
		{
			name: "CRDs, then Namespaces, then Helm's order, unknown kinds last by name",
			in: []*unstructured.Unstructured{
				obj("example.com/v1", "Widget", "w1"),
				obj("apps/v1", "Deployment", "web"),
				obj("v1", "Service", "web"),
				obj("v1", "ConfigMap", "a"),
				obj("apiextensions.k8s.io/v1", "CustomResourceDefinition", "widgets.example.com"),
				obj("v1", "Namespace", "team"),
				obj("example.com/v1", "Alpha", "a1"),
				obj("v1", "ConfigMap", "b"),
				obj("v1", "Secret", "s"),
				obj("apiextensions.k8s.io/v1", "CustomResourceDefinition", "alphas.example.com"),
				obj("example.com/v1", "Widget", "w2"),
				obj("batch/v1", "Job", "j"),
				obj("rbac.authorization.k8s.io/v1", "ClusterRole", "cr"),
			},
			want: [][]string{
				{"CustomResourceDefinition/widgets.example.com", "CustomResourceDefinition/alphas.example.com"},
				{"Namespace/team"},
				{"Secret/s"},
				{"ConfigMap/a", "ConfigMap/b"},
				{"ClusterRole/cr"},
				{"Service/web"},
				{"Deployment/web"},
				{"Job/j"},
				{"Alpha/a1"},
				{"Widget/w1", "Widget/w2"},
			},
		},
		{
			name: "a kind named Namespace in another group is not a Namespace (Helm orders it by kind)",
			in: []*unstructured.Unstructured{
				obj("v1", "ConfigMap", "c"),
				obj("example.com/v1", "Namespace", "fake"),
				obj("v1", "Namespace", "real"),
			},
			want: [][]string{{"Namespace/real"}, {"Namespace/fake"}, {"ConfigMap/c"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := stageNames(installStages(tt.in))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("stages (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDeleteStages(t *testing.T) {
	ref := func(group, kind, name string) release.ObjectRef {
		return release.ObjectRef{Group: group, Kind: kind, Name: name}
	}
	in := []release.ObjectRef{
		ref("", "Namespace", "team"),
		ref("apiextensions.k8s.io", "CustomResourceDefinition", "widgets.example.com"),
		ref("", "ConfigMap", "a"),
		ref("apps", "Deployment", "web"),
		ref("example.com", "Widget", "w"),
		ref("example.com", "Alpha", "a"),
		ref("", "Service", "web"),
		ref("", "ConfigMap", "b"),
		ref("", "Secret", "s"),
	}
	got := deleteStages(in)
	var names [][]string
	for _, s := range got {
		var n []string
		for _, r := range s {
			n = append(n, r.Kind+"/"+r.Name)
		}
		names = append(names, n)
	}
	want := [][]string{
		{"Widget/w"},
		{"Alpha/a"},
		{"Service/web"},
		{"Deployment/web"},
		{"ConfigMap/a", "ConfigMap/b"},
		{"Secret/s"},
		{"CustomResourceDefinition/widgets.example.com"},
		{"Namespace/team"},
	}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("delete stages (-want +got):\n%s", diff)
	}
}

func TestStampLabels(t *testing.T) {
	d := obj("apps/v1", "Deployment", "web")
	d.SetLabels(map[string]string{"app": "web"})
	_ = unstructured.SetNestedStringMap(d.Object, map[string]string{"app": "web"}, "spec", "template", "metadata", "labels")
	_ = unstructured.SetNestedStringMap(d.Object, map[string]string{"app": "web"}, "spec", "selector", "matchLabels")

	stampLabels(d, "rel", "ns1")

	wantLabels := map[string]string{
		"app":                           "web",
		ownership.LabelRelease:          "rel",
		ownership.LabelReleaseNamespace: "ns1",
		ownership.LabelApplySetPartOf:   ownership.ApplySetID("rel", "ns1"),
	}
	if diff := cmp.Diff(wantLabels, d.GetLabels()); diff != "" {
		t.Errorf("object labels (-want +got):\n%s", diff)
	}
	for _, path := range [][]string{{"spec", "template", "metadata", "labels"}, {"spec", "selector", "matchLabels"}} {
		got, _, _ := unstructured.NestedStringMap(d.Object, path...)
		if diff := cmp.Diff(map[string]string{"app": "web"}, got); diff != "" {
			t.Errorf("%v changed (-want +got):\n%s", path, diff)
		}
	}

	plain := obj("v1", "ConfigMap", "c")
	stampLabels(plain, "", "ns1")
	if plain.GetLabels() != nil {
		t.Errorf("no release: labels %v, want none", plain.GetLabels())
	}
}

func TestChangeSet(t *testing.T) {
	cs := &ChangeSet{}
	cs.Add(
		Change{Ref: release.ObjectRef{Kind: "ConfigMap", Namespace: "ns", Name: "a"}, Action: Created},
		Change{Ref: release.ObjectRef{Kind: "ConfigMap", Namespace: "ns", Name: "b"}, Action: Unchanged},
		Change{Ref: release.ObjectRef{Kind: "ConfigMap", Namespace: "ns", Name: "c"}, Action: Unchanged},
	)
	if got := cs.Count(Unchanged); got != 2 {
		t.Errorf("Count(unchanged) = %d, want 2", got)
	}
	if err := cs.Failed(); err != nil {
		t.Errorf("Failed() = %v, want nil", err)
	}
	want := "ConfigMap/ns/a created\nConfigMap/ns/b unchanged\nConfigMap/ns/c unchanged\n"
	if diff := cmp.Diff(want, cs.String()); diff != "" {
		t.Errorf("String (-want +got):\n%s", diff)
	}
}
