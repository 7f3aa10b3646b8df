package krew

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-chart/kubectl-chart/internal/cmd"
	"github.com/kubectl-chart/kubectl-chart/internal/testcluster"
)

// env is a bare control plane: the completion test reads release names from
// it.
var env *testcluster.Env

func TestMain(m *testing.M) {
	testcluster.Main(m, &env, testcluster.Options{})
}

const (
	// testTag is the version the tests build: krew wants a semantic version.
	testTag = "v0.0.0-krewtest"
	// releaseURL is where the manifest points the archives to.
	releaseURL = "https://github.com/kubectl-chart/kubectl-chart/releases/download/" + testTag + "/"
)

// TestKrew builds the release archives with hack/dist (this platform's, or
// every platform's with KUBECTL_CHART_DIST_ALL=1: distPlatforms), checks the
// manifest with krew's validate-krew-manifest (which also installs every
// platform's archive of it, served here from a local server), installs this
// platform's archive with `kubectl krew install --manifest --archive` into a
// temporary KREW_ROOT, and runs the plugin through the real kubectl:
// `kubectl chart version` and `kubectl chart <TAB>` completion.
func TestKrew(t *testing.T) {
	if !slices.Contains(allPlatforms, runtime.GOOS+"/"+runtime.GOARCH) {
		t.Skipf("no release archive for %s/%s", runtime.GOOS, runtime.GOARCH)
	}
	root := repoRoot(t)
	krewDir := krewBinaries(t, root)
	assets := kubectlDir(t)
	work := t.TempDir()
	dist := filepath.Join(work, "dist")
	manifest := filepath.Join(work, "krew", "chart.yaml")

	start := time.Now()
	platforms := distPlatforms()
	out := runDist(t, root, "-version", testTag, "-out", dist, "-manifest", manifest, "-platforms", strings.Join(platforms, ","))
	t.Logf("hack/dist, %s: %s\n%s", strings.Join(platforms, ","), time.Since(start).Round(time.Second), out)
	archive := filepath.Join(dist, hostArchive())

	t.Run("sums", func(t *testing.T) { checkSums(t, dist, manifest, platforms) })

	// PATH for krew's commands: kubectl, kubectl-krew, validate-krew-manifest;
	// the system's last (sh, cp), after the test kubectl.
	sysPath := "/usr/local/bin:/usr/bin:/bin"
	krewPath := strings.Join([]string{assets, krewDir, sysPath}, string(os.PathListSeparator))

	t.Run("validate-krew-manifest", func(t *testing.T) {
		got := mustRunCombined(t, work, environ(map[string]string{"PATH": krewPath}), filepath.Join(krewDir, "validate-krew-manifest"),
			"-manifest", manifest, "-skip-install")
		for _, want := range []string{"structural validation OK", "all spec.platform[] items are used", "no overlapping spec.platform[].selector"} {
			if !strings.Contains(got, want) {
				t.Errorf("validate-krew-manifest does not say %q:\n%s", want, got)
			}
		}
		if strings.Contains(got, "exceeds") {
			t.Errorf("validate-krew-manifest warns:\n%s", got)
		}
	})

	t.Run("validate-krew-manifest installs every platform", func(t *testing.T) {
		// The validator runs `kubectl krew install --manifest` for every
		// platform (KREW_OS, KREW_ARCH), which downloads the uri: serve
		// dist/ and point the manifest there.
		srv := httptest.NewServer(http.FileServer(http.Dir(dist)))
		t.Cleanup(srv.Close)
		text, err := os.ReadFile(manifest)
		if err != nil {
			t.Fatal(err)
		}
		served := filepath.Join(t.TempDir(), "chart.yaml")
		if err := os.WriteFile(served, []byte(strings.ReplaceAll(string(text), releaseURL, srv.URL+"/")), 0o644); err != nil {
			t.Fatal(err)
		}
		got := mustRunCombined(t, work, environ(map[string]string{"PATH": krewPath}), filepath.Join(krewDir, "validate-krew-manifest"), "-manifest", served)
		if want := fmt.Sprintf("all %d spec.platforms installed fine", len(platforms)); !strings.Contains(got, want) {
			t.Errorf("validate-krew-manifest does not say %q:\n%s", want, got)
		}
	})

	// The user's install, through kubectl.
	krewRoot := filepath.Join(work, "krew-root")
	home := filepath.Join(work, "home")
	base := map[string]string{"HOME": home, "KREW_ROOT": krewRoot, "KREW_NO_UPGRADE_CHECK": "1", "KUBECONFIG": filepath.Join(home, "no-kubeconfig")}
	installEnv := environ(with(base, "PATH", krewPath))
	start = time.Now()
	got := mustRunCombined(t, work, installEnv, "kubectl", "krew", "install", "--manifest="+manifest, "--archive="+archive)
	t.Logf("kubectl krew install in %s:\n%s", time.Since(start).Round(time.Millisecond), got)
	for _, want := range []string{`Installed plugin: chart`, "kubectl chart webhook install", "kubectl_complete-chart"} {
		if !strings.Contains(got, want) {
			t.Errorf("krew install output does not contain %q", want)
		}
	}
	if _, err := os.Stat(filepath.Join(krewRoot, "bin", "kubectl-chart")); err != nil {
		t.Fatalf("krew did not link the plugin: %v", err)
	}

	// The user's PATH: krew's bin folder and kubectl, not krewDir.
	userPath := strings.Join([]string{filepath.Join(krewRoot, "bin"), assets, sysPath}, string(os.PathListSeparator))
	user := with(base, "PATH", userPath)

	t.Run("version", func(t *testing.T) {
		checkVersion(t, root, work, environ(user))
	})

	t.Run("completion", func(t *testing.T) {
		checkCompletion(t, work, krewRoot, user)
	})
}

// checkSums compares the sums file and the manifest with the archives.
func checkSums(t *testing.T, dist, manifest string, platforms []string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dist, "kubectl-chart_"+testTag+"_sha256sums.txt"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for line := range strings.Lines(string(b)) {
		sum, name, ok := strings.Cut(strings.TrimSuffix(line, "\n"), "  ")
		if !ok {
			t.Fatalf("sums line %q: want <sha256>  <name>", line)
		}
		if got := fileSum(t, filepath.Join(dist, name)); got != sum {
			t.Errorf("%s: sums file says %s, the file is %s", name, sum, got)
		}
		names = append(names, name)
	}
	var want []string
	for _, p := range platforms {
		goos, goarch, _ := strings.Cut(p, "/")
		ext := ".tar.gz"
		if goos == "windows" {
			ext = ".zip"
		}
		want = append(want, "kubectl-chart_"+testTag+"_"+goos+"_"+goarch+ext)
	}
	slices.Sort(want)
	if diff := cmp.Diff(want, slices.Sorted(slices.Values(names))); diff != "" {
		t.Errorf("archives (-want +got):\n%s", diff)
	}
	for _, name := range names {
		st, err := os.Stat(filepath.Join(dist, name))
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %.1f MiB", name, float64(st.Size())/(1<<20))
	}

	text, err := os.ReadFile(manifest)
	if err != nil {
		t.Fatal(err)
	}
	if len(platforms) == len(allPlatforms) {
		copyText, err := os.ReadFile(filepath.Join(dist, "chart.yaml"))
		if err != nil || !bytes.Equal(text, copyText) {
			t.Errorf("dist/chart.yaml differs from the -manifest copy (%v)", err)
		}
	} else if _, err := os.Stat(filepath.Join(dist, "chart.yaml")); err == nil {
		t.Error("a partial build wrote dist/chart.yaml, the manifest of a release")
	}
	var m struct {
		Spec struct {
			Platforms []struct {
				URI    string `json:"uri"`
				Sha256 string `json:"sha256"`
			} `json:"platforms"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal(text, &m); err != nil {
		t.Fatal(err)
	}
	if len(m.Spec.Platforms) != len(want) {
		t.Errorf("manifest has %d platforms, want %d", len(m.Spec.Platforms), len(want))
	}
	for _, p := range m.Spec.Platforms {
		name, ok := strings.CutPrefix(p.URI, releaseURL)
		if !ok {
			t.Errorf("uri %s is not under %s", p.URI, releaseURL)
			continue
		}
		if got := fileSum(t, filepath.Join(dist, name)); got != p.Sha256 {
			t.Errorf("%s: manifest says sha256 %s, the archive is %s", name, p.Sha256, got)
		}
	}
}

// checkVersion runs `kubectl chart version` as the user would after the
// install: the plugin from krew's bin folder, through kubectl.
func checkVersion(t *testing.T, root, dir string, environ []string) {
	t.Helper()
	var info struct {
		Version, Commit, GoVersion, Platform string
		HelmCompat                           string `json:"helmCompatibility"`
	}
	out := mustRun(t, dir, environ, "kubectl", "chart", "version", "-o", "json")
	if err := json.Unmarshal([]byte(out), &info); err != nil {
		t.Fatalf("kubectl chart version -o json: %v\n%s", err, out)
	}
	head, err := git(root, "rev-parse", "HEAD")
	if err != nil {
		t.Fatal(err)
	}
	if info.Commit != head && info.Commit != head+"-dirty" {
		t.Errorf("commit %q, want %s (with -dirty when the tree has changes)", info.Commit, head)
	}
	if info.Version != testTag || info.GoVersion != runtime.Version() || info.Platform != runtime.GOOS+"/"+runtime.GOARCH || info.HelmCompat == "" {
		t.Errorf("kubectl chart version -o json: %+v, want version %s, Go %s, platform %s/%s",
			info, testTag, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	}
	text := mustRun(t, dir, environ, "kubectl", "chart", "version")
	if want := fmt.Sprintf("kubectl-chart %s (commit %s, %s, %s; renders as Helm %s)\n", testTag, info.Commit, info.GoVersion, info.Platform, info.HelmCompat); text != want {
		t.Errorf("kubectl chart version:\n got %q\nwant %q", text, want)
	}
	plugins := mustRun(t, dir, environ, "kubectl", "plugin", "list", "--name-only")
	if !strings.Contains(plugins, "kubectl-chart") {
		t.Errorf("kubectl plugin list does not list kubectl-chart:\n%s", plugins)
	}
}

// checkCompletion completes `kubectl chart …` through kubectl's plugin
// completion: nothing without the helper, then, once the caveats' commands
// have put it on PATH, subcommands, release names from the test cluster and
// chart folders.
func checkCompletion(t *testing.T, dir, krewRoot string, user map[string]string) {
	t.Helper()
	if got := kubectlComplete(t, dir, environ(user), "chart", "completion", ""); got.Candidates != nil {
		t.Fatalf("kubectl completes the plugin's arguments before kubectl_complete-chart is on PATH: %+v", got)
	}

	// The caveats' commands, as a user pastes them into a shell.
	receipt, err := os.ReadFile(filepath.Join(krewRoot, "receipts", "chart.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		Spec struct{ Caveats string }
	}
	if err := yaml.Unmarshal(receipt, &r); err != nil {
		t.Fatal(err)
	}
	script := caveatCommands(r.Spec.Caveats)
	if !strings.Contains(script, "kubectl_complete-chart") {
		t.Fatalf("no command in the caveats puts kubectl_complete-chart on PATH:\n%s", r.Spec.Caveats)
	}
	mustRun(t, dir, environ(user), "sh", "-ec", script)

	// Subcommands: every command of the tree.
	var want []string
	root := cmd.NewCmdRoot(genericiooptions.NewTestIOStreamsDiscard())
	for _, c := range root.Commands() {
		if c.IsAvailableCommand() {
			want = append(want, c.Name())
		}
	}
	want = append(want, "help")
	got := kubectlComplete(t, dir, environ(user), "chart", "")
	if diff := cmp.Diff(slices.Sorted(slices.Values(want)), got.names()); diff != "" {
		t.Errorf("kubectl __complete chart '' (-want +got):\n%s", diff)
	}
	if got := kubectlComplete(t, dir, environ(user), "chart", "completion", ""); !cmp.Equal(got, completed{[]string{"bash", "zsh", "fish", "powershell"}, 4}) {
		t.Errorf("kubectl __complete chart completion '': %+v", got)
	}
	if diff := cmp.Diff([]string{"--namespace"}, kubectlComplete(t, dir, environ(user), "chart", "status", "--names").names()); diff != "" {
		t.Errorf("kubectl __complete chart status --names (-want +got):\n%s", diff)
	}

	// Chart folders, from the working folder.
	chart := filepath.Join(dir, "charts", "web")
	writeChart(t, chart)
	if diff := cmp.Diff(completed{[]string{"charts/web/\tchart web 0.1.0"}, 6}, kubectlComplete(t, dir, environ(user), "chart", "lint", "charts/")); diff != "" {
		t.Errorf("kubectl __complete chart lint charts/ (-want +got):\n%s", diff)
	}

	// Release names of the -n namespace, from the cluster of $KUBECONFIG.
	ns := env.Namespace(t)
	cluster := environ(with(user, "KUBECONFIG", env.KubeconfigPath()))
	for _, name := range []string{"web", "worker"} {
		mustRun(t, dir, cluster, "kubectl", "chart", "install", name, chart, "-n", ns)
	}
	releases := []string{"web\tdeployed, revision 1", "worker\tdeployed, revision 1"}
	tests := []struct {
		args []string
		want completed
	}{
		{args: []string{"status", "-n", ns, ""}, want: completed{releases, 4}},
		{args: []string{"history", "-n", ns, "wo"}, want: completed{releases[1:], 4}},
		{args: []string{"uninstall", "-n", ns, "web", ""}, want: completed{releases[1:], 4}},
		{args: []string{"rollback", "-n", ns, "web", ""}, want: completed{[]string{"1\tdeployed, web-0.1.0: Install complete"}, 36}},
	}
	for _, tc := range tests {
		got := kubectlComplete(t, dir, cluster, append([]string{"chart"}, tc.args...)...)
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("kubectl __complete chart %q (-want +got):\n%s", tc.args, diff)
		}
	}
}

// caveatCommands are the indented lines of the caveats that follow the
// sentence about completion: the commands to paste.
func caveatCommands(caveats string) string {
	var cmds []string
	inCompletion := false
	for line := range strings.Lines(caveats) {
		if strings.Contains(line, "kubectl_complete-chart on your PATH") {
			inCompletion = true
			continue
		}
		if inCompletion && strings.HasPrefix(line, "  ") && strings.TrimSpace(line) != "" {
			cmds = append(cmds, strings.TrimSpace(line))
		}
	}
	return strings.Join(cmds, "\n")
}

// completed is what `kubectl __complete …` printed.
type completed struct {
	Candidates []string
	Directive  int
}

// names are the candidates without their descriptions, sorted.
func (c completed) names() []string {
	var out []string
	for _, s := range c.Candidates {
		name, _, _ := strings.Cut(s, "\t")
		out = append(out, name)
	}
	return slices.Sorted(slices.Values(out))
}

// kubectlComplete runs `kubectl __complete <args>` as a shell's completion
// script does and parses its output.
func kubectlComplete(t *testing.T, dir string, environ []string, args ...string) completed {
	t.Helper()
	out := mustRun(t, dir, environ, "kubectl", append([]string{"__complete"}, args...)...)
	var lines []string
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) == 0 {
		t.Fatalf("kubectl __complete %q printed nothing", args)
	}
	var c completed
	if _, err := fmt.Sscanf(lines[len(lines)-1], ":%d", &c.Directive); err != nil {
		t.Fatalf("kubectl __complete %q: no directive at the end:\n%s", args, out)
	}
	if len(lines) > 1 {
		c.Candidates = lines[:len(lines)-1]
	}
	return c
}

func writeChart(t *testing.T, dir string) {
	t.Helper()
	files := map[string]string{
		"Chart.yaml":               "apiVersion: v2\nname: web\nversion: 0.1.0\n",
		"values.yaml":              "greeting: hello\n",
		"templates/configmap.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\ndata:\n  greeting: {{ .Values.greeting }}\n",
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
}

// TestDistReproducible builds this platform's archive twice, from two
// copies of the committed source (git archive HEAD) in two folders, with the
// same version, commit and entry time: the archives and sums must be the
// same bytes.
func TestDistReproducible(t *testing.T) {
	root := repoRoot(t)
	head, err := git(root, "rev-parse", "HEAD")
	if err != nil {
		t.Skipf("not a git checkout: %v", err)
	}
	epoch, err := git(root, "log", "-1", "--format=%ct", "HEAD")
	if err != nil {
		t.Fatal(err)
	}
	const tag = "v0.0.0-repro"
	var archives, sums [2][]byte
	for i, parent := range []string{t.TempDir(), filepath.Join(t.TempDir(), "a", "longer", "path")} {
		src := filepath.Join(parent, "src")
		mustRun(t, root, nil, "sh", "-ec", `mkdir -p "$1"; git archive --format=tar HEAD | tar -x -C "$1"`, "sh", src)
		out := filepath.Join(parent, "out")
		start := time.Now()
		runDist(t, root, "-root", src, "-version", tag, "-commit", head, "-source-date-epoch", epoch,
			"-platforms", runtime.GOOS+"/"+runtime.GOARCH, "-out", out)
		t.Logf("build %d in %s: %s", i+1, src, time.Since(start).Round(time.Second))
		var err error
		if archives[i], err = os.ReadFile(filepath.Join(out, strings.Replace(hostArchive(), testTag, tag, 1))); err != nil {
			t.Fatal(err)
		}
		if sums[i], err = os.ReadFile(filepath.Join(out, "kubectl-chart_"+tag+"_sha256sums.txt")); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(archives[0], archives[1]) {
		t.Errorf("the two archives differ: %d bytes (sha256 %s) and %d bytes (sha256 %s)",
			len(archives[0]), sum(archives[0]), len(archives[1]), sum(archives[1]))
	}
	if !bytes.Equal(sums[0], sums[1]) {
		t.Errorf("the sums differ:\n%s\n%s", sums[0], sums[1])
	}
	t.Logf("identical: %d bytes, sha256 %s", len(archives[0]), sum(archives[0]))
}

// hostArchive is the archive of this platform for testTag.
// allPlatforms are the platforms of a release.
var allPlatforms = []string{"linux/amd64", "linux/arm64", "darwin/amd64", "darwin/arm64", "windows/amd64"}

// distPlatforms are the platforms TestKrew builds: this one only, unless
// KUBECTL_CHART_DIST_ALL=1 (make test-dist) asks for every platform of a
// release. One platform proves the archive, the manifest and krew's install;
// the other four cost a cross-compile each (~2 min cold on 2 cores).
func distPlatforms() []string {
	if os.Getenv("KUBECTL_CHART_DIST_ALL") == "1" {
		return allPlatforms
	}
	return []string{runtime.GOOS + "/" + runtime.GOARCH}
}

func hostArchive() string {
	ext := ".tar.gz"
	if runtime.GOOS == "windows" {
		ext = ".zip"
	}
	return fmt.Sprintf("kubectl-chart_%s_%s_%s%s", testTag, runtime.GOOS, runtime.GOARCH, ext)
}

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("repository root not found: %v", err)
	}
	return root
}

func goCommand() string {
	if g := os.Getenv("GO"); g != "" {
		return g
	}
	return "go"
}

// runDist runs hack/dist from root, at a lower priority: it compiles for
// minutes when the build cache is cold, while other packages' control
// planes run.
func runDist(t *testing.T, root string, args ...string) string {
	t.Helper()
	argv := append([]string{goCommand(), "run", "./hack/dist"}, args...)
	if nice, err := exec.LookPath("nice"); err == nil {
		argv = append([]string{nice, "-n", "10"}, argv...)
	}
	return mustRun(t, root, nil, argv[0], argv[1:]...)
}

// krewBinaries is the folder with kubectl-krew and validate-krew-manifest:
// $KUBECTL_CHART_KREW_DIR (make krew-binary sets it), else the cache folder
// make uses. The binaries are built there with hack/dist/build-krew.sh when
// missing; the test is skipped when the Go module proxy cannot be reached.
func krewBinaries(t *testing.T, root string) string {
	t.Helper()
	versions, err := readEnvFile(filepath.Join(root, "hack", "dist", "versions.env"))
	if err != nil {
		t.Fatal(err)
	}
	version := versions["KREW_VERSION"]
	dir := os.Getenv("KUBECTL_CHART_KREW_DIR")
	if dir == "" {
		cache, err := os.UserCacheDir()
		if err != nil {
			t.Fatal(err)
		}
		dir = filepath.Join(cache, "kubectl-chart", "krew-"+version)
	}
	if exists(filepath.Join(dir, "kubectl-krew")) && exists(filepath.Join(dir, "validate-krew-manifest")) {
		return dir
	}
	start := time.Now()
	c := exec.Command("sh", filepath.Join(root, "hack", "dist", "build-krew.sh"), version, dir)
	out, err := c.CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() == 3 {
		t.Skipf("skipped: the Go module proxy is unreachable, so krew %s cannot be built:\n%s", version, out)
	}
	if err != nil {
		t.Fatalf("hack/dist/build-krew.sh %s %s: %v\n%s", version, dir, err, out)
	}
	t.Logf("built krew %s into %s in %s", version, dir, time.Since(start).Round(time.Second))
	return dir
}

// kubectlDir is the folder of the test control plane's kubectl.
func kubectlDir(t *testing.T) string {
	t.Helper()
	dir, err := testcluster.AssetsDir()
	if err != nil {
		t.Fatal(err)
	}
	if !exists(filepath.Join(dir, "kubectl")) {
		t.Fatalf("%s/kubectl is missing: run make k8s-binaries", dir)
	}
	return dir
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// environ is this process's environment with vars set (and nothing of
// KUBECONFIG, KREW_* or HOME kept unless set again).
func environ(vars map[string]string) []string {
	var out []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if _, set := vars[k]; set || k == "KUBECONFIG" || strings.HasPrefix(k, "KREW_") {
			continue
		}
		out = append(out, kv)
	}
	for k, v := range vars {
		out = append(out, k+"="+v)
	}
	slices.Sort(out)
	return out
}

// with is a copy of m with k set to v.
func with(m map[string]string, k, v string) map[string]string {
	out := make(map[string]string, len(m)+1)
	for key, val := range m {
		out[key] = val
	}
	out[k] = v
	return out
}

// mustRun runs name with args in dir (environ nil: this process's) and
// returns its stdout; it fails the test with both outputs if it fails. A
// relative name is looked up in environ's PATH.
func mustRun(t *testing.T, dir string, environ []string, name string, args ...string) string {
	t.Helper()
	stdout, _ := run(t, dir, environ, name, args...)
	return stdout
}

// mustRunCombined is mustRun for krew's commands, which report on stderr:
// it returns stdout and stderr.
func mustRunCombined(t *testing.T, dir string, environ []string, name string, args ...string) string {
	t.Helper()
	stdout, stderr := run(t, dir, environ, name, args...)
	return stdout + stderr
}

func run(t *testing.T, dir string, environ []string, name string, args ...string) (string, string) {
	t.Helper()
	if environ != nil && !strings.Contains(name, string(filepath.Separator)) {
		name = lookPath(t, name, environ)
	}
	c := exec.Command(name, args...)
	c.Dir, c.Env = dir, environ
	var stdout, stderr bytes.Buffer
	c.Stdout, c.Stderr = &stdout, &stderr
	if err := c.Run(); err != nil {
		t.Fatalf("%s %s: %v\nstdout:\n%s\nstderr:\n%s", name, strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String(), stderr.String()
}

// lookPath finds name in the PATH of environ.
func lookPath(t *testing.T, name string, environ []string) string {
	t.Helper()
	for _, kv := range environ {
		if p, ok := strings.CutPrefix(kv, "PATH="); ok {
			for _, d := range filepath.SplitList(p) {
				if st, err := os.Stat(filepath.Join(d, name)); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
					return filepath.Join(d, name)
				}
			}
		}
	}
	t.Fatalf("%s not found on the PATH of the command", name)
	return ""
}

func git(dir string, args ...string) (string, error) {
	out, err := exec.Command("git", append([]string{"-C", dir}, args...)...).Output()
	return strings.TrimSpace(string(out)), err
}

func fileSum(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// readEnvFile reads KEY=VALUE lines; blank lines and # comments are skipped.
func readEnvFile(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for line := range strings.Lines(string(b)) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("%s: want KEY=VALUE, got %q", path, line)
		}
		out[k] = v
	}
	return out, nil
}
