package cmd

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// outDirToken in a case's arguments stands for a fresh temporary folder; in
// the golden files it stands for that folder's path.
const outDirToken = "$OUT"

// templateCase is one `kubectl chart template` run. Arguments follow
// "template"; "--namespace ns1" is added unless the case sets a namespace.
// Paths are relative to the repository root, where the test runs.
type templateCase struct {
	name     string
	args     []string
	stdin    string
	wantExit int
	// helmDiffers, when set, says why our error message does not contain
	// Helm's: the Helm check only logs the difference.
	helmDiffers string
}

const (
	charts     = "testdata/charts/"
	precedence = charts + "feat-values-precedence"
	overrides  = precedence + "/overrides/"
)

var templateCases = []templateCase{
	// Values.
	{name: "values-defaults", args: []string{precedence}},
	{name: "values-precedence", args: []string{precedence,
		"-f", overrides + "a.yaml", "-f", overrides + "b.yaml",
		"--set-json", `k3=[1,{"x":true}],k4=1,k5=1,k6=1,k7=1`,
		"--set", "k4=123,k5=1,k6=1,k7=1",
		"--set-string", "k5=123,k6=1,k7=1",
		"--set-file", "k6=" + overrides + "file.txt,k7=" + overrides + "file.txt",
		"--set-literal", "k7=a,b=c",
	}},
	{name: "values-precedence-flag-order", args: []string{precedence,
		// the order of the flags on the line does not matter, only their kind
		"--set-literal", "k7=literal", "--set-file", "k6=" + overrides + "file.txt,k7=" + overrides + "file.txt",
		"--set-string", "k5=string,k6=string,k7=string", "--set", "k4=set,k5=set,k6=set,k7=set",
		"--set-json", `{"k3":"json","k4":"json","k5":"json","k6":"json","k7":"json"}`,
		"-f", overrides + "b.yaml", "-f", overrides + "a.yaml",
	}},
	{name: "values-set-types", args: []string{precedence,
		"--set", "k1=true,k2=012,k3=1.5,k4=,nested.list[1]=x,k5=null,k6=0x1F,k7=1e3"}},
	{name: "values-stdin", args: []string{precedence, "-f", "-"}, stdin: "k1: from stdin\nnested: {fromStdin: true}\n"},
	{name: "values-stdin-between-files", args: []string{precedence,
		"-f", overrides + "a.yaml", "-f", "-", "-f", overrides + "b.yaml"}, stdin: "k1: from stdin\nk2: from stdin\n"},
	{name: "values-multidoc", args: []string{precedence, "-f", overrides + "multidoc.yaml"}},
	{name: "values-multidoc-stdin", args: []string{precedence, "-f", "-"}, stdin: "k1: doc1\n---\nk2: doc2\n---\nk1: doc3\n"},
	{name: "null-defaults", args: []string{charts + "feat-null"}},
	{name: "null-user-file", args: []string{charts + "feat-null", "-f", charts + "feat-null/overrides/nulls.yaml"}},
	{name: "null-user-set", args: []string{charts + "feat-null", "--set", "keep=null,sub.keep=null"}},
	{name: "schema", args: []string{charts + "feat-schema"}},
	{name: "schema-violation", args: []string{charts + "feat-schema", "--set", "replicas=0", "--set", "sub.port=70000"}, wantExit: 1},
	{name: "schema-violation-type", args: []string{charts + "feat-schema", "--set", "sub.port=x"}, wantExit: 1},
	{name: "schema-skip-validation", args: []string{charts + "feat-schema", "--set", "replicas=0", "--set", "sub.port=70000", "--skip-schema-validation"}},
	// A draft-07 schema with its subschemas under $defs (compiled as
	// definitions, see render.defsAsDefinitions); the subchart's schema has
	// an invalid definition nothing references (compiled as written).
	{name: "schema-defs", args: []string{charts + "feat-schema-defs"}},
	{name: "schema-defs-violation-ref", args: []string{charts + "feat-schema-defs", "--set", "image.tag=5"}, wantExit: 1},
	{name: "schema-defs-violation-items", args: []string{charts + "feat-schema-defs", "--set-json", "ports=[80,70000]"}, wantExit: 1},
	{name: "schema-defs-violation-additional", args: []string{charts + "feat-schema-defs", "--set", "extra=1"}, wantExit: 1},
	{name: "schema-defs-violation-sub", args: []string{charts + "feat-schema-defs", "--set", "sub.enabled=x"}, wantExit: 1},

	// Dependencies.
	{name: "apiv1-requirements", args: []string{charts + "feat-apiv1"}},
	{name: "apiv1-condition-off", args: []string{charts + "feat-apiv1", "--set", "dep.enabled=false"}},
	{name: "deps-folder-and-tgz", args: []string{charts + "feat-deps"}},
	{name: "deps-tgz-as-chart", args: []string{charts + "feat-deps/charts/packaged-0.2.0.tgz"}},
	{name: "condition", args: []string{charts + "feat-condition"}},
	{name: "condition-set", args: []string{charts + "feat-condition", "--set", "beta.enabled=true,multi.enabled=false"}},
	{name: "tags", args: []string{charts + "feat-tags"}},
	{name: "tags-set", args: []string{charts + "feat-tags", "--set", "tags.web=true,both.enabled=false"}},
	{name: "alias", args: []string{charts + "feat-alias"}},
	{name: "alias-condition-off", args: []string{charts + "feat-alias", "--set", "replica.enabled=false"}},
	{name: "import-values", args: []string{charts + "feat-import-values"}},
	{name: "import-values-user-set", args: []string{charts + "feat-import-values", "--set", "exporter.settings.top=2,exportedKey=user"}},
	{name: "global", args: []string{charts + "feat-global"}},
	{name: "global-set", args: []string{charts + "feat-global", "--set", "global.region=ap,mid.global.image.registry=other"}},
	{name: "library", args: []string{charts + "feat-library"}},

	// Chart files.
	{name: "helmignore", args: []string{charts + "feat-helmignore"}},
	{name: "kubeversion", args: []string{charts + "feat-kubeversion"}},
	{name: "kubeversion-flag-pass", args: []string{charts + "feat-kubeversion", "--kube-version", "1.25.3"}},
	{name: "kubeversion-flag-fail", args: []string{charts + "feat-kubeversion", "--kube-version", "v1.24.0"}, wantExit: 1},
	{name: "kubeversion-flag-invalid", args: []string{charts + "feat-kubeversion", "--kube-version", "1.x"}, wantExit: 1},
	{name: "crds", args: []string{charts + "feat-crds"}},
	{name: "crds-include", args: []string{charts + "feat-crds", "--include-crds"}},

	// Templates.
	{name: "funcs", args: []string{charts + "feat-funcs"}},
	{name: "files", args: []string{charts + "feat-files"}},
	{name: "capabilities", args: []string{charts + "feat-capabilities"}},
	{name: "capabilities-flags", args: []string{charts + "feat-capabilities",
		"--kube-version", "1.29.4", "--api-versions", "example.com/v1,example.com/v1/Widget", "-a", "other/v2"}},
	{name: "builtins", args: []string{charts + "feat-builtins"}},
	{name: "builtins-upgrade", args: []string{"my-release", charts + "feat-builtins", "--is-upgrade", "-n", "other"}},
	{name: "notes-not-printed", args: []string{charts + "feat-notes"}},
	{name: "notes-rendered", args: []string{charts + "feat-notes", "--set", "failInNotes=true"}, wantExit: 1},

	// Output.
	{name: "hooks", args: []string{charts + "feat-hooks"}},
	{name: "hooks-skip-tests", args: []string{charts + "feat-hooks", "--skip-tests"}},
	{name: "hooks-no-hooks", args: []string{charts + "feat-hooks", "--no-hooks", "--include-crds"}},
	{name: "show-only", args: []string{charts + "feat-deps", "-s", "templates/configmap.yaml"}},
	{name: "show-only-subchart", args: []string{charts + "feat-deps", "--show-only", "charts/folder/templates/service.yaml"}},
	{name: "show-only-glob", args: []string{charts + "feat-deps", "-s", "charts/*/templates/*"}},
	{name: "show-only-several", args: []string{charts + "feat-hooks", "-s", "templates/mixed.yaml", "-s", "templates/tests/*"}},
	{name: "show-only-missing", args: []string{charts + "feat-deps", "-s", "templates/missing.yaml"}, wantExit: 1},
	{name: "output-dir", args: []string{charts + "feat-hooks", "--output-dir", outDirToken, "--include-crds"}},
	{name: "output-dir-release-name", args: []string{"rel", charts + "feat-hooks", "--output-dir", outDirToken, "--release-name", "--skip-tests"}},
	{name: "whitespace", args: []string{charts + "feat-whitespace"}},
	{name: "ordering", args: []string{charts + "feat-ordering"}},

	// Errors.
	{name: "err-chart-yaml", args: []string{charts + "err-chart-yaml"}, wantExit: 1},
	{name: "err-chart-version", args: []string{charts + "err-chart-version"}, wantExit: 1},
	{name: "err-no-chart-yaml", args: []string{charts + "err-no-chart-yaml"}, wantExit: 1},
	{name: "err-chart-not-found", args: []string{charts + "nonexistent"}, wantExit: 1},
	{name: "err-values-yaml", args: []string{charts + "err-values-yaml"}, wantExit: 1},
	{name: "err-values-file-missing", args: []string{precedence, "-f", overrides + "none.yaml"}, wantExit: 1},
	{name: "err-parse", args: []string{charts + "err-parse"}, wantExit: 1},
	{name: "err-fail", args: []string{charts + "err-fail"}, wantExit: 1},
	{name: "err-required", args: []string{charts + "err-required"}, wantExit: 1},
	{name: "err-nil-pointer", args: []string{charts + "err-nil-pointer"}, wantExit: 1},
	{name: "err-missing-dep", args: []string{charts + "err-missing-dep"}, wantExit: 1,
		helmDiffers: "we tell to run `kubectl chart dependency build` where Helm says `helm dependency build`"},
	{name: "err-kubeversion", args: []string{charts + "err-kubeversion"}, wantExit: 1},
	{name: "err-schema", args: []string{charts + "err-schema"}, wantExit: 1},
	{name: "err-schema-defs", args: []string{charts + "err-schema-defs"}, wantExit: 1},
	{name: "err-set-syntax", args: []string{precedence, "--set", "a=b,c"}, wantExit: 1},
	{name: "err-set-index", args: []string{precedence, "--set", "list[x]=1"}, wantExit: 1},
	{name: "err-set-json", args: []string{precedence, "--set-json", "k1={bad"}, wantExit: 1},
	{name: "err-set-file-missing", args: []string{precedence, "--set-file", "k1=" + overrides + "none.txt"}, wantExit: 1},
	{name: "err-release-name", args: []string{"Bad_Name", precedence}, wantExit: 1},
	{name: "err-library", args: []string{charts + "err-library"}, wantExit: 1},
	{name: "err-yaml-output", args: []string{charts + "err-yaml-output"}, wantExit: 1},
	{name: "err-yaml-document", args: []string{charts + "err-yaml-document"}, wantExit: 1,
		helmDiffers: "the decoding error names the Go type the head is read into: Helm's `util.SimpleHead`, ours `render.SimpleHead`"},
	{name: "err-include-recursion", args: []string{charts + "err-include-recursion"}, wantExit: 1},

	// Helm's naming and debugging flags.
	{name: "err-yaml-output-debug", args: []string{charts + "err-yaml-output", "--debug"}, wantExit: 1},
	{name: "name-template", args: []string{"--name-template", `{{ "WEB" | lower }}-{{ add 1 2 }}`, precedence}},
	{name: "generate-name", args: []string{"-g", precedence}},
	{name: "err-name-template-fail", args: []string{"--name-template", `{{ fail "no name" }}`, precedence}, wantExit: 1},
	{name: "err-generate-name-and-name", args: []string{"-g", "web", precedence}, wantExit: 1},
	{name: "err-name-template-and-name", args: []string{"--name-template", "x", "web", precedence}, wantExit: 1},
	{name: "err-three-args", args: []string{"web", precedence, "extra"}, wantExit: 1},
	{name: "err-dry-run-server", args: []string{"web", precedence, "--dry-run=server"}, wantExit: 1,
		helmDiffers: "helm template --dry-run=server renders against the cluster (lookup, capabilities); kubectl chart template never talks to one and refuses it"},
	{name: "install-flags-no-effect", args: []string{"web", precedence, "--wait", "--dry-run", "--labels", "a=b",
		"--create-namespace", "--skip-crds", "--server-side", "--take-ownership", "--description", "d"}},
}

// TestTemplate runs `kubectl chart template` in-process on the charts of
// testdata/charts and compares its output with testdata/golden/template.
// With HELM set to a Helm v4.3.1 binary, it also runs `helm template` with
// the same arguments: output must be identical, and for errors Helm must
// fail too, with its message contained in ours.
func TestTemplate(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(root)
	// No kubeconfig of the host: the namespace comes from the flags.
	t.Setenv("KUBECONFIG", filepath.Join(t.TempDir(), "no-kubeconfig"))
	helm := os.Getenv("HELM")
	if helm == "" {
		t.Log("HELM is not set: comparing with the golden files only")
	}
	helmEnv := isolatedHelmEnv(t)

	verdicts := map[helmVerdict]int{}
	for _, tc := range templateCases {
		t.Run(tc.name, func(t *testing.T) {
			outDir := t.TempDir()
			args := caseArgs(tc.args, outDir)

			got, exit := runTemplate(t, args, tc.stdin)
			if exit != tc.wantExit {
				t.Errorf("exit code %d, want %d; output:\n%s", exit, tc.wantExit, got.text())
			}
			gotText := normalize(got.text(), got.err == nil, outDir)
			compareGolden(t, filepath.Join("testdata", "golden", "template", tc.name+".golden"), gotText)

			if helm == "" {
				return
			}
			verdicts[compareWithHelm(t, helm, helmEnv, tc, got, gotText)]++
		})
	}
	if helm != "" {
		t.Logf("%d cases: %d identical to helm template (%d outputs byte for byte, %d errors word for word), %d errors containing Helm's, %d known differences, %d failures",
			len(templateCases), verdicts[sameOutput]+verdicts[sameError], verdicts[sameOutput], verdicts[sameError],
			verdicts[containsError], verdicts[knownDifference], verdicts[differs])
	}
}

// templateOutput is what one run printed: stdout, and the error main would
// print.
type templateOutput struct {
	stdout string
	err    error
}

func (o templateOutput) text() string {
	if o.err == nil {
		return o.stdout
	}
	return o.stdout + fmt.Sprintf("Error: %v\n", o.err)
}

// normalize appends the files written under outDir after a success and
// replaces outDir's path with outDirToken.
func normalize(text string, success bool, outDir string) string {
	if success {
		text += listFiles(outDir)
	}
	text = strings.ReplaceAll(text, outDir, outDirToken)
	// Errors may name absolute paths inside the repository.
	if wd, err := os.Getwd(); err == nil {
		text = strings.ReplaceAll(text, wd+string(os.PathSeparator), "<repo>/")
	}
	return text
}

func caseArgs(args []string, outDir string) []string {
	out := []string{"template"}
	for _, a := range args {
		out = append(out, strings.ReplaceAll(a, outDirToken, outDir))
	}
	if !slices.ContainsFunc(args, func(a string) bool { return a == "-n" || a == "--namespace" }) {
		out = append(out, "--namespace", "ns1")
	}
	return out
}

// runTemplate runs the command tree in-process and fails the test on a panic.
func runTemplate(t *testing.T, args []string, stdin string) (out templateOutput, exit int) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	streams := genericiooptions.IOStreams{In: strings.NewReader(stdin), Out: &stdout, ErrOut: &stderr}
	cmd := NewCmdRoot(streams)
	cmd.SetArgs(args)
	cmd.SetOut(&stdout)
	cmd.SetErr(&stderr)
	func() {
		defer func() {
			if r := recover(); r != nil {
				t.Fatalf("kubectl chart %s panicked: %v\n%s", strings.Join(args, " "), r, debug.Stack())
			}
		}()
		out.err = cmd.ExecuteContext(t.Context())
	}()
	out.stdout = stdout.String()
	if out.err != nil {
		exit = ExitCode(out.err)
	}
	return out, exit
}

// listFiles appends, in path order, every file written under dir.
func listFiles(dir string) string {
	var paths []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			paths = append(paths, p)
		}
		return err
	})
	if err != nil {
		return fmt.Sprintf("=== error %v\n", err)
	}
	sort.Strings(paths)
	var b strings.Builder
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			data = []byte(err.Error())
		}
		rel, _ := filepath.Rel(dir, p)
		fmt.Fprintf(&b, "=== file %s/%s\n%s", outDirToken, filepath.ToSlash(rel), data)
	}
	return b.String()
}

func compareGolden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
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

// isolatedHelmEnv keeps Helm away from the user's repositories, plugins and
// cluster.
func isolatedHelmEnv(t *testing.T) []string {
	home := t.TempDir()
	env := []string{
		"HOME=" + home,
		"PATH=" + os.Getenv("PATH"),
		"HELM_CACHE_HOME=" + filepath.Join(home, "cache"),
		"HELM_CONFIG_HOME=" + filepath.Join(home, "config"),
		"HELM_DATA_HOME=" + filepath.Join(home, "data"),
		"KUBECONFIG=" + filepath.Join(home, "no-kubeconfig"),
	}
	if tz, ok := os.LookupEnv("TZ"); ok {
		env = append(env, "TZ="+tz)
	}
	return env
}

// helmVerdict is how a case compares with helm template.
type helmVerdict int

const (
	differs         helmVerdict = iota
	sameOutput                  // success, stdout (and files) byte for byte
	sameError                   // both fail, Helm's message is ours word for word
	containsError               // both fail, Helm's first line is within ours
	knownDifference             // both fail, messages differ as helmDiffers says
)

// compareWithHelm runs `helm template` with the case's arguments: a success
// must print the same, a failure must fail with Helm's first error line in
// ours.
func compareWithHelm(t *testing.T, helm string, env []string, tc templateCase, ours templateOutput, oursText string) helmVerdict {
	t.Helper()
	outDir := t.TempDir()
	args := caseArgs(tc.args, outDir)
	cmd := exec.Command(helm, args...)
	cmd.Env = env
	cmd.Stdin = strings.NewReader(tc.stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	var exitErr *exec.ExitError
	if runErr != nil && !errors.As(runErr, &exitErr) {
		t.Fatalf("running %s: %v", helm, runErr)
	}

	if tc.wantExit == 0 {
		if runErr != nil {
			t.Errorf("helm template failed where we succeed: %v\n%s", runErr, stderr.String())
			return differs
		}
		helmText := normalize(stdout.String(), true, outDir)
		if diff := cmp.Diff(helmText, oursText); diff != "" {
			t.Errorf("output differs from helm template (-helm +ours):\n%s", diff)
			return differs
		}
		return sameOutput
	}

	if runErr == nil {
		t.Errorf("helm template succeeds where we fail with %v", ours.err)
		return differs
	}
	helmMsg, helmFull := helmError(stderr.String())
	if ours.err == nil || !strings.Contains(ours.err.Error(), helmMsg) {
		if tc.helmDiffers != "" {
			t.Logf("known difference (%s):\nhelm: %s\nours: %v", tc.helmDiffers, helmMsg, ours.err)
			return knownDifference
		}
		t.Errorf("our error does not contain Helm's:\nhelm: %s\nours: %v", helmMsg, ours.err)
		return differs
	}
	if tc.helmDiffers != "" {
		t.Errorf("helmDiffers is set, but our error contains Helm's %q: drop it", helmMsg)
	}
	if ours.err.Error() == helmFull {
		return sameError
	}
	t.Logf("our error adds to Helm's:\nhelm: %s\nours: %v", helmFull, ours.err)
	return containsError
}

// helmError reads Helm's stderr: the first line of its error, and the whole
// error without the hint `helm template` adds after a render failure.
func helmError(stderr string) (first, full string) {
	i := strings.Index(stderr, "Error: ")
	if i < 0 || (i > 0 && stderr[i-1] != '\n') {
		s := strings.TrimSpace(stderr)
		return s, s
	}
	full = strings.TrimSuffix(stderr[i+len("Error: "):], "\n")
	full = strings.TrimSuffix(full, "\n\nUse --debug flag to render out invalid YAML")
	first, _, _ = strings.Cut(full, "\n")
	return first, full
}
