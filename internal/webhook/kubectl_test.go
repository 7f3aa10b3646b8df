package webhook

// Scenario tests with the real binaries (acceptance items 1 and 3 of issue
// 5): releases are installed by the kubectl-chart binary built from this
// repository, and people change them with the control plane's kubectl, each
// with a kubeconfig of their own (a client certificate from envtest's
// AddUser), while the webhook runs as in the other tests of this package.
// Every test has its own namespace and release, so they run in parallel.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	"github.com/kubectl-chart/kubectl-chart/pkg/ownership"
	"github.com/kubectl-chart/kubectl-chart/pkg/release"
)

// scenarioChart is the chart the scenarios install: a Deployment and a
// ConfigMap whose owned fields come from values.
var scenarioChart = map[string]string{
	"Chart.yaml":  "apiVersion: v2\nname: web\nversion: 1.0.0\n",
	"values.yaml": "replicas: 2\nimage: nginx:1.27\nmode: production\n",
	"templates/deployment.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: {{ .Values.replicas }}
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: web
        image: {{ .Values.image }}
`,
	"templates/configmap.yaml": `apiVersion: v1
kind: ConfigMap
metadata:
  name: web-config
data:
  mode: {{ .Values.mode }}
`,
}

// scenarios holds what the scenario tests share: the binaries built once
// per package, the chart, and a kubeconfig per person, in a folder of the
// control plane's state (removed when it stops).
type scenarios struct {
	dir        string
	plugin     string // bin/kubectl-chart
	webhook    string // bin/webhook: chart-webhook
	chartDir   string
	kubectlBin string
	cacheDir   string // KUBECACHEDIR: discovery cache of kubectl and the plugin

	mu     sync.Mutex
	people map[string]*person
}

var (
	scenariosOnce sync.Once
	scenariosRun  *scenarios
	scenariosErr  error
)

// setupScenarios starts the webhook and builds the binaries, once.
func setupScenarios(t *testing.T) *scenarios {
	t.Helper()
	env.Require(t)
	startWebhook(t)
	scenariosOnce.Do(func() { scenariosRun, scenariosErr = newScenarios() })
	if scenariosErr != nil {
		t.Fatalf("scenarios: %v", scenariosErr)
	}
	return scenariosRun
}

func newScenarios() (*scenarios, error) {
	s := &scenarios{
		dir:        filepath.Join(env.Dir(), "kubectl-scenarios"),
		kubectlBin: filepath.Join(env.AssetsDir(), "kubectl"),
		people:     map[string]*person{},
	}
	s.plugin = filepath.Join(s.dir, "bin", "kubectl-chart")
	s.webhook = filepath.Join(s.dir, "bin", "webhook")
	s.chartDir = filepath.Join(s.dir, "chart")
	s.cacheDir = filepath.Join(s.dir, "kube-cache")
	for name, text := range scenarioChart {
		p := filepath.Join(s.chartDir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			return nil, err
		}
	}
	goBin := "go"
	if v := os.Getenv("GO"); v != "" {
		goBin = v
	}
	// One go build for both (named after their folders).
	cmd := exec.Command(goBin, "build", "-o", filepath.Dir(s.plugin)+string(filepath.Separator), "./cmd/kubectl-chart", "./cmd/webhook")
	cmd.Dir = filepath.Join("..", "..")
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build ./cmd/kubectl-chart ./cmd/webhook: %v\n%s", err, out)
	}
	return s, nil
}

// person is someone at a terminal: a kubeconfig of their own.
type person struct {
	name       string
	kubeconfig string
}

// personFor returns name's kubeconfig, authenticated by a client
// certificate (organisations: system:masters and groups), so RBAC lets them
// do anything and only the webhook stands in their way.
func (s *scenarios) personFor(t *testing.T, name string, groups ...string) *person {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.people[name]; p != nil {
		return p
	}
	u, err := env.Envtest().AddUser(envtest.User{Name: name, Groups: append([]string{"system:masters"}, groups...)}, nil)
	if err != nil {
		t.Fatalf("add user %s: %v", name, err)
	}
	kc, err := u.KubeConfig()
	if err != nil {
		t.Fatal(err)
	}
	p := &person{name: name, kubeconfig: filepath.Join(s.dir, "kubeconfig-"+strings.NewReplacer(":", "_", "/", "_").Replace(name))}
	if err := os.WriteFile(p.kubeconfig, kc, 0o600); err != nil {
		t.Fatal(err)
	}
	s.people[name] = p
	return p
}

// result is a finished command.
type result struct {
	cmd            string
	stdout, stderr string
	code           int
	took           time.Duration
}

func (r result) String() string {
	return fmt.Sprintf("%s: exit %d (%s)\nstdout:\n%sstderr:\n%s", r.cmd, r.code, r.took.Round(time.Millisecond), r.stdout, r.stderr)
}

// command is bin args as p in namespace ns, with extra environment.
func (s *scenarios) command(ctx context.Context, t *testing.T, p *person, ns string, extraEnv []string, bin string, args ...string) *exec.Cmd {
	t.Helper()
	full := append([]string{"--kubeconfig", p.kubeconfig, "-n", ns}, args...)
	cmd := exec.CommandContext(ctx, bin, full...)
	cmd.Env = append(os.Environ(), "KUBECACHEDIR="+s.cacheDir, "TMPDIR="+t.TempDir(), "NO_COLOR=1")
	cmd.Env = append(cmd.Env, extraEnv...)
	return cmd
}

func runCommand(t *testing.T, cmd *exec.Cmd) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	r := result{cmd: filepath.Base(cmd.Path) + " " + strings.Join(cmd.Args[5:], " "), stdout: stdout.String(), stderr: stderr.String(), took: time.Since(start)}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		r.code = exit.ExitCode()
	case err != nil:
		t.Fatalf("%s: %v", r.cmd, err)
	}
	return r
}

// kubectl runs the control plane's kubectl as p in ns.
func (s *scenarios) kubectl(t *testing.T, p *person, ns string, extraEnv []string, args ...string) result {
	t.Helper()
	return runCommand(t, s.command(t.Context(), t, p, ns, extraEnv, s.kubectlBin, args...))
}

// chart runs `kubectl chart` (the plugin binary) as p in ns.
func (s *scenarios) chart(t *testing.T, p *person, ns string, args ...string) result {
	t.Helper()
	return runCommand(t, s.command(t.Context(), t, p, ns, nil, s.plugin, args...))
}

// ok fails the test unless r succeeded.
func (r result) ok(t *testing.T) result {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("want success, got %s", r)
	}
	return r
}

// denied checks that r failed with the webhook's denial naming every one
// of parts.
func (r result) denied(t *testing.T, parts ...string) {
	t.Helper()
	if r.code == 0 {
		t.Errorf("want a denial, got %s", r)
		return
	}
	want := `admission webhook "ownership.kubectl-chart.io" denied the request`
	if !strings.Contains(r.stderr, want) || !containsAll(r.stderr, parts...) {
		t.Errorf("want %q naming %q, got %s", want, parts, r)
	}
}

// scenario is a release installed by the plugin in a namespace of its own.
type scenario struct {
	*scenarios
	ns, name string
	deployer *person
}

// installWithPlugin has userDeployer install the chart as release name with the
// plugin (revision 1).
func installWithPlugin(t *testing.T, name string) *scenario {
	t.Helper()
	s := setupScenarios(t)
	sc := &scenario{scenarios: s, ns: env.Namespace(t), name: name, deployer: s.personFor(t, userDeployer)}
	sc.chart(t, sc.deployer, sc.ns, "install", name, s.chartDir).ok(t)
	return sc
}

// editor writes a KUBE_EDITOR script running sed expression expr on the
// file kubectl edit opens.
func editor(t *testing.T, expr string) []string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "editor.sh")
	script := "#!/bin/sh\nexec sed -i -e '" + expr + "' \"$1\"\n"
	if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return []string{"KUBE_EDITOR=" + p, "EDITOR=" + p}
}

// jsonpath reads one field of an object with the admin's kubectl.
func (sc *scenario) jsonpath(t *testing.T, object, path string) string {
	t.Helper()
	r := sc.kubectl(t, sc.admin(t), sc.ns, nil, "get", object, "-o", "jsonpath={"+path+"}").ok(t)
	return r.stdout
}

func (sc *scenario) admin(t *testing.T) *person { return sc.personFor(t, "scenario-admin") }

// waitStatus runs `kubectl chart status` until its output holds every one
// of parts (the webhook records Events asynchronously) and returns it.
func (sc *scenario) waitStatus(t *testing.T, p *person, parts ...string) string {
	t.Helper()
	var last result
	err := wait.PollUntilContextTimeout(t.Context(), 100*time.Millisecond, 20*time.Second, true, func(context.Context) (bool, error) {
		last = sc.chart(t, p, sc.ns, "status", sc.name)
		return last.code == 0 && containsAll(last.stdout, parts...), nil
	})
	if err != nil {
		t.Fatalf("kubectl chart status never showed %q; last: %s", parts, last)
	}
	return last.stdout
}

// manifest is the Deployment as a person would write it, with replicas.
func (sc *scenario) manifest(t *testing.T, replicas int) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "web.yaml")
	text := fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: %s
spec:
  replicas: %d
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: web
        image: nginx:1.27
`, sc.ns, replicas)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestKubectlChangesToOwnedFieldsAreDenied: kubectl edit, patch and apply
// (client-side, and server-side with --force-conflicts) of spec.replicas,
// which the release owns, are refused naming the field, the release, its
// revision and the command to use; the blocked writes show in `kubectl
// chart status`.
func TestKubectlChangesToOwnedFieldsAreDenied(t *testing.T) {
	t.Parallel()
	sc := installWithPlugin(t, "owned")
	alice := sc.personFor(t, userAlice)
	parts := []string{"spec.replicas", "release owned (revision 1) in namespace " + sc.ns, "kubectl chart upgrade owned <chart> -n " + sc.ns}

	edit := sc.kubectl(t, alice, sc.ns, editor(t, `s/^  replicas: 2$/  replicas: 5/`), "edit", "deployment/web")
	edit.denied(t, parts...)
	if !strings.Contains(edit.stderr, "kubectl replace -f") {
		t.Errorf("kubectl edit did not keep the edited copy (the editor changed nothing?): %s", edit)
	}
	sc.kubectl(t, alice, sc.ns, nil, "patch", "deployment/web", "-p", `{"spec":{"replicas":5}}`).denied(t, parts...)
	sc.kubectl(t, alice, sc.ns, nil, "apply", "-f", sc.manifest(t, 5)).denied(t, parts...)
	sc.kubectl(t, alice, sc.ns, nil, "apply", "--server-side", "--force-conflicts", "-f", sc.manifest(t, 5)).denied(t, parts...)
	// Without --force-conflicts, server-side apply stops at the API
	// server's own conflict check, before admission.
	if r := sc.kubectl(t, alice, sc.ns, nil, "apply", "--server-side", "-f", sc.manifest(t, 5)); r.code == 0 || !strings.Contains(r.stderr, `conflict with "kubectl-chart"`) {
		t.Errorf("server-side apply without --force-conflicts: want a field conflict with kubectl-chart, got %s", r)
	}
	if got := sc.jsonpath(t, "deployment/web", ".spec.replicas"); got != "2" {
		t.Errorf("spec.replicas = %s after the denied writes, want 2", got)
	}

	out := sc.waitStatus(t, alice, "BLOCKED AND BREAK-GLASS WRITES:",
		"blocked: user alice changed spec.replicas of Deployment.apps/"+sc.ns+"/web via kubectl-edit",
		"/web via kubectl-patch\n", "/web via kubectl-client-side-apply\n", "/web via kubectl\n")
	t.Logf("kubectl chart status:\n%s", out)
}

// TestKubectlUnownedChangesAreAllowed: the release's own upgrade goes
// through; so do a new annotation and kubectl scale (a subresource) from
// someone else. The next upgrade, with the webhook in the way of every
// write, takes replicas back from kubectl scale (a field its previous
// revision applied) and says so, in its output and in history.
func TestKubectlUnownedChangesAreAllowed(t *testing.T) {
	t.Parallel()
	sc := installWithPlugin(t, "unowned")
	alice := sc.personFor(t, userAlice)

	sc.chart(t, sc.deployer, sc.ns, "upgrade", sc.name, sc.chartDir, "--set", "replicas=3").ok(t)
	if got := sc.jsonpath(t, "deployment/web", ".spec.replicas"); got != "3" {
		t.Errorf("spec.replicas = %s after kubectl chart upgrade --set replicas=3, want 3", got)
	}
	if got := sc.jsonpath(t, "secret/"+ownership.RevisionName(sc.name, 2), `.metadata.annotations.kubectl-chart\.io/applied-by`); got != userDeployer {
		t.Errorf("revision 2 applied-by = %q, want %q", got, userDeployer)
	}

	sc.kubectl(t, alice, sc.ns, nil, "annotate", "deployment/web", "example.com/checked-by=alice").ok(t)
	sc.kubectl(t, alice, sc.ns, nil, "annotate", "configmap/web-config", "example.com/note=looked at it").ok(t)
	sc.kubectl(t, alice, sc.ns, nil, "scale", "deployment/web", "--replicas=4").ok(t)
	if got := sc.jsonpath(t, "deployment/web", ".spec.replicas"); got != "4" {
		t.Errorf("spec.replicas = %s after kubectl scale, want 4", got)
	}
	if got := sc.jsonpath(t, "deployment/web", `.metadata.annotations.example\.com/checked-by`); got != "alice" {
		t.Errorf("annotation = %q after kubectl annotate, want alice", got)
	}

	r := sc.chart(t, sc.deployer, sc.ns, "upgrade", sc.name, sc.chartDir).ok(t)
	if !containsAll(r.stdout, "reclaimed .spec.replicas of Deployment.apps/"+sc.ns+"/web from kubectl (through /scale)") {
		t.Errorf("upgrade after kubectl scale: want the field reclaimed and reported, got %s", r)
	}
	// No values given: the last revision's (replicas=3) are used, as Helm does.
	if got := sc.jsonpath(t, "deployment/web", ".spec.replicas"); got != "3" {
		t.Errorf("spec.replicas = %s after the upgrade, want revision 2's 3", got)
	}
	if got := sc.jsonpath(t, "deployment/web", `.metadata.annotations.example\.com/checked-by`); got != "alice" {
		t.Errorf("annotation = %q after the upgrade, want alice's (not the release's field)", got)
	}
	if h := sc.chart(t, sc.deployer, sc.ns, "history", sc.name).ok(t).stdout; !strings.Contains(h, "reclaimed .spec.replicas") {
		t.Errorf("history does not say what revision 3 reclaimed:\n%s", h)
	}
}

// TestKubectlLabelRemovalAndDeleteAreDenied: removing the release label and
// deleting an owned object are refused; deleting the namespace is not, and
// the namespace controller may then delete what the release owns.
func TestKubectlLabelRemovalAndDeleteAreDenied(t *testing.T) {
	t.Parallel()
	sc := installWithPlugin(t, "labels")
	alice := sc.personFor(t, userAlice)

	sc.kubectl(t, alice, sc.ns, nil, "label", "deployment/web", ownership.LabelRelease+"-").
		denied(t, ownership.FormatPath(fieldpath.MakePathOrDie("metadata", "labels", ownership.LabelRelease)), "release labels (revision 1)", "kubectl chart upgrade labels <chart> -n "+sc.ns)
	sc.kubectl(t, alice, sc.ns, nil, "delete", "deployment/web", "--wait=false").
		denied(t, "Deployment.apps/"+sc.ns+"/web is owned by release labels (revision 1)", "kubectl chart uninstall labels -n "+sc.ns)
	sc.kubectl(t, alice, sc.ns, nil, "delete", "configmap/web-config", "--wait=false").denied(t, "kubectl chart uninstall labels")
	if got := sc.jsonpath(t, "deployment/web", `.metadata.labels.kubectl-chart\.io/release`); got != sc.name {
		t.Errorf("release label = %q after the denied writes, want %q", got, sc.name)
	}

	// The namespace itself carries no release label: the webhook never sees
	// its deletion.
	sc.kubectl(t, alice, sc.ns, nil, "delete", "namespace", sc.ns, "--wait=false").ok(t)
	// This control plane runs no namespace controller: do what it would,
	// with its identity.
	nsController := sc.personFor(t, ownership.UserNamespaceController)
	sc.kubectl(t, nsController, sc.ns, nil, "delete", "deployment/web", "configmap/web-config", "--wait=false").ok(t)
	if r := sc.kubectl(t, sc.admin(t), sc.ns, nil, "get", "deployment/web"); r.code == 0 {
		t.Errorf("the Deployment survived the namespace controller's delete: %s", r)
	}
}

// TestKubectlChartUpgradeOfAnotherUserWhileLocked: while the deployer's
// upgrade holds the release lock (it waits for a Deployment this control
// plane never rolls out), another user's `kubectl chart upgrade` is refused,
// and so is a write with the plugin's field manager from that user: the
// webhook checks who took the lock, not what the client calls itself.
func TestKubectlChartUpgradeOfAnotherUserWhileLocked(t *testing.T) {
	t.Parallel()
	sc := installWithPlugin(t, "locked")
	alice := sc.personFor(t, userAlice)

	ctx, cancel := context.WithCancel(t.Context())
	held := sc.command(ctx, t, sc.deployer, sc.ns, nil, sc.plugin, "upgrade", sc.name, sc.chartDir, "--set", "replicas=4", "--wait", "--timeout", "5m")
	var heldOut bytes.Buffer
	held.Stdout, held.Stderr = &heldOut, &heldOut
	if err := held.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- held.Wait() }()
	t.Cleanup(func() {
		cancel()
		<-done
	})

	// The upgrade holds the lock once it has applied revision 2's objects
	// and waits for them.
	store := release.NewKubeStore(env.Clientset(), release.DefaultKubeStoreOptions())
	err := wait.PollUntilContextTimeout(t.Context(), 50*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
		select {
		case err := <-done:
			return false, fmt.Errorf("the deployer's upgrade ended (%v):\n%s", err, heldOut.String())
		default:
		}
		h, err := store.Head(ctx, sc.ns, sc.name)
		if err != nil {
			return false, nil
		}
		if h.Lock == nil || h.Lock.User != userDeployer || h.Revision != 2 {
			return false, nil
		}
		d, err := env.Clientset().AppsV1().Deployments(sc.ns).Get(ctx, "web", metav1.GetOptions{})
		return err == nil && *d.Spec.Replicas == 4, nil
	})
	if err != nil {
		t.Fatalf("the deployer's upgrade never held the lock: %v", err)
	}

	r := sc.chart(t, alice, sc.ns, "upgrade", sc.name, sc.chartDir, "--set", "replicas=9")
	if r.code == 0 || !containsAll(r.stderr, "/locked is locked by", "(user deployer) running upgrade", "--force-unlock") {
		t.Errorf("alice's upgrade while the deployer holds the lock: want refused naming the holder, got %s", r)
	}
	// Calling oneself kubectl-chart does not make one the lock holder.
	sc.kubectl(t, alice, sc.ns, nil, "apply", "--server-side", "--field-manager=kubectl-chart", "--force-conflicts", "-f", sc.manifest(t, 9)).
		denied(t, "spec.replicas", "release locked (revision 2)", "the request names field manager kubectl-chart, but the lock of release locked is held by user deployer")
	if got := sc.jsonpath(t, "deployment/web", ".spec.replicas"); got != "4" {
		t.Errorf("spec.replicas = %s, want the deployer's 4", got)
	}
	select {
	case err := <-done:
		t.Fatalf("the deployer's upgrade ended early (%v):\n%s", err, heldOut.String())
	default:
	}
}

// TestKubectlEditOfRevisionRecordIsDenied: a superseded (final) revision
// record cannot be edited, nor its status moved back.
func TestKubectlEditOfRevisionRecordIsDenied(t *testing.T) {
	t.Parallel()
	sc := installWithPlugin(t, "records")
	sc.chart(t, sc.deployer, sc.ns, "upgrade", sc.name, sc.chartDir, "--set", "mode=staging").ok(t)
	alice := sc.personFor(t, userAlice)
	v1 := "secret/" + ownership.RevisionName(sc.name, 1)
	if got := sc.jsonpath(t, v1, `.metadata.labels.kubectl-chart\.io/status`); got != string(release.StatusSuperseded) {
		t.Fatalf("revision 1 status = %q, want superseded", got)
	}

	// Records are immutable Secrets: the API server's own validation
	// refuses a change of their data before the validating webhook would.
	if r := sc.kubectl(t, alice, sc.ns, editor(t, "/^data:/a\\\n  forged: Zm9yZ2Vk"), "edit", v1); r.code == 0 || !strings.Contains(r.stderr, "is invalid") {
		t.Errorf("kubectl edit of a record's data: want it refused as invalid, got %s", r)
	}
	sc.kubectl(t, alice, sc.ns, nil, "label", "--overwrite", v1, ownership.LabelStatus+"=deployed").
		denied(t, `metadata.labels["kubectl-chart.io/status"] of revision 1 of release records`, "written only by the release's running operation")
	sc.kubectl(t, alice, sc.ns, nil, "annotate", "--overwrite", v1, release.AnnotationDescription+"=forged").
		denied(t, "written only by the release's running operation")
	if got := sc.chart(t, alice, sc.ns, "history", sc.name).ok(t).stdout; strings.Contains(got, "forged") || !strings.Contains(got, "superseded") {
		t.Errorf("history after denied record edits:\n%s", got)
	}
	if got := sc.jsonpath(t, v1, ".data.forged"); got != "" {
		t.Errorf("revision 1 has data.forged = %q after a denied edit", got)
	}
}

// TestKubectlCopiedLabelsOutsideTheInventoryWarn: an object that carries
// the release's labels but is not in its inventory is let through, and
// kubectl prints the webhook's warning.
func TestKubectlCopiedLabelsOutsideTheInventoryWarn(t *testing.T) {
	t.Parallel()
	sc := installWithPlugin(t, "copied")
	alice := sc.personFor(t, userAlice)
	sc.kubectl(t, alice, sc.ns, nil, "create", "configmap", "copied", "--from-literal=a=b").ok(t)
	r := sc.kubectl(t, alice, sc.ns, nil, "label", "configmap/copied", ownership.LabelRelease+"="+sc.name, ownership.LabelReleaseNamespace+"="+sc.ns).ok(t)
	if want := "Warning: ConfigMap/" + sc.ns + "/copied carries the labels of release copied (revision 1) in namespace " + sc.ns + " but is not in its inventory"; !strings.Contains(r.stderr, want) {
		t.Errorf("want %q, got %s", want, r)
	}
	// Changing it further is not guarded either.
	sc.kubectl(t, alice, sc.ns, nil, "patch", "configmap/copied", "-p", `{"data":{"a":"c"}}`).ok(t)
}

// TestKubectlBreakGlass: a break-glass user and a member of a break-glass
// group may change owned fields; each such write is recorded and `kubectl
// chart status` shows it.
func TestKubectlBreakGlass(t *testing.T) {
	t.Parallel()
	sc := installWithPlugin(t, "glass")
	carol := sc.personFor(t, userCarol)
	bob := sc.personFor(t, userBob, breakGlassGroup)

	sc.kubectl(t, carol, sc.ns, editor(t, `s/^  replicas: 2$/  replicas: 6/`), "edit", "deployment/web").ok(t)
	if got := sc.jsonpath(t, "deployment/web", ".spec.replicas"); got != "6" {
		t.Errorf("spec.replicas = %s after carol's edit, want 6", got)
	}
	sc.kubectl(t, bob, sc.ns, nil, "patch", "configmap/web-config", "-p", `{"data":{"mode":"debug"}}`).ok(t)

	out := sc.waitStatus(t, sc.deployer,
		"break-glass: user carol changed spec.replicas of Deployment.apps/"+sc.ns+"/web via kubectl-edit",
		"break-glass: user bob changed data.mode of ConfigMap/"+sc.ns+"/web-config via kubectl-patch")
	if !regexp.MustCompile(`(?m)^  .*  BreakGlass\w*: break-glass: user carol`).MatchString(out) {
		t.Errorf("status does not list carol's write under its reason:\n%s", out)
	}
}

// TestKubectlWritesFailClosedWhenTheWebhookStops (acceptance item 3): the
// chart-webhook binary serves a copy of manifests/' configuration (limited
// to this test's namespace, so the other tests go on); once the process is
// killed, writes to owned objects are refused by the API server with its
// own error, and writes to objects without the release label never reach
// the webhook.
func TestKubectlWritesFailClosedWhenTheWebhookStops(t *testing.T) {
	t.Parallel()
	sc := installWithPlugin(t, "closed")
	alice := sc.personFor(t, userAlice)

	port, err := freeAddress()
	if err != nil {
		t.Fatal(err)
	}
	probe, err := freeAddress()
	if err != nil {
		t.Fatal(err)
	}
	metrics, err := freeAddress()
	if err != nil {
		t.Fatal(err)
	}
	_, portNum, _ := strings.Cut(port, ":")
	var logs bytes.Buffer
	proc := exec.Command(sc.webhook,
		"--kubeconfig", env.KubeconfigPath(),
		"--cert-dir", env.Envtest().WebhookInstallOptions.LocalServingCertDir,
		"--host", "127.0.0.1", "--port", portNum,
		"--health-probe-bind-address", probe, "--metrics-bind-address", metrics, "--metrics-secure=false",
		"--seal-key-file", testSealKeyFile(t))
	proc.Stdout, proc.Stderr = &logs, &logs
	if err := proc.Start(); err != nil {
		t.Fatal(err)
	}
	waitProc := sync.OnceValue(proc.Wait)
	t.Cleanup(func() {
		_ = proc.Process.Kill()
		_ = waitProc()
	})

	// manifests/' webhook configurations, pointed at the process and at
	// this namespace. The validating one is called in parallel with the
	// package's: a request the process cannot answer fails whatever the
	// other says.
	_, hook, err := manifestWebhooks()
	if err != nil {
		t.Fatal(err)
	}
	hook.Name = "chart-webhook-closed-" + sc.ns
	hook.Annotations = nil
	url := "https://" + port + PathValidate
	for i := range hook.Webhooks {
		w := &hook.Webhooks[i]
		w.ClientConfig = admissionregistrationv1.WebhookClientConfig{URL: &url, CABundle: env.Envtest().WebhookInstallOptions.LocalServingCAData}
		w.NamespaceSelector.MatchExpressions = append(w.NamespaceSelector.MatchExpressions, metav1.LabelSelectorRequirement{
			Key: "kubernetes.io/metadata.name", Operator: metav1.LabelSelectorOpIn, Values: []string{sc.ns},
		})
	}
	hooks := env.Clientset().AdmissionregistrationV1().ValidatingWebhookConfigurations()
	if _, err := hooks.Create(t.Context(), hook, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = hooks.Delete(context.Background(), hook.Name, metav1.DeleteOptions{}) })

	// The API server calls the process: its request counter moves when
	// alice annotates an owned object (allowed: not an owned field).
	requests := func() float64 {
		resp, err := http.Get("http://" + metrics + "/metrics")
		if err != nil {
			return -1
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var n float64
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, MetricRequests+"{") {
				f := strings.Fields(l)
				v, _ := strconv.ParseFloat(f[len(f)-1], 64)
				n += v
			}
		}
		return n
	}
	i := 0
	err = wait.PollUntilContextTimeout(t.Context(), 100*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		before := requests()
		if before < 0 {
			return false, nil
		}
		i++
		sc.kubectl(t, alice, sc.ns, nil, "annotate", "--overwrite", "deployment/web", "example.com/probe="+strconv.Itoa(i)).ok(t)
		return requests() > before, nil
	})
	if err != nil {
		t.Fatalf("the API server never called the chart-webhook process: %v\nlogs:\n%s", err, logs.String())
	}
	sc.kubectl(t, alice, sc.ns, nil, "patch", "deployment/web", "-p", `{"spec":{"replicas":5}}`).denied(t, "spec.replicas")
	// An object with the release's label that its inventory does not list:
	// the package's webhook allows deleting it, so only the stopped process
	// can fail the delete below (an owned object's delete is denied by the
	// package's webhook too, and whichever answers first names the error).
	sc.kubectl(t, alice, sc.ns, nil, "create", "configmap", "stray", "--from-literal=a=b").ok(t)
	sc.kubectl(t, alice, sc.ns, nil, "label", "configmap/stray", ownership.LabelRelease+"="+sc.name).ok(t)

	// Stop it for real.
	if err := proc.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = waitProc()

	failed := []string{`failed calling webhook "ownership.kubectl-chart.io"`, "connection refused"}
	for _, args := range [][]string{
		{"annotate", "--overwrite", "deployment/web", "example.com/probe=stop"},
		{"patch", "configmap/web-config", "-p", `{"data":{"extra":"x"}}`},
		{"delete", "configmap/stray", "--wait=false"},
	} {
		r := sc.kubectl(t, alice, sc.ns, nil, args...)
		if r.code == 0 || !containsAll(r.stderr, failed...) {
			t.Errorf("kubectl %s with the webhook stopped: want %q, got %s", args[0], failed, r)
		}
	}
	// The release's own operation fails closed too.
	if r := sc.chart(t, sc.deployer, sc.ns, "upgrade", sc.name, sc.chartDir, "--set", "replicas=3"); r.code == 0 || !containsAll(r.stderr, failed...) {
		t.Errorf("kubectl chart upgrade with the webhook stopped: want %q, got %s", failed, r)
	}
	if got := sc.jsonpath(t, "configmap/web-config", ".data.mode"); got != "production" {
		t.Errorf("web-config data.mode = %q, want production", got)
	}

	// A write that only adds an annotation cannot change what the release
	// owns: the match condition keeps it from the webhook, so it passes
	// while the webhook is down.
	sc.kubectl(t, alice, sc.ns, nil, "annotate", "deployment/web", "example.com/after=stop").ok(t)

	// Objects without the release label never reach the webhook.
	sc.kubectl(t, alice, sc.ns, nil, "create", "configmap", "unowned", "--from-literal=a=b").ok(t)
	sc.kubectl(t, alice, sc.ns, nil, "annotate", "configmap/unowned", "example.com/note=x").ok(t)
	sc.kubectl(t, alice, sc.ns, nil, "create", "deployment", "other", "--image=nginx:1.27", "--replicas=2").ok(t)
	sc.kubectl(t, alice, sc.ns, nil, "scale", "deployment/other", "--replicas=3").ok(t)
	sc.kubectl(t, alice, sc.ns, nil, "delete", "configmap/unowned", "deployment/other", "--wait=false").ok(t)
}

// TestKubectlManagedFieldsResetIsDenied: a user with ordinary write rights
// cannot strip kubectl-chart's managedFields entry (which would leave the
// release owning nothing and let the next kubectl patch through), neither
// with a merge patch resetting the list nor with a JSON patch removing the
// entry; a patch of an owned field afterwards is still denied.
func TestKubectlManagedFieldsResetIsDenied(t *testing.T) {
	t.Parallel()
	sc := installWithPlugin(t, "mf")
	alice := sc.personFor(t, userAlice)
	parts := []string{"managedFields entry of manager kubectl-chart", "release mf (revision 1) in namespace " + sc.ns}

	sc.kubectl(t, alice, sc.ns, nil, "patch", "deployment/web", "--type", "merge", "-p", `{"metadata":{"managedFields":[{}]}}`).denied(t, parts...)
	index := -1
	for i, m := range strings.Fields(sc.jsonpath(t, "deployment/web", ".metadata.managedFields[*].manager")) {
		if m == "kubectl-chart" {
			index = i
		}
	}
	if index < 0 {
		t.Fatal("the Deployment has no managedFields entry of kubectl-chart")
	}
	sc.kubectl(t, alice, sc.ns, nil, "patch", "deployment/web", "--type", "json", "-p",
		fmt.Sprintf(`[{"op":"remove","path":"/metadata/managedFields/%d"}]`, index)).denied(t, parts...)
	sc.kubectl(t, alice, sc.ns, nil, "patch", "deployment/web", "-p", `{"spec":{"replicas":5}}`).denied(t, "spec.replicas")
	if got := sc.jsonpath(t, "deployment/web", ".spec.replicas"); got != "2" {
		t.Errorf("spec.replicas = %s after the denied writes, want 2", got)
	}
}

// TestKubectlRecordLabelOnOwnedObjectIsDenied: the record label would make
// an owned ConfigMap pass for a release head (and a Secret for a revision
// record); a user with write rights cannot put it on an owned object.
func TestKubectlRecordLabelOnOwnedObjectIsDenied(t *testing.T) {
	t.Parallel()
	sc := installWithPlugin(t, "rl")
	alice := sc.personFor(t, userAlice)
	sc.kubectl(t, alice, sc.ns, nil, "label", "deployment/web", "kubectl-chart.io/record=head").
		denied(t, `metadata.labels["kubectl-chart.io/record"] marks the records of releases`, "release rl (revision 1)")
	if got := sc.jsonpath(t, "deployment/web", `.metadata.labels.kubectl-chart\.io/record`); got != "" {
		t.Errorf("the record label is on the Deployment: %q", got)
	}
}
