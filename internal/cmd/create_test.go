package cmd

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-chart/kubectl-chart/pkg/chart/packager"
)

// createCase is one `kubectl chart create` run, made by us and by Helm in
// two working folders prepared alike. In args, $STARTER_DIR and
// $STARTER_TGZ are the absolute paths of the starter "web" as a folder and
// as an archive; in wantOut and wantErr, $DIR is the working folder and
// $DATA Helm's data folder.
type createCase struct {
	name string
	args []string
	// setup prepares the working folder, the same for both tools.
	setup func(t *testing.T, dir string)
	// chart is the created chart's folder, for a run that succeeds: it is
	// rendered and linted, and its files listed in the golden file
	// testdata/golden/create/<name>.golden.
	chart string
	// lintErr, when set, is the error `lint` must report on the created
	// chart (as `helm lint` does); otherwise lint must pass.
	lintErr string
	wantOut string
	wantErr string
}

// starterLintErr is what lint says of a chart made from the starter "web":
// its subchart is copied, but the new Chart.yaml does not list it (Helm
// writes a Chart.yaml of its own, without the starter's dependencies).
const starterLintErr = "chart metadata is missing these dependencies: sub"

var createCases = []createCase{
	{name: "plain", args: []string{"mychart"}, chart: "mychart", wantOut: "Creating mychart\n"},
	{name: "path", args: []string{"charts/mychart"}, setup: mkdirs("charts"), chart: "charts/mychart", wantOut: "Creating charts/mychart\n"},
	{name: "absolute-path", args: []string{"$DIR/charts/mychart"}, setup: mkdirs("charts"), chart: "charts/mychart", wantOut: "Creating $DIR/charts/mychart\n"},
	{name: "overwrite", args: []string{"mychart"}, setup: writeFiles(map[string]string{
		"mychart/Chart.yaml": "apiVersion: v2\nname: old\nversion: 9.9.9\n",
		"mychart/keep.txt":   "left alone\n",
	}), chart: "mychart", wantOut: "Creating mychart\n" +
		`WARNING: File "$DIR/mychart/Chart.yaml" already exists. Overwriting.` + "\n"},
	{name: "starter-name", args: []string{"mychart", "--starter", "web"}, chart: "mychart", lintErr: starterLintErr, wantOut: "Creating mychart\n"},
	{name: "starter-name-new-parent", args: []string{"-p", "web", "new/mychart"}, chart: "new/mychart", lintErr: starterLintErr, wantOut: "Creating new/mychart\n"},
	{name: "starter-dir", args: []string{"mychart", "-p", "$STARTER_DIR"}, chart: "mychart", lintErr: starterLintErr, wantOut: "Creating mychart\n"},
	{name: "chart-api-version-v2", args: []string{"mychart", "--chart-api-version", "v2"}, chart: "mychart", wantOut: "Creating mychart\n"},
	{name: "starter-archive", args: []string{"mychart", "-p", "$STARTER_TGZ"}, chart: "mychart", lintErr: starterLintErr, wantOut: "Creating mychart\n"},

	{name: "err-existing-file", args: []string{"mychart"}, setup: writeFiles(map[string]string{"mychart": "a file\n"}),
		wantOut: "Creating mychart\n", wantErr: "file $DIR/mychart already exists and is not a directory"},
	{name: "err-parent-is-file", args: []string{"notes/mychart"}, setup: writeFiles(map[string]string{"notes": "a file\n"}),
		wantOut: "Creating notes/mychart\n", wantErr: "no such directory $DIR/notes"},
	{name: "err-bad-name", args: []string{"my$chart"},
		wantOut: "Creating my$chart\n", wantErr: `chart name must match the regular expression "^[a-zA-Z0-9._-]+$"`},
	{name: "err-long-name", args: []string{strings.Repeat("a", 251)},
		wantOut: "Creating " + strings.Repeat("a", 251) + "\n", wantErr: "chart name must be between 1 and 250 characters"},
	{name: "err-no-parent", args: []string{"nowhere/mychart"},
		wantOut: "Creating nowhere/mychart\n", wantErr: "stat $DIR/nowhere: no such file or directory"},
	{name: "err-starter-existing-file", args: []string{"mychart", "-p", "web"}, setup: writeFiles(map[string]string{"mychart": "a file\n"}),
		wantOut: "Creating mychart\n", wantErr: "file mychart already exists and is not a directory"},
	{name: "err-starter-missing", args: []string{"mychart", "-p", "nope"},
		wantOut: "Creating mychart\n", wantErr: "could not load $DATA/starters/nope: stat $DATA/starters/nope: no such file or directory"},
	{name: "err-starter-relative-path", args: []string{"mychart", "-p", "./local"}, setup: writeFiles(map[string]string{"local/Chart.yaml": "apiVersion: v2\nname: local\nversion: 1.0.0\n"}),
		wantOut: "Creating mychart\n", wantErr: "could not load $DATA/starters/local: stat $DATA/starters/local: no such file or directory"},
	{name: "err-chart-api-version-v3", args: []string{"mychart", "--chart-api-version", "v3"}, wantOut: "Creating mychart\n",
		wantErr: "this feature has been marked as experimental and is not enabled by default. Please set HELM_EXPERIMENTAL_CHART_V3=1 in your environment to use this feature"},
	{name: "err-chart-api-version-unknown", args: []string{"mychart", "--chart-api-version", "v9"}, wantOut: "Creating mychart\n",
		wantErr: "unsupported chart API version: v9 (supported: v2, v3)"},
	{name: "err-starter-not-a-chart", args: []string{"mychart", "-p", "empty"},
		wantOut: "Creating mychart\n", wantErr: "could not load $DATA/starters/empty: Chart.yaml file is missing"},
}

// TestCreate creates charts with `kubectl chart create` and checks the
// files, their modes and the output. The oracle is Helm itself when HELM is
// set: `helm create` runs with the same arguments in a folder prepared
// alike, and every file (name, mode, bytes), the output and the error must
// be the same; the created chart then renders and lints as `helm template`
// and `helm lint` do. The goldens (the created files with their modes, sizes
// and digests) were written from our output with -update, and checked
// against Helm by this same test; without HELM they alone stand for Helm.
func TestCreate(t *testing.T) {
	root := atRepoRoot(t)
	helm := helmBinary(t)
	umask := processUmask(t)
	data := t.TempDir()
	starterDir, starterTgz := writeStarter(t, filepath.Join(data, "starters"))
	if err := os.Mkdir(filepath.Join(data, "starters", "empty"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HELM_DATA_HOME", data)
	t.Setenv(chartV3Gate, "") // as for Helm, run without it

	for _, tc := range createCases {
		t.Run(tc.name, func(t *testing.T) {
			ours, theirs := t.TempDir(), t.TempDir()
			if tc.setup != nil {
				tc.setup(t, ours)
				tc.setup(t, theirs)
			}
			argsIn := func(dir string) []string {
				r := strings.NewReplacer("$STARTER_DIR", starterDir, "$STARTER_TGZ", starterTgz, "$DIR", dir)
				args := make([]string, len(tc.args))
				for i, a := range tc.args {
					args[i] = r.Replace(a)
				}
				return args
			}
			t.Chdir(ours)
			got := runChart(t, append([]string{"create"}, argsIn(ours)...), "")
			expand := strings.NewReplacer("$DIR", ours, "$DATA", data).Replace

			if diff := cmp.Diff(expand(tc.wantOut), got.stdout); diff != "" {
				t.Errorf("output (-want +got):\n%s", diff)
			}
			if tc.wantErr == "" {
				if got.err != nil {
					t.Fatalf("kubectl chart create: %v", got.err)
				}
			} else {
				if got.exit() != 1 {
					t.Fatalf("exit %d, want 1 (error %q)", got.exit(), tc.wantErr)
				}
				if diff := cmp.Diff(expand(tc.wantErr), got.err.Error()); diff != "" {
					t.Errorf("error (-want +got):\n%s", diff)
				}
			}
			tree := readTree(t, ours)
			if tc.chart != "" {
				checkGolden(t, filepath.Join(root, "testdata", "golden", "create", tc.name+".golden"), treeListing(tree, umask))
				checkCreatedChart(t, helm, ours, tc.chart, tc.lintErr)
			}

			if helm == "" {
				return
			}
			h := runHelmCreate(t, helm, theirs, data, argsIn(theirs)...)
			if diff := cmp.Diff(strings.ReplaceAll(h.text(), theirs, ours), strings.ReplaceAll(got.text(), "kubectl chart", "helm")); diff != "" {
				t.Errorf("output differs from helm create (-helm +ours):\n%s", diff)
			}
			if diff := cmp.Diff(readTree(t, theirs), tree); diff != "" {
				t.Errorf("created files differ from helm create's (-helm +ours):\n%s", diff)
			}
		})
	}
}

// With Helm's experimental chart API v3 enabled, Helm writes a v3 chart;
// kubectl chart, which reads and writes v1 and v2 charts only, refuses.
func TestCreateChartV3(t *testing.T) {
	t.Chdir(t.TempDir())
	t.Setenv(chartV3Gate, "1")
	got := runChart(t, []string{"create", "mychart", "--chart-api-version", "v3"}, "")
	want := "Creating mychart\nError: chart API version v3 is not supported: kubectl chart writes charts of API version v2\n"
	if diff := cmp.Diff(want, got.text()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if _, err := os.Stat("mychart"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("mychart after the error: %v, want nothing written", err)
	}
}

// checkCreatedChart renders and lints the chart created in dir: rendering
// must succeed, lint must pass or report lintErr, and both must print what
// Helm prints for the same chart, run in the same folder.
func checkCreatedChart(t *testing.T, helm, dir, chartPath, lintErr string) {
	t.Helper()
	for _, args := range [][]string{
		{"template", "rel", chartPath, "-n", "ns1"},
		{"lint", chartPath},
	} {
		got := runChart(t, args, "")
		switch {
		case args[0] == "lint" && lintErr != "":
			if got.err == nil || !strings.Contains(got.stdout, lintErr) {
				t.Errorf("kubectl chart %s: %v, want it to report %q:\n%s", strings.Join(args, " "), got.err, lintErr, got.stdout)
			}
		case got.err != nil:
			t.Errorf("kubectl chart %s: %v\n%s", strings.Join(args, " "), got.err, got.stdout)
			continue
		}
		if helm == "" {
			continue
		}
		h := runHelm(t, helm, dir, args...)
		if diff := cmp.Diff(h.text(), got.text()); diff != "" {
			t.Errorf("kubectl chart %s differs from helm (-helm +ours):\n%s", strings.Join(args, " "), diff)
		}
	}
}

// runHelmCreate runs `helm create` of the Helm oracle in dir, with
// HELM_DATA_HOME data (where --starter names are looked up); runHelm gives
// Helm a data folder of its own.
func runHelmCreate(t *testing.T, helm, dir, data string, args ...string) chartRun {
	t.Helper()
	return runHelmEnv(t, helm, dir, []string{"HELM_DATA_HOME=" + data}, append([]string{"create"}, args...)...)
}

// TestCreateInstall installs the chart `kubectl chart create` writes on the
// test cluster, waits for its nginx Deployment to be available (the kwok
// node runs its Pod), and uninstalls it.
func TestCreateInstall(t *testing.T) {
	c := newReleaseCLI(t)
	dir := filepath.Join(t.TempDir(), "mychart")
	if got := runChart(t, []string{"create", dir}, ""); got.err != nil {
		t.Fatalf("kubectl chart create: %v", got.err)
	}
	c.ok("install", "web", dir, "--wait", "--timeout", "2m")

	deployments := env.Clientset().AppsV1().Deployments(c.ns)
	d, err := deployments.Get(t.Context(), "web-mychart", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if d.Status.AvailableReplicas != 1 || !deploymentAvailable(d) {
		t.Errorf("Deployment web-mychart after install --wait: %d available replicas, conditions %+v", d.Status.AvailableReplicas, d.Status.Conditions)
	}
	if got, want := d.Spec.Template.Spec.Containers[0].Image, "nginx:1.16.0"; got != want {
		t.Errorf("image %q, want %q", got, want)
	}
	for _, get := range []func() error{
		func() error {
			_, err := env.Clientset().CoreV1().Services(c.ns).Get(t.Context(), "web-mychart", metav1.GetOptions{})
			return err
		},
		func() error {
			_, err := env.Clientset().CoreV1().ServiceAccounts(c.ns).Get(t.Context(), "web-mychart", metav1.GetOptions{})
			return err
		},
	} {
		if err := get(); err != nil {
			t.Error(err)
		}
	}

	c.ok("uninstall", "web", "--wait", "--timeout", "2m")
	if _, err := deployments.Get(t.Context(), "web-mychart", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("Deployment web-mychart after uninstall --wait: %v, want not found", err)
	}
	if rows := c.run("history", "web"); rows.err == nil {
		t.Errorf("history of web after uninstall succeeded:\n%s", rows.stdout)
	}
}

func deploymentAvailable(d *appsv1.Deployment) bool {
	for _, c := range d.Status.Conditions {
		if c.Type == appsv1.DeploymentAvailable {
			return c.Status == "True"
		}
	}
	return false
}

// mkdirs makes folders in the working folder.
func mkdirs(names ...string) func(*testing.T, string) {
	return func(t *testing.T, dir string) {
		t.Helper()
		for _, n := range names {
			if err := os.MkdirAll(filepath.Join(dir, n), 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// writeFiles writes files (slash-separated names) into the working folder.
func writeFiles(files map[string]string) func(*testing.T, string) {
	return func(t *testing.T, dir string) {
		t.Helper()
		for name, content := range files {
			p := filepath.Join(dir, filepath.FromSlash(name))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// starterFiles are the starter chart "web": a Chart.yaml and Chart.lock of
// its own (replaced and dropped), <CHARTNAME> in templates, values.yaml and
// a plain file (replaced in the first two only), a schema, a file its
// .helmignore leaves out, and a subchart folder (written as an archive).
var starterFiles = map[string]string{
	"Chart.yaml": `apiVersion: v2
name: web-starter
description: A starter
version: 3.2.1
appVersion: "7"
icon: https://example.com/icon.png
dependencies:
  - name: sub
    version: 0.2.0
`,
	"Chart.lock": `dependencies:
- name: sub
  repository: ""
  version: 0.2.0
digest: sha256:0000000000000000000000000000000000000000000000000000000000000000
generated: "2024-05-06T07:08:09Z"
`,
	"values.yaml": `# Default values for <CHARTNAME>.
greeting: hello from <CHARTNAME>   # kept as written
replicaCount: 2
nameOverride: ""
`,
	"values.schema.json": `{"type": "object", "properties": {"replicaCount": {"type": "integer"}}}
`,
	".helmignore": "*.bak\n",
	"notes.bak":   "left out\n",
	"README.md":   "# <CHARTNAME>\n\nMade from the web starter.\n",
	"templates/_helpers.tpl": `{{- define "<CHARTNAME>.fullname" -}}
{{- printf "%s-%s" .Release.Name (default .Chart.Name .Values.nameOverride) | trunc 63 | trimSuffix "-" }}
{{- end }}
`,
	"templates/configmap.yaml": `apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ include "<CHARTNAME>.fullname" . }}
  labels:
    app.kubernetes.io/name: <CHARTNAME>
data:
  greeting: {{ .Values.greeting | quote }}
  replicas: {{ .Values.replicaCount | quote }}
`,
	"templates/NOTES.txt":       "Installed <CHARTNAME> as {{ .Release.Name }}.\n",
	"templates/tests/test.yaml": "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {{ include \"<CHARTNAME>.fullname\" . }}-test\n  annotations:\n    \"helm.sh/hook\": test\nspec:\n  containers:\n    - name: t\n      image: busybox\n  restartPolicy: Never\n",
	"charts/sub/Chart.yaml":     "apiVersion: v2\nname: sub\nversion: 0.2.0\n",
	"charts/sub/values.yaml":    "color: <CHARTNAME>\n",
	"charts/sub/templates/cm.yaml": `apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-sub
data:
  color: {{ .Values.color | quote }}
`,
}

// writeStarter writes the starter "web" into starters, every file dated
// alike so that the subchart archive created from it is the same on every
// run, and packages it beside as web-3.2.1.tgz. It returns both paths.
func writeStarter(t *testing.T, starters string) (dir, tgz string) {
	t.Helper()
	dir = filepath.Join(starters, "web")
	writeFiles(starterFiles)(t, dir)
	stamp := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	for name := range starterFiles {
		if err := os.Chtimes(filepath.Join(dir, filepath.FromSlash(name)), stamp, stamp); err != nil {
			t.Fatal(err)
		}
	}
	tgz, err := packager.PackageDir(dir, starters)
	if err != nil {
		t.Fatal(err)
	}
	return dir, tgz
}

// treeEntry is one file or folder of a created tree.
type treeEntry struct {
	Mode fs.FileMode
	// Data is a file's content.
	Data string
}

// readTree is every file and folder under root, by slash-separated path.
func readTree(t *testing.T, root string) map[string]treeEntry {
	t.Helper()
	tree := map[string]treeEntry{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == root {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		e := treeEntry{Mode: fi.Mode()}
		if fi.Mode().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			e.Data = string(b)
		}
		tree[filepath.ToSlash(rel)] = e
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return tree
}

// treeListing lists a tree for a golden file: mode, size, the start of the
// SHA-256 digest and path. A mode that is Helm's (0644 for files, 0755 for
// folders) under the process umask is shown as Helm asks for it, so that
// the golden does not depend on the umask.
func treeListing(tree map[string]treeEntry, umask fs.FileMode) string {
	names := make([]string, 0, len(tree))
	for n := range tree {
		names = append(names, n)
	}
	slices.Sort(names)
	var b strings.Builder
	for _, n := range names {
		e := tree[n]
		want := fs.FileMode(0o644)
		if e.Mode.IsDir() {
			want = 0o755
		}
		mode := e.Mode
		if e.Mode.Perm() == want&^umask {
			mode = e.Mode.Type() | want
		}
		if e.Mode.IsDir() {
			fmt.Fprintf(&b, "%s %6s %12s %s/\n", mode, "-", "-", n)
			continue
		}
		fmt.Fprintf(&b, "%s %6d %.12x %s\n", mode, len(e.Data), sha256.Sum256([]byte(e.Data)), n)
	}
	return b.String()
}

// processUmask is the umask files are created with, found by creating one.
func processUmask(t *testing.T) fs.FileMode {
	t.Helper()
	p := filepath.Join(t.TempDir(), "umask")
	f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY, 0o777)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := f.Stat()
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	return 0o777 &^ fi.Mode().Perm()
}
