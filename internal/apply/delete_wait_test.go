package apply

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/fluxcd/cli-utils/pkg/kstatus/status"
	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kubectl-chart/kubectl-chart/pkg/release"
)

func refsOf(objs []*unstructured.Unstructured) []release.ObjectRef {
	refs := make([]release.ObjectRef, len(objs))
	for i, o := range objs {
		refs[i] = RefOf(o)
	}
	return refs
}

func TestDelete(t *testing.T) {
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
metadata: {name: kept, annotations: {helm.sh/resource-policy: keep}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: kept-too, annotations: {kubectl-chart.io/resource-policy: keep}}
---
apiVersion: v1
kind: Secret
metadata: {name: s}
stringData: {k: v}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec: {ports: [{port: 80}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: nginx}]}
`
	objs := decode(t, m, manifest, ns)
	if _, err := m.Apply(ctx, objs, releaseOptions(ns)); err != nil {
		t.Fatal(err)
	}
	// Adopted by another release since.
	other := DefaultOptions()
	other.Release, other.ReleaseNamespace, other.TakeOwnership = "other", ns, true
	adopted := decode(t, m, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: adopted}\n", ns)
	if _, err := m.Apply(ctx, adopted, other); err != nil {
		t.Fatal(err)
	}

	refs := append(refsOf(objs), RefOf(adopted[0]),
		release.ObjectRef{Kind: "ConfigMap", Version: "v1", Namespace: ns, Name: "never-existed"},
		release.ObjectRef{Group: "gone.example.com", Version: "v1", Kind: "Widget", Namespace: ns, Name: "crd-gone"})
	opts := DeleteOptions{Release: "app", ReleaseNamespace: ns}
	cs, err := m.Delete(ctx, refs, opts)
	if err != nil {
		t.Fatalf("delete: %v\n%s", err, cs)
	}
	var got []string
	for _, c := range cs.Changes {
		got = append(got, c.Ref.Kind+"/"+c.Ref.Name+" "+string(c.Action))
	}
	want := []string{
		"Widget/crd-gone deleted",
		"Service/web deleted",
		"Deployment/web deleted",
		"ConfigMap/a deleted",
		"ConfigMap/kept kept",
		"ConfigMap/kept-too kept",
		"ConfigMap/adopted skipped",
		"ConfigMap/never-existed deleted",
		"Secret/s deleted",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("changes (-want +got):\n%s", diff)
	}
	for name, exists := range map[string]bool{"a": false, "kept": true, "kept-too": true, "adopted": true} {
		if got := get(t, configMaps, ns, name) != nil; got != exists {
			t.Errorf("ConfigMap %s exists: %v, want %v", name, got, exists)
		}
	}
	if d := get(t, deployments, ns, "web"); d != nil && d.GetDeletionTimestamp() == nil {
		t.Error("Deployment web still there, not being deleted")
	}

	// Again: idempotent.
	cs, err = m.Delete(ctx, refs, opts)
	if err != nil {
		t.Fatalf("delete again: %v\n%s", err, cs)
	}
	if got := cs.Count(Deleted); got != 6 {
		t.Errorf("delete again: %d deleted, want 6:\n%s", got, cs)
	}
}

const webDeployment = `
apiVersion: apps/v1
kind: Deployment
metadata: {name: %s}
spec:
  replicas: 2
  progressDeadlineSeconds: %d
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      nodeSelector: %s
      containers: [{name: web, image: nginx}]
`

func TestWaitDeploymentAvailable(t *testing.T) {
	ns := env.Namespace(t)
	m, _ := newManager(t)
	ctx := testContext(t)
	objs := decode(t, m, sprintf(webDeployment, "web", 600, "{}"), ns)
	if _, err := m.Apply(ctx, objs, releaseOptions(ns)); err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	if err := m.Wait(ctx, refsOf(objs), WaitOptions{Timeout: time.Minute}); err != nil {
		t.Fatalf("wait: %v", err)
	}
	t.Logf("Deployment ready in %s", time.Since(began).Round(time.Millisecond))
	d := get(t, deployments, ns, "web")
	if n, _, _ := unstructured.NestedInt64(d.Object, "status", "availableReplicas"); n != 2 {
		t.Errorf("availableReplicas = %d after Wait, want 2", n)
	}
}

func TestWaitJob(t *testing.T) {
	ns := env.Namespace(t)
	m, _ := newManager(t)
	ctx := testContext(t)
	objs := decode(t, m, `
apiVersion: batch/v1
kind: Job
metadata: {name: migrate}
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: migrate, image: busybox, command: ["true"]}]
`, ns)
	if _, err := m.Apply(ctx, objs, releaseOptions(ns)); err != nil {
		t.Fatal(err)
	}
	// Without WaitForJobs, Jobs are not waited for.
	began := time.Now()
	if err := m.Wait(ctx, refsOf(objs), WaitOptions{Timeout: time.Minute}); err != nil {
		t.Fatalf("wait without jobs: %v", err)
	}
	if d := time.Since(began); d > time.Second {
		t.Errorf("wait without jobs took %s", d)
	}

	if err := m.Wait(ctx, refsOf(objs), WaitOptions{Timeout: time.Minute, WaitForJobs: true}); err != nil {
		t.Fatalf("wait for jobs: %v", err)
	}
	t.Logf("Job complete in %s", time.Since(began).Round(time.Millisecond))
	job := get(t, schema.GroupVersionResource{Group: "batch", Version: "v1", Resource: "jobs"}, ns, "migrate")
	if !jobComplete(job) {
		t.Errorf("Job not Complete after Wait: %v", job.Object["status"])
	}
}

func TestWaitNotReady(t *testing.T) {
	ns := env.Namespace(t)
	m, _ := newManager(t)
	ctx := testContext(t)
	// No node matches: the Pods stay Pending.
	objs := decode(t, m, sprintf(webDeployment, "stuck", 600, "{nowhere: 'true'}")+"---\n"+
		sprintf(webDeployment, "doomed", 1, "{nowhere: 'true'}")+"---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: fine}\n", ns)
	if _, err := m.Apply(ctx, objs, releaseOptions(ns)); err != nil {
		t.Fatal(err)
	}

	// The Deployment whose progress deadline passes is Failed: the wait ends.
	began := time.Now()
	err := m.Wait(ctx, refsOf(objs), WaitOptions{Timeout: 40 * time.Second, Interval: 200 * time.Millisecond})
	var nre *NotReadyError
	if !errors.As(err, &nre) {
		t.Fatalf("wait: %v, want a *NotReadyError", err)
	}
	t.Logf("failed after %s: %v", time.Since(began).Round(time.Millisecond), err)
	if nre.TimedOut || len(nre.Objects) != 1 || nre.Objects[0].Ref.Name != "doomed" || nre.Objects[0].Status != status.FailedStatus {
		t.Errorf("wait: %+v, want doomed Failed", nre)
	}
	if !strings.Contains(err.Error(), "Deployment.apps/"+ns+"/doomed: Failed: ") {
		t.Errorf("error %q does not name the object and its status", err)
	}

	// The other one times out.
	err = m.Wait(ctx, refsOf(objs[:1]), WaitOptions{Timeout: 2 * time.Second, Interval: 200 * time.Millisecond})
	if !errors.As(err, &nre) || !nre.TimedOut {
		t.Fatalf("wait: %v, want a timeout", err)
	}
	for _, w := range []string{"timed out after 2s", "Deployment.apps/" + ns + "/stuck: InProgress: "} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not contain %q", err, w)
		}
	}
}
