package cmd

import (
	"os"
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
		{name: "cwd", args: []string{"template", ""}, want: completed{[]string{"charts/", "top.tgz\tchart archive"}, folders}},
		{name: "folder prefix", args: []string{"template", "ch"}, want: completed{[]string{"charts/"}, folders}},
		{name: "inside", args: []string{"lint", "charts/"}, want: completed{[]string{
			"charts/broken/\tchart", "charts/linked/\tchart web 1.2.3", "charts/old-0.1.0.tar.gz\tchart archive",
			"charts/plain/", "charts/web/\tchart web 1.2.3", "charts/web-1.2.3.tgz\tchart archive",
		}, folders}},
		{name: "prefix", args: []string{"show", "values", "charts/we"}, want: completed{[]string{"charts/web/\tchart web 1.2.3", "charts/web-1.2.3.tgz\tchart archive"}, folders}},
		{name: "archive only", args: []string{"show", "chart", "charts/web-"}, want: completed{[]string{"charts/web-1.2.3.tgz\tchart archive"}, noFile}},
		{name: "hidden", args: []string{"lint", "charts/."}, want: completed{[]string{"charts/.hidden/\tchart hidden 0.0.1"}, folders}},
		{name: "template name then chart", args: []string{"template", "my-release", "charts/w"}, want: completed{[]string{"charts/web/\tchart web 1.2.3", "charts/web-1.2.3.tgz\tchart archive"}, folders}},
		{name: "template past chart", args: []string{"template", "my-release", "charts/web", ""}, want: completed{nil, noFile}},
		{name: "install name", args: []string{"install", ""}, want: completed{nil, noFile}},
		{name: "install chart", args: []string{"install", "my-release", "t"}, want: completed{[]string{"top.tgz\tchart archive"}, noFile}},
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
		{name: "upgrade chart", args: []string{"upgrade", "web", ""}, want: completed{[]string{"web/"}, folders}},
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
