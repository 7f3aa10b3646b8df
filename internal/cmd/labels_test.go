package cmd

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-chart/kubectl-chart/pkg/ownership"
	"github.com/kubectl-chart/kubectl-chart/pkg/release"
)

// labelsChart is the chart of the release-labels cases: annotations, and a
// subchart twice, aliased, once turned off by its condition.
const labelsChart = "testdata/charts/labels-app"

// labelSteps are the operations of TestReleaseLabels, run by kubectl chart
// and by Helm alike: labels at install ("null" is kept by an install), an
// upgrade that changes one, removes one and adds one (and so drops the
// install's "null"), a second release, and a rollback, which takes the
// labels of the revision it goes back to.
var labelSteps = [][]string{
	{"install", "web", labelsChart, "-l", "team=payments,tier=backend,legacy=null"},
	{"upgrade", "web", labelsChart, "--labels", "tier=frontend,team=null,region=eu", "--set", "message=upgraded"},
	{"install", "api", labelsChart, "--labels", "team=search"},
	{"upgrade", "api", labelsChart, "--set", "message=again"},
	{"rollback", "web", "1"},
}

// labelSelectors are list --selector cases after labelSteps: web is at
// revision 3 with revision 1's labels, api at revision 2 with its
// install's.
var labelSelectors = []struct {
	selector string
	want     []string // release names, sorted
}{
	{"team=search", []string{"api"}},
	{"team==payments,tier!=frontend", []string{"web"}},
	{"tier=frontend", nil},
	{"region", nil},
	{"!legacy", []string{"api"}},
	{"legacy=null", []string{"web"}},
	{"team in (payments,search)", []string{"api", "web"}},
	{"team notin (search)", []string{"web"}},
	{"team=nobody", nil},
	// Helm's storage labels, which Helm matches too.
	{"name=api", []string{"api"}},
	{"owner=helm,version=3", []string{"web"}},
	{"status=deployed", []string{"api", "web"}},
	{"status=superseded", nil},
	{"modifiedAt,!createdAt", []string{"api", "web"}},
}

// labelGoldens are commands whose whole output is compared with
// testdata/golden/labels (written from our own output with -update; the
// Helm comparison below is what checks them against Helm).
var labelGoldens = []struct {
	name     string
	args     []string
	wantExit int
}{
	{name: "metadata", args: []string{"get", "metadata", "web"}},
	{name: "metadata-json", args: []string{"get", "metadata", "web", "-o", "json"}},
	{name: "metadata-yaml", args: []string{"get", "metadata", "web", "-o", "yaml"}},
	{name: "metadata-revision-2", args: []string{"get", "metadata", "web", "--revision", "2"}},
	{name: "metadata-revision-2-json", args: []string{"get", "metadata", "web", "--revision", "2", "-o", "json"}},
	{name: "metadata-err-revision", args: []string{"get", "metadata", "web", "--revision", "9"}, wantExit: 1},
	// (A fixed-width time: time.Time's String drops trailing zeros.)
	{name: "list-selector", args: []string{"list", "-l", "team in (payments,search)", "--time-format", "2006-01-02T15:04:05Z07:00"}},
	{name: "list-selector-json", args: []string{"list", "--selector", "legacy=null", "-o", "json"}},
	{name: "list-selector-none", args: []string{"list", "-l", "team=nobody"}},
	{name: "list-selector-err", args: []string{"list", "-l", "team=(x"}, wantExit: 1},
}

// Real times in get metadata and list: RFC 3339 and time.Time's String,
// and the Unix seconds of Helm's storage labels.
var (
	realTimes  = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)|\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)? \+0000 UTC`)
	unixLabels = regexp.MustCompile(`((?:createdAt|modifiedAt)"?[=:] ?"?)\d+`)
)

// maskOutput is out with namespace ns and the real times replaced.
func maskOutput(out, ns string) string {
	out = realTimes.ReplaceAllLiteralString(strings.ReplaceAll(out, ns, "$NS"), "$TIME")
	return unixLabels.ReplaceAllString(out, "${1}$$UNIX")
}

// TestReleaseLabels: install and upgrade --labels (Helm's merge, "null"
// removing a label, Helm's refusal of its system label names), rollback
// taking the labels of its target, list --selector over them and over
// Helm's storage labels, and get metadata in its three formats, on the
// test cluster. The goldens are our own output; with $HELM, Helm runs the
// same steps in another namespace of the same cluster and its get metadata
// (times and namespace aside), the releases its list --selector keeps, and
// its errors are compared with ours.
func TestReleaseLabels(t *testing.T) {
	c := newReleaseCLI(t)
	for _, step := range labelSteps {
		c.ok(step...)
	}

	// The head keeps the labels of its revision (web's: revision 1's), so
	// that list filters without reading records; revision 2's record has
	// the merged ones.
	head, err := env.Clientset().CoreV1().ConfigMaps(c.ns).Get(t.Context(), ownership.HeadName("web"), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := head.Data[release.HeadKeyLabels], `{"legacy":"null","team":"payments","tier":"backend"}`; got != want {
		t.Errorf("head data %s = %s, want %s", release.HeadKeyLabels, got, want)
	}
	if got := head.Labels[ownership.LabelRecord]; got != ownership.RecordHead {
		t.Errorf("head label %s = %q: the release labels must not replace the head's own", ownership.LabelRecord, got)
	}
	store := release.NewKubeStore(env.Clientset(), release.KubeStoreOptions{})
	r2, err := store.Revision(t.Context(), c.ns, "web", 2)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]string{"tier": "frontend", "region": "eu"}, r2.Labels); diff != "" {
		t.Errorf("labels of revision 2 (-want +got):\n%s", diff)
	}

	ours := map[string]chartRun{}
	for _, tc := range labelGoldens {
		t.Run(tc.name, func(t *testing.T) {
			got := c.run(tc.args...)
			ours[tc.name] = got
			if got.exit() != tc.wantExit {
				t.Errorf("exit %d, want %d:\n%s", got.exit(), tc.wantExit, got.text())
			}
			checkGolden(t, filepath.Join("testdata", "golden", "labels", tc.name+".golden"), maskOutput(got.text(), c.ns))
		})
	}
	for _, tc := range labelSelectors {
		if diff := cmp.Diff(tc.want, listNames(t, c.ok("list", "-q", "-l", tc.selector))); diff != "" {
			t.Errorf("list -l %q (-want +got):\n%s", tc.selector, diff)
		}
	}

	// Refused before anything is written: Helm's system label names, and
	// labels Kubernetes cannot hold.
	reserved := "user supplied labels contains system reserved label name. System labels: [name owner status version createdAt modifiedAt]"
	refusals := []struct {
		args []string
		want string
	}{
		{[]string{"install", "bad", labelsChart, "-l", "team=x,owner=me"}, reserved},
		{[]string{"upgrade", "web", labelsChart, "-l", "status=null"}, reserved},
		{[]string{"upgrade", "--install", "bad", labelsChart, "-l", "createdAt=1"}, reserved},
		{[]string{"install", "bad", labelsChart, "-l", "bad key=x"}, `invalid release labels: metadata.labels: Invalid value: "bad key": name part must consist of alphanumeric characters`},
	}
	for _, r := range refusals {
		got := c.fails([]string{r.want}, r.args...)
		if !strings.HasPrefix(got.err.Error(), r.want) {
			t.Errorf("%s: error %q, want it to start %q", strings.Join(r.args, " "), got.err, r.want)
		}
	}
	if _, err := env.Clientset().CoreV1().ConfigMaps(c.ns).Get(t.Context(), ownership.HeadName("bad"), metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("a refused install wrote a head: %v", err)
	}
	if got := c.historyStatuses("web"); len(got) != 3 {
		t.Errorf("a refused upgrade changed the history: %v", got)
	}

	bin := os.Getenv("HELM")
	if bin == "" {
		t.Log("HELM is not set: not compared with Helm")
		return
	}
	helm := helmLabelsCLI{t: t, bin: bin, ns: env.Namespace(t)}
	for _, step := range labelSteps {
		if _, err := helm.run(step...); err != nil {
			t.Fatalf("helm %s: %v", strings.Join(step, " "), err)
		}
	}
	t.Run("helm get metadata", func(t *testing.T) {
		for _, tc := range labelGoldens {
			if tc.args[0] != "get" || tc.wantExit != 0 {
				continue
			}
			out, err := helm.run(tc.args...)
			if err != nil {
				t.Fatalf("helm %s: %v", strings.Join(tc.args, " "), err)
			}
			our := ours[tc.name].stdout
			if strings.HasSuffix(tc.name, "json") {
				if diff := cmp.Diff(metadataFields(t, out, helm.ns), metadataFields(t, our, c.ns)); diff != "" {
					t.Errorf("%s: (-helm +ours):\n%s", strings.Join(tc.args, " "), diff)
				}
			}
			if diff := cmp.Diff(maskOutput(out, helm.ns), maskOutput(our, c.ns)); diff != "" {
				t.Errorf("%s: (-helm +ours):\n%s", strings.Join(tc.args, " "), diff)
			}
		}
	})
	t.Run("helm list --selector", func(t *testing.T) {
		for _, tc := range labelSelectors {
			out, err := helm.run("list", "-q", "-l", tc.selector)
			if err != nil {
				t.Fatalf("helm list -l %q: %v", tc.selector, err)
			}
			if diff := cmp.Diff(listNames(t, out), listNames(t, c.ok("list", "-q", "-l", tc.selector))); diff != "" {
				t.Errorf("list -l %q (-helm +ours):\n%s", tc.selector, diff)
			}
		}
	})
	t.Run("helm errors", func(t *testing.T) {
		for _, sel := range []string{"team=(x", "a b", "x in (y", "=y"} {
			_, herr := helm.run("list", "-l", sel)
			got := c.run("list", "-l", sel)
			if herr == nil || got.err == nil || herr.Error() != got.err.Error() {
				t.Errorf("list -l %q: error %v, Helm's %v", sel, got.err, herr)
			}
		}
		for _, r := range refusals {
			_, herr := helm.run(r.args...)
			got := c.run(r.args...)
			if herr == nil || got.err == nil {
				t.Errorf("%s: error %v, Helm's %v", strings.Join(r.args, " "), got.err, herr)
				continue
			}
			// Helm says which command failed first ("INSTALLATION FAILED:
			// …"); the invalid label is refused by the API server when Helm
			// writes its record.
			want := strings.TrimPrefix(got.err.Error(), "invalid release labels: ")
			if !strings.Contains(herr.Error(), want) {
				t.Errorf("%s: error %q, Helm's %q", strings.Join(r.args, " "), got.err, herr)
			}
		}
	})
	// import-helm keeps Helm's release labels, and what get metadata shows
	// of the chart (times included: an imported revision keeps Helm's).
	t.Run("import-helm", func(t *testing.T) {
		helmMeta, err := helm.run("get", "metadata", "web", "--revision", "2", "-o", "json")
		if err != nil {
			t.Fatal(err)
		}
		imp := &releaseCLI{t: t, ns: helm.ns, kube: []string{"--kubeconfig", env.KubeconfigPath(), "--cache-dir", t.TempDir(), "-n", helm.ns}}
		imp.ok("import-helm", "web")
		if diff := cmp.Diff(helmMeta, imp.ok("get", "metadata", "web", "--revision", "2", "-o", "json")); diff != "" {
			t.Errorf("get metadata --revision 2 of the imported release (-helm +ours):\n%s", diff)
		}
		if diff := cmp.Diff([]string{"web"}, listNames(t, imp.ok("list", "-q", "-l", "legacy=null,tier=backend"))); diff != "" {
			t.Errorf("list -l of the imported release (-want +got):\n%s", diff)
		}
	})
}

// listNames are the names list -q printed, sorted (nil for none).
func listNames(t *testing.T, out string) []string {
	t.Helper()
	names := strings.Fields(out)
	if len(names) == 0 {
		return nil
	}
	slices.Sort(names)
	return names
}

// metadataFields are get metadata's JSON fields, its times masked and its
// namespace replaced.
func metadataFields(t *testing.T, out, ns string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(maskOutput(out, ns)), &m); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if m["deployedAt"] != "$TIME" {
		t.Errorf("deployedAt %v, want an RFC 3339 time: %s", m["deployedAt"], out)
	}
	return m
}

// helmLabelsCLI runs Helm against the test cluster in one namespace.
type helmLabelsCLI struct {
	t   *testing.T
	bin string
	ns  string
}

// run runs Helm and returns its stdout, and its error line as an error
// when it fails.
func (h helmLabelsCLI) run(args ...string) (string, error) {
	h.t.Helper()
	home := h.t.TempDir()
	cmd := exec.CommandContext(h.t.Context(), h.bin, append([]string{"--kubeconfig", env.KubeconfigPath(), "-n", h.ns}, args...)...)
	cmd.Dir = "."
	cmd.Env = []string{"HOME=" + home, "PATH=" + os.Getenv("PATH"), "HELM_CACHE_HOME=" + filepath.Join(home, "cache"),
		"HELM_CONFIG_HOME=" + filepath.Join(home, "config"), "HELM_DATA_HOME=" + filepath.Join(home, "data"), "NO_COLOR=1"}
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		h.t.Fatalf("running %s: %v", h.bin, err)
	}
	if err != nil {
		msg := stderr.String()
		if i := strings.LastIndex(msg, "Error: "); i >= 0 {
			msg = msg[i+len("Error: "):]
		}
		return stdout.String(), errors.New(strings.TrimSuffix(msg, "\n"))
	}
	return stdout.String(), nil
}
