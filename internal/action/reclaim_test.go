package action

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-chart/kubectl-chart/internal/apply"
	"github.com/kubectl-chart/kubectl-chart/pkg/release"
)

// kubectl runs the real kubectl on the test cluster, as a user would.
func kubectl(t *testing.T, args ...string) {
	t.Helper()
	out, err := exec.CommandContext(t.Context(), filepath.Join(env.AssetsDir(), "kubectl"), append([]string{"--kubeconfig", env.KubeconfigPath()}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// webChart writes a chart of one Deployment, web, whose replicas and
// annotations come from values.
func webChart(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "web")
	files := map[string]string{
		"Chart.yaml":  "apiVersion: v2\nname: web\nversion: 0.1.0\n",
		"values.yaml": "replicaCount: 2\nannotations: {}\n",
		"templates/deployment.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  {{- with .Values.annotations }}
  annotations: {{- toYaml . | nindent 4 }}
  {{- end }}
spec:
  replicas: {{ .Values.replicaCount }}
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: "nginx:1.27"}]
`,
	}
	for p, text := range files {
		path := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func replicasOf(t *testing.T, ns, name string) int32 {
	t.Helper()
	d, err := env.Clientset().AppsV1().Deployments(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return *d.Spec.Replicas
}

// TestUpgradeReclaims, on the real control plane with the real kubectl:
// after kubectl scale (the scale subresource, manager "kubectl") and
// kubectl set image, an upgrade restores what the chart renders and
// reports each field with its manager and time, in its result and its
// revision's description; an annotation the release never applied, set
// with kubectl annotate and then added to the chart, fails the upgrade
// naming the object, the field and the manager, unless --force-conflicts;
// a rollback takes fields back like an upgrade.
func TestUpgradeReclaims(t *testing.T) {
	ctx := context.Background()
	ns := env.Namespace(t)
	c := newConfig(t, "frank@test (pid 6)")
	chartPath := webChart(t)
	if _, err := c.Upgrade(ctx, upgradeOpts(t, ns, "web", chartPath, nil)); err != nil {
		t.Fatalf("install: %v", err)
	}
	ref := release.ObjectRef{Group: "apps", Version: "v1", Kind: "Deployment", Namespace: ns, Name: "web"}
	imageField := `.spec.template.spec.containers[name="web"].image`

	kubectl(t, "-n", ns, "scale", "deployment/web", "--replicas=5")
	edited := time.Now()
	kubectl(t, "-n", ns, "set", "image", "deployment/web", "web=nginx:1.28")
	editDone := time.Now()

	// diff upgrade says what the upgrade would take back, and writes nothing.
	dr, err := c.DiffUpgrade(ctx, upgradeOpts(t, ns, "web", chartPath, nil))
	if err != nil {
		t.Fatalf("diff upgrade after kubectl scale and set image: %v", err)
	}
	var diffTaken []string
	for _, tk := range dr.Taken {
		diffTaken = append(diffTaken, tk.Field+" from "+tk.Manager)
	}
	if diff := cmp.Diff([]string{".spec.replicas from kubectl", imageField + " from kubectl-set"}, diffTaken, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
		t.Errorf("diff upgrade: fields taken back (-want +got):\n%s", diff)
	}
	if dr.Count(DiffChanged) != 1 {
		t.Errorf("diff upgrade: %d objects changed, want the Deployment", dr.Count(DiffChanged))
	}
	if n := replicasOf(t, ns, "web"); n != 5 {
		t.Errorf("replicas %d after diff upgrade, want kubectl scale's 5 still", n)
	}

	res, err := c.Upgrade(ctx, upgradeOpts(t, ns, "web", chartPath, nil))
	if err != nil {
		t.Fatalf("upgrade after kubectl scale and set image: %v", err)
	}
	if n := replicasOf(t, ns, "web"); n != 2 {
		t.Errorf("replicas %d after the upgrade, want the chart's 2", n)
	}
	taken := res.Takeovers()
	for i := range taken {
		if taken[i].Field == imageField {
			if when := taken[i].Time; when.Before(edited.Truncate(time.Second)) || when.After(editDone) {
				t.Errorf("kubectl set image's time %s, want within [%s, %s]", when, edited, editDone)
			}
			taken[i].Time = time.Time{}
		}
	}
	want := []apply.Takeover{
		{Ref: ref, Field: ".spec.replicas", Manager: "kubectl", Operation: "Update", Subresource: "scale", Reclaimed: true},
		{Ref: ref, Field: imageField, Manager: "kubectl-set", Operation: "Update", Reclaimed: true},
	}
	byField := cmpopts.SortSlices(func(a, b apply.Takeover) bool { return a.Field < b.Field })
	if diff := cmp.Diff(want, taken, byField); diff != "" {
		t.Errorf("takeovers (-want +got):\n%s", diff)
	}
	r2, err := c.Store.Revision(ctx, ns, "web", 2)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"Upgrade complete; ", "reclaimed .spec.replicas of Deployment.apps/" + ns + "/web from kubectl (through /scale)", "reclaimed " + imageField + " of Deployment.apps/" + ns + "/web from kubectl-set"} {
		if !strings.Contains(r2.Description, w) {
			t.Errorf("revision 2 description %q does not say %q", r2.Description, w)
		}
	}
	if r2.Status != release.StatusDeployed {
		t.Errorf("revision 2 %s, want deployed", r2.Status)
	}

	// An annotation the release never applied.
	kubectl(t, "-n", ns, "annotate", "deployment/web", "team=blue")
	o := upgradeOpts(t, ns, "web", chartPath, map[string]any{"annotations": map[string]any{"team": "red"}})
	_, err = c.Upgrade(ctx, o)
	var ce *apply.ConflictError
	if !errors.As(err, &ce) {
		t.Fatalf("upgrade over kubectl annotate: %v, want a *ConflictError", err)
	}
	for _, w := range []string{"Deployment.apps/" + ns + "/web", ".metadata.annotations.team", `"kubectl-annotate"`, "--force-conflicts"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not name %s", err, w)
		}
	}
	o.ForceConflicts = true
	res, err = c.Upgrade(ctx, o)
	if err != nil {
		t.Fatalf("upgrade --force-conflicts: %v", err)
	}
	taken = res.Takeovers()
	if len(taken) != 1 || taken[0].Field != ".metadata.annotations.team" || taken[0].Manager != "kubectl-annotate" || taken[0].Reclaimed || taken[0].Time.IsZero() {
		t.Errorf("takeovers of upgrade --force-conflicts: %+v, want the annotation, taken (not reclaimed), with a time", taken)
	}
	d, _ := env.Clientset().AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
	if d.Annotations["team"] != "red" {
		t.Errorf("annotation team %q, want red", d.Annotations["team"])
	}

	// Rollback: revision 5 has 3 replicas, kubectl scales to 7, a rollback
	// to revision 2 takes the field back with 2.
	if _, err := c.Upgrade(ctx, upgradeOpts(t, ns, "web", chartPath, map[string]any{"replicaCount": 3})); err != nil {
		t.Fatalf("upgrade to 3 replicas: %v", err)
	}
	kubectl(t, "-n", ns, "scale", "deployment/web", "--replicas=7")
	ro := DefaultRollbackOptions()
	ro.Name, ro.Namespace, ro.Revision, ro.Timeout = "web", ns, 2, time.Minute
	res, err = c.Rollback(ctx, ro)
	if err != nil {
		t.Fatalf("rollback after kubectl scale: %v", err)
	}
	if diff := cmp.Diff([]apply.Takeover{{Ref: ref, Field: ".spec.replicas", Manager: "kubectl", Operation: "Update", Subresource: "scale", Reclaimed: true}}, res.Takeovers()); diff != "" {
		t.Errorf("rollback takeovers (-want +got):\n%s", diff)
	}
	if n := replicasOf(t, ns, "web"); n != 2 {
		t.Errorf("replicas %d after the rollback, want revision 2's 2", n)
	}
	if want := "Rollback to 2; reclaimed .spec.replicas"; !strings.HasPrefix(res.Revision.Description, want) {
		t.Errorf("rollback description %q, want %q…", res.Revision.Description, want)
	}
}
