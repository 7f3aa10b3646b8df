package apply

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kubectl-chart/kubectl-chart/pkg/ownership"
)

// appManifest is a small app: a Namespace, a ConfigMap, a Service, a
// Deployment and a CRD with one custom resource. %[1]s is the test's
// namespace (the release namespace), %[2]s the CRD's group.
const appManifest = `---
# Source: app/templates/widget.yaml
apiVersion: %[2]s/v1
kind: Widget
metadata:
  name: w1
spec:
  size: 3
---
# Source: app/templates/deployment.yaml
apiVersion: apps/v1
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
      containers:
      - name: web
        image: nginx:1.27
        ports: [{containerPort: 80, name: http}]
        resources: {requests: {cpu: 100m, memory: 64Mi}}
        env: [{name: MODE, value: demo}]
---
# Source: app/templates/service.yaml
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: http, name: http}]
---
# Source: app/templates/configmap.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  mode: demo
---
# Source: app/templates/other-namespace.yaml
apiVersion: v1
kind: Namespace
metadata:
  name: %[1]s-extra
---
# Source: app/templates/extra-configmap.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: extra
  namespace: %[1]s-extra
data:
  a: "1"
---
# Source: app/crds/widgets.yaml
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.%[2]s
spec:
  group: %[2]s
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget, listKind: WidgetList}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size: {type: integer}
`

// app decodes appManifest for the namespace ns; it removes the CRD and the
// extra namespace when the test ends.
func app(t *testing.T, m *Manager, ns string) []*unstructured.Unstructured {
	group := ns + ".example.com"
	deleteLater(t, schema.GroupVersionResource{Group: groupCRD, Version: "v1", Resource: "customresourcedefinitions"}, "widgets."+group)
	deleteLater(t, namespaces, ns+"-extra")
	return decode(t, m, fmt.Sprintf(appManifest, ns, group), ns)
}

func releaseOptions(ns string) Options {
	opts := DefaultOptions()
	opts.Release, opts.ReleaseNamespace = "app", ns
	return opts
}

func TestApply(t *testing.T) {
	ns := env.Namespace(t)
	m, reqs := newManager(t)
	ctx := testContext(t)
	objs := app(t, m, ns)
	opts := releaseOptions(ns)

	// Decode: namespaces defaulted for namespaced objects only.
	for _, o := range objs {
		want := ns
		switch o.GetKind() {
		case "Namespace", "CustomResourceDefinition":
			want = ""
		case "ConfigMap":
			if o.GetName() == "extra" {
				want = ns + "-extra"
			}
		}
		if o.GetNamespace() != want {
			t.Errorf("decoded %s/%s in namespace %q, want %q", o.GetKind(), o.GetName(), o.GetNamespace(), want)
		}
	}

	// First apply: everything created, in stages.
	cs, err := m.Apply(ctx, objs, opts)
	if err != nil {
		t.Fatalf("apply: %v\n%s", err, cs)
	}
	t.Logf("first apply: %v", reqs.take())
	var order []string
	for _, c := range cs.Changes {
		order = append(order, c.Ref.Kind+"/"+c.Ref.Name+" "+string(c.Action))
	}
	wantOrder := []string{
		"CustomResourceDefinition/widgets." + ns + ".example.com created",
		"Namespace/" + ns + "-extra created",
		"ConfigMap/settings created",
		"ConfigMap/extra created",
		"Service/web created",
		"Deployment/web created",
		"Widget/w1 created",
	}
	if diff := cmp.Diff(wantOrder, order); diff != "" {
		t.Errorf("changes (-want +got):\n%s", diff)
	}

	// Every object: labels on its metadata, fields owned by kubectl-chart
	// through Apply; never labels in the pod template.
	wantLabels := map[string]string{
		ownership.LabelRelease:          "app",
		ownership.LabelReleaseNamespace: ns,
		ownership.LabelApplySetPartOf:   ownership.ApplySetID("app", ns),
	}
	rvs := map[string]string{}
	for _, c := range cs.Changes {
		live := c.Object
		for k, v := range wantLabels {
			if live.GetLabels()[k] != v {
				t.Errorf("%s: label %s = %q, want %q", c.Ref, k, live.GetLabels()[k], v)
			}
		}
		var applied bool
		for _, e := range live.GetManagedFields() {
			applied = applied || e.Manager == ownership.FieldManager && e.Operation == metav1.ManagedFieldsOperationApply
		}
		if !applied {
			t.Errorf("%s: no managedFields entry of %s (Apply): %v", c.Ref, ownership.FieldManager, managers(live))
		}
	}
	dep := get(t, deployments, ns, "web")
	podLabels, _, _ := unstructured.NestedStringMap(dep.Object, "spec", "template", "metadata", "labels")
	if diff := cmp.Diff(map[string]string{"app": "web"}, podLabels); diff != "" {
		t.Errorf("pod template labels (-want +got):\n%s", diff)
	}

	// The same again: nothing written, no resourceVersion moves.
	for _, c := range cs.Changes {
		rvs[c.Ref.String()] = liveObject(t, m, c.Ref).GetResourceVersion()
	}
	reqs.take()
	cs, err = m.Apply(ctx, objs, opts)
	if err != nil {
		t.Fatalf("re-apply: %v\n%s", err, cs)
	}
	n := reqs.take()
	t.Logf("unchanged re-apply: %v", n)
	if got := cs.Count(Unchanged); got != len(objs) {
		t.Errorf("re-apply: %d unchanged of %d:\n%s", got, len(objs), cs)
	}
	if n["apply"] != 0 || n["other write"] != 0 || n["delete"] != 0 {
		t.Errorf("re-apply wrote: %v", n)
	}
	if n["dry-run apply"] != 0 {
		t.Errorf("re-apply of unchanged objects asked for %d dry runs, want 0 (local comparison)", n["dry-run apply"])
	}
	for _, c := range cs.Changes {
		if c.Object.GetResourceVersion() != rvs[c.Ref.String()] && c.Ref.Kind != "Deployment" { // its controller writes status
			t.Errorf("%s: resourceVersion %s, was %s", c.Ref, c.Object.GetResourceVersion(), rvs[c.Ref.String()])
		}
	}

	// One object changed: only it is configured.
	for _, o := range objs {
		if o.GetKind() == "ConfigMap" && o.GetName() == "settings" {
			_ = unstructured.SetNestedField(o.Object, "production", "data", "mode")
		}
	}
	cs, err = m.Apply(ctx, objs, opts)
	if err != nil {
		t.Fatalf("apply a change: %v\n%s", err, cs)
	}
	t.Logf("one change: %v", reqs.take())
	got := actions(cs)
	for k, a := range got {
		want := Unchanged
		if k == "ConfigMap/settings" {
			want = Configured
		}
		if a != want {
			t.Errorf("%s %s, want %s", k, a, want)
		}
	}
	if v, _, _ := unstructured.NestedString(get(t, configMaps, ns, "settings").Object, "data", "mode"); v != "production" {
		t.Errorf("settings data.mode = %q, want production", v)
	}
}

func TestApplyConflict(t *testing.T) {
	ns := env.Namespace(t)
	m, _ := newManager(t)
	ctx := testContext(t)
	manifest := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {key: ours, other: x}\n"
	objs := decode(t, m, manifest, ns)
	opts := releaseOptions(ns)
	if _, err := m.Apply(ctx, objs, opts); err != nil {
		t.Fatal(err)
	}

	// kubectl edit: a plain update by another manager takes the field.
	live := get(t, configMaps, ns, "c")
	_ = unstructured.SetNestedField(live.Object, "theirs", "data", "key")
	if _, err := dynamicClient(t).Resource(configMaps).Namespace(ns).Update(ctx, live, metav1.UpdateOptions{FieldManager: "kubectl-edit"}); err != nil {
		t.Fatal(err)
	}

	cs, err := m.Apply(ctx, objs, opts)
	var ce *ConflictError
	if !errors.As(err, &ce) {
		t.Fatalf("apply over kubectl-edit's field: error %v, want a *ConflictError\n%s", err, cs)
	}
	if diff := cmp.Diff([]FieldConflict{{Manager: "kubectl-edit", Field: ".data.key"}}, ce.Conflicts); diff != "" {
		t.Errorf("conflicts (-want +got):\n%s", diff)
	}
	for _, want := range []string{"ConfigMap/" + ns + "/c", ".data.key", `"kubectl-edit"`, "--force-conflicts"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
	if got := actions(cs)["ConfigMap/c"]; got != Failed {
		t.Errorf("action %s, want failed", got)
	}

	opts.Force = true
	cs, err = m.Apply(ctx, objs, opts)
	if err != nil {
		t.Fatalf("forced apply: %v", err)
	}
	if got := actions(cs)["ConfigMap/c"]; got != Configured {
		t.Errorf("forced apply: %s, want configured", got)
	}
	if v, _, _ := unstructured.NestedString(get(t, configMaps, ns, "c").Object, "data", "key"); v != "ours" {
		t.Errorf("data.key = %q after the forced apply, want ours", v)
	}
}

func TestApplyOwnership(t *testing.T) {
	ns := env.Namespace(t)
	m, _ := newManager(t)
	ctx := testContext(t)

	// Created by another tool.
	cm := &unstructured.Unstructured{}
	cm.SetAPIVersion("v1")
	cm.SetKind("ConfigMap")
	cm.SetName("c")
	_ = unstructured.SetNestedField(cm.Object, "v", "data", "k")
	if _, err := dynamicClient(t).Resource(configMaps).Namespace(ns).Create(ctx, cm, metav1.CreateOptions{FieldManager: "kubectl-create"}); err != nil {
		t.Fatal(err)
	}
	objs := decode(t, m, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {k: v}\n", ns)

	a := releaseOptions(ns)
	_, err := m.Apply(ctx, objs, a)
	var oe *OwnershipError
	if !errors.As(err, &oe) || oe.Release != "" {
		t.Fatalf("apply over a kubectl-created object: %v, want an *OwnershipError without a release", err)
	}
	want := "ConfigMap/" + ns + "/c exists and is not managed by kubectl-chart (field managers: kubectl-create)"
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not say %q", err, want)
	}

	a.TakeOwnership = true
	cs, err := m.Apply(ctx, objs, a)
	if err != nil || actions(cs)["ConfigMap/c"] != Configured {
		t.Fatalf("take ownership: %v\n%s", err, cs)
	}

	// Another release.
	b := DefaultOptions()
	b.Release, b.ReleaseNamespace = "other", "elsewhere"
	_, err = m.Apply(ctx, objs, b)
	if !errors.As(err, &oe) || oe.Release != "app" || oe.ReleaseNamespace != ns {
		t.Fatalf("apply of another release: %v, want an *OwnershipError naming release app", err)
	}
	want = "ConfigMap/" + ns + "/c is owned by release app in namespace " + ns
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not say %q", err, want)
	}
	b.TakeOwnership = true
	if cs, err = m.Apply(ctx, objs, b); err != nil {
		t.Fatalf("release other takes it: %v\n%s", err, cs)
	}
	if got := get(t, configMaps, ns, "c").GetLabels()[ownership.LabelRelease]; got != "other" {
		t.Errorf("release label %q, want other", got)
	}
}

func TestApplyFailureKeepsGoing(t *testing.T) {
	ns := env.Namespace(t)
	m, _ := newManager(t)
	ctx := testContext(t)
	manifest := `
apiVersion: v1
kind: ConfigMap
metadata: {name: a}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: b, labels: {bad: "not a valid label value!"}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: c}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: -1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: nginx}]}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec: {ports: [{port: 80}]}
`
	cs, err := m.Apply(ctx, decode(t, m, manifest, ns), releaseOptions(ns))
	if err == nil {
		t.Fatalf("no error:\n%s", cs)
	}
	want := map[string]Action{
		"ConfigMap/a": Created, "ConfigMap/b": Failed, "ConfigMap/c": Created,
		// The ConfigMap stage failed: later stages do not start.
		"Service/web": Skipped, "Deployment/web": Skipped,
	}
	if diff := cmp.Diff(want, actions(cs)); diff != "" {
		t.Errorf("actions (-want +got):\n%s", diff)
	}
	for _, w := range []string{"ConfigMap/" + ns + "/b: apply failed: ", "Invalid", "metadata.labels"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not contain %q", err, w)
		}
	}
	if get(t, configMaps, ns, "c") == nil {
		t.Error("ConfigMap c was not created")
	}

	// The same for the Deployment alone, with the Service in the same run.
	cs, err = m.Apply(ctx, decode(t, m, manifest[strings.Index(manifest, "apiVersion: apps/v1"):], ns), releaseOptions(ns))
	if err == nil || !strings.Contains(err.Error(), "Deployment.apps/"+ns+"/web: apply failed: ") ||
		!strings.Contains(err.Error(), "spec.replicas") {
		t.Errorf("invalid Deployment: error %v", err)
	}
	if got := actions(cs)["Service/web"]; got != Created {
		t.Errorf("Service %s, want created (its stage comes before the Deployment's)", got)
	}
}

func TestApplyDryRun(t *testing.T) {
	ns := env.Namespace(t)
	m, reqs := newManager(t)
	ctx := testContext(t)
	objs := app(t, m, ns)
	opts := releaseOptions(ns)
	opts.DryRun = true
	cs, err := m.Apply(ctx, objs, opts)
	if err != nil {
		t.Fatalf("dry run: %v\n%s", err, cs)
	}
	if got := cs.Count(Created); got != len(objs) {
		t.Errorf("dry run: %d created of %d:\n%s", got, len(objs), cs)
	}
	if n := reqs.take(); n["apply"] != 0 || n["other write"] != 0 {
		t.Errorf("dry run wrote: %v", n)
	}
	if get(t, configMaps, ns, "settings") != nil || get(t, namespaces, "", ns+"-extra") != nil {
		t.Error("dry run created objects")
	}

	// Applied, then changed and dry-run: configured, nothing written.
	opts.DryRun = false
	if _, err := m.Apply(ctx, objs, opts); err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if o.GetKind() == "ConfigMap" && o.GetName() == "settings" {
			_ = unstructured.SetNestedField(o.Object, "changed", "data", "mode")
		}
	}
	reqs.take()
	opts.DryRun = true
	cs, err = m.Apply(ctx, objs, opts)
	if err != nil {
		t.Fatal(err)
	}
	if got := actions(cs)["ConfigMap/settings"]; got != Configured {
		t.Errorf("dry run of a change: %s, want configured", got)
	}
	if n := reqs.take(); n["apply"] != 0 {
		t.Errorf("dry run wrote: %v", n)
	}
	if v, _, _ := unstructured.NestedString(get(t, configMaps, ns, "settings").Object, "data", "mode"); v != "demo" {
		t.Errorf("dry run changed data.mode to %q", v)
	}
}
