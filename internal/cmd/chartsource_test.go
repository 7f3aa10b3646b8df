package cmd

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kubectl-chart/kubectl-chart/internal/releaseview"
	"github.com/kubectl-chart/kubectl-chart/internal/testregistry"
	"github.com/kubectl-chart/kubectl-chart/pkg/chart/packager"
	"github.com/kubectl-chart/kubectl-chart/pkg/repo/repotest"
)

// isolateHelmHome points Helm's and kubectl chart's configuration and caches
// at folders of the test's own, as a fresh user account would have.
func isolateHelmHome(t *testing.T) string {
	t.Helper()
	home := t.TempDir()
	t.Setenv("HOME", home)
	for _, v := range []string{"HELM_CONFIG_HOME", "HELM_CACHE_HOME", "HELM_DATA_HOME", "XDG_CONFIG_HOME",
		"XDG_CACHE_HOME", "XDG_DATA_HOME", "HELM_REPOSITORY_CONFIG", "HELM_REPOSITORY_CACHE",
		"HELM_REGISTRY_CONFIG", "KUBECTL_CHART_CACHE"} {
		// Unset, not empty: Helm takes a variable that is set, even empty.
		t.Setenv(v, "") // restores the value when the test ends
		os.Unsetenv(v)
	}
	return home
}

// historyRows reads `history -o json`.
func (c *releaseCLI) historyRows(name string) []releaseview.HistoryRow {
	c.t.Helper()
	var rows []releaseview.HistoryRow
	if err := json.Unmarshal([]byte(c.ok("history", name, "-o", "json")), &rows); err != nil {
		c.t.Fatal(err)
	}
	return rows
}

// TestInstallFromRepository installs, upgrades and templates charts of a
// chart repository served over TLS with basic auth, as a user who ran
// `repo add` would, and checks that a version is downloaded once.
func TestInstallFromRepository(t *testing.T) {
	isolateHelmHome(t)
	srv := repotest.NewServer(t, repotest.Options{TLS: true, Username: "ci", Password: "s3cret"})
	c := newReleaseCLI(t)

	c.ok("repo", "add", "charts", srv.URL, "--ca-file", srv.CAFile, "--username", "ci", "--password", "s3cret")
	c.ok("install", "web", "charts/nginx", "--version", "^1.0")
	rows := c.historyRows("web")
	if len(rows) != 1 || rows[0].Chart != "nginx-1.1.0" || rows[0].Source != "charts/nginx@1.1.0" || !strings.HasPrefix(rows[0].Digest, "sha256:") {
		t.Fatalf("history after install: %+v", rows)
	}
	if got := srv.ArchiveRequests(); got != 1 {
		t.Errorf("archive requests after the first install: %d, want 1", got)
	}
	if status := c.ok("status", "web"); !strings.Contains(status, "SOURCE: charts/nginx@1.1.0 (sha256:") {
		t.Errorf("status does not say where the chart came from:\n%s", status)
	}

	// The same version again: from the cache, no download.
	c.ok("install", "web-2", "charts/nginx", "--version", "1.1.0")
	if got := srv.ArchiveRequests(); got != 1 {
		t.Errorf("archive requests after installing the same version again: %d, want 1", got)
	}

	// Upgrade to the latest stable version (2.0.0; 0.3.0-rc.1 of alpine is a
	// pre-release of another chart).
	c.ok("upgrade", "web", "charts/nginx")
	rows = c.historyRows("web")
	if len(rows) != 2 || rows[1].Chart != "nginx-2.0.0" || rows[1].Source != "charts/nginx@2.0.0" {
		t.Fatalf("history after upgrade: %+v", rows)
	}

	// upgrade NAME --reuse-values takes the deployed revision's chart again:
	// same reference, same version.
	c.ok("upgrade", "web", "--reuse-values", "--set", "replicas=2")
	rows = c.historyRows("web")
	if len(rows) != 3 || rows[2].Chart != "nginx-2.0.0" || rows[2].Source != "charts/nginx@2.0.0" {
		t.Fatalf("history after upgrade --reuse-values without CHART: %+v", rows)
	}
	if v := c.values("web"); !strings.Contains(v, `"replicas":2`) {
		t.Errorf("values after upgrade --reuse-values --set replicas=2:\n%s", v)
	}
	c.fails([]string{"requires 2 arguments"}, "upgrade", "web")

	// show and diff upgrade take the same references.
	if out := c.ok("show", "chart", "charts/nginx"); !strings.Contains(out, "version: 2.0.0") {
		t.Errorf("show chart charts/nginx:\n%s", out)
	}
	if d := c.run("diff", "upgrade", "web", "charts/nginx", "--version", "1.0.0"); d.exit() != 1 || !strings.Contains(d.stdout, "-  version: 2.0.0\n+  version: 1.0.0") {
		t.Errorf("diff upgrade to 1.0.0: exit %d, %v\n%s", d.exit(), d.err, d.stdout)
	}

	// --repo URL without repo add, and template of a pre-release with --devel.
	out := c.ok("template", "x", "alpine", "--repo", srv.URL, "--ca-file", srv.CAFile, "--username", "ci", "--password", "s3cret", "--devel")
	if !strings.Contains(out, `version: "0.3.0-rc.1"`) {
		t.Errorf("template --devel of alpine did not render 0.3.0-rc.1:\n%s", out)
	}

	// A version nothing satisfies fails before anything is written.
	c.fails([]string{"nginx", "9.9.9"}, "install", "web-3", "charts/nginx", "--version", "9.9.9")
	if c.headExists("web-3") {
		t.Error("a failed resolution left a release head")
	}
	c.fails([]string{"repo nope not found"}, "install", "web-3", "nope/nginx")
	// A chart that cannot be verified is refused before anything is written.
	c.fails([]string{"no provenance file"}, "install", "web-3", "charts/nginx", "--verify", "--keyring", filepath.Join(t.TempDir(), "pubring.gpg"))
	if c.headExists("web-3") {
		t.Error("a chart that failed verification left a release head")
	}
}

// TestInstallFromDigestMismatch: an archive that is not what the index says
// is refused, and nothing is cached or written to the cluster.
func TestInstallFromDigestMismatch(t *testing.T) {
	home := isolateHelmHome(t)
	srv := repotest.NewServer(t, repotest.Options{})
	c := newReleaseCLI(t)
	c.ok("repo", "add", "charts", srv.URL)
	// Replace an archive after the index was written.
	if err := os.WriteFile(filepath.Join(srv.Dir, "redis-5.0.0.tgz"), []byte("not the archive the index names"), 0o644); err != nil {
		t.Fatal(err)
	}
	c.fails([]string{"digest"}, "install", "cache", "charts/redis")
	if c.headExists("cache") {
		t.Error("a refused archive left a release head")
	}
	blobs, _ := filepath.Glob(filepath.Join(home, ".cache", "helm", "kubectl-chart", "blobs", "sha256", "*"))
	for _, b := range blobs {
		if data, _ := os.ReadFile(b); strings.Contains(string(data), "not the archive") {
			t.Errorf("the refused archive is in the cache: %s", b)
		}
	}
}

// TestInstallFromOCI pushes the demo chart to a real registry, installs it
// by version, by tag and by digest, and checks that a cached digest is not
// downloaded again.
func TestInstallFromOCI(t *testing.T) {
	isolateHelmHome(t)
	reg := testregistry.Start(t, testregistry.Options{})
	proxy := testregistry.NewProxy(t, reg)
	c := newReleaseCLI(t)
	archive, err := packager.PackageDir(demoChart, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	pushed := c.ok("push", archive, "oci://"+proxy.Host+"/charts", "--plain-http")
	var digest string
	for _, line := range strings.Split(pushed, "\n") {
		if d, ok := strings.CutPrefix(line, "Digest: "); ok {
			digest = d
		}
	}
	if digest == "" {
		t.Fatalf("push printed no digest:\n%s", pushed)
	}
	ref := "oci://" + proxy.Host + "/charts/demo-app"

	c.ok("install", "web", ref, "--version", "0.1.0", "--plain-http")
	rows := c.historyRows("web")
	if len(rows) != 1 || rows[0].Digest != digest || rows[0].Source != ref+"@0.1.0" {
		t.Fatalf("history after install: %+v (pushed digest %s)", rows, digest)
	}

	before := len(proxy.Requests())
	c.ok("template", "x", ref+"@"+digest, "--plain-http")
	if n := len(proxy.Requests()) - before; n > 1 {
		t.Errorf("template of a cached digest made %d requests, want at most 1: %q", n, proxy.Requests()[before:])
	}
	c.ok("upgrade", "web", ref+":0.1.0", "--plain-http")
	c.fails([]string{"9.9.9"}, "install", "web-2", ref, "--version", "9.9.9", "--plain-http")
	if c.headExists("web-2") {
		t.Error("a failed pull left a release head")
	}
}

// TestInstallFromHelmAddedRepository: a repository added with `helm repo add`
// (and its index fetched by Helm) is installed from with no other step.
func TestInstallFromHelmAddedRepository(t *testing.T) {
	helm := os.Getenv("HELM")
	if helm == "" {
		t.Skip("HELM is not set: build the Helm oracle with `make helm`")
	}
	isolateHelmHome(t)
	srv := repotest.NewServer(t, repotest.Options{TLS: true})
	c := newReleaseCLI(t)
	if out, err := exec.Command(helm, "repo", "add", "fromhelm", srv.URL, "--ca-file", srv.CAFile).CombinedOutput(); err != nil {
		t.Fatalf("helm repo add: %v\n%s", err, out)
	}
	c.ok("install", "web", "fromhelm/redis")
	if rows := c.historyRows("web"); len(rows) != 1 || rows[0].Chart != "redis-5.0.0" || rows[0].Source != "fromhelm/redis@5.0.0" {
		t.Fatalf("history: %+v", rows)
	}
}
