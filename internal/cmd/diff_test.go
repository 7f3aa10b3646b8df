package cmd

import (
	"errors"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kubectl-chart/kubectl-chart/internal/action"
	"github.com/kubectl-chart/kubectl-chart/pkg/ownership"
	"github.com/kubectl-chart/kubectl-chart/pkg/release"
)

// diffCase is one run of `kubectl chart diff …` (args follow the kube
// flags), compared with testdata/golden/diff/<name>.golden.
type diffCase struct {
	name     string
	args     []string
	wantExit int
	// want are parts the output must have (besides matching its golden).
	want []string
}

const demoApp = "testdata/charts/demo-app"

// diffUpgradeCases run against revision 1 of demo (the chart's defaults).
var diffUpgradeCases = []diffCase{
	{name: "upgrade-no-changes", args: []string{"diff", "upgrade", "demo", demoApp}, want: []string{"no changes"}},
	{name: "upgrade-reuse-values", args: []string{"diff", "upgrade", "demo", demoApp, "--reuse-values"}},
	{
		name: "upgrade-message", args: []string{"diff", "upgrade", "demo", demoApp, "--set", "message=bye"}, wantExit: 1,
		want: []string{"--- live ConfigMap/$NS/demo-demo-app\n", "+++ desired ConfigMap/$NS/demo-demo-app\n", "-  message: hello\n", "+  message: bye\n", "0 to add, 1 to change, 0 to remove\n"},
	},
	{name: "upgrade-message-context-0", args: []string{"diff", "upgrade", "demo", demoApp, "--set", "message=bye", "--context-lines", "0"}, wantExit: 1},
	{
		name: "upgrade-message-color", args: []string{"diff", "upgrade", "demo", demoApp, "--set", "message=bye", "--color", "always"}, wantExit: 1,
		want: []string{"\x1b[31m-  message: hello\x1b[0m\n", "\x1b[32m+  message: bye\x1b[0m\n", "\x1b[36m@@"},
	},
	{name: "upgrade-message-never", args: []string{"diff", "upgrade", "demo", demoApp, "--set", "message=bye", "--color=never"}, wantExit: 1},
	{
		name: "upgrade-service-removed", args: []string{"diff", "upgrade", "demo", demoApp, "--set", "service.enabled=false"}, wantExit: 1,
		want: []string{"--- live Service/$NS/demo-demo-app\n", "-kind: Service\n", "0 to add, 0 to change, 1 to remove\n"},
	},
	{
		name: "upgrade-secret-added", args: []string{"diff", "upgrade", "demo", demoApp, "--set", "extraSecret.enabled=true"}, wantExit: 1,
		want: []string{"+++ desired Secret/$NS/demo-demo-app-extra\n", "+  token: '***'\n", "1 to add, 0 to change, 0 to remove\n"},
	},
	{
		name: "upgrade-secret-shown", args: []string{"diff", "upgrade", "demo", demoApp, "--set", "extraSecret.enabled=true", "--show-secrets"}, wantExit: 1,
		want: []string{"+  token: czNjcjN0\n"},
	},
	{
		name: "upgrade-values-file", args: []string{"diff", "upgrade", "demo", demoApp, "-f", "-", "--set", "replicaCount=3"}, wantExit: 1,
		want: []string{"-  replicas: 2\n", "+  replicas: 3\n", "0 to add, 2 to change, 0 to remove\n"},
	},
	{
		name: "upgrade-install", args: []string{"diff", "upgrade", "other", demoApp, "--install", "--set", "service.enabled=false"}, wantExit: 1,
		want: []string{"+++ desired ConfigMap/$NS/other-demo-app\n", "+++ desired Widget.demo.kubectl-chart.io/$NS/other-demo-app\n", "3 to add, 0 to change, 0 to remove\n"},
	},

	{name: "upgrade-err-chart", args: []string{"diff", "upgrade", "demo", "testdata/charts/nope"}, wantExit: 2},
	{name: "upgrade-err-template", args: []string{"diff", "upgrade", "demo", "testdata/charts/err-fail"}, wantExit: 2},
	{name: "upgrade-err-release", args: []string{"diff", "upgrade", "nope", demoApp}, wantExit: 2},
	{name: "upgrade-err-color", args: []string{"diff", "upgrade", "demo", demoApp, "--color", "sometimes"}, wantExit: 2},
	{name: "upgrade-err-flag", args: []string{"diff", "upgrade", "demo", demoApp, "--no-such-flag"}, wantExit: 2},
	{name: "upgrade-err-args", args: []string{"diff", "upgrade", "demo"}, wantExit: 2},
}

// diffUpgradeStdin is the values file of upgrade-values-file.
const diffUpgradeStdin = "message: from-stdin\n"

// diffRollbackCases run once demo is at revision 2 (message=bye, no
// Service).
var diffRollbackCases = []diffCase{
	{
		name: "rollback", args: []string{"diff", "rollback", "demo"}, wantExit: 1,
		want: []string{"-  message: bye\n", "+  message: hello\n", "+++ desired Service/$NS/demo-demo-app\n", "1 to add, 1 to change, 0 to remove\n"},
	},
	{name: "rollback-revision-1", args: []string{"diff", "rollback", "demo", "1"}, wantExit: 1},
	{name: "rollback-revision-2", args: []string{"diff", "rollback", "demo", "2"}, want: []string{"no changes"}},
	{name: "upgrade-reuse-values-secret", args: []string{"diff", "upgrade", "demo", demoApp, "--reuse-values", "--set", "extraSecret.enabled=true"}, wantExit: 1},
	{name: "rollback-err-release", args: []string{"diff", "rollback", "nope"}, wantExit: 2},
	{name: "rollback-err-revision", args: []string{"diff", "rollback", "demo", "9"}, wantExit: 2},
	{name: "rollback-err-revision-syntax", args: []string{"diff", "rollback", "demo", "first"}, wantExit: 2},
}

// diffNormal replaces what changes from run to run: the namespace, the
// ApplySet id (derived from it) and the IP addresses the API server
// allocates to Services.
var diffNormal = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`applyset-[A-Za-z0-9_-]+-v1`), "$APPLYSET"},
	{regexp.MustCompile(`\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b`), "$IP"},
}

// TestDiff installs demo, diffs upgrades against it, upgrades it, diffs
// rollbacks, and checks that no diff wrote anything: the outputs are
// compared with testdata/golden/diff.
func TestDiff(t *testing.T) {
	ns := env.Namespace(t)
	atRepoRoot(t)
	ctx := t.Context()
	kube := []string{"--kubeconfig", env.KubeconfigPath(), "--cache-dir", t.TempDir(), "-n", ns}
	chart := func(t *testing.T, args ...string) {
		t.Helper()
		got := runChart(t, append(slices.Clone(kube), args...), "")
		if got.err != nil {
			t.Fatalf("kubectl chart %s: %v\n%s%s", strings.Join(args, " "), got.err, got.stdout, got.stderr)
		}
	}
	run := func(t *testing.T, tc diffCase, stdin string) {
		got := runChart(t, append(slices.Clone(kube), tc.args...), stdin)
		if got.exit() != tc.wantExit {
			t.Errorf("exit code %d, want %d; output:\n%s", got.exit(), tc.wantExit, got.text())
		}
		if got.stderr != "" {
			t.Errorf("stderr: %s", got.stderr)
		}
		text := got.text()
		if Silent(got.err) {
			// What main prints: the diff, no error line.
			text = got.stdout
		}
		text = strings.ReplaceAll(text, ns, "$NS")
		for _, n := range diffNormal {
			text = n.re.ReplaceAllLiteralString(text, n.with)
		}
		for _, w := range tc.want {
			if !strings.Contains(text, w) {
				t.Errorf("output lacks %q:\n%s", w, text)
			}
		}
		checkGolden(t, filepath.Join("testdata", "golden", "diff", tc.name+".golden"), text)
	}
	store := release.NewKubeStore(env.Clientset(), release.DefaultKubeStoreOptions())
	// unchanged checks that the diffs wrote nothing: the release is still
	// at revision want, and the ConfigMap says message.
	unchanged := func(t *testing.T, want int, message string) {
		t.Helper()
		head, err := store.Head(ctx, ns, "demo")
		if err != nil {
			t.Fatal(err)
		}
		if head.Revision != want || head.Deployed != want || head.Lock != nil {
			t.Errorf("head: revision %d, deployed %d, lock %+v; want %d, %d, none", head.Revision, head.Deployed, head.Lock, want, want)
		}
		cm, err := env.Clientset().CoreV1().ConfigMaps(ns).Get(ctx, "demo-demo-app", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if cm.Data["message"] != message {
			t.Errorf("ConfigMap message = %q, want %q", cm.Data["message"], message)
		}
		if _, err := env.Clientset().CoreV1().Secrets(ns).Get(ctx, "demo-demo-app-extra", metav1.GetOptions{}); err == nil {
			t.Error("Secret demo-demo-app-extra exists: a diff created it")
		}
	}

	chart(t, "install", "demo", demoApp, "--no-hooks")
	for _, tc := range diffUpgradeCases {
		stdin := ""
		if tc.name == "upgrade-values-file" {
			stdin = diffUpgradeStdin
		}
		t.Run(tc.name, func(t *testing.T) { run(t, tc, stdin) })
	}
	unchanged(t, 1, "hello")
	if _, err := store.Head(ctx, ns, "other"); !errors.Is(err, release.ErrNotFound) {
		t.Errorf("release other after diff upgrade --install: %v, want not found", err)
	}

	// An object asking to be kept is not listed as removed.
	services := env.Clientset().CoreV1().Services(ns)
	keep := `{"metadata":{"annotations":{"` + ownership.AnnotationResourcePolicy + `":"keep"}}}`
	if _, err := services.Patch(ctx, "demo-demo-app", types.MergePatchType, []byte(keep), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Run("upgrade-service-kept", func(t *testing.T) {
		run(t, diffCase{name: "upgrade-service-kept", args: []string{"diff", "upgrade", "demo", demoApp, "--set", "service.enabled=false"}}, "")
	})
	unkeep := `{"metadata":{"annotations":{"` + ownership.AnnotationResourcePolicy + `":null}}}`
	if _, err := services.Patch(ctx, "demo-demo-app", types.MergePatchType, []byte(unkeep), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}

	chart(t, "upgrade", "demo", demoApp, "--set", "message=bye,service.enabled=false", "--no-hooks")
	for _, tc := range diffRollbackCases {
		t.Run(tc.name, func(t *testing.T) { run(t, tc, "") })
	}
	unchanged(t, 2, "bye")
}

func TestMaskSecret(t *testing.T) {
	secret := func(data map[string]any, annotations map[string]any) map[string]any {
		md := map[string]any{"name": "s"}
		if annotations != nil {
			md["annotations"] = annotations
		}
		obj := map[string]any{"apiVersion": "v1", "kind": "Secret", "metadata": md}
		if data != nil {
			obj["data"] = data
		}
		return obj
	}
	for _, tc := range []struct {
		name                  string
		live, desired         map[string]any
		wantLive, wantDesired map[string]any
	}{
		{
			name:        "added",
			desired:     secret(map[string]any{"token": "czNjcjN0"}, nil),
			wantDesired: secret(map[string]any{"token": masked}, nil),
		},
		{
			name:     "removed",
			live:     secret(map[string]any{"token": "czNjcjN0"}, nil),
			wantLive: secret(map[string]any{"token": masked}, nil),
		},
		{
			name:        "changed and unchanged keys",
			live:        secret(map[string]any{"a": "MQ==", "b": "Mg==", "gone": "Mw=="}, nil),
			desired:     secret(map[string]any{"a": "MQ==", "b": "NA==", "new": "NQ=="}, nil),
			wantLive:    secret(map[string]any{"a": maskUnchanged, "b": masked, "gone": masked}, nil),
			wantDesired: secret(map[string]any{"a": maskUnchanged, "b": maskChanged, "new": masked}, nil),
		},
		{
			name:        "no data",
			live:        secret(nil, nil),
			desired:     secret(nil, nil),
			wantLive:    secret(nil, nil),
			wantDesired: secret(nil, nil),
		},
		{
			name:        "last-applied annotation",
			live:        secret(nil, map[string]any{lastApplied: `{"data":{"a":"MQ=="}}`, "other": "x"}),
			desired:     secret(nil, map[string]any{lastApplied: `{"data":{"a":"Mg=="}}`, "other": "x"}),
			wantLive:    secret(nil, map[string]any{lastApplied: masked, "other": "x"}),
			wantDesired: secret(nil, map[string]any{lastApplied: maskChanged, "other": "x"}),
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			liveBefore, desiredBefore := deepCopyJSON(t, tc.live), deepCopyJSON(t, tc.desired)
			l, d := maskSecret(tc.live, tc.desired)
			if diff := cmp.Diff(tc.wantLive, l); diff != "" {
				t.Errorf("live (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantDesired, d); diff != "" {
				t.Errorf("desired (-want +got):\n%s", diff)
			}
			if !cmp.Equal(liveBefore, tc.live) || !cmp.Equal(desiredBefore, tc.desired) {
				t.Error("maskSecret modified its arguments")
			}
		})
	}
}

func deepCopyJSON(t *testing.T, m map[string]any) map[string]any {
	t.Helper()
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		if sub, ok := v.(map[string]any); ok {
			v = deepCopyJSON(t, sub)
		}
		out[k] = v
	}
	return out
}

// TestFormatEntry: a changed Secret value makes a diff line even masked;
// colour marks headers, hunks, removed and added lines.
func TestFormatEntry(t *testing.T) {
	ref := release.ObjectRef{Version: "v1", Kind: "Secret", Namespace: "ns", Name: "s"}
	e := action.DiffEntry{
		Ref: ref, Change: action.DiffChanged,
		Live:    map[string]any{"apiVersion": "v1", "kind": "Secret", "data": map[string]any{"a": "MQ==", "b": "Mg=="}},
		Desired: map[string]any{"apiVersion": "v1", "kind": "Secret", "data": map[string]any{"a": "MQ==", "b": "Mw=="}},
	}
	got, err := formatEntry(e, diffFormat{Context: 3})
	if err != nil {
		t.Fatal(err)
	}
	want := `--- live Secret/ns/s
+++ desired Secret/ns/s
@@ -1,5 +1,5 @@
 apiVersion: v1
 data:
   a: '*** (unchanged)'
-  b: '***'
+  b: '*** (changed)'
 kind: Secret
`
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("masked (-want +got):\n%s", diff)
	}

	got, err = formatEntry(e, diffFormat{Context: 0, ShowSecrets: true, Color: true})
	if err != nil {
		t.Fatal(err)
	}
	want = "\x1b[1m--- live Secret/ns/s\x1b[0m\n" +
		"\x1b[1m+++ desired Secret/ns/s\x1b[0m\n" +
		"\x1b[36m@@ -4 +4 @@\x1b[0m\n" +
		"\x1b[31m-  b: Mg==\x1b[0m\n" +
		"\x1b[32m+  b: Mw==\x1b[0m\n"
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("coloured (-want +got):\n%s", diff)
	}

	added := action.DiffEntry{Ref: ref, Change: action.DiffAdded, Desired: map[string]any{"kind": "Secret"}}
	got, err = formatEntry(added, diffFormat{Context: 3})
	if err != nil {
		t.Fatal(err)
	}
	if want := "--- live Secret/ns/s\n+++ desired Secret/ns/s\n@@ -0,0 +1 @@\n+kind: Secret\n"; got != want {
		t.Errorf("added = %q, want %q", got, want)
	}
}

// TestDiffExitCodes: changes exit 1 silently; errors exit 2 and are
// printed.
func TestDiffExitCodes(t *testing.T) {
	changes := &exitError{code: 1, err: errChanges, silent: true}
	if ExitCode(changes) != 1 || !Silent(changes) {
		t.Errorf("changes: exit %d, silent %v; want 1, silent", ExitCode(changes), Silent(changes))
	}
	failed := diffError(errors.New("boom"))
	if ExitCode(failed) != 2 || Silent(failed) {
		t.Errorf("error: exit %d, silent %v; want 2, not silent", ExitCode(failed), Silent(failed))
	}
	if again := diffError(changes); ExitCode(again) != 1 {
		t.Errorf("diffError kept no exit code of its own: %d", ExitCode(again))
	}
	if diffError(nil) != nil {
		t.Error("diffError(nil) != nil")
	}
	if ExitCode(errors.New("other")) != 1 || Silent(errors.New("other")) {
		t.Error("a plain error: want exit 1, printed")
	}
}
