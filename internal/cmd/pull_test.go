package cmd

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kubectl-chart/kubectl-chart/internal/testregistry"
	"github.com/kubectl-chart/kubectl-chart/pkg/chart/packager"
	"github.com/kubectl-chart/kubectl-chart/pkg/provenance/provenancetest"
	"github.com/kubectl-chart/kubectl-chart/pkg/repo/repotest"
)

// pulledFiles lists the files under dir, relative, sorted.
func pulledFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	slices.Sort(out)
	return out
}

func TestPullFromRepository(t *testing.T) {
	isolateHelmHome(t)
	srv := repotest.NewServer(t, repotest.Options{TLS: true})
	tls := []string{"--ca-file", srv.CAFile}
	run := func(args ...string) chartRun { return runChart(t, args, "") }
	if r := run(append([]string{"repo", "add", "charts", srv.URL}, tls...)...); r.err != nil {
		t.Fatal(r.err)
	}

	dest := t.TempDir()
	if r := run("pull", "charts/nginx", "-d", dest); r.err != nil {
		t.Fatal(r.err)
	}
	if r := run("pull", "charts/alpine", "--devel", "-d", dest, "--prov"); r.err != nil || !strings.Contains(r.stderr, "WARNING: Verification not found for charts/alpine") {
		t.Fatalf("pull --prov of an unsigned chart: %v\n%s", r.err, r.stderr)
	}
	if r := run(append([]string{"pull", "redis", "--repo", srv.URL, "--version", "5.0.0", "--untar", "--untardir", "unpacked", "-d", dest}, tls...)...); r.err != nil {
		t.Fatal(r.err)
	}
	want := []string{"alpine-0.3.0-rc.1.tgz", "nginx-2.0.0.tgz", "unpacked/redis/Chart.yaml", "unpacked/redis/templates/configmap.yaml", "unpacked/redis/values.yaml"}
	if diff := cmp.Diff(want, pulledFiles(t, dest)); diff != "" {
		t.Errorf("pulled files (-want +got):\n%s", diff)
	}
	got, _ := os.ReadFile(filepath.Join(dest, "nginx-2.0.0.tgz"))
	orig, _ := os.ReadFile(filepath.Join(srv.Dir, "nginx-2.0.0.tgz"))
	if string(got) != string(orig) {
		t.Error("the pulled archive is not the repository's")
	}
	archives := srv.ArchiveRequests()

	// Untar over an existing folder fails and writes nothing more; the
	// archive itself came from the cache.
	r := run("pull", "charts/redis", "--untar", "--untardir", "unpacked", "-d", dest)
	if r.err == nil || !strings.Contains(r.err.Error(), "already exists") {
		t.Errorf("untar over an existing chart: %v", r.err)
	}
	if n := srv.ArchiveRequests(); n != archives {
		t.Errorf("pulling a cached version made %d archive requests", n-archives)
	}
	for _, tc := range []struct{ ref, want string }{
		{"./local-chart", "a local chart"},
		{"nginx", "non-absolute URLs should be in form of repo_name/path_to_chart, got: nginx"},
		{"charts/nope", `chart "nope" not found in repo charts`},
	} {
		if r := run("pull", tc.ref, "-d", dest); r.err == nil || !strings.Contains(r.err.Error(), tc.want) {
			t.Errorf("pull %s: %v, want an error containing %q", tc.ref, r.err, tc.want)
		}
	}
	if r := run("pull"); r.err == nil || !strings.Contains(r.err.Error(), "requires at least 1 argument") {
		t.Errorf("pull with no argument: %v", r.err)
	}
}

func TestPullFromOCI(t *testing.T) {
	isolateHelmHome(t)
	reg := testregistry.Start(t, testregistry.Options{})
	archive, err := packager.PackageDir(demoChartFromPackage(t), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if r := runChart(t, []string{"push", archive, "oci://" + reg.Host + "/charts", "--plain-http"}, ""); r.err != nil {
		t.Fatal(r.err)
	}
	dest := t.TempDir()
	r := runChart(t, []string{"pull", "oci://" + reg.Host + "/charts/demo-app", "--version", "~0.1", "--plain-http", "-d", dest}, "")
	if r.err != nil {
		t.Fatal(r.err)
	}
	if !strings.HasPrefix(r.stdout, "Pulled: "+reg.Host+"/charts/demo-app:0.1.0\nDigest: sha256:") {
		t.Errorf("pull output:\n%s", r.stdout)
	}
	got, _ := os.ReadFile(filepath.Join(dest, "demo-app-0.1.0.tgz"))
	orig, _ := os.ReadFile(archive)
	if string(got) != string(orig) {
		t.Error("the pulled archive is not the one pushed")
	}
}

// demoChartFromPackage is the demo chart's folder from this package.
func demoChartFromPackage(t *testing.T) string {
	t.Helper()
	return filepath.Join("..", "..", demoChart)
}

// TestVerifyRemoteCharts signs an archive of a repository with `package
// --sign` and checks --verify on pull and template: a signed chart verifies
// against the right keyring only, an unsigned one is refused, and a refused
// chart writes nothing.
func TestVerifyRemoteCharts(t *testing.T) {
	isolateHelmHome(t)
	key := provenancetest.NewKey(t, t.TempDir(), "Chart Signer", "signer@example.com", "")
	other := provenancetest.NewKey(t, t.TempDir(), "Someone Else", "else@example.com", "")
	srv := repotest.NewServer(t, repotest.Options{Charts: []repotest.Chart{}})
	// Package and sign the demo chart into the repository, then index it.
	if r := runChart(t, []string{"package", demoChartFromPackage(t), "-d", srv.Dir, "--sign", "--key", "Chart Signer", "--keyring", key.SecretKeyring}, ""); r.err != nil {
		t.Fatal(r.err)
	}
	repotest.WriteArchives(t, srv.Dir, []repotest.Chart{{Name: "unsigned", Version: "1.0.0", AppVersion: "1", Description: "no .prov"}})
	srv.Reindex(t, "")
	if r := runChart(t, []string{"repo", "add", "charts", srv.URL}, ""); r.err != nil {
		t.Fatal(r.err)
	}

	dest := t.TempDir()
	r := runChart(t, []string{"pull", "charts/demo-app", "--verify", "--keyring", key.PublicKeyring, "-d", dest}, "")
	if r.err != nil {
		t.Fatal(r.err)
	}
	for _, want := range []string{"Signed by: " + key.Identity, "Using Key With Fingerprint: " + key.Fingerprint, "Chart Hash Verified: sha256:"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("pull --verify output lacks %q:\n%s", want, r.stdout)
		}
	}
	if r := runChart(t, []string{"template", "x", "charts/demo-app", "--verify", "--keyring", key.PublicKeyring}, ""); r.err != nil {
		t.Errorf("template --verify of a signed chart: %v", r.err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"pull", "charts/demo-app", "--verify", "--keyring", other.PublicKeyring, "-d", dest}, "openpgp"},
		{[]string{"pull", "charts/unsigned", "--verify", "--keyring", key.PublicKeyring, "-d", dest}, "no provenance file"},
		{[]string{"template", "x", "charts/unsigned", "--verify", "--keyring", key.PublicKeyring}, "no provenance file"},
	} {
		r := runChart(t, tc.args, "")
		if r.err == nil || !strings.Contains(r.err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error containing %q", strings.Join(tc.args, " "), r.err, tc.want)
		}
	}
	if diff := cmp.Diff([]string{"demo-app-0.1.0.tgz"}, pulledFiles(t, dest)); diff != "" {
		t.Errorf("files after the refused pulls (-want +got):\n%s", diff)
	}
}
