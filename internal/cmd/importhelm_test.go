package cmd

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/kubectl-chart/kubectl-chart/pkg/helmrelease"
	"github.com/kubectl-chart/kubectl-chart/pkg/ownership"
)

// helmOracle is one Helm the import is tested with: $HELM (v4.3.1, which
// applies server-side) and $HELM3 (v3.22.0, client-side).
type helmOracle struct{ name, env string }

var helmOracles = []helmOracle{{name: "helm4", env: "HELM"}, {name: "helm3", env: "HELM3"}}

// helmCLI runs a Helm binary against the test cluster in one namespace,
// with its storage driver ("" for Helm's default, Secrets).
type helmCLI struct {
	t      *testing.T
	bin    string
	ns     string
	driver string
}

func (h helmCLI) ok(args ...string) string {
	h.t.Helper()
	home := h.t.TempDir()
	cmd := exec.CommandContext(h.t.Context(), h.bin, append([]string{"--kubeconfig", env.KubeconfigPath(), "-n", h.ns}, args...)...)
	cmd.Env = []string{"HOME=" + home, "PATH=" + os.Getenv("PATH"), "HELM_CACHE_HOME=" + filepath.Join(home, "cache"),
		"HELM_CONFIG_HOME=" + filepath.Join(home, "config"), "HELM_DATA_HOME=" + filepath.Join(home, "data"), "HELM_DRIVER=" + h.driver}
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		h.t.Fatalf("helm %s: %v\n%s%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// helmApp is the small chart of the import-helm cases: a ConfigMap, a
// Deployment, a post-install/upgrade hook and notes.
const helmApp = "testdata/charts/helm-app"

// TestImportHelmCases: the refusals of import-helm (a release in the middle
// of a Helm operation, objects missing, an object of another release, no
// such release), each writing nothing; Helm's ConfigMap driver, with hooks
// and notes as Helm's get prints them, the status warning while Helm's
// records remain, and --delete-helm-records.
func TestImportHelmCases(t *testing.T) {
	bin := os.Getenv("HELM")
	if bin == "" {
		t.Skip("HELM is not set: build the oracle with make helm")
	}
	noHead := func(t *testing.T, ns string) {
		t.Helper()
		if _, err := env.Clientset().CoreV1().ConfigMaps(ns).Get(t.Context(), ownership.HeadName("web"), metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("a refused import wrote the head: %v", err)
		}
		cms, err := env.Clientset().CoreV1().ConfigMaps(ns).List(t.Context(), metav1.ListOptions{LabelSelector: ownership.LabelRelease})
		if err != nil || len(cms.Items) > 0 {
			t.Errorf("a refused import labelled objects: %v %v", err, cms)
		}
	}
	t.Run("pending", func(t *testing.T) {
		c := newReleaseCLI(t)
		helm := helmCLI{t: t, bin: bin, ns: c.ns}
		helm.ok("install", "web", helmApp)
		// As a killed helm upgrade leaves it.
		secs := env.Clientset().CoreV1().Secrets(c.ns)
		sec, err := secs.Get(t.Context(), helmrelease.StorageName("web", 1), metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		rel, err := helmrelease.Decode(sec.Data["release"])
		if err != nil {
			t.Fatal(err)
		}
		rel.Info.Status = "pending-upgrade"
		if sec.Data["release"], err = helmrelease.Encode(rel); err != nil {
			t.Fatal(err)
		}
		sec.Labels["status"] = "pending-upgrade"
		if _, err := secs.Update(t.Context(), sec, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		c.fails([]string{"cannot import Helm release web", "revision 1 is pending-upgrade", "helm rollback web -n " + c.ns}, "import-helm", "web")
		noHead(t, c.ns)
	})
	t.Run("missing objects", func(t *testing.T) {
		c := newReleaseCLI(t)
		helmCLI{t: t, bin: bin, ns: c.ns}.ok("install", "web", helmApp)
		if err := env.Clientset().CoreV1().ConfigMaps(c.ns).Delete(t.Context(), "web-settings", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		c.fails([]string{"1 object(s) of its deployed revision 1 are missing", "ConfigMap/" + c.ns + "/web-settings"}, "import-helm", "web")
		noHead(t, c.ns)
	})
	t.Run("owned by another release", func(t *testing.T) {
		c := newReleaseCLI(t)
		helmCLI{t: t, bin: bin, ns: c.ns}.ok("install", "web", helmApp)
		patch := fmt.Appendf(nil, `{"metadata":{"labels":{%q:"other",%q:%q}}}`, ownership.LabelRelease, ownership.LabelReleaseNamespace, c.ns)
		if _, err := env.Clientset().CoreV1().ConfigMaps(c.ns).Patch(t.Context(), "web-settings", types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
		c.fails([]string{"ConfigMap/" + c.ns + "/web-settings is owned by release other"}, "import-helm", "web")
		if _, err := env.Clientset().CoreV1().ConfigMaps(c.ns).Get(t.Context(), ownership.HeadName("web"), metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("a refused import wrote the head: %v", err)
		}
	})
	t.Run("a revision Helm could not store", func(t *testing.T) {
		// Values of 1.5 MB that no template uses: the upgrade's record is
		// larger than a Secret may be.
		c := newReleaseCLI(t)
		helm := helmCLI{t: t, bin: bin, ns: c.ns}
		helm.ok("install", "web", helmApp)
		big := filepath.Join(t.TempDir(), "big")
		// Incompressible: random bytes, base64'd (gzip takes back only the
		// base64's quarter).
		noise := make([]byte, 1200000)
		rnd := rand.New(rand.NewPCG(1, 2))
		for i := range noise {
			noise[i] = byte(rnd.Uint32())
		}
		if err := os.WriteFile(big, []byte(base64.StdEncoding.EncodeToString(noise)), 0o644); err != nil {
			t.Fatal(err)
		}
		home := t.TempDir()
		cmd := exec.CommandContext(t.Context(), bin, "--kubeconfig", env.KubeconfigPath(), "-n", c.ns, "upgrade", "web", helmApp,
			"--set-file", "unused="+big, "--set", "message=changed")
		cmd.Env = []string{"HOME=" + home, "PATH=" + os.Getenv("PATH"), "HELM_CACHE_HOME=" + home, "HELM_CONFIG_HOME=" + home, "HELM_DATA_HOME=" + home}
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), "Too long") {
			t.Fatalf("helm upgrade stored a record of 1.6 MB: %v\n%s", err, out)
		}
		// Helm writes the record before the objects: it failed before
		// writing any, and revision 1 is what is live.
		out2 := c.ok("import-helm", "web")
		if !strings.Contains(out2, "1 revisions in Helm's Secret records; deployed: 1") || strings.Contains(out2, "WARNING") {
			t.Errorf("import-helm after Helm could not store revision 2:\n%s", out2)
		}
		cm, err := env.Clientset().CoreV1().ConfigMaps(c.ns).Get(t.Context(), "web-settings", metav1.GetOptions{})
		if err != nil || cm.Data["message"] != "hello" {
			t.Errorf("web-settings: %v %v, want revision 1's message", err, cm.Data)
		}
	})
	t.Run("uninstall and export --delete-records", func(t *testing.T) {
		// Uninstalling an imported release removes every object, as Helm's
		// would, and Helm's kept records with it.
		c := newReleaseCLI(t)
		helm := helmCLI{t: t, bin: bin, ns: c.ns}
		helm.ok("install", "web", helmApp)
		c.ok("import-helm", "web")
		out := c.ok("uninstall", "web")
		if !strings.Contains(out, "deleted Helm's 1 record(s)") {
			t.Errorf("uninstall of an imported release:\n%s", out)
		}
		for _, name := range []string{"web-settings", "web-hook"} {
			if _, err := env.Clientset().CoreV1().ConfigMaps(c.ns).Get(t.Context(), name, metav1.GetOptions{}); name == "web-settings" && !apierrors.IsNotFound(err) {
				t.Errorf("ConfigMap %s after uninstall: %v", name, err)
			}
		}
		if _, err := env.Clientset().AppsV1().Deployments(c.ns).Get(t.Context(), "web", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("Deployment web after uninstall: %v", err)
		}
		if _, err := env.Clientset().RbacV1().ClusterRoles().Get(t.Context(), c.ns+"-web-reader", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("the cluster-scoped ClusterRole after uninstall: %v", err)
		}
		if out := helm.ok("list", "-q", "--deployed", "--failed", "--pending", "--superseded", "--uninstalled", "--uninstalling"); strings.TrimSpace(out) != "" {
			t.Errorf("helm list (every status) after uninstall: %q", out)
		}

		// export-helm --delete-records: kubectl chart forgets it, Helm has it.
		helm.ok("install", "api", helmApp)
		c.ok("import-helm", "api", "--delete-helm-records")
		c.ok("export-helm", "api", "--delete-records")
		if _, err := env.Clientset().CoreV1().ConfigMaps(c.ns).Get(t.Context(), ownership.HeadName("api"), metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("the head after export-helm --delete-records: %v", err)
		}
		if out := helm.ok("status", "api"); !strings.Contains(out, "STATUS: deployed") {
			t.Errorf("helm status after export-helm:\n%s", out)
		}
		helm.ok("upgrade", "api", helmApp, "--reuse-values", "--set", "message=back")
		cm, err := env.Clientset().CoreV1().ConfigMaps(c.ns).Get(t.Context(), "api-settings", metav1.GetOptions{})
		if err != nil || cm.Data["message"] != "back" || cm.Labels[ownership.LabelRelease] != "" {
			t.Errorf("api-settings after helm upgrade: %v %v %v", err, cm.Data, cm.Labels)
		}
		cr, err := env.Clientset().RbacV1().ClusterRoles().Get(t.Context(), c.ns+"-api-reader", metav1.GetOptions{})
		if err != nil || cr.Labels[ownership.LabelRelease] != "" {
			t.Errorf("the ClusterRole after export-helm and helm upgrade: %v %v", err, cr.Labels)
		}
	})
	t.Run("all namespaces", func(t *testing.T) {
		c := newReleaseCLI(t)
		helmCLI{t: t, bin: bin, ns: c.ns}.ok("install", "web", helmApp)
		res := c.run("import-helm", "-A", "--dry-run")
		if !strings.Contains(res.stdout, "Would import Helm release web in namespace "+c.ns) {
			t.Errorf("import-helm -A --dry-run does not list this namespace's release:\n%s%s", res.stdout, res.stderr)
		}
		c.fails([]string{"requires a release name, or --all-namespaces without one"}, "import-helm")
		c.fails([]string{"requires a release name, or --all-namespaces without one"}, "import-helm", "web", "-A")
	})
	t.Run("no such release", func(t *testing.T) {
		c := newReleaseCLI(t)
		c.fails([]string{"Helm has no release of that name there"}, "import-helm", "web")
	})
	t.Run("configmap driver", func(t *testing.T) {
		c := newReleaseCLI(t)
		helm := helmCLI{t: t, bin: bin, ns: c.ns, driver: "configmap"}
		helm.ok("install", "web", helmApp)
		helm.ok("upgrade", "web", helmApp, "--set", "message=bonjour")
		out := c.ok("import-helm", "web")
		if !strings.Contains(out, "2 revisions in Helm's ConfigMap records") {
			t.Errorf("import-helm:\n%s", out)
		}
		for _, what := range []string{"hooks", "notes", "values"} {
			ours, theirs := c.ok("get", what, "web"), helm.ok("get", what, "web")
			if strings.TrimSpace(ours) != strings.TrimSpace(theirs) {
				t.Errorf("get %s differs from Helm's:\n%s", what, cmp.Diff(theirs, ours))
			}
		}
		st := c.run("status", "web")
		if st.err != nil || !strings.Contains(st.stderr, "WARNING: Helm still has 2 record(s) of release web") {
			t.Errorf("status while Helm's records remain: %v\n%s", st.err, st.stderr)
		}
		c.ok("import-helm", "web", "--delete-helm-records")
		if out := helm.ok("list", "-q"); strings.TrimSpace(out) != "" {
			t.Errorf("helm list after --delete-helm-records: %q", out)
		}
		st = c.run("status", "web")
		if st.err != nil || strings.Contains(st.stderr, "WARNING") {
			t.Errorf("status once Helm's records are gone: %v\n%s", st.err, st.stderr)
		}
	})
}

// deploymentState is what must not move when a release is imported: each
// Deployment's generation, pod template hash and ReplicaSets. It first waits
// until the deployment controller has acted on every Deployment's last
// change (a new template makes its ReplicaSet a moment after the write).
func deploymentState(t *testing.T, ns string) map[string]string {
	t.Helper()
	ctx := t.Context()
	out := map[string]string{}
	var ds *appsv1.DeploymentList
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		var err error
		if ds, err = env.Clientset().AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{}); err != nil {
			return false, err
		}
		for _, d := range ds.Items {
			want := int32(1)
			if d.Spec.Replicas != nil {
				want = *d.Spec.Replicas
			}
			if d.Status.ObservedGeneration < d.Generation || d.Status.UpdatedReplicas != want || d.Status.Replicas != want {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		t.Fatalf("Deployments of %s not rolled out: %v", ns, err)
	}
	for _, d := range ds.Items {
		tmpl, _ := json.Marshal(d.Spec.Template)
		out["Deployment/"+d.Name] = "generation " + strconv.FormatInt(d.Generation, 10) + " template " + string(tmpl)
	}
	rss, err := env.Clientset().AppsV1().ReplicaSets(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, rs := range rss.Items {
		out["ReplicaSet/"+rs.Name] = "exists"
	}
	return out
}

// TestImportHelm is acceptances 1 and 3 of import-helm and export-helm:
// charts of the corpus (bitnami/nginx with Helm 4,
// prometheus-community/prometheus-pushgateway with Helm 3) installed and upgraded twice by Helm, then
// imported with the ownership webhook running. History shows Helm's three revisions, their
// statuses and descriptions; no Deployment moves; get values and get
// manifest print what Helm's do for every revision; kubectl chart owns the
// manifest's fields and Helm none; an edit of an imported field is refused;
// upgrade changes only what the new values change; rollback re-applies an
// imported revision; export-helm hands it back: Helm lists it, and
// upgrades it.
func TestImportHelm(t *testing.T) {
	corpus := lintCorpusDir(t)
	for _, tc := range []struct {
		h                 helmOracle
		chart, deployment string
	}{
		{helmOracles[0], "bitnami/nginx", "web-nginx"},
		{helmOracles[1], "prometheus-community/prometheus-pushgateway", "web-prometheus-pushgateway"},
	} {
		h := tc.h
		t.Run(h.name+"/"+tc.chart, func(t *testing.T) {
			bin := os.Getenv(h.env)
			if bin == "" {
				t.Skipf("%s is not set: build the oracle with make helm (Helm 4) or make helm3 (Helm 3)", h.env)
			}
			c := newReleaseCLI(t)
			chart := filepath.Join(corpus, filepath.FromSlash(tc.chart))
			helm := helmCLI{t: t, bin: bin, ns: c.ns}
			// Bitnami's default resourcesPreset requests ephemeral-storage,
			// which the fake node does not advertise.
			helm.ok("install", "web", chart, "--set", "resourcesPreset=none", "--set", "service.type=ClusterIP")
			helm.ok("upgrade", "web", chart, "--reuse-values", "--set", "replicaCount=2")
			helm.ok("upgrade", "web", chart, "--reuse-values", "--set", "podLabels.tier=front")
			before := deploymentState(t, c.ns)

			// A dry run writes nothing.
			out := c.ok("import-helm", "web", "--dry-run")
			for _, want := range []string{"Would import Helm release web", "Would adopt", "revision 3"} {
				if !strings.Contains(out, want) {
					t.Errorf("import-helm --dry-run lacks %q:\n%s", want, out)
				}
			}
			if _, err := env.Clientset().CoreV1().ConfigMaps(c.ns).Get(t.Context(), ownership.HeadName("web"), metav1.GetOptions{}); !apierrors.IsNotFound(err) {
				t.Fatalf("import-helm --dry-run wrote the head: %v", err)
			}

			localWebhook(t)
			out = c.ok("import-helm", "web")
			t.Logf("import-helm:\n%s", out)
			if diff := cmp.Diff(before, deploymentState(t, c.ns)); diff != "" {
				t.Errorf("the import moved Deployments (-before +after):\n%s", diff)
			}

			// History reads as Helm's.
			hist := c.ok("history", "web", "-o", "json")
			var revs []struct {
				Revision    int    `json:"revision"`
				Status      string `json:"status"`
				Description string `json:"description"`
				Chart       string `json:"chart"`
			}
			if err := json.Unmarshal([]byte(hist), &revs); err != nil {
				t.Fatalf("history -o json: %v\n%s", err, hist)
			}
			var got []string
			for _, r := range revs {
				got = append(got, strconv.Itoa(r.Revision)+" "+r.Status+" "+r.Description)
			}
			want := []string{
				"1 superseded Install complete (imported from Helm)",
				"2 superseded Upgrade complete (imported from Helm)",
				"3 deployed Upgrade complete (imported from Helm)",
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("history (-want +got):\n%s", diff)
			}
			for rev := 1; rev <= 3; rev++ {
				r := strconv.Itoa(rev)
				ours := c.ok("get", "values", "web", "--revision", r, "-o", "json")
				theirs := helm.ok("get", "values", "web", "--revision", r, "-o", "json")
				if !sameJSON(t, ours, theirs) {
					t.Errorf("revision %d: get values -o json\nours:  %s\nhelm's: %s", rev, ours, theirs)
				}
				ours = c.ok("get", "manifest", "web", "--revision", r)
				theirs = helm.ok("get", "manifest", "web", "--revision", r)
				if strings.TrimSpace(ours) != strings.TrimSpace(theirs) {
					t.Errorf("revision %d: get manifest differs:\n%s", rev, cmp.Diff(theirs, ours))
				}
			}

			// Every object of the manifest is the release's, and Helm owns
			// none of its fields any more.
			manifest := c.ok("get", "manifest", "web")
			for _, ref := range manifestObjects(t, manifest, c.ns) {
				checkAdopted(t, ref)
			}

			// The webhook guards what was imported.
			_, err := env.Clientset().AppsV1().Deployments(c.ns).Patch(t.Context(), tc.deployment, types.StrategicMergePatchType,
				[]byte(`{"spec":{"replicas":5}}`), metav1.PatchOptions{FieldManager: "kubectl-edit"})
			if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "spec.replicas") {
				t.Errorf("kubectl edit of an imported field: %v, want the webhook's denial naming spec.replicas", err)
			}

			// A second import changes nothing.
			out = c.ok("import-helm", "web")
			if !strings.Contains(out, "recorded already") || strings.Contains(out, "labels;") {
				t.Errorf("a second import-helm is not a no-op:\n%s", out)
			}

			// Upgrade: only what the new values change. A new replica count
			// moves the generation once and makes no ReplicaSet.
			c.ok("upgrade", "web", chart, "--reuse-values", "--set", "replicaCount=3")
			after := deploymentState(t, c.ns)
			for k := range before {
				if strings.HasPrefix(k, "ReplicaSet/") && after[k] == "" {
					t.Errorf("%s is gone after the upgrade", k)
				}
			}
			for k := range after {
				if strings.HasPrefix(k, "ReplicaSet/") && before[k] == "" {
					t.Errorf("the upgrade made %s: it changed the pod template", k)
				}
			}
			// Rollback to Helm's revision 1 (replicaCount 1, no tier label).
			c.ok("rollback", "web", "1")
			hist = c.ok("history", "web", "-o", "json")
			revs = nil
			if err := json.Unmarshal([]byte(hist), &revs); err != nil {
				t.Fatalf("history -o json: %v\n%s", err, hist)
			}
			if last := revs[len(revs)-1]; last.Revision != 5 || last.Status != "deployed" || last.Description != "Rollback to 1" {
				t.Errorf("after upgrade and rollback, the last revision is %+v, want 5 deployed Rollback to 1", last)
			}

			// Acceptance 3, the way back: export-helm of the imported, upgraded
			// and rolled back release; Helm lists it, and upgrades it.
			before = deploymentState(t, c.ns)
			out = c.ok("export-helm", "web")
			t.Logf("export-helm:\n%s", out)
			if diff := cmp.Diff(before, deploymentState(t, c.ns)); diff != "" {
				t.Errorf("the export moved Deployments (-before +after):\n%s", diff)
			}
			helmHist := helm.ok("history", "web", "-o", "json")
			var helmRevs []struct {
				Revision int    `json:"revision"`
				Status   string `json:"status"`
			}
			if err := json.Unmarshal([]byte(helmHist), &helmRevs); err != nil {
				t.Fatalf("helm history -o json: %v\n%s", err, helmHist)
			}
			if n := len(helmRevs); n != 5 || helmRevs[n-1].Revision != 5 || helmRevs[n-1].Status != "deployed" {
				t.Errorf("helm history after export-helm: %s, want revisions 1 to 5, 5 deployed", helmHist)
			}
			if ours, theirs := c.ok("get", "values", "web", "--revision", "5", "-o", "json"), helm.ok("get", "values", "web", "-o", "json"); !sameJSON(t, ours, theirs) {
				t.Errorf("helm get values after export-helm: %s, want %s", theirs, ours)
			}
			for _, ref := range manifestObjects(t, manifest, c.ns) {
				var obj metav1.PartialObjectMetadata
				if err := json.Unmarshal(kubectlJSON(t, ref), &obj); err != nil {
					t.Fatal(err)
				}
				if _, ok := obj.Labels[ownership.LabelRelease]; ok {
					t.Errorf("%s after export-helm: labels %v", ref, obj.Labels)
				}
				for _, e := range obj.ManagedFields {
					if e.Manager == ownership.FieldManager {
						t.Errorf("%s: kubectl-chart still owns fields after export-helm (%s)", ref, e.Operation)
					}
				}
			}
			helm.ok("upgrade", "web", chart, "--reuse-values", "--set", "replicaCount=2")
			for _, ref := range manifestObjects(t, manifest, c.ns) {
				kubectlJSON(t, ref) // every object is still there
			}
		})
	}
}

func sameJSON(t *testing.T, a, b string) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal([]byte(a), &x); err != nil {
		t.Fatalf("%v: %s", err, a)
	}
	if err := json.Unmarshal([]byte(b), &y); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	return cmp.Equal(x, y)
}

// checkAdopted: the object named ref (as manifestObjects names them) carries the release's labels, kubectl-chart
// has an Apply entry, and Helm's entry is gone.
func checkAdopted(t *testing.T, ref string) {
	t.Helper()
	out := kubectlJSON(t, ref)
	var obj metav1.PartialObjectMetadata
	if err := json.Unmarshal(out, &obj); err != nil {
		t.Fatalf("%s: %v", ref, err)
	}
	if obj.Labels[ownership.LabelRelease] != "web" || obj.Labels[ownership.LabelApplySetPartOf] == "" {
		t.Errorf("%s: labels %v lack the release's", ref, obj.Labels)
	}
	var ours bool
	for _, e := range obj.ManagedFields {
		if e.Manager == "helm" && e.Subresource == "" {
			t.Errorf("%s: Helm still owns fields (%s): %s", ref, e.Operation, e.FieldsV1.Raw)
		}
		ours = ours || e.Manager == ownership.FieldManager && e.Operation == metav1.ManagedFieldsOperationApply
	}
	if !ours {
		t.Errorf("%s: no Apply entry of kubectl-chart", ref)
	}
}

// localWebhook installs chart-webhook in local mode and runs it until t
// ends, then waits until the API server calls it.
func localWebhook(t *testing.T) {
	t.Helper()
	root, _ := os.Getwd()
	bin := buildChartWebhook(t, root)
	port := freeTCPPort(t)
	certDir := filepath.Join(t.TempDir(), "certs")
	removeWebhookConfiguration(t)
	chartOK(t, append(webhookKube(t), "webhook", "install", "--local", "--port", strconv.Itoa(port), "--cert-dir", certDir)...)
	startChartWebhook(t, bin, "--kubeconfig", env.KubeconfigPath(), "--cert-dir", certDir, "--seal-key-file", filepath.Join(certDir, "seal.key"),
		"--host", "127.0.0.1", "--port", strconv.Itoa(port))
	// The API server acts on a new configuration within a moment.
	ctx := t.Context()
	ns := env.Namespace(t)
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 20*time.Second, true, func(context.Context) (bool, error) {
		_, err := env.Clientset().CoreV1().ConfigMaps(ns).Create(ctx, reservedName(ns), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		return err != nil, nil
	})
	if err != nil {
		t.Fatalf("the API server does not call the webhook: %v", err)
	}
}

// reservedName is a ConfigMap the webhook refuses: a head's name, with a
// release label but no record label.
func reservedName(ns string) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: ownership.HeadName("probe"), Namespace: ns,
		Labels: map[string]string{ownership.LabelRelease: "probe"}}}
}

// kubectlJSON is `kubectl get KIND NAME -n NS -o json` of ref, as
// manifestObjects names objects (Kind/namespace/name).
func kubectlJSON(t *testing.T, ref string) []byte {
	t.Helper()
	parts := strings.SplitN(ref, "/", 3)
	args := []string{"--kubeconfig", env.KubeconfigPath(), "get", parts[0], parts[2], "-o", "json", "--show-managed-fields"}
	if parts[1] != "" {
		args = append(args, "-n", parts[1])
	}
	out, err := exec.CommandContext(t.Context(), filepath.Join(env.AssetsDir(), "kubectl"), args...).Output()
	if err != nil {
		t.Fatalf("kubectl get %s: %v", ref, err)
	}
	return out
}
