package crash

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-chart/kubectl-chart/internal/testcluster"
	"github.com/kubectl-chart/kubectl-chart/pkg/ownership"
	"github.com/kubectl-chart/kubectl-chart/pkg/release"
)

// env is a full control plane (controllers, scheduler, a kwok node): with
// --wait, an upgrade lasts until its Deployments have rolled out, which
// spreads the kill points over a realistic operation.
var env *testcluster.Env

func TestMain(m *testing.M) {
	testcluster.Main(m, &env, testcluster.Options{Full: true, Nodes: 1})
}

const (
	// rel is the release every test installs, in a namespace of its own.
	rel = "rel"
	// lockTTL is the lock TTL of the binaries the tests run
	// ($KUBECTL_CHART_LOCK_TTL), short so that a killed client's lock
	// expires quickly.
	lockTTL = 4 * time.Second
	// genAnnotation carries the values' gen on every object of the chart,
	// so that the tests can tell which objects an operation has written.
	genAnnotation = "crash.test/gen"
	// objectsPerGen: the chart has 10 ConfigMaps, Services and Deployments
	// plus 2 ConfigMaps named after gen (so that every upgrade prunes 2).
	objectsPerGen = 32
)

// chartTemplate renders objectsPerGen objects that all change with .Values.gen.
const chartTemplate = `{{- range $i := until 10 }}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: cm-{{ $i }}
  annotations:
    crash.test/gen: "{{ $.Values.gen }}"
data:
  gen: "{{ $.Values.gen }}"
---
apiVersion: v1
kind: Service
metadata:
  name: svc-{{ $i }}
  annotations:
    crash.test/gen: "{{ $.Values.gen }}"
spec:
  selector:
    app: app-{{ $i }}
  ports:
  - port: 80
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app-{{ $i }}
  annotations:
    crash.test/gen: "{{ $.Values.gen }}"
spec:
  replicas: 1
  selector:
    matchLabels:
      app: app-{{ $i }}
  template:
    metadata:
      labels:
        app: app-{{ $i }}
      annotations:
        crash.test/gen: "{{ $.Values.gen }}"
    spec:
      containers:
      - name: app
        image: registry.example/app:1
{{- end }}
{{- range $s := list "a" "b" }}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: gen-{{ $.Values.gen }}-{{ $s }}
  annotations:
    crash.test/gen: "{{ $.Values.gen }}"
data:
  gen: "{{ $.Values.gen }}"
{{- end }}
`

// writeChart writes the test chart into a temporary folder.
func writeChart(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "crash")
	files := map[string]string{
		"Chart.yaml":             "apiVersion: v2\nname: crash\nversion: 0.1.0\n",
		"values.yaml":            "gen: 0\n",
		"templates/objects.yaml": chartTemplate,
	}
	for name, text := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// buildBinary builds cmd/kubectl-chart of this repository into a temporary
// folder (the Go build cache makes the second build of a run a link).
func buildBinary(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("repository root not found: %v", err)
	}
	goBin := "go"
	if v := os.Getenv("GO"); v != "" {
		goBin = v
	}
	bin := filepath.Join(t.TempDir(), "kubectl-chart")
	cmd := exec.Command(goBin, "build", "-o", bin, "./cmd/kubectl-chart")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/kubectl-chart: %v\n%s", err, out)
	}
	return bin
}

// runner runs the binary against the test cluster, in one namespace.
type runner struct {
	bin, chart, ns string
}

func newRunner(t *testing.T) runner {
	env.Require(t)
	return runner{bin: buildBinary(t), chart: writeChart(t), ns: env.Namespace(t)}
}

// upgrade is `upgrade --install rel <chart> --wait --set gen=<gen>`, not
// started; its output goes to the returned buffer.
func (r runner) upgrade(ctx context.Context, gen int) (*exec.Cmd, *bytes.Buffer) {
	cmd := exec.CommandContext(ctx, r.bin, "upgrade", "--install", rel, r.chart,
		"--kubeconfig", env.KubeconfigPath(), "-n", r.ns,
		"--wait", "--timeout", "2m", "--set", "gen="+strconv.Itoa(gen))
	cmd.Env = append(os.Environ(), "KUBECTL_CHART_LOCK_TTL="+lockTTL.String())
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	return cmd, &out
}

// mustUpgrade runs one upgrade to completion and fails the test if it fails.
func (r runner) mustUpgrade(t *testing.T, gen int) {
	t.Helper()
	cmd, out := r.upgrade(context.Background(), gen)
	if err := cmd.Run(); err != nil {
		t.Fatalf("upgrade --install (gen %d): %v\n%s", gen, err, out)
	}
}

// killedBySignal tells whether a finished command was ended by a signal.
func killedBySignal(cmd *exec.Cmd) bool {
	ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled()
}

// store reads releases of the test cluster; it never takes a lock.
func store() *release.KubeStore {
	return release.NewKubeStore(env.Clientset(), release.DefaultKubeStoreOptions())
}

// liveObject is an object of the chart as the cluster has it.
type liveObject struct {
	key string // Kind/name
	gen string // the genAnnotation
}

// ownedObjects lists the objects labelled for the release in ns (the
// release's own records excepted), sorted by key.
func ownedObjects(ctx context.Context, ns string) ([]liveObject, error) {
	sel := metav1.ListOptions{LabelSelector: ownership.LabelRelease + "=" + rel + "," + "!" + ownership.LabelRecord}
	var out []liveObject
	add := func(kind string, m metav1.Object) {
		out = append(out, liveObject{key: kind + "/" + m.GetName(), gen: m.GetAnnotations()[genAnnotation]})
	}
	cs := env.Clientset()
	cms, err := cs.CoreV1().ConfigMaps(ns).List(ctx, sel)
	if err != nil {
		return nil, err
	}
	for i := range cms.Items {
		add("ConfigMap", &cms.Items[i])
	}
	secs, err := cs.CoreV1().Secrets(ns).List(ctx, sel)
	if err != nil {
		return nil, err
	}
	for i := range secs.Items {
		add("Secret", &secs.Items[i])
	}
	svcs, err := cs.CoreV1().Services(ns).List(ctx, sel)
	if err != nil {
		return nil, err
	}
	for i := range svcs.Items {
		add("Service", &svcs.Items[i])
	}
	deps, err := cs.AppsV1().Deployments(ns).List(ctx, sel)
	if err != nil {
		return nil, err
	}
	for i := range deps.Items {
		add("Deployment", &deps.Items[i])
	}
	slices.SortFunc(out, func(a, b liveObject) int { return strings.Compare(a.key, b.key) })
	return out, nil
}

func refKeys(refs []release.ObjectRef) []string {
	out := make([]string, 0, len(refs))
	for _, r := range refs {
		out = append(out, r.Kind+"/"+r.Name)
	}
	slices.Sort(out)
	return out
}

// checkConsistent checks the release after a command that succeeded with
// values gen: the lock released; revisions strictly increasing, none
// pending, exactly one deployed and it is the head's (and the newest);
// every owned object in some revision's inventory (no orphan) — indeed
// exactly the deployed inventory, at gen — and history within
// --history-max.
func checkConsistent(ctx context.Context, ns string, gen int) error {
	s := store()
	head, err := s.Head(ctx, ns, rel)
	if err != nil {
		return err
	}
	hist, err := s.History(ctx, ns, rel)
	if err != nil {
		return err
	}
	var errs []error
	if head.Lock != nil {
		errs = append(errs, fmt.Errorf("lock still held by %s after a command that finished", head.Lock.Holder))
	}
	var deployed []int
	inAnyRevision := map[string]bool{}
	for i, r := range hist {
		if i > 0 && r.Revision <= hist[i-1].Revision {
			errs = append(errs, fmt.Errorf("revisions not strictly increasing: %d after %d", r.Revision, hist[i-1].Revision))
		}
		if r.Status.IsPending() {
			errs = append(errs, fmt.Errorf("revision %d left %s", r.Revision, r.Status))
		}
		if r.Status == release.StatusDeployed {
			deployed = append(deployed, r.Revision)
		}
		for _, k := range refKeys(r.Inventory) {
			inAnyRevision[k] = true
		}
	}
	if len(hist) == 0 {
		return errors.Join(append(errs, errors.New("no revision recorded"))...)
	}
	newest := hist[len(hist)-1]
	if len(deployed) != 1 || deployed[0] != head.Deployed || head.Deployed != newest.Revision || head.Revision != newest.Revision {
		errs = append(errs, fmt.Errorf("deployed revisions %v, head: revision %d deployed %d, newest record %d: want exactly one deployed, the newest, named by the head",
			deployed, head.Revision, head.Deployed, newest.Revision))
	}
	if len(hist) > 10 {
		errs = append(errs, fmt.Errorf("%d revisions kept, want at most --history-max=10", len(hist)))
	}
	live, err := ownedObjects(ctx, ns)
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	var liveKeys, orphans, stale []string
	for _, o := range live {
		liveKeys = append(liveKeys, o.key)
		if !inAnyRevision[o.key] {
			orphans = append(orphans, o.key)
		}
		if o.gen != strconv.Itoa(gen) {
			stale = append(stale, fmt.Sprintf("%s (gen %s)", o.key, o.gen))
		}
	}
	if len(orphans) > 0 {
		errs = append(errs, fmt.Errorf("orphans (owned, in no revision's inventory): %v", orphans))
	}
	if len(stale) > 0 {
		errs = append(errs, fmt.Errorf("objects not at gen %d: %v", gen, stale))
	}
	if d := cmp.Diff(refKeys(newest.Inventory), liveKeys); d != "" {
		errs = append(errs, fmt.Errorf("owned objects differ from the deployed inventory (-inventory +live):\n%s", d))
	}
	if d := cmp.Diff(refKeys(newest.Inventory), refKeys(head.Inventory)); d != "" {
		errs = append(errs, fmt.Errorf("head inventory differs from the deployed revision's (-revision +head):\n%s", d))
	}
	return errors.Join(errs...)
}
