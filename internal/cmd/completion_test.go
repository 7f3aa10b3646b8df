package cmd

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/cobra"

	"github.com/kubectl-chart/kubectl-chart/pkg/release"
)

// completed is what one `kubectl chart __complete …` printed: the
// candidates (with their descriptions) and the directive.
type completed struct {
	Candidates []string
	Directive  cobra.ShellCompDirective
}

// complete runs `kubectl chart __complete <args>` in-process and parses
// its output.
func complete(t *testing.T, args ...string) completed {
	t.Helper()
	run := runChart(t, append([]string{cobra.ShellCompRequestCmd}, args...), "")
	if run.err != nil {
		t.Fatalf("__complete %q: %v\n%s", args, run.err, run.stderr)
	}
	return parseCompleted(t, run.stdout)
}

// parseCompleted reads cobra's __complete output: one candidate a line,
// then ":<directive>".
func parseCompleted(t *testing.T, out string) completed {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	last := lines[len(lines)-1]
	n, err := strconv.Atoi(strings.TrimPrefix(last, ":"))
	if !strings.HasPrefix(last, ":") || err != nil {
		t.Fatalf("no directive line at the end of:\n%s", out)
	}
	c := completed{Directive: cobra.ShellCompDirective(n)}
	if len(lines) > 1 {
		c.Candidates = lines[:len(lines)-1]
	}
	return c
}

const (
	noFile     = cobra.ShellCompDirectiveNoFileComp
	noFileKeep = cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveKeepOrder
	folders    = cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveNoSpace
)

// TestCompletionCommand checks that `completion` writes each shell's script
// for the kubectl-chart binary, and refuses other shells.
func TestCompletionCommand(t *testing.T) {
	tests := []struct {
		args []string
		want []string // substrings of the script
	}{
		{args: []string{"bash"}, want: []string{"__start_kubectl-chart", "complete -o default -F __start_kubectl-chart kubectl-chart", "__complete"}},
		{args: []string{"bash", "--no-descriptions"}, want: []string{"__start_kubectl-chart", "__completeNoDesc"}},
		{args: []string{"zsh"}, want: []string{"#compdef kubectl-chart", "__complete"}},
		{args: []string{"fish"}, want: []string{"complete -c kubectl-chart", "__complete"}},
		{args: []string{"powershell"}, want: []string{"Register-ArgumentCompleter", "'kubectl-chart'", "__complete"}},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			run := runChart(t, append([]string{"completion"}, tc.args...), "")
			if run.err != nil {
				t.Fatal(run.err)
			}
			for _, w := range tc.want {
				if !strings.Contains(run.stdout, w) {
					t.Errorf("script does not contain %q", w)
				}
			}
		})
	}
	run := runChart(t, []string{"completion", "tcsh"}, "")
	if run.err == nil || !strings.Contains(run.err.Error(), `unsupported shell "tcsh": want one of bash, zsh, fish, powershell`) {
		t.Errorf("completion tcsh: error %v", run.err)
	}
	if got := complete(t, "completion", ""); !cmp.Equal(got, completed{Candidates: completionShells, Directive: noFile}) {
		t.Errorf("__complete completion: %+v", got)
	}
}

// TestCompletionChartPaths completes CHART arguments in a folder with
// charts, an archive, other files, a hidden folder and a link to a chart.
func TestCompletionChartPaths(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"charts/web/Chart.yaml":       "apiVersion: v2\nname: web\nversion: 1.2.3\n",
		"charts/web/templates/a.yaml": "",
		"charts/broken/Chart.yaml":    "name: [\n",
		"charts/plain/README":         "",
		"charts/web-1.2.3.tgz":        "",
		"charts/old-0.1.0.tar.gz":     "",
		"charts/notes.txt":            "",
		"charts/.hidden/Chart.yaml":   "name: hidden\nversion: 0.0.1\n",
		"top.tgz":                     "",
	}
	for name, text := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("web", filepath.Join(dir, "charts", "linked")); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)

	tests := []struct {
		name string
		args []string
		want completed
	}{
		{name: "cwd", args: []string{"lint", ""}, want: completed{[]string{"charts/", "top.tgz\tchart archive"}, folders}},
		{name: "folder prefix", args: []string{"lint", "ch"}, want: completed{[]string{"charts/"}, folders}},
		{name: "inside", args: []string{"lint", "charts/"}, want: completed{[]string{
			"charts/broken/\tchart", "charts/linked/\tchart web 1.2.3", "charts/old-0.1.0.tar.gz\tchart archive",
			"charts/plain/", "charts/web/\tchart web 1.2.3", "charts/web-1.2.3.tgz\tchart archive",
		}, folders}},
		{name: "prefix", args: []string{"lint", "charts/we"}, want: completed{[]string{"charts/web/\tchart web 1.2.3", "charts/web-1.2.3.tgz\tchart archive"}, folders}},
		{name: "archive only", args: []string{"lint", "charts/web-"}, want: completed{[]string{"charts/web-1.2.3.tgz\tchart archive"}, noFile}},
		{name: "hidden", args: []string{"lint", "charts/."}, want: completed{[]string{"charts/.hidden/\tchart hidden 0.0.1"}, folders}},
		{name: "dependency list", args: []string{"dependency", "list", "charts/w"}, want: completed{[]string{"charts/web/\tchart web 1.2.3", "charts/web-1.2.3.tgz\tchart archive"}, folders}},
		{name: "lint repeats", args: []string{"lint", "top.tgz", "charts/p"}, want: completed{[]string{"charts/plain/"}, folders}},
		{name: "package folders only", args: []string{"package", "charts/"}, want: completed{[]string{
			"charts/broken/\tchart", "charts/linked/\tchart web 1.2.3", "charts/plain/", "charts/web/\tchart web 1.2.3",
		}, folders}},
		{name: "missing folder", args: []string{"lint", "nowhere/x"}, want: completed{nil, noFile}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, complete(t, tc.args...)); diff != "" {
				t.Errorf("__complete %q (-want +got):\n%s", tc.args, diff)
			}
		})
	}
}

// TestCompletionReleases completes release names and revisions from the
// test cluster, in the namespace of -n.
func TestCompletionReleases(t *testing.T) {
	ns, ns2 := env.Namespace(t), env.Namespace(t)
	ctx := t.Context()
	store := release.NewKubeStore(env.Clientset(), release.DefaultKubeStoreOptions())
	rev := func(ns string, n int, st release.Status, chartVersion, desc string) *release.Revision {
		return &release.Revision{
			Namespace: ns, Revision: n, Status: st, Operation: "install", Description: desc,
			Chart:   release.ChartInfo{Name: "web", Version: chartVersion},
			Started: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		}
	}
	seedRelease(t, ctx, store, "web", release.StatusDeployed,
		rev(ns, 1, release.StatusSuperseded, "0.1.0", "Install complete"), rev(ns, 2, release.StatusDeployed, "0.2.0", "Upgrade complete"))
	seedRelease(t, ctx, store, "worker", release.StatusDeployed, rev(ns, 1, release.StatusDeployed, "0.1.0", ""))
	seedRelease(t, ctx, store, "api", release.StatusFailed, rev(ns, 1, release.StatusFailed, "1.0.0", "Install failed"))
	seedRelease(t, ctx, store, "elsewhere", release.StatusDeployed, rev(ns2, 1, release.StatusDeployed, "0.1.0", ""))
	if _, err := store.Acquire(ctx, ns, "starting", "install", false); err != nil {
		t.Fatal(err)
	}
	chartDir := t.TempDir()
	if err := os.Mkdir(filepath.Join(chartDir, "web"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Chdir(chartDir)
	// No repositories: the chart argument gets Helm's URL prefixes and hints.
	t.Setenv("HELM_REPOSITORY_CONFIG", filepath.Join(chartDir, "no-repositories.yaml"))

	all := []string{"api\tfailed, revision 1", "starting\tno revision yet", "web\tdeployed, revision 2", "worker\tdeployed, revision 1"}
	revisions := []string{"2\tdeployed, web-0.2.0: Upgrade complete", "1\tsuperseded, web-0.1.0: Install complete"}
	tests := []struct {
		name string
		args []string
		want completed
	}{
		{name: "status", args: []string{"status", ""}, want: completed{all, noFile}},
		{name: "status prefix", args: []string{"status", "w"}, want: completed{all[2:], noFile}},
		{name: "status one argument only", args: []string{"status", "web", ""}, want: completed{nil, noFile}},
		{name: "history prefix", args: []string{"history", "wo"}, want: completed{all[3:], noFile}},
		{name: "get values", args: []string{"get", "values", "a"}, want: completed{all[:1], noFile}},
		{name: "uninstall leaves out typed names", args: []string{"uninstall", "web", "api", ""}, want: completed{[]string{all[1], all[3]}, noFile}},
		{name: "upgrade release", args: []string{"upgrade", "we"}, want: completed{all[2:3], noFile}},
		{name: "upgrade chart", args: []string{"upgrade", "web", ""}, want: completed{[]string{
			"oci://\tChart OCI prefix", "https://\tChart URL prefix", "http://\tChart URL prefix", "file://\tChart local URL prefix",
			"./\tRelative path prefix to local chart", "/\tAbsolute path prefix to local chart",
		}, cobra.ShellCompDirectiveNoSpace}},
		{name: "diff upgrade release", args: []string{"diff", "upgrade", ""}, want: completed{all, noFile}},
		{name: "rollback release", args: []string{"rollback", "a"}, want: completed{all[:1], noFile}},
		{name: "rollback revisions", args: []string{"rollback", "web", ""}, want: completed{revisions, noFileKeep}},
		{name: "rollback revision prefix", args: []string{"rollback", "web", "1"}, want: completed{revisions[1:], noFileKeep}},
		{name: "diff rollback revisions", args: []string{"diff", "rollback", "web", ""}, want: completed{revisions, noFileKeep}},
		{name: "other namespace", args: []string{"status", "-n", ns2, ""}, want: completed{[]string{"elsewhere\tdeployed, revision 1"}, noFile}},
		{name: "namespace without releases", args: []string{"status", "-n", "kube-public", ""}, want: completed{nil, noFile}},
		{name: "rollback unknown release", args: []string{"rollback", "nope", ""}, want: completed{nil, noFileKeep}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"--kubeconfig", env.KubeconfigPath(), "-n", ns}, tc.args...)
			if diff := cmp.Diff(tc.want, complete(t, args...)); diff != "" {
				t.Errorf("__complete %q (-want +got):\n%s", tc.args, diff)
			}
		})
	}

	t.Run("unreachable cluster", func(t *testing.T) {
		kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
		cfg := "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:1\ncontexts:\n- name: c\n  context: {cluster: c}\ncurrent-context: c\n"
		if err := os.WriteFile(kubeconfig, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		got := complete(t, "status", "--kubeconfig", kubeconfig, "")
		if diff := cmp.Diff(completed{nil, cobra.ShellCompDirectiveError}, got); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
		if took := time.Since(start); took > completeTimeout+time.Second {
			t.Errorf("completion took %s with the cluster unreachable, want at most %s", took, completeTimeout)
		}
	})
}

// TestCompletionChartRefs completes chart references and --version in a
// Helm home with three repositories (repo1 and repo2 updated with their
// <repo>-charts.txt, legacy with only its index, as before Helm cached the
// chart names), in a working folder with files. The oracle is Helm itself:
// with $HELM, each `helm __complete` runs in the same folder and
// environment and its output (candidates, descriptions, ActiveHelp and the
// directive line) must equal ours byte for byte. The golden file
// testdata/completion/chart-refs.golden is Helm's output, written by
// -update only from the oracle, so that without $HELM the test still holds
// us to what Helm printed.
func TestCompletionChartRefs(t *testing.T) {
	helm := helmBinary(t)
	if updateGoldens() && helm == "" {
		t.Fatal("-update needs $HELM: the golden file is Helm's output")
	}
	paths := repoHome(t)
	home := os.Getenv("HOME")
	repoConfig := filepath.Join(home, "elsewhere", "repositories.yaml")
	repoCache := filepath.Join(home, "elsewhere", "repository-cache")
	t.Setenv("HELM_REPOSITORY_CONFIG", repoConfig)
	t.Setenv("HELM_REPOSITORY_CACHE", repoCache)
	t.Setenv("KUBECONFIG", filepath.Join(home, "no-kubeconfig"))
	// ActiveHelp on, as by default, for both programs.
	t.Setenv("COBRA_ACTIVE_HELP", "")
	t.Setenv("KUBECTL_CHART_ACTIVE_HELP", "")
	if paths.RepositoryConfig() != repoConfig {
		t.Fatalf("helmpath ignores HELM_REPOSITORY_CONFIG: %s", paths.RepositoryConfig())
	}

	data := filepath.Join("testdata", "completion")
	copyFile(t, filepath.Join(data, "repositories.yaml"), repoConfig)
	for _, name := range []string{"repo1", "repo2", "legacy"} {
		copyFile(t, filepath.Join(data, name+"-index.yaml"), filepath.Join(repoCache, name+"-index.yaml"))
	}
	// As `helm repo update` writes them: one name a line, in the order of
	// Helm's map of the index (here an unsorted one, which is kept).
	writeFiles(map[string]string{
		"repo1-charts.txt": "other\nchart\n",
		"repo2-charts.txt": "zeta\nweb\nalpha\n",
	})(t, repoCache)
	golden := filepath.Join(mustAbs(t, data), "chart-refs.golden")

	work := t.TempDir()
	writeFiles(map[string]string{
		"re.tgz":                      "",
		"readme.txt":                  "",
		"repo-local/Chart.yaml":       "apiVersion: v2\nname: repo-local\nversion: 0.1.0\n",
		"web/Chart.yaml":              "apiVersion: v2\nname: web\nversion: 0.1.0\n",
		".hidden":                     "",
		"conf/empty-cache/.gitignore": "",
	})(t, work)
	copyFile(t, filepath.Join(data, "alt-repositories.yaml"), filepath.Join(work, "conf", "alt-repositories.yaml"))
	t.Chdir(work)

	cases := [][]string{
		// install: NAME gets nothing, CHART the references; -g moves CHART first.
		{"install", ""},
		{"install", "web", ""},
		{"install", "web", "re"},
		{"install", "web", "repo1"},
		{"install", "web", "repo1/"},
		{"install", "web", "repo1/ch"},
		{"install", "web", "repo2/x"},
		{"install", "web", "legacy/"},
		{"install", "web", "l"},
		{"install", "web", "h"},
		{"install", "web", "https:/"},
		{"install", "web", "oci://"},
		{"install", "web", "oci://registry/charts/web"},
		{"install", "web", "file://"},
		{"install", "web", "."},
		{"install", "web", "./"},
		{"install", "web", "w"},
		{"install", "web", "/"},
		{"install", "web", "repo1/chart", ""},
		{"install", "-g", ""},
		{"install", "-g", "rep"},
		{"install", "--generate-name", "repo1/chart", ""},
		// --version: every version of a "repo/chart", whatever is typed.
		{"install", "web", "repo1/chart", "--version", ""},
		{"install", "web", "repo1/chart", "--version", "1."},
		{"install", "web", "repo1/other", "--version", ""},
		{"install", "web", "repo2/zeta", "--version", ""},
		{"install", "web", "legacy/old", "--version", ""},
		{"install", "-g", "repo2/web", "--version", ""},
		{"install", "web", "--version", ""},
		{"install", "web", "repo1/nothing", "--version", ""},
		{"install", "web", "nowhere/chart", "--version", ""},
		{"install", "web", "./web", "--version", ""},
		{"install", "web", "oci://registry/web", "--version", ""},
		{"install", "web", "repo1/chart/x", "--version", ""},
		// Helm's path flags, given on the command line.
		{"install", "--repository-config", "conf/alt-repositories.yaml", "web", ""},
		{"install", "--repository-config", "conf/missing.yaml", "web", "re"},
		{"install", "--repository-cache", "conf/empty-cache", "web", "repo1/"},
		{"install", "--repository-cache", "conf/empty-cache", "web", "repo1/chart", "--version", ""},
		// template: as install.
		{"template", ""},
		{"template", "web", ""},
		{"template", "web", "o"},
		{"template", "-g", "repo2/"},
		{"template", "web", "repo1/chart", ""},
		{"template", "web", "repo1/chart", "--version", ""},
		// show: CHART first, ActiveHelp past it.
		{"show", "chart", ""},
		{"show", "values", "re"},
		{"show", "readme", "repo2/"},
		{"show", "all", "h"},
		{"show", "crds", "repo1/chart", ""},
		{"show", "chart", "repo1/chart", "--version", ""},
		{"show", "values", "repo2/web", "--version", ""},
		// pull: no local files, no hints; only the first argument.
		{"pull", ""},
		{"pull", "re"},
		{"pull", "repo1/"},
		{"pull", "f"},
		{"pull", "repo1/chart", ""},
		{"pull", "repo1/chart", "--version", ""},
		// upgrade: CHART second (the first is a release of the cluster),
		// ActiveHelp past it.
		{"upgrade", "web", ""},
		{"upgrade", "web", "re"},
		{"upgrade", "web", "repo2/"},
		{"upgrade", "web", "repo1/chart", ""},
		{"upgrade", "web", "repo1/chart", "--version", ""},
	}
	var ours, helms strings.Builder
	for _, args := range cases {
		run := runChart(t, append([]string{cobra.ShellCompRequestCmd}, args...), "")
		if run.err != nil {
			t.Fatalf("__complete %q: %v\n%s", args, run.err, run.stderr)
		}
		fmt.Fprintf(&ours, "## %q\n%s", args, run.stdout)
		if helm == "" {
			continue
		}
		want := runHelmComplete(t, helm, args)
		fmt.Fprintf(&helms, "## %q\n%s", args, want)
		if want != run.stdout {
			t.Errorf("__complete %q differs from Helm's (-helm +ours):\n%s", args, cmp.Diff(want, run.stdout))
		}
	}
	if updateGoldens() {
		checkGolden(t, golden, helms.String())
		return
	}
	checkGolden(t, golden, ours.String())
}

// runHelmComplete runs `helm __complete args` in the working folder with
// the test's HOME, HELM_* and KUBECONFIG and returns its standard output.
func runHelmComplete(t *testing.T, helm string, args []string) string {
	t.Helper()
	cmd := exec.Command(helm, append([]string{cobra.ShellCompRequestCmd}, args...)...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	for _, k := range []string{"HOME", "HELM_CONFIG_HOME", "HELM_CACHE_HOME", "HELM_DATA_HOME", "HELM_REPOSITORY_CONFIG", "HELM_REPOSITORY_CACHE", "KUBECONFIG"} {
		cmd.Env = append(cmd.Env, k+"="+os.Getenv(k))
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("helm __complete %q: %v\n%s", args, err, stderr.String())
	}
	return stdout.String()
}

// TestCompletionVersionsCached checks that --version completes from the
// compact index cache as from the index itself: the dates survive the
// cache (a second completion reads it) in the offset the index gave them,
// and an index rewritten by an update is read again.
func TestCompletionVersionsCached(t *testing.T) {
	paths := repoHome(t)
	writeTestFile(t, paths.RepositoryConfig(), "apiVersion: \"\"\nrepositories:\n- name: r\n  url: https://r.example.com\n", 0o644)
	index := func(created string) string {
		return "apiVersion: v1\nentries:\n  c:\n  - apiVersion: v2\n    name: c\n    version: 1.0.0\n    urls: [c-1.0.0.tgz]\n    created: \"" + created + "\"\n"
	}
	indexPath := filepath.Join(paths.RepositoryCache(), "r-index.yaml")
	writeTestFile(t, indexPath, index("2024-03-04T23:30:00-08:00"), 0o644)
	want := completed{[]string{"1.0.0\tCreated: March 4, 2024"}, noFile}
	for i := range 2 {
		if diff := cmp.Diff(want, complete(t, "pull", "r/c", "--version", "")); diff != "" {
			t.Errorf("completion %d (-want +got):\n%s", i+1, diff)
		}
	}
	writeTestFile(t, indexPath, index("2025-07-08T00:30:00+02:00")+"# updated\n", 0o644)
	want = completed{[]string{"1.0.0\tCreated: July 8, 2025"}, noFile}
	if diff := cmp.Diff(want, complete(t, "pull", "r/c", "--version", "")); diff != "" {
		t.Errorf("after the update (-want +got):\n%s", diff)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	writeTestFile(t, to, string(b), 0o644)
}

func mustAbs(t *testing.T, p string) string {
	t.Helper()
	abs, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}
