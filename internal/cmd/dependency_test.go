package cmd

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kubectl-chart/kubectl-chart/internal/testregistry"
	"github.com/kubectl-chart/kubectl-chart/pkg/chart/loader"
	"github.com/kubectl-chart/kubectl-chart/pkg/repo/repotest"
)

// writeDepChart writes a chart folder dir/name with the given dependencies
// block (YAML lines under "dependencies:", "" for none).
func writeDepChart(t *testing.T, dir, name, version, deps string) string {
	t.Helper()
	root := filepath.Join(dir, name)
	files := map[string]string{
		"Chart.yaml":        "apiVersion: v2\nname: " + name + "\nversion: " + version + "\n",
		"values.yaml":       "x: 1\n",
		"templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-{{ .Chart.Name }}\n",
	}
	if deps != "" {
		files["Chart.yaml"] += "dependencies:\n" + deps
	}
	for f, body := range files {
		p := filepath.Join(root, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// chartsDir lists charts/ (file names).
func chartsDir(t *testing.T, chartDir string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(chartDir, "charts"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

var (
	generatedLine = regexp.MustCompile(`(?m)^generated: .*$`)
	digestLine    = regexp.MustCompile(`(?m)^digest: .*$`)
)

// readLock is Chart.lock with the generated time and the given strings
// replaced (URLs with random ports).
func readLock(t *testing.T, chartDir string, replace ...string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(chartDir, "Chart.lock"))
	if err != nil {
		t.Fatal(err)
	}
	s := generatedLine.ReplaceAllString(string(b), "generated: GENERATED")
	return strings.NewReplacer(replace...).Replace(s)
}

const depChartDeps = `- name: nginx
  version: ^1.0.0
  repository: "@stable"
- name: nginx
  alias: web
  version: ~1.0.0
  repository: REPO/
- name: alpine
  version: "*"
  repository: alias:stable
- name: local
  version: ">=0.1.0"
  repository: file://../local
`

// TestDependencyUpdateBuildList runs update, list and build as a user
// would, against an HTTPS repository added with `repo add` (by @name,
// alias:name and by URL with a trailing slash), a file:// folder and an
// alias. Goldens: outputs and Chart.lock written by us (-update) and read
// by hand against Helm's code; TestDependencyUpdateAgainstHelm checks the
// same against Helm itself.
func TestDependencyUpdateBuildList(t *testing.T) {
	repoHome(t)
	srv := repotest.NewServer(t, repotest.Options{TLS: true})
	mustRun(t, "", "repo", "add", "stable", srv.URL, "--ca-file", srv.CAFile)
	work := t.TempDir()
	writeDepChart(t, work, "local", "0.1.0", "")
	parent := writeDepChart(t, work, "parent", "1.0.0", strings.ReplaceAll(depChartDeps, "REPO", srv.URL))
	// A stale archive of a dependency.
	repotest.WriteArchives(t, filepath.Join(parent, "charts"), []repotest.Chart{{Name: "nginx", Version: "0.9.0"}})
	norm := strings.NewReplacer(srv.URL, "REPO", work, "WORK")

	out := mustRun(t, "", "dependency", "update", parent)
	checkGolden(t, "testdata/dep-update.txt", norm.Replace(out))
	// The digest covers the repository URLs (a random port): Helm's digest
	// is checked by TestDependencyUpdateAgainstHelm.
	checkGolden(t, "testdata/dep-update.lock", digestLine.ReplaceAllString(readLock(t, parent, srv.URL, "REPO"), "digest: DIGEST"))
	want := []string{"alpine-0.2.0.tgz", "local-0.1.0.tgz", "nginx-1.0.0.tgz", "nginx-1.1.0.tgz"}
	if diff := cmp.Diff(want, chartsDir(t, parent)); diff != "" {
		t.Errorf("charts/ (-want +got):\n%s", diff)
	}
	if _, err := os.Stat(filepath.Join(parent, "tmpcharts-"+strconv.Itoa(os.Getpid()))); !os.IsNotExist(err) {
		t.Errorf("tmpcharts left behind: %v", err)
	}

	// An update that changes nothing keeps Chart.lock as it is.
	before, _ := os.ReadFile(filepath.Join(parent, "Chart.lock"))
	mustRun(t, "", "dep", "up", parent, "--skip-refresh")
	after, _ := os.ReadFile(filepath.Join(parent, "Chart.lock"))
	if string(before) != string(after) {
		t.Errorf("Chart.lock rewritten by an update that changed nothing:\n%s\n%s", before, after)
	}

	checkGolden(t, "testdata/dep-list.txt", norm.Replace(mustRun(t, "", "dependency", "list", parent)))
	if diff := cmp.Diff("WARNING: no dependencies at "+filepath.Join(work, "local", "charts")+"\n",
		mustRun(t, "", "dependency", "list", filepath.Join(work, "local"))); diff != "" {
		t.Errorf("list of a chart without dependencies (-want +got):\n%s", diff)
	}

	// build from the lock, without charts/.
	if err := os.RemoveAll(filepath.Join(parent, "charts")); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "testdata/dep-build.txt", norm.Replace(mustRun(t, "", "dependency", "build", parent, "--skip-refresh")))
	if diff := cmp.Diff(want, chartsDir(t, parent)); diff != "" {
		t.Errorf("charts/ after build (-want +got):\n%s", diff)
	}
	if _, err := loader.Load(filepath.Join(parent, "charts", "local-0.1.0.tgz")); err != nil {
		t.Errorf("packaged file:// dependency: %v", err)
	}

	// An out-of-sync lock is refused.
	cy := filepath.Join(parent, "Chart.yaml")
	b, _ := os.ReadFile(cy)
	if err := os.WriteFile(cy, []byte(strings.Replace(string(b), "^1.0.0", "^2.0.0", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	r := runChart(t, []string{"dependency", "build", parent, "--skip-refresh"}, "")
	if r.err == nil || r.err.Error() != "the lock file (Chart.lock) is out of sync with the dependencies file (Chart.yaml). Please update the dependencies with 'kubectl chart dependency update'" {
		t.Errorf("build with an out-of-sync lock: %v", r.err)
	}
	// update resolves again: nginx 2.0.0 replaces 1.1.0.
	mustRun(t, "", "dependency", "update", parent, "--skip-refresh")
	want = []string{"alpine-0.2.0.tgz", "local-0.1.0.tgz", "nginx-1.0.0.tgz", "nginx-2.0.0.tgz"}
	if diff := cmp.Diff(want, chartsDir(t, parent)); diff != "" {
		t.Errorf("charts/ after the constraint changed (-want +got):\n%s", diff)
	}
}

// TestDependencyErrors checks Helm's messages for what cannot be resolved.
func TestDependencyErrors(t *testing.T) {
	repoHome(t)
	srv := repotest.NewServer(t, repotest.Options{})
	mustRun(t, "", "repo", "add", "stable", srv.URL)
	cases := []struct {
		name, deps string
		args       []string
		want       string
	}{
		{
			name: "nothing satisfies the constraint",
			deps: "- name: nginx\n  version: ^3.0.0\n  repository: \"@stable\"\n",
			want: `can't get a valid version for 1 subchart(s): "nginx" (repository "REPO", version "^3.0.0"). Make sure a matching chart version exists in the repo, or change the version constraint in Chart.yaml`,
		},
		{
			name: "unknown repository name",
			deps: "- name: nginx\n  version: ^1.0.0\n  repository: \"@nope\"\n",
			want: "no repository definition for @nope. Please add them via 'kubectl chart repo add'",
		},
		{
			name: "not a URL",
			deps: "- name: nginx\n  version: ^1.0.0\n  repository: stable\n",
			want: "no repository definition for stable. Please add them via 'kubectl chart repo add'\nNote that repositories must be URLs or aliases. For example, to refer to the \"example\"\nrepository, use \"https://charts.example.com/\" or \"@example\" instead of\n\"example\". Don't forget to add the repo, too ('kubectl chart repo add').",
		},
		{
			name: "chart not in the repository",
			deps: "- name: nope\n  version: ^1.0.0\n  repository: \"@stable\"\n",
			want: "nope chart not found in repo REPO",
		},
		{
			name: "invalid constraint",
			deps: "- name: nginx\n  version: \"!!\"\n  repository: \"@stable\"\n",
			want: `dependency "nginx" has an invalid version/constraint format: improper constraint: "!!"`,
		},
		{
			name: "missing file:// folder",
			deps: "- name: gone\n  version: 1.0.0\n  repository: file://../gone\n",
			want: "directory WORK/gone not found",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			work := t.TempDir()
			parent := writeDepChart(t, work, "parent", "1.0.0", tc.deps)
			r := runChart(t, []string{"dependency", "update", parent}, "")
			got := ""
			if r.err != nil {
				got = strings.NewReplacer(srv.URL, "REPO", work, "WORK").Replace(r.err.Error())
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
		})
	}
}

// TestDependencyUnaddedRepository: update reads a repository that is not
// added by its URL (Helm's helm-manager-<sha256> index); build from that
// lock asks for the repository to be added, as Helm does.
func TestDependencyUnaddedRepository(t *testing.T) {
	paths := repoHome(t)
	srv := repotest.NewServer(t, repotest.Options{})
	parent := writeDepChart(t, t.TempDir(), "parent", "1.0.0", "- name: redis\n  version: \">=5\"\n  repository: "+srv.URL+"\n")
	out := mustRun(t, "", "dependency", "update", parent)
	want := "Getting updates for unmanaged Helm repositories...\n" +
		"...Successfully got an update from the \"" + srv.URL + "\" chart repository\n" +
		"Saving 1 charts\nDownloading redis from repo " + srv.URL + "\nDeleting outdated charts\n"
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("update (-want +got):\n%s", diff)
	}
	idx, _ := filepath.Glob(filepath.Join(paths.RepositoryCache(), "helm-manager-*-index.yaml"))
	if len(idx) != 1 {
		t.Errorf("helm-manager index: %v", idx)
	}
	if diff := cmp.Diff([]string{"redis-5.0.0.tgz"}, chartsDir(t, parent)); diff != "" {
		t.Errorf("charts/ (-want +got):\n%s", diff)
	}
	r := runChart(t, []string{"dependency", "build", parent}, "")
	if r.err == nil || r.err.Error() != "no repository definition for "+srv.URL+". Please add the missing repos via 'kubectl chart repo add'" {
		t.Errorf("build: %v", r.err)
	}
}

// TestDependencyOCI resolves an OCI dependency against the tags of a real
// registry (a range) and by exact version.
func TestDependencyOCI(t *testing.T) {
	repoHome(t)
	registryEnv(t)
	reg := testregistry.Start(t, testregistry.Options{})
	for _, v := range []string{"0.1.0", "0.2.0", "1.0.0"} {
		mustRun(t, "", "push", packageTestChart(t, "ocidep", v), "oci://"+reg.Host+"/charts", "--plain-http")
	}
	parent := writeDepChart(t, t.TempDir(), "parent", "1.0.0",
		"- name: ocidep\n  version: ~0.1.0 || ^0.2.0\n  repository: oci://"+reg.Host+"/charts\n"+
			"- name: ocidep\n  alias: exact\n  version: 1.0.0\n  repository: oci://"+reg.Host+"/charts\n")
	out := mustRun(t, "", "dependency", "update", parent, "--plain-http")
	want := "Saving 2 charts\nDownloading ocidep from repo oci://HOST/charts\nDownloading ocidep from repo oci://HOST/charts\nDeleting outdated charts\n"
	if diff := cmp.Diff(want, strings.ReplaceAll(out, reg.Host, "HOST")); diff != "" {
		t.Errorf("update (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"ocidep-0.2.0.tgz", "ocidep-1.0.0.tgz"}, chartsDir(t, parent)); diff != "" {
		t.Errorf("charts/ (-want +got):\n%s", diff)
	}
	lock := readLock(t, parent, reg.Host, "HOST")
	for _, s := range []string{"version: 0.2.0", "version: 1.0.0", "repository: oci://HOST/charts"} {
		if !strings.Contains(lock, s) {
			t.Errorf("Chart.lock lacks %q:\n%s", s, lock)
		}
	}
	if err := os.RemoveAll(filepath.Join(parent, "charts")); err != nil {
		t.Fatal(err)
	}
	mustRun(t, "", "dependency", "build", parent, "--plain-http")
	if diff := cmp.Diff([]string{"ocidep-0.2.0.tgz", "ocidep-1.0.0.tgz"}, chartsDir(t, parent)); diff != "" {
		t.Errorf("charts/ after build (-want +got):\n%s", diff)
	}
}

// TestDependencyUpdateAgainstHelm (oracle: Helm itself, run in the test):
// helm dependency update and ours, over the same repositories and the same
// chart, write the same Chart.lock (generated aside), the same charts/
// files byte for byte, and print the same lines.
func TestDependencyUpdateAgainstHelm(t *testing.T) {
	helm := requireHelm(t)
	repoHome(t)
	srv := repotest.NewServer(t, repotest.Options{})
	unadded := repotest.NewServer(t, repotest.Options{Charts: []repotest.Chart{{Name: "redis", Version: "5.1.0"}, {Name: "redis", Version: "6.0.0-rc.1"}}})
	runHelmHome(t, helm, "repo", "add", "stable", srv.URL)
	work := t.TempDir()
	writeDepChart(t, work, "local", "0.1.0", "")
	deps := strings.ReplaceAll(depChartDeps, "REPO", srv.URL) +
		"- name: redis\n  version: \">=5.0.0\"\n  repository: " + unadded.URL + "\n"
	ours := writeDepChart(t, filepath.Join(work, "a"), "parent", "1.0.0", deps)
	theirs := writeDepChart(t, filepath.Join(work, "b"), "parent", "1.0.0", deps)
	for _, d := range []string{ours, theirs} {
		if err := os.Symlink(filepath.Join(work, "local"), filepath.Join(filepath.Dir(d), "local")); err != nil {
			t.Fatal(err)
		}
		repotest.WriteArchives(t, filepath.Join(d, "charts"), []repotest.Chart{{Name: "nginx", Version: "0.9.0"}})
	}
	helmOut := runHelmHome(t, helm, "dependency", "update", theirs)
	ourOut := mustRun(t, "", "dependency", "update", ours)
	sortLines := func(s string) []string { l := strings.Split(s, "\n"); slices.Sort(l); return l }
	if diff := cmp.Diff(sortLines(helmOut), sortLines(ourOut)); diff != "" {
		t.Errorf("output (-helm +ours):\n%s", diff)
	}
	if diff := cmp.Diff(readLock(t, theirs), readLock(t, ours)); diff != "" {
		t.Errorf("Chart.lock (-helm +ours):\n%s", diff)
	}
	if diff := cmp.Diff(chartsDir(t, theirs), chartsDir(t, ours)); diff != "" {
		t.Fatalf("charts/ (-helm +ours):\n%s", diff)
	}
	for _, f := range chartsDir(t, ours) {
		a, _ := os.ReadFile(filepath.Join(theirs, "charts", f))
		b, _ := os.ReadFile(filepath.Join(ours, "charts", f))
		if string(a) != string(b) {
			t.Errorf("charts/%s differs from Helm's", f)
		}
	}
	helmList := runHelmHome(t, helm, "dependency", "list", theirs)
	ourList := mustRun(t, "", "dependency", "list", ours)
	if diff := cmp.Diff(strings.ReplaceAll(helmList, theirs, ours), ourList); diff != "" {
		t.Errorf("list (-helm +ours):\n%s", diff)
	}
	// An update that changes nothing: the same lines, no new lock.
	helmOut = runHelmHome(t, helm, "dependency", "update", theirs, "--skip-refresh")
	ourOut = mustRun(t, "", "dependency", "update", ours, "--skip-refresh")
	if diff := cmp.Diff(helmOut, ourOut); diff != "" {
		t.Errorf("second update (-helm +ours):\n%s", diff)
	}
	// Each tool builds from the other's lock.
	if err := os.RemoveAll(filepath.Join(ours, "charts")); err != nil {
		t.Fatal(err)
	}
	hl, _ := os.ReadFile(filepath.Join(theirs, "Chart.lock"))
	if err := os.WriteFile(filepath.Join(ours, "Chart.lock"), hl, 0o644); err != nil {
		t.Fatal(err)
	}
	runHelmHome(t, helm, "repo", "add", "unadded", unadded.URL)
	mustRun(t, "", "dependency", "build", ours, "--skip-refresh")
	if diff := cmp.Diff(chartsDir(t, theirs), chartsDir(t, ours)); diff != "" {
		t.Errorf("charts/ built from Helm's lock (-helm +ours):\n%s", diff)
	}
}
