package apply

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	"github.com/kubectl-chart/kubectl-chart/pkg/ownership"
	"github.com/kubectl-chart/kubectl-chart/pkg/release"
)

const adoptManifest = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: "nginx:1.27", ports: [{containerPort: 80}]}]
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data: {mode: production}
`

// entriesOf lists an object's managedFields entries as "manager operation".
func entriesOf(u *unstructured.Unstructured) []string {
	var out []string
	for _, e := range u.GetManagedFields() {
		s := e.Manager + " " + string(e.Operation)
		if e.Subresource != "" {
			s += " /" + e.Subresource
		}
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

// TestAdoptAndDisown: objects written by "helm", server-side (as Helm 4)
// or with a plain update (as Helm 3), are adopted without any value or
// the Deployment's generation moving: kubectl-chart's Apply entry owns
// exactly what the manifest sets (the set of a dry-run apply), Helm owns
// nothing; adopting again writes nothing; a drifted field is reported and
// kept. Disown hands them back the same way.
func TestAdoptAndDisown(t *testing.T) {
	for _, how := range []string{"apply", "update"} {
		t.Run(how, func(t *testing.T) {
			ctx := testContext(t)
			ns := env.Namespace(t)
			m, reqs := newManager(t)
			objs := decode(t, m, adoptManifest, ns)
			dyn := dynamicClient(t)
			for _, o := range objs {
				gvr := configMaps
				if o.GetKind() == "Deployment" {
					gvr = deployments
				}
				ri := dyn.Resource(gvr).Namespace(ns)
				var err error
				if how == "apply" {
					_, err = ri.Apply(ctx, o.GetName(), o, metav1.ApplyOptions{FieldManager: "helm"})
				} else {
					_, err = ri.Create(ctx, o, metav1.CreateOptions{FieldManager: "helm"})
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			// Drift: someone scaled the Deployment with an update.
			if _, err := dyn.Resource(deployments).Namespace(ns).Patch(ctx, "web", types.MergePatchType, []byte(`{"spec":{"replicas":3}}`),
				metav1.PatchOptions{FieldManager: "kubectl-edit"}); err != nil {
				t.Fatal(err)
			}
			before := get(t, deployments, ns, "web")
			reqs.take()

			opts := AdoptOptions{Release: "web", ReleaseNamespace: ns, From: []string{"helm"}}
			dry := opts
			dry.DryRun = true
			got, err := m.Adopt(ctx, objs, dry)
			if err != nil {
				t.Fatal(err)
			}
			if n := reqs.take(); n["apply"]+n["other write"] > 0 {
				t.Errorf("a dry run wrote: %v", n)
			}
			if d := got[0].Drift; !slices.Equal(d, []string{"spec.replicas"}) {
				t.Errorf("drift %q, want spec.replicas", d)
			}

			if _, err := m.Adopt(ctx, objs, opts); err != nil {
				t.Fatal(err)
			}
			after := get(t, deployments, ns, "web")
			if after.GetGeneration() != before.GetGeneration() {
				t.Errorf("generation %d → %d", before.GetGeneration(), after.GetGeneration())
			}
			for _, path := range [][]string{{"spec"}, {"data"}} {
				b, _, _ := unstructured.NestedFieldNoCopy(before.Object, path...)
				a, _, _ := unstructured.NestedFieldNoCopy(after.Object, path...)
				if diff := cmp.Diff(b, a); diff != "" {
					t.Errorf("%v changed:\n%s", path, diff)
				}
			}
			for _, o := range objs {
				gvr := configMaps
				if o.GetKind() == "Deployment" {
					gvr = deployments
				}
				live := get(t, gvr, ns, o.GetName())
				want := []string{"kubectl-chart Apply"}
				if o.GetKind() == "Deployment" {
					want = []string{"kube-controller-manager Update /status", "kubectl-chart Apply", "kubectl-edit Update"}
				}
				if diff := cmp.Diff(want, entriesOf(live)); diff != "" {
					t.Errorf("%s: managedFields entries (-want +got):\n%s", o.GetName(), diff)
				}
				if live.GetLabels()[ownership.LabelRelease] != "web" {
					t.Errorf("%s: labels %v", o.GetName(), live.GetLabels())
				}
				owned, err := ownership.OwnedFields(live.Object)
				if err != nil || !owned.Has(pathOf("metadata", "labels", ownership.LabelRelease)) {
					t.Errorf("%s: kubectl-chart does not own its label: %v", o.GetName(), err)
				}
			}
			reqs.take()
			if _, err := m.Adopt(ctx, objs, opts); err != nil {
				t.Fatal(err)
			}
			if n := reqs.take(); n["apply"]+n["other write"] > 0 {
				t.Errorf("adopting again wrote: %v", n)
			}

			refs := []release.ObjectRef{RefOf(objs[0]), RefOf(objs[1])}
			if _, err := m.Disown(ctx, refs, DisownOptions{Release: "web", ReleaseNamespace: ns, To: "helm"}); err != nil {
				t.Fatal(err)
			}
			back := get(t, deployments, ns, "web")
			if back.GetGeneration() != before.GetGeneration() {
				t.Errorf("disown: generation %d → %d", before.GetGeneration(), back.GetGeneration())
			}
			if diff := cmp.Diff([]string{"helm Apply", "kube-controller-manager Update /status", "kubectl-edit Update"}, entriesOf(back)); diff != "" {
				t.Errorf("disown: managedFields entries (-want +got):\n%s", diff)
			}
			if _, ok := back.GetLabels()[ownership.LabelRelease]; ok {
				t.Errorf("disown: labels %v", back.GetLabels())
			}
			reqs.take()
			if _, err := m.Disown(ctx, refs, DisownOptions{Release: "web", ReleaseNamespace: ns, To: "helm"}); err != nil {
				t.Fatal(err)
			}
			if n := reqs.take(); n["apply"]+n["other write"] > 0 {
				t.Errorf("disowning again wrote: %v", n)
			}
		})
	}
}

func pathOf(parts ...string) fieldpath.Path {
	var p fieldpath.Path
	for _, s := range parts {
		p = append(p, fieldpath.PathElement{FieldName: &s})
	}
	return p
}
