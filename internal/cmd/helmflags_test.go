package cmd

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// flagsChart is a chart with a CRD, notes, a Deployment, a file://
// dependency (flags-app-sub) and a `broken` value that makes an operation
// fail after it created a ConfigMap.
const flagsChart = "testdata/charts/flags-app"

// flagsChartCopy copies flags-app and its dependency into a temporary folder
// (--dependency-update writes charts/ and Chart.lock) and returns the
// chart's path there.
func flagsChartCopy(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{"flags-app", "flags-app-sub"} {
		if err := os.CopyFS(filepath.Join(dir, name), os.DirFS(filepath.Join("testdata", "charts", name))); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, "flags-app")
}

func (c *releaseCLI) crdExists(name string) bool {
	c.t.Helper()
	err := env.Clientset().Discovery().RESTClient().Get().
		AbsPath("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", name).Do(c.t.Context()).Error()
	if err != nil && !apierrors.IsNotFound(err) {
		c.t.Fatal(err)
	}
	return err == nil
}

func (c *releaseCLI) configMapExists(name string) bool {
	c.t.Helper()
	_, err := env.Clientset().CoreV1().ConfigMaps(c.ns).Get(c.t.Context(), name, metav1.GetOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		c.t.Fatal(err)
	}
	return err == nil
}

// TestHelmFlagsOnCluster runs Helm's flags of install, upgrade, rollback
// and uninstall as a user types them, against the real control plane.
func TestHelmFlagsOnCluster(t *testing.T) {
	t.Run("generate-name, dependency-update, skip-crds, hide-notes", func(t *testing.T) {
		c := newReleaseCLI(t)
		chart := flagsChartCopy(t)
		const crd = "gadgets.flags-app.kubectl-chart.test"
		out := c.ok("install", "-g", chart, "--dependency-update", "--skip-crds", "--hide-notes")
		m := regexp.MustCompile(`(?m)^NAME: (flags-app-\d{10})$`).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("install -g: no generated name flags-app-<unix time> in:\n%s", out)
		}
		name := m[1]
		if !strings.Contains(out, "Saving 1 charts") {
			t.Errorf("install --dependency-update: no dependency update messages:\n%s", out)
		}
		if _, err := os.Stat(filepath.Join(chart, "charts", "flags-app-sub-0.1.0.tgz")); err != nil {
			t.Errorf("install --dependency-update: %v", err)
		}
		if !c.configMapExists(name + "-sub") {
			t.Errorf("the dependency's ConfigMap %s-sub was not installed", name)
		}
		if strings.Contains(out, "NOTES:") {
			t.Errorf("install --hide-notes printed the notes:\n%s", out)
		}
		if c.crdExists(crd) {
			t.Errorf("install --skip-crds installed CRD %s", crd)
		}
		if out := c.ok("upgrade", name, chart, "--skip-crds"); !strings.Contains(out, "NOTES:") || c.crdExists(crd) {
			t.Errorf("upgrade --skip-crds: CRD installed %v, or no notes without --hide-notes:\n%s", c.crdExists(crd), out)
		}
		c.ok("upgrade", name, chart)
		if !c.crdExists(crd) {
			t.Errorf("upgrade without --skip-crds did not apply CRD %s", crd)
		}
	})

	t.Run("name-template", func(t *testing.T) {
		c := newReleaseCLI(t)
		out := c.ok("install", "--name-template", `{{ "NT" | lower }}-{{ add 1 2 }}`, flagsChartCopy(t), "--dependency-update", "--skip-crds")
		if !strings.Contains(out, "NAME: nt-3\n") || !c.headExists("nt-3") {
			t.Errorf("install --name-template: release nt-3 not installed:\n%s", out)
		}
		c.fails([]string{"INSTALLATION FAILED: cannot set --name-template and also specify a name"}, "install", "--name-template", "x", "other", flagsChart)
	})

	t.Run("cleanup-on-fail", func(t *testing.T) {
		c := newReleaseCLI(t)
		chart := flagsChartCopy(t)
		c.ok("install", "web", chart, "--dependency-update", "--skip-crds")
		// Without the flag, the ConfigMap the failed upgrade created stays.
		c.fails([]string{"Service/" + c.ns + "/web-broken"}, "upgrade", "web", chart, "--set", "broken=true", "--skip-crds")
		if !c.configMapExists("web-extra") {
			t.Fatal("the failed upgrade did not create web-extra before failing: the test does not test --cleanup-on-fail")
		}
		c.ok("upgrade", "web", chart, "--skip-crds") // prunes it
		if c.configMapExists("web-extra") {
			t.Fatal("web-extra not pruned")
		}
		got := c.fails([]string{"--cleanup-on-fail"}, "upgrade", "web", chart, "--set", "broken=true", "--skip-crds", "--cleanup-on-fail")
		if c.configMapExists("web-extra") {
			t.Errorf("upgrade --cleanup-on-fail left web-extra, which it created:\n%s", got.stdout)
		}
		if !strings.Contains(got.stdout, "CLEANED UP: ") {
			t.Errorf("upgrade --cleanup-on-fail does not report what it deleted:\n%s", got.stdout)
		}
		if _, err := env.Clientset().AppsV1().Deployments(c.ns).Get(t.Context(), "web-web", metav1.GetOptions{}); err != nil {
			t.Errorf("--cleanup-on-fail deleted what existed before the upgrade: %v", err)
		}
		// Rollback to the failed revision 2: it creates web-extra, fails, and
		// deletes it again.
		c.fails([]string{"--cleanup-on-fail"}, "rollback", "web", "2", "--cleanup-on-fail")
		if c.configMapExists("web-extra") {
			t.Error("rollback --cleanup-on-fail left web-extra, which it created")
		}
		if h := c.historyStatuses("web"); len(h) == 0 || h[len(h)-1] != "5 failed" {
			t.Errorf("history after the failed rollback: %q, want revision 5 failed last", h)
		}
	})

	t.Run("uninstall cascade, description, ignore-not-found", func(t *testing.T) {
		c := newReleaseCLI(t)
		c.ok("install", "web", flagsChartCopy(t), "--dependency-update", "--skip-crds", "--wait")
		apps := env.Clientset().AppsV1().ReplicaSets(c.ns)
		rs, err := apps.List(t.Context(), metav1.ListOptions{LabelSelector: "app=web-web"})
		if err != nil || len(rs.Items) != 1 {
			t.Fatalf("the Deployment's ReplicaSet: %v, %d found", err, len(rs.Items))
		}
		c.ok("uninstall", "web", "--cascade", "orphan", "--keep-history", "--description", "gone for good", "--wait")
		// Orphaned: the ReplicaSet stays, without its owner.
		deadline := time.Now().Add(10 * time.Second)
		for {
			got, err := apps.Get(t.Context(), rs.Items[0].Name, metav1.GetOptions{})
			if err != nil {
				t.Fatalf("uninstall --cascade orphan: the ReplicaSet is gone: %v", err)
			}
			if len(got.OwnerReferences) == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("uninstall --cascade orphan: the ReplicaSet still has owners %v", got.OwnerReferences)
			}
			time.Sleep(200 * time.Millisecond)
		}
		if h := c.history("web"); len(h) == 0 || h[len(h)-1] != "1 uninstalled gone for good" {
			t.Errorf("uninstall --description: history %q", h)
		}
		c.fails([]string{`"nothing"`}, "uninstall", "nothing")
		if out := c.ok("uninstall", "nothing", "--ignore-not-found"); out != "release \"nothing\" uninstalled\n" {
			t.Errorf("uninstall --ignore-not-found: %q", out)
		}
		c.fails([]string{`invalid cascade value (sideways)`}, "uninstall", "web", "--cascade", "sideways")
	})

	t.Run("Helm's kube flag names", func(t *testing.T) {
		c := newReleaseCLI(t)
		c.fails([]string{`context "nope" does not exist`}, "list", "--kube-context", "nope")
		c.ok("list", "--kube-insecure-skip-tls-verify=false", "--burst-limit", "50", "--qps", "20")
		c.fails([]string{"--server-side=false is not supported"}, "upgrade", "web", flagsChart, "--server-side=false")
	})
}

// TestTemplateDependencyUpdate: template --dependency-update fetches the
// missing file:// dependency and prints what helm template prints, the
// dependency manager's messages included; the chart folders are left as
// Helm leaves them.
func TestTemplateDependencyUpdate(t *testing.T) {
	atRepoRoot(t)
	ours := flagsChartCopy(t)
	run := runChart(t, []string{"template", "web", ours, "--dependency-update", "-n", "ns1"}, "")
	if run.err != nil {
		t.Fatalf("template --dependency-update: %v\n%s", run.err, run.stderr)
	}
	checkGolden(t, "testdata/golden/helm-flags/template-dependency-update.golden", run.stdout)
	lock, err := os.ReadFile(filepath.Join(ours, "Chart.lock"))
	if err != nil {
		t.Fatal(err)
	}
	helm := helmBinary(t)
	if helm == "" {
		return
	}
	theirs := flagsChartCopy(t)
	h := runHelm(t, helm, ".", "template", "web", theirs, "--dependency-update", "-n", "ns1")
	if h.err != nil {
		t.Fatalf("helm template --dependency-update: %v", h.err)
	}
	if diff := cmp.Diff(h.stdout, run.stdout); diff != "" {
		t.Errorf("template --dependency-update output (-helm +ours):\n%s", diff)
	}
	helmLock, err := os.ReadFile(filepath.Join(theirs, "Chart.lock"))
	if err != nil {
		t.Fatal(err)
	}
	// The lock's generated time differs; the rest is Helm's.
	clean := func(b []byte) string {
		return regexp.MustCompile(`(?m)^generated: .*$`).ReplaceAllString(string(b), "generated: <time>")
	}
	if diff := cmp.Diff(clean(helmLock), clean(lock)); diff != "" {
		t.Errorf("Chart.lock (-helm +ours):\n%s", diff)
	}
}

// TestTemplateDebugLog: template --debug logs Helm's debug lines for the
// chart (the version asked for, its path, the dependencies of each chart)
// on stderr, word for word.
func TestTemplateDebugLog(t *testing.T) {
	atRepoRoot(t)
	helm := helmBinary(t)
	for _, chart := range []string{"feat-null", "feat-deps", "feat-import-values"} {
		t.Run(chart, func(t *testing.T) {
			path := filepath.Join("testdata", "charts", chart)
			run := runChart(t, []string{"template", path, "--debug"}, "")
			if run.err != nil {
				t.Fatal(run.err)
			}
			abs, err := filepath.Abs(path)
			if err != nil {
				t.Fatal(err)
			}
			got := strings.ReplaceAll(run.stderr, abs, "<chart>")
			checkGolden(t, "testdata/golden/helm-flags/template-debug-"+chart+".golden", got)
			if helm == "" {
				return
			}
			h := runHelm(t, helm, ".", "template", path, "--debug")
			if diff := cmp.Diff(strings.ReplaceAll(h.stderr, abs, "<chart>"), got); diff != "" {
				t.Errorf("template --debug log (-helm +ours):\n%s", diff)
			}
		})
	}
}
