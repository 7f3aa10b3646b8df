package cmd

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-chart/kubectl-chart/pkg/ownership"
)

// postRenderScript is the post-renderer of the template tests, as a Helm 4
// plugin and as a Helm 3 executable: it renames every object whose
// metadata.name is plain (pr-<name>) and appends a ConfigMap holding its
// arguments. Enough to see what it is given, in which form, with which
// arguments, and that its output is what is printed.
const postRenderScript = `#!/bin/sh
sed -e 's/^  name: \([a-z0-9.-]*\)$/  name: pr-\1/'
printf -- '---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: post-rendered\ndata:\n  args: "%s"\n' "$*"
`

// postRenderFixture is the plugin folders and executables of the tests.
type postRenderFixture struct {
	// plugins is a Helm plugin folder: relabel (postRenderScript),
	// kustomize (hack/kustomize-postrenderer), fail (exits 3 with "boom"
	// on stderr), empty (prints nothing), badyaml (prints invalid YAML)
	// and broken (a plugin.yaml Helm 4 skips with a warning).
	plugins string
	// dup is a plugin folder where two plugins claim the name relabel.
	dup string
	// bin holds the executables: postrender.sh (postRenderScript),
	// relabel3 (the same, for a lookup in PATH), kustomize-postrenderer,
	// fail.sh and empty.sh. It is put first in PATH.
	bin string
}

// pluginFile is a postrenderer/v1 subprocess plugin running command with
// args (YAML flow sequence items).
func pluginFile(name, command string, args ...string) string {
	s := "apiVersion: v1\nname: " + name + "\ntype: postrenderer/v1\nruntime: subprocess\nversion: 0.1.0\n" +
		"runtimeConfig:\n  platformCommand:\n    - command: " + command + "\n"
	if len(args) > 0 {
		s += "      args: [" + strings.Join(args, ", ") + "]\n"
	}
	return s
}

func writeTestFile(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
}

// buildKustomizePostRenderer builds hack/kustomize-postrenderer (kustomize's
// own build code) into dir with `go build` (fast once the build cache holds
// it) and returns its path.
func buildKustomizePostRenderer(t *testing.T, root, dir string) string {
	t.Helper()
	out := filepath.Join(dir, "kustomize-postrenderer")
	cmd := exec.Command("go", "build", "-o", out, "./hack/kustomize-postrenderer")
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./hack/kustomize-postrenderer: %v\n%s", err, b)
	}
	return out
}

// newPostRenderFixture writes the plugins and executables, and puts bin
// first in PATH and plugins in HELM_PLUGINS for the test.
func newPostRenderFixture(t *testing.T, root string) postRenderFixture {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("the post-renderers of these tests are shell scripts")
	}
	dir := t.TempDir()
	f := postRenderFixture{plugins: filepath.Join(dir, "plugins"), dup: filepath.Join(dir, "dup"), bin: filepath.Join(dir, "bin")}
	kustomize := buildKustomizePostRenderer(t, root, f.bin)

	writeTestFile(t, filepath.Join(f.plugins, "relabel", "postrender.sh"), postRenderScript, 0o755)
	writeTestFile(t, filepath.Join(f.plugins, "relabel", "plugin.yaml"), pluginFile("relabel", "$HELM_PLUGIN_DIR/postrender.sh"), 0o644)
	writeTestFile(t, filepath.Join(f.plugins, "kustomize", "plugin.yaml"), pluginFile("kustomize", kustomize, `"-label=via=plugin"`), 0o644)
	writeTestFile(t, filepath.Join(f.plugins, "fail", "plugin.yaml"), pluginFile("fail", "sh", `"-c"`, `"cat >/dev/null; echo boom >&2; exit 3"`), 0o644)
	writeTestFile(t, filepath.Join(f.plugins, "empty", "plugin.yaml"), pluginFile("empty", "sh", `"-c"`, `"cat >/dev/null"`), 0o644)
	writeTestFile(t, filepath.Join(f.plugins, "badyaml", "plugin.yaml"), pluginFile("badyaml", "sh", `"-c"`, `"cat >/dev/null; echo 'a: ['"`), 0o644)
	writeTestFile(t, filepath.Join(f.plugins, "broken", "plugin.yaml"), "apiVersion: v1\nname: broken\ntype: postrenderer/v1\n", 0o644)
	for _, d := range []string{"a", "b"} {
		writeTestFile(t, filepath.Join(f.dup, d, "plugin.yaml"), pluginFile("relabel", "cat"), 0o644)
	}
	writeTestFile(t, filepath.Join(f.bin, "postrender.sh"), postRenderScript, 0o755)
	writeTestFile(t, filepath.Join(f.bin, "relabel3"), postRenderScript, 0o755)
	writeTestFile(t, filepath.Join(f.bin, "fail.sh"), "#!/bin/sh\necho boom >&2\nexit 3\n", 0o755)
	writeTestFile(t, filepath.Join(f.bin, "empty.sh"), "#!/bin/sh\ncat >/dev/null\n", 0o755)

	t.Setenv("PATH", f.bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	t.Setenv("HELM_PLUGINS", f.plugins)
	return f
}

// postRenderCase is one `template` run with a post-renderer, compared with
// the Helm it follows.
type postRenderCase struct {
	name string
	// helm3 compares with Helm 3 ($HELM3: the post-renderer is an
	// executable); otherwise with Helm 4 ($HELM: a plugin).
	helm3 bool
	// args follow `template`; {chart}, {corpus}, {plugins}, {dup}, {bin}
	// and {out} are replaced.
	args []string
	// pluginPath replaces HELM_PLUGINS ({dup}).
	pluginPath string
	// corpus cases need $KUBECTL_CHART_CORPUS; they have no golden file.
	corpus bool
	// helm3Whitespace compares with Helm 3 once every document is trimmed
	// as Helm 3 prints it: Helm 4 keeps the newline that ends a template.
	// Set where our Helm 4 rendering shows outside what the post-renderer
	// returned (hooks, --output-dir files), which a Helm 3 post-renderer is
	// not given.
	helm3Whitespace bool

	// wantErr is our error ({…} replaced); "" for a success.
	wantErr string
	// helmAdds says what our error adds to Helm's, which it contains; ""
	// when they are the same, word for word.
	helmAdds string
	// helmSucceeds says why Helm succeeds where we fail.
	helmSucceeds string
	// wantStderr is a line our stderr must hold.
	wantStderr string
}

var postRenderCases = []postRenderCase{
	// Helm 4: a plugin is given every template, hooks included, each
	// document annotated with its template; its output is split back.
	{name: "plugin", args: []string{"{chart}", "--post-renderer", "relabel", "--post-renderer-args", "a1", "--post-renderer-args", "b 2"},
		wantStderr: `level=WARN msg="failed to load plugin {plugins}/broken/plugin.yaml (ignoring): failed to load plugin \"{plugins}/broken\": plugin ` + "`version`" + ` is required"`},
	{name: "plugin-crds-skip-tests", args: []string{"{chart}", "--post-renderer", "relabel", "--include-crds", "--skip-tests"}},
	{name: "plugin-show-only", args: []string{"{chart}", "--post-renderer", "relabel", "-s", "templates/app.yaml"}},
	{name: "plugin-output-dir", args: []string{"{chart}", "--post-renderer", "relabel", "--output-dir", "{out}"}},
	{name: "plugin-kustomize", args: []string{"{chart}", "--post-renderer", "kustomize", "--post-renderer-args=-name-prefix=kz-", "--post-renderer-args=-label=team=web"}},
	{name: "corpus-plugin", corpus: true, args: []string{"{corpus}/ingress-nginx/ingress-nginx", "--post-renderer", "relabel"}},
	{name: "corpus-plugin-kustomize", corpus: true, args: []string{"{corpus}/ingress-nginx/ingress-nginx", "--post-renderer", "kustomize", "--post-renderer-args=-name-prefix=kz-"}},
	{name: "plugin-err-not-found", args: []string{"{chart}", "--post-renderer", "nope"},
		wantErr:  `invalid argument "nope" for "--post-renderer" flag: plugin: {Name:nope Type:postrenderer/v1} not found in {plugins}, and unable to find binary at nope: exec: "nope": executable file not found in $PATH`,
		helmAdds: "where it looked, and that there is no such executable either"},
	{name: "plugin-err-exit", args: []string{"{chart}", "--post-renderer", "fail"},
		wantErr:  "error while running post render on files: failed to invoke post-renderer plugin \"fail\": plugin \"fail\" exited with error (exit status 3); error output:\nboom",
		helmAdds: "the exit status and the plugin's stderr, which Helm only logs at debug level"},
	{name: "plugin-err-empty", args: []string{"{chart}", "--post-renderer", "empty"},
		wantErr: `error while running post render on files: post-renderer "empty" produced empty output`},
	{name: "plugin-err-yaml", args: []string{"{chart}", "--post-renderer", "badyaml"},
		wantErr: "error while parsing post rendered output: error parsing YAML: MalformedYAMLError: yaml: line 1: did not find expected node content"},
	{name: "plugin-err-duplicate", pluginPath: "{dup}", args: []string{"{chart}", "--post-renderer", "relabel"},
		wantErr: `invalid argument "relabel" for "--post-renderer" flag: two plugins claim the name "relabel" at "{dup}/a" and "{dup}/b"`},

	// Helm 3: an executable is given the manifest (CRDs with
	// --include-crds), not the hooks; its output is the manifest.
	{name: "exec", helm3: true, args: []string{"{chart}", "--post-renderer", "{bin}/postrender.sh", "--post-renderer-args", "a1", "--post-renderer-args", "b 2", "--include-crds"}},
	{name: "exec-in-path", helm3: true, args: []string{"{chart}", "--post-renderer", "relabel3"}},
	{name: "exec-kustomize", helm3: true, args: []string{"{chart}", "--post-renderer", "kustomize-postrenderer", "--post-renderer-args=-name-prefix=kz-", "--post-renderer-args=-label=team=web"}},
	{name: "exec-output-dir", helm3: true, helm3Whitespace: true, args: []string{"{chart}", "--post-renderer", "{bin}/postrender.sh", "--output-dir", "{out}"}},
	{name: "corpus-exec", helm3: true, corpus: true, args: []string{"{corpus}/ingress-nginx/ingress-nginx", "--post-renderer", "{bin}/postrender.sh", "--no-hooks"}},
	{name: "corpus-exec-hooks", helm3: true, corpus: true, helm3Whitespace: true, args: []string{"{corpus}/ingress-nginx/ingress-nginx", "--post-renderer", "{bin}/postrender.sh"}},
	{name: "corpus-exec-kustomize", helm3: true, corpus: true, args: []string{"{corpus}/ingress-nginx/ingress-nginx", "--post-renderer", "kustomize-postrenderer", "--post-renderer-args=-label=team=web", "--no-hooks"}},
	{name: "exec-err-not-found", helm3: true, args: []string{"{chart}", "--post-renderer", "./nope.sh"},
		wantErr: `invalid argument "./nope.sh" for "--post-renderer" flag: unable to find binary at ./nope.sh: exec: "./nope.sh": stat ./nope.sh: no such file or directory`},
	{name: "exec-err-not-found-name", helm3: true, args: []string{"{chart}", "--post-renderer", "nope"},
		wantErr:  `invalid argument "nope" for "--post-renderer" flag: plugin: {Name:nope Type:postrenderer/v1} not found in {plugins}, and unable to find binary at nope: exec: "nope": executable file not found in $PATH`,
		helmAdds: "that there is no Helm 4 plugin of that name either"},
	{name: "exec-err-exit", helm3: true, args: []string{"{chart}", "--post-renderer", "{bin}/fail.sh"},
		wantErr: "error while running post render on files: error while running command {bin}/fail.sh. error output:\nboom\n: exit status 3"},
	{name: "exec-err-empty", helm3: true, args: []string{"{chart}", "--post-renderer", "{bin}/empty.sh"},
		wantErr:      `error while running post render on files: post-renderer "{bin}/empty.sh" produced empty output`,
		helmSucceeds: "Helm 3 takes an empty manifest (and an upgrade would then delete every object of the release); Helm 4 refuses empty output from a plugin, and so do we from either"},
}

// TestPostRenderTemplate runs `template --post-renderer` on a chart of ours
// and on a corpus chart, with Helm 4 plugins and Helm 3 executables, and
// compares each run with the Helm it follows, byte for byte: $HELM (Helm
// 4.3.1) with the plugin folder in HELM_PLUGINS, $HELM3 (Helm 3.22.0) with
// the executable. The golden files under testdata/golden/postrender were
// written from our output (-update); they prove nothing about Helm by
// themselves, only the comparisons with Helm do, when $HELM and $HELM3 are
// set.
func TestPostRenderTemplate(t *testing.T) {
	corpus := os.Getenv("KUBECTL_CHART_CORPUS")
	if corpus != "" {
		abs, err := filepath.Abs(corpus)
		if err != nil {
			t.Fatal(err)
		}
		corpus = abs
	}
	root := atRepoRoot(t)
	f := newPostRenderFixture(t, root)
	helm4 := helmBinary(t)
	helm3 := os.Getenv("HELM3")
	if helm3 == "" {
		t.Log("HELM3 is not set: the Helm 3 cases compare with the golden files only")
	}

	for _, tc := range postRenderCases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.corpus && corpus == "" {
				t.Skip("KUBECTL_CHART_CORPUS is not set: this case renders a chart of the shared corpus (/work/shared/charts)")
			}
			oursOut, helmOut := t.TempDir(), t.TempDir()
			subst := func(s, out string) string {
				return strings.NewReplacer("{chart}", "internal/cmd/testdata/charts/postrender", "{corpus}", corpus,
					"{plugins}", f.plugins, "{dup}", f.dup, "{bin}", f.bin, "{out}", out).Replace(s)
			}
			args := func(out string) []string {
				a := []string{"template", "rel"}
				for _, s := range tc.args {
					a = append(a, subst(s, out))
				}
				return append(a, "--namespace", "ns1")
			}
			// tokens puts the placeholders back, for goldens and messages.
			tokens := func(s, out string) string {
				return strings.NewReplacer(out, "{out}", f.plugins, "{plugins}", f.dup, "{dup}", f.bin, "{bin}").Replace(s)
			}
			if tc.pluginPath != "" {
				t.Setenv("HELM_PLUGINS", subst(tc.pluginPath, ""))
			}

			writesFiles := slices.Contains(tc.args, "{out}")
			ours := runChart(t, args(oursOut), "")
			oursText := ours.stdout
			if ours.err == nil && writesFiles {
				oursText += listFiles(oursOut)
			}
			oursText = tokens(oursText, oursOut)
			if tc.wantErr != "" {
				if ours.err == nil {
					t.Fatalf("succeeded, want error %s", tc.wantErr)
				}
				if got, want := tokens(ours.err.Error(), oursOut), tc.wantErr; got != want {
					t.Errorf("error:\n%s\nwant:\n%s", got, want)
				}
			} else if ours.err != nil {
				t.Fatalf("exit %d: %v\n%s", ours.exit(), ours.err, ours.stderr)
			}
			if tc.wantStderr != "" && !strings.Contains(tokens(ours.stderr, oursOut), tc.wantStderr+"\n") {
				t.Errorf("stderr does not hold %s:\n%s", tc.wantStderr, ours.stderr)
			}
			if !tc.corpus && tc.wantErr == "" {
				checkGolden(t, filepath.Join("internal", "cmd", "testdata", "golden", "postrender", tc.name+".txt"), oursText)
			}

			helm := helm4
			if tc.helm3 {
				helm = helm3
			}
			if helm == "" {
				return
			}
			h := runPostRenderHelm(t, helm, args(helmOut), subst(tc.pluginPath, ""), f.plugins)
			helmText := h.stdout
			if h.err == nil && writesFiles {
				helmText += listFiles(helmOut)
			}
			helmText = tokens(helmText, helmOut)
			switch {
			case tc.helmSucceeds != "":
				if h.err != nil {
					t.Errorf("helm fails (%v): drop helmSucceeds", h.err)
				}
				t.Logf("known difference: Helm succeeds where we fail (%s)", tc.helmSucceeds)
			case tc.wantErr != "":
				if h.err == nil {
					t.Fatalf("helm succeeds where we fail:\n%s", h.stdout)
				}
				helmErr := tokens(h.err.Error(), helmOut)
				oursErr := tokens(ours.err.Error(), oursOut)
				if tc.helmAdds == "" && helmErr != oursErr {
					t.Errorf("our error is not Helm's:\nhelm: %s\nours: %s", helmErr, oursErr)
				}
				if tc.helmAdds != "" && (helmErr == oursErr || !holdsError(oursErr, helmErr)) {
					t.Errorf("our error should hold Helm's and add %s:\nhelm: %s\nours: %s", tc.helmAdds, helmErr, oursErr)
				}
			default:
				if h.err != nil {
					t.Fatalf("helm fails where we succeed: %v\n%s", h.err, h.stderr)
				}
				if tc.helm3Whitespace {
					helmText, oursText = trimDocuments(helmText), trimDocuments(oursText)
				}
				if diff := cmp.Diff(helmText, oursText); diff != "" {
					t.Errorf("output differs from %s (-helm +ours):\n%s", helm, diff)
				}
			}
		})
	}
}

// holdsError tells whether ours holds Helm's error: as it is, or, for a
// flag's error, its "invalid argument … flag: " start and then its reason.
func holdsError(ours, helm string) bool {
	if strings.Contains(ours, helm) {
		return true
	}
	prefix, reason, ok := strings.Cut(helm, " flag: ")
	return ok && strings.HasPrefix(ours, prefix+" flag: ") && strings.Contains(ours, reason)
}

// blankBeforeSeparator is an empty line before a document separator or a
// file of listFiles, or at the end.
var blankBeforeSeparator = regexp.MustCompile(`\n\n(---\n|=== file |$)`)

// trimDocuments drops the empty line that ends a document as Helm 4 prints
// it and Helm 3 does not.
func trimDocuments(s string) string {
	return blankBeforeSeparator.ReplaceAllString(s, "\n$1")
}

// runPostRenderHelm runs Helm away from the user's files and cluster, with
// pluginPath (or plugins) as HELM_PLUGINS and the test's PATH.
func runPostRenderHelm(t *testing.T, helm string, args []string, pluginPath, plugins string) chartRun {
	t.Helper()
	if pluginPath == "" {
		pluginPath = plugins
	}
	cmd := exec.Command(helm, args...)
	cmd.Env = append(isolatedHelmEnv(t), "HELM_PLUGINS="+pluginPath)
	run, exitErr := execHelm(t, cmd)
	if exitErr != nil {
		_, full := helmError(run.stderr)
		run.err = errors.New(full)
	}
	return run
}

// kustomizationV1 and kustomizationV2 are what the kustomize post-renderer
// makes of pushgateway at install and at upgrade: a name prefix, a label,
// a patch of the Deployment; then the label changed, another patch (from a
// file beside the kustomization) and a generated ConfigMap.
const (
	kustomizationV1 = `namePrefix: kz-
labels:
  - pairs:
      kustomized: v1
patches:
  - target:
      kind: Deployment
    patch: |
      apiVersion: apps/v1
      kind: Deployment
      metadata:
        name: any
      spec:
        template:
          metadata:
            annotations:
              kustomize.example.com/rev: one
`
	kustomizationV2 = `namePrefix: kz-
labels:
  - pairs:
      kustomized: v2
patches:
  - target:
      kind: Deployment
    path: deployment-patch.yaml
configMapGenerator:
  - name: extra
    literals:
      - source=kustomize
generatorOptions:
  disableNameSuffixHash: true
`
	deploymentPatchV2 = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: any
spec:
  replicas: 2
  template:
    metadata:
      annotations:
        kustomize.example.com/rev: two
`
)

// TestPostRenderKustomize installs and upgrades a corpus chart
// (prometheus-pushgateway) with a real kustomize as the post-renderer
// (hack/kustomize-postrenderer, an executable: Helm 3's way), on the test
// cluster, and checks the live objects: kustomize's names, labels and
// patches, the release's ownership labels on each (the generated ConfigMap
// included), a dry-run upgrade that changes nothing, the upgrade's change,
// and an uninstall that leaves nothing.
func TestPostRenderKustomize(t *testing.T) {
	env.Require(t)
	corpus := lintCorpusDir(t) // before atRepoRoot: it is relative to this folder
	root := atRepoRoot(t)
	if runtime.GOOS == "windows" {
		t.Skip("kustomize-postrenderer is run as a Unix executable")
	}
	kustomize := buildKustomizePostRenderer(t, root, t.TempDir())
	kdir := t.TempDir()
	v1 := filepath.Join(kdir, "v1", "kustomization.yaml")
	v2 := filepath.Join(kdir, "v2", "kustomization.yaml")
	writeTestFile(t, v1, kustomizationV1, 0o644)
	writeTestFile(t, v2, kustomizationV2, 0o644)
	writeTestFile(t, filepath.Join(kdir, "v2", "deployment-patch.yaml"), deploymentPatchV2, 0o644)
	t.Setenv("HELM_PLUGINS", t.TempDir()) // no plugin of the user's

	ns := env.Namespace(t)
	ctx := t.Context()
	cs := env.Clientset()
	chart := filepath.Join(corpus, "prometheus-community", "prometheus-pushgateway")
	kube := []string{"--kubeconfig", env.KubeconfigPath(), "--cache-dir", t.TempDir(), "-n", ns}
	must := func(args ...string) string {
		t.Helper()
		got := runChart(t, append(slices.Clone(kube), args...), "")
		if got.err != nil {
			t.Fatalf("kubectl chart %s: exit %d: %v\n%s%s", strings.Join(args, " "), got.exit(), got.err, got.stdout, got.stderr)
		}
		return got.stdout
	}
	postRender := func(kustomization string) []string {
		return []string{"--post-renderer", kustomize, "--post-renderer-args=-kustomization=" + kustomization}
	}
	const name, deploy = "pushgateway", "kz-pushgateway-prometheus-pushgateway"

	// owned checks the ownership labels and kustomize's label on a live
	// object.
	owned := func(kind, objName string, labels map[string]string, kustomized string) {
		t.Helper()
		want := map[string]string{ownership.LabelRelease: name, ownership.LabelReleaseNamespace: ns, "kustomized": kustomized}
		got := map[string]string{}
		for k := range want {
			got[k] = labels[k]
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s %s labels (-want +got):\n%s", kind, objName, diff)
		}
		if labels[ownership.LabelApplySetPartOf] == "" {
			t.Errorf("%s %s has no %s label", kind, objName, ownership.LabelApplySetPartOf)
		}
	}
	// check reads the release's live objects.
	check := func(kustomized, rev string, replicas int32) {
		t.Helper()
		d, err := cs.AppsV1().Deployments(ns).Get(ctx, deploy, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("the kustomized Deployment: %v", err)
		}
		owned("Deployment", deploy, d.Labels, kustomized)
		if got := d.Spec.Template.Annotations["kustomize.example.com/rev"]; got != rev {
			t.Errorf("Deployment pod template annotation kustomize.example.com/rev = %q, want %q", got, rev)
		}
		if got := d.Spec.Template.Spec.ServiceAccountName; got != deploy {
			t.Errorf("Deployment serviceAccountName = %q, want %q (kustomize renames references)", got, deploy)
		}
		if d.Spec.Replicas == nil || *d.Spec.Replicas != replicas {
			t.Errorf("Deployment replicas = %v, want %d", d.Spec.Replicas, replicas)
		}
		svc, err := cs.CoreV1().Services(ns).Get(ctx, deploy, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("the kustomized Service: %v", err)
		}
		owned("Service", deploy, svc.Labels, kustomized)
		sa, err := cs.CoreV1().ServiceAccounts(ns).Get(ctx, deploy, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("the kustomized ServiceAccount: %v", err)
		}
		owned("ServiceAccount", deploy, sa.Labels, kustomized)
		if _, err := cs.AppsV1().Deployments(ns).Get(ctx, "pushgateway-prometheus-pushgateway", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("the Deployment as the chart names it: %v, want not found", err)
		}
	}

	out := must(append([]string{"install", name, chart, "--wait", "--timeout", "60s"}, postRender(v1)...)...)
	if !strings.Contains(out, "STATUS: deployed") {
		t.Errorf("install output does not say deployed:\n%s", out)
	}
	check("v1", "one", 1)
	manifest := must("get", "manifest", name)
	for _, want := range []string{"name: " + deploy + "\n", "kustomized: v1\n", "kustomize.example.com/rev: one\n"} {
		if !strings.Contains(manifest, want) {
			t.Errorf("get manifest does not hold %q: the stored manifest is not kustomize's output:\n%s", want, manifest)
		}
	}

	// A dry run shows the post-rendered manifest and changes nothing.
	out = must(append([]string{"upgrade", name, chart, "--dry-run"}, postRender(v2)...)...)
	for _, want := range []string{"kustomized: v2\n", "name: kz-extra\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("upgrade --dry-run output does not hold %q:\n%s", want, out)
		}
	}
	check("v1", "one", 1)

	out = must(append([]string{"upgrade", name, chart, "--wait", "--timeout", "60s"}, postRender(v2)...)...)
	if !strings.Contains(out, "REVISION: 2") || !strings.Contains(out, "STATUS: deployed") {
		t.Errorf("upgrade output does not say revision 2 deployed:\n%s", out)
	}
	check("v2", "two", 2)
	cm, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, "kz-extra", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the ConfigMap kustomize generated: %v", err)
	}
	owned("ConfigMap", "kz-extra", cm.Labels, "v2")
	if got := cm.Data["source"]; got != "kustomize" {
		t.Errorf("ConfigMap kz-extra data source = %q, want kustomize", got)
	}

	must("uninstall", name, "--wait", "--timeout", "60s")
	if left := labelledObjects(t, ctx, name, ns); len(left) > 0 {
		t.Errorf("after uninstall, still labelled:\n%s", strings.Join(left, "\n"))
	}
}
