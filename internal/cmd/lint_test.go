package cmd

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-chart/kubectl-chart/pkg/chart/packager"
)

// The -update flag rewrites the golden files under testdata/golden. Every
// golden test of the package shares it; it is registered here unless
// another test file of the package did (package variables are initialised
// before init functions run).
func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite the golden files under testdata/golden")
	}
}

func updateGoldens() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// chartRun is what one in-process run of the command tree printed.
type chartRun struct {
	stdout, stderr string
	err            error
}

// exit is the exit code main would use.
func (r chartRun) exit() int {
	if r.err == nil {
		return 0
	}
	return ExitCode(r.err)
}

// text is stdout, then the error line main would print.
func (r chartRun) text() string {
	if r.err == nil {
		return r.stdout
	}
	return r.stdout + fmt.Sprintf("Error: %v\n", r.err)
}

// runChart runs `kubectl chart <args>` in-process; a panic fails the test.
func runChart(t *testing.T, args []string, stdin string) chartRun {
	t.Helper()
	var stdout, stderr bytes.Buffer
	streams := genericiooptions.IOStreams{In: strings.NewReader(stdin), Out: &stdout, ErrOut: &stderr}
	cmd := NewCmdRoot(streams)
	cmd.SetArgs(args)
	cmd.SetOut(&stdout)
	cmd.SetErr(&stderr)
	var run chartRun
	func() {
		defer func() {
			if r := recover(); r != nil {
				t.Fatalf("kubectl chart %s panicked: %v\n%s", strings.Join(args, " "), r, debug.Stack())
			}
		}()
		run.err = cmd.ExecuteContext(t.Context())
	}()
	run.stdout, run.stderr = stdout.String(), stderr.String()
	return run
}

// checkGolden compares got with the golden file, or rewrites it with
// -update.
func checkGolden(t *testing.T, path, got string) {
	t.Helper()
	if updateGoldens() {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to write it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", path, diff)
	}
}

// atRepoRoot runs the test from the repository root, where chart paths in
// the cases start, with no kubeconfig of the host; it returns the root.
func atRepoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(root)
	t.Setenv("KUBECONFIG", filepath.Join(t.TempDir(), "no-kubeconfig"))
	return root
}

// helmBinary is $HELM, the Helm v4.3.1 binary to compare with, or "".
func helmBinary(t *testing.T) string {
	t.Helper()
	helm := os.Getenv("HELM")
	if helm == "" {
		t.Log("HELM is not set: comparing with the golden files only")
	}
	return helm
}

// runHelm runs Helm away from the user's repositories, plugins and cluster,
// in dir.
func runHelm(t *testing.T, helm, dir string, args ...string) chartRun {
	t.Helper()
	return runHelmEnv(t, helm, dir, nil, args...)
}

// runHelmEnv is runHelm with env added to (or replacing) its environment.
func runHelmEnv(t *testing.T, helm, dir string, env []string, args ...string) chartRun {
	t.Helper()
	home := t.TempDir()
	cmd := exec.Command(helm, args...)
	cmd.Dir = dir
	cmd.Env = []string{
		"HOME=" + home,
		"PATH=" + os.Getenv("PATH"),
		"HELM_CACHE_HOME=" + filepath.Join(home, "cache"),
		"HELM_CONFIG_HOME=" + filepath.Join(home, "config"),
		"HELM_DATA_HOME=" + filepath.Join(home, "data"),
		"KUBECONFIG=" + filepath.Join(home, "no-kubeconfig"),
	}
	if v, ok := os.LookupEnv("SOURCE_DATE_EPOCH"); ok {
		cmd.Env = append(cmd.Env, "SOURCE_DATE_EPOCH="+v)
	}
	cmd.Env = append(cmd.Env, env...) // later entries win
	run, exitErr := execHelm(t, cmd)
	if exitErr != nil {
		// Helm's own error line, as ours would print.
		msg := "exit status " + fmt.Sprint(exitErr.ExitCode())
		if i := strings.LastIndex(run.stderr, "Error: "); i >= 0 {
			msg = strings.TrimSuffix(run.stderr[i+len("Error: "):], "\n")
		}
		run.err = errors.New(msg)
	}
	return run
}

// execHelm runs a command of the Helm oracle and returns what it printed
// and, when it failed, how; it fails the test when it could not run.
func execHelm(t *testing.T, cmd *exec.Cmd) (chartRun, *exec.ExitError) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		t.Fatalf("running %s: %v", cmd.Path, err)
	}
	return chartRun{stdout: stdout.String(), stderr: stderr.String()}, exitErr
}

// lintCase is one `kubectl chart lint` run; args follow "lint", paths are
// relative to the repository root. $TGZ in an argument is replaced by a
// packaged copy of testdata/charts/lint-good, $NOTGZ by a file that is not
// an archive.
type lintCase struct {
	name     string
	args     []string
	wantExit int
	// helmDiffers, when set, says why `helm lint` prints something else;
	// the comparison with Helm is then only logged.
	helmDiffers string
}

const lintCharts = "testdata/charts/"

var lintCases = []lintCase{
	{name: "good", args: []string{lintCharts + "lint-good"}},
	{name: "good-quiet", args: []string{lintCharts + "lint-good", "--quiet"}},
	{name: "good-archive", args: []string{"$TGZ"}},
	{name: "good-strict-namespace", args: []string{lintCharts + "lint-good", "--strict", "-n", "other"}},
	{name: "chartfile", args: []string{lintCharts + "lint-chartfile"}, wantExit: 1,
		helmDiffers: "Helm does not check the kubeVersion constraint"},
	{name: "bad-version", args: []string{lintCharts + "lint-bad-version"}, wantExit: 1},
	{name: "values-schema", args: []string{lintCharts + "lint-values"}, wantExit: 1},
	{name: "values-schema-set", args: []string{lintCharts + "lint-values", "--set", "replicas=2"}},
	{name: "values-schema-file", args: []string{lintCharts + "lint-values", "-f", lintCharts + "lint-values/ci/bad-name.yaml"}, wantExit: 1},
	{name: "values-schema-skip", args: []string{lintCharts + "lint-values", "--skip-schema-validation"}},
	{name: "bad-values", args: []string{lintCharts + "lint-bad-values"}, wantExit: 1},
	{name: "parse-error", args: []string{lintCharts + "lint-parse-error"}, wantExit: 1},
	{name: "yaml-error", args: []string{lintCharts + "lint-yaml-error"}, wantExit: 1},
	{name: "render", args: []string{lintCharts + "lint-render"}, wantExit: 1,
		helmDiffers: "Helm does not check that documents have apiVersion and kind"},
	{name: "render-quiet", args: []string{lintCharts + "lint-render", "--quiet", "--set", "suffix=-x"}, wantExit: 1,
		helmDiffers: "Helm does not check that documents have apiVersion and kind"},
	{name: "deprecated-old-kube", args: []string{lintCharts + "lint-render", "--kube-version", "1.16", "--quiet"}, wantExit: 1,
		helmDiffers: "Helm does not check that documents have apiVersion and kind"},
	{name: "deps", args: []string{lintCharts + "lint-deps"}, wantExit: 1},
	{name: "deps-with-subcharts", args: []string{lintCharts + "lint-deps", "--with-subcharts"}, wantExit: 1},
	{name: "library", args: []string{lintCharts + "lint-library"}},
	{name: "kubeversion", args: []string{lintCharts + "lint-kubeversion"},
		helmDiffers: "Helm does not check the kubeVersion constraint"},
	{name: "kubeversion-strict", args: []string{lintCharts + "lint-kubeversion", "--strict"}, wantExit: 1,
		helmDiffers: "Helm does not check the kubeVersion constraint"},
	{name: "kubeversion-met", args: []string{lintCharts + "lint-kubeversion", "--kube-version", "v1.40.2", "--strict"}},
	{name: "no-templates", args: []string{lintCharts + "lint-no-templates"}},
	{name: "no-templates-strict", args: []string{lintCharts + "lint-no-templates", "--strict"}, wantExit: 1},
	{name: "crds", args: []string{lintCharts + "lint-crds"}, wantExit: 1},
	{name: "not-a-chart", args: []string{lintCharts + "lint-not-a-chart"}, wantExit: 1},
	{name: "no-such-path", args: []string{lintCharts + "lint-no-such-chart"}, wantExit: 1},
	{name: "not-an-archive", args: []string{"$NOTGZ"}, wantExit: 1},
	{name: "several", args: []string{lintCharts + "lint-good", lintCharts + "lint-no-templates", lintCharts + "lint-bad-version"}, wantExit: 1},
	{name: "several-quiet", args: []string{lintCharts + "lint-good", lintCharts + "lint-no-templates", "--quiet"}},
	{name: "err-kube-version-flag", args: []string{lintCharts + "lint-good", "--kube-version", "one.two"}, wantExit: 1},
	{name: "err-set-syntax", args: []string{lintCharts + "lint-good", "--set", "a.=b"}, wantExit: 1},
	{name: "err-no-args", args: nil, wantExit: 1},
}

// TestLint runs each case and compares stdout, the error line and the
// render's warnings on stderr with testdata/golden/lint (absolute paths
// replaced). With HELM set to a Helm
// v4.3.1 binary, `helm lint` must print the same and exit alike, unless the
// case says why not.
func TestLint(t *testing.T) {
	root := atRepoRoot(t)
	helm := helmBinary(t)

	tmp := t.TempDir()
	tgz, err := packager.PackageDir(filepath.Join(lintCharts, "lint-good"), tmp)
	if err != nil {
		t.Fatal(err)
	}
	notTgz := filepath.Join(tmp, "not-an-archive.tgz")
	if err := os.WriteFile(notTgz, []byte("not gzip\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	expand := func(args []string) []string {
		out := []string{"lint"}
		for _, a := range args {
			a = strings.ReplaceAll(a, "$TGZ", tgz)
			out = append(out, strings.ReplaceAll(a, "$NOTGZ", notTgz))
		}
		return out
	}
	normalize := func(s string) string {
		s = strings.ReplaceAll(s, tmp, "$TMP")
		return strings.ReplaceAll(s, root, "$ROOT")
	}

	same := 0
	for _, tc := range lintCases {
		t.Run(tc.name, func(t *testing.T) {
			args := expand(tc.args)
			got := runChart(t, args, "")
			if got.exit() != tc.wantExit {
				t.Errorf("exit code %d, want %d; output:\n%s", got.exit(), tc.wantExit, got.text())
			}
			if tc.wantExit != 0 && !strings.Contains(got.text(), "Error") {
				t.Errorf("a failure must say so: %q", got.text())
			}
			golden := normalize(got.text())
			if got.stderr != "" {
				golden += "=== stderr\n" + normalize(got.stderr)
			}
			checkGolden(t, filepath.Join("testdata", "golden", "lint", tc.name+".golden"), golden)

			if helm == "" || strings.HasPrefix(tc.name, "err-") {
				return // Argument errors are worded by each CLI.
			}
			h := runHelm(t, helm, root, args...)
			if diff := cmp.Diff(normalize(h.text()), normalize(got.text())); diff != "" {
				if tc.helmDiffers != "" {
					t.Logf("known difference (%s) (-helm +ours):\n%s", tc.helmDiffers, diff)
					return
				}
				t.Errorf("output differs from helm lint (-helm +ours):\n%s", diff)
				return
			}
			if tc.helmDiffers != "" {
				t.Errorf("helmDiffers is set, but the output is Helm's: drop it")
			}
			same++
		})
	}
	if helm != "" {
		t.Logf("%d of %d cases print what helm lint prints", same, len(lintCases))
	}
}

// TestLintCorpus lints every chart of the shared corpus, with --strict, as
// helm lint does: same output, same exit. It needs HELM and the corpus.
func TestLintCorpus(t *testing.T) {
	helm := os.Getenv("HELM")
	if helm == "" {
		t.Skip("HELM is not set")
	}
	corpus := lintCorpusDir(t)
	t.Setenv("KUBECONFIG", filepath.Join(t.TempDir(), "no-kubeconfig"))
	t.Chdir(corpus)
	charts, err := filepath.Glob(filepath.Join("*", "*", "Chart.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range charts {
		dir := filepath.Dir(c)
		t.Run(dir, func(t *testing.T) {
			args := []string{"lint", "--strict", dir}
			got := runChart(t, args, "")
			h := runHelm(t, helm, corpus, args...)
			if diff := cmp.Diff(h.text(), got.text()); diff != "" {
				t.Errorf("output differs from helm lint (-helm +ours):\n%s", diff)
			}
		})
	}
}

// lintCorpusDir is the shared chart corpus: $KUBECTL_CHART_CORPUS or
// ../shared/charts beside the repository.
func lintCorpusDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("KUBECTL_CHART_CORPUS")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "shared", "charts")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(abs); err != nil || !fi.IsDir() {
		t.Skipf("no chart corpus at %s: set KUBECTL_CHART_CORPUS", abs)
	}
	return abs
}
