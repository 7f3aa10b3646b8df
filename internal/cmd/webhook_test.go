package cmd

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	cmv1 "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	"github.com/google/go-cmp/cmp"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensionsclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-chart/kubectl-chart/internal/testcluster"
	"github.com/kubectl-chart/kubectl-chart/internal/webhookinstall"
	"github.com/kubectl-chart/kubectl-chart/pkg/ownership"
	"github.com/kubectl-chart/kubectl-chart/pkg/release"
)

// webhookKube are the kube flags of the webhook commands: no -n, so that
// the webhook goes to its own namespace.
func webhookKube(t *testing.T) []string {
	return []string{"--kubeconfig", env.KubeconfigPath(), "--cache-dir", t.TempDir()}
}

// chartOK runs `kubectl chart <args>`, which must succeed, and returns its
// stdout.
func chartOK(t *testing.T, args ...string) string {
	t.Helper()
	got := runChart(t, args, "")
	if got.err != nil {
		t.Fatalf("kubectl chart %s: exit %d: %v\n%s%s", strings.Join(args, " "), got.exit(), got.err, got.stdout, got.stderr)
	}
	return got.stdout
}

// removeWebhookConfiguration deletes chart-webhook's configurations (and
// its ClusterRoles) when t ends, whatever happened: other tests of the
// package must not meet a webhook that nothing answers.
func removeWebhookConfiguration(t *testing.T) {
	t.Cleanup(func() {
		ctx := context.Background()
		api := env.Clientset().AdmissionregistrationV1()
		for _, err := range []error{
			api.ValidatingWebhookConfigurations().Delete(ctx, webhookinstall.Name, metav1.DeleteOptions{}),
			api.MutatingWebhookConfigurations().Delete(ctx, webhookinstall.Name, metav1.DeleteOptions{}),
			env.Clientset().RbacV1().ClusterRoles().Delete(ctx, webhookinstall.DeployerRoleName, metav1.DeleteOptions{}),
			env.Clientset().RbacV1().ClusterRoles().Delete(ctx, webhookinstall.UnlockerRoleName, metav1.DeleteOptions{}),
		} {
			if err != nil && !apierrors.IsNotFound(err) {
				t.Errorf("cleanup: %v", err)
			}
		}
	})
}

// webhookConfigurations reads both of chart-webhook's configurations,
// which must exist.
func webhookConfigurations(t *testing.T) (*admissionregistrationv1.MutatingWebhookConfiguration, *admissionregistrationv1.ValidatingWebhookConfiguration) {
	t.Helper()
	api := env.Clientset().AdmissionregistrationV1()
	mut, err := api.MutatingWebhookConfigurations().Get(t.Context(), webhookinstall.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	val, err := api.ValidatingWebhookConfigurations().Get(t.Context(), webhookinstall.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return mut, val
}

// clientConfigs are the clientConfigs of every webhook of both
// configurations, by webhook name.
func clientConfigs(mut *admissionregistrationv1.MutatingWebhookConfiguration, val *admissionregistrationv1.ValidatingWebhookConfiguration) map[string]admissionregistrationv1.WebhookClientConfig {
	out := map[string]admissionregistrationv1.WebhookClientConfig{}
	for _, w := range mut.Webhooks {
		out[w.Name] = w.ClientConfig
	}
	for _, w := range val.Webhooks {
		out[w.Name] = w.ClientConfig
	}
	return out
}

// webhookNames are the webhooks of manifests/: the mutating one, then the
// validating ones.
var webhookNames = []string{"stamp.kubectl-chart.io", "ownership.kubectl-chart.io", "records.kubectl-chart.io"}

// timesAndPorts makes status output stable: times and a port vary.
func timesAndPorts(s string, port int) string {
	s = regexp.MustCompile(`\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC`).ReplaceAllString(s, "$$TIME")
	if port == 0 {
		return s
	}
	return regexp.MustCompile(`\b`+strconv.Itoa(port)+`\b`).ReplaceAllString(s, "$$PORT")
}

func freeTCPPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// buildChartWebhook builds cmd/webhook into a temporary folder.
func buildChartWebhook(t *testing.T, root string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "chart-webhook")
	build := exec.CommandContext(t.Context(), "go", "build", "-o", bin, "./cmd/webhook")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/webhook: %v\n%s", err, out)
	}
	return bin
}

// lockedBuffer collects a process's output.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startProcess runs bin with args until t ends (the kernel kills it if
// the test binary dies); stop ends it with SIGTERM, then SIGKILL after
// 20 s, and logs its output if t failed.
func startProcess(t *testing.T, bin string, args ...string) (stop func(), logs *lockedBuffer) {
	t.Helper()
	logs = &lockedBuffer{}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logs, logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-done:
			case <-time.After(20 * time.Second):
				_ = cmd.Process.Kill()
				<-done
			}
			if t.Failed() {
				t.Logf("%s output:\n%s", filepath.Base(bin), logs.String())
			}
		})
	}
	t.Cleanup(stop)
	return stop, logs
}

// startChartWebhook runs chart-webhook with args until t ends and waits
// until it is ready; it returns a function that stops it with SIGTERM.
func startChartWebhook(t *testing.T, bin string, args ...string) (stop func()) {
	t.Helper()
	probe := "127.0.0.1:" + strconv.Itoa(freeTCPPort(t))
	args = append(args, "--health-probe-bind-address", probe)
	if !slices.Contains(args, "--metrics-bind-address") {
		args = append(args, "--metrics-bind-address", "0")
	}
	stop, logs := startProcess(t, bin, args...)
	err := wait.PollUntilContextTimeout(t.Context(), 50*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		resp, err := http.Get("http://" + probe + "/readyz")
		if err != nil {
			return false, nil
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	})
	if err != nil {
		t.Fatalf("chart-webhook is not ready: %v\nlogs:\n%s", err, logs.String())
	}
	return stop
}

// TestWebhookLocal installs the webhook in local mode, runs the real
// chart-webhook binary with the certificate folder install wrote, and
// proves enforcement through the API server: an edit of a field a release
// owns is refused (and refused too while nothing answers: fail closed), the
// release's own upgrade is allowed; status says so; after uninstall the
// edit is allowed.
func TestWebhookLocal(t *testing.T) {
	c := newReleaseCLI(t)
	root, _ := os.Getwd()
	bin := buildChartWebhook(t, root)
	kube := webhookKube(t)
	ctx := t.Context()
	cs := env.Clientset()

	c.ok("install", "web", demoChart, "--set", "replicaCount=1")
	cmName := "web-demo-app"
	editAs := func(dryRun bool) error {
		patch := []byte(`{"data":{"message":"edited by hand"}}`)
		opts := metav1.PatchOptions{FieldManager: "kubectl-edit"}
		if dryRun {
			opts.DryRun = []string{metav1.DryRunAll}
		}
		_, err := cs.CoreV1().ConfigMaps(c.ns).Patch(ctx, cmName, types.MergePatchType, patch, opts)
		return err
	}
	edit := func() error { return editAs(false) }

	port := freeTCPPort(t)
	certDir := filepath.Join(t.TempDir(), "certs")
	removeWebhookConfiguration(t)
	out := chartOK(t, append(kube, "webhook", "install", "--local", "--port", strconv.Itoa(port), "--cert-dir", certDir)...)
	sealKey := filepath.Join(certDir, "seal.key")
	wantStart := fmt.Sprintf("chart-webhook --kubeconfig %s --cert-dir %s --seal-key-file %s --host 127.0.0.1 --port %d", env.KubeconfigPath(), certDir, sealKey, port)
	wantApplied := strings.Join([]string{
		"clusterrole.rbac.authorization.k8s.io/kubectl-chart-deployer created",
		"clusterrole.rbac.authorization.k8s.io/kubectl-chart-unlocker created",
		"mutatingwebhookconfiguration.admissionregistration.k8s.io/chart-webhook created",
		"validatingwebhookconfiguration.admissionregistration.k8s.io/chart-webhook created",
	}, "\n") + "\n"
	if !strings.HasPrefix(out, wantApplied) {
		t.Errorf("install output does not start with\n%s\n(the configurations last, the mutating one first):\n%s", wantApplied, out)
	}
	for _, want := range []string{
		"wrote " + filepath.Join(certDir, "tls.crt") + "\n",
		"wrote " + filepath.Join(certDir, "tls.key") + "\n",
		"wrote " + sealKey + "\n",
		fmt.Sprintf("registered at https://127.0.0.1:%d/mutate and https://127.0.0.1:%d/validate.", port, port),
		wantStart,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("install output lacks %q:\n%s", want, out)
		}
	}
	if fi, err := os.Stat(sealKey); err != nil || fi.Mode().Perm() != 0o600 || fi.Size() < 16 {
		t.Errorf("seal key %s: %v, %v", sealKey, err, fi)
	}
	key, _ := os.ReadFile(sealKey)
	mut, val := webhookConfigurations(t)
	caFile, _ := os.ReadFile(filepath.Join(certDir, "ca.crt"))
	urls := clientConfigs(mut, val)
	for _, name := range webhookNames {
		cc, ok := urls[name]
		path := "/validate"
		if name == "stamp.kubectl-chart.io" {
			path = "/mutate"
		}
		if want := fmt.Sprintf("https://127.0.0.1:%d%s", port, path); !ok || cc.URL == nil || *cc.URL != want || cc.Service != nil {
			t.Errorf("webhook %s: clientConfig %+v, want the URL %s only", name, cc, want)
		}
		if !bytes.Equal(cc.CABundle, caFile) {
			t.Errorf("webhook %s: caBundle is not the ca.crt install wrote", name)
		}
	}
	for _, w := range val.Webhooks {
		if w.FailurePolicy == nil || *w.FailurePolicy != admissionregistrationv1.Fail {
			t.Errorf("webhook %s: failurePolicy %v, want Fail", w.Name, w.FailurePolicy)
		}
	}

	// The API server picks the configurations up within a moment (a dry
	// run reaches the webhook too: sideEffects NoneOnDryRun).
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 20*time.Second, true, func(context.Context) (bool, error) {
		return editAs(true) != nil, nil
	})
	if err != nil {
		t.Fatalf("the API server does not call the webhook: edits pass: %v", err)
	}
	// Nothing answers yet: writes to owned objects fail closed, and status
	// says what to do.
	if err := edit(); err == nil || !strings.Contains(err.Error(), `failed calling webhook "ownership.kubectl-chart.io"`) {
		t.Errorf("edit while the webhook is down: %v, want the API server's webhook call failure", err)
	}
	if _, err := cs.CoreV1().ConfigMaps(c.ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "unowned"}}, metav1.CreateOptions{}); err != nil {
		t.Errorf("an unowned object while the webhook is down: %v", err)
	}
	got := runChart(t, append(kube, "webhook", "status"), "")
	checkGolden(t, filepath.Join("testdata", "golden", "webhook", "status-local-down.golden"), timesAndPorts(got.text(), port))

	// As install printed it: the local webhook cannot count on its
	// namespace existing for the seal key's Secret.
	stop := startChartWebhook(t, bin, "--kubeconfig", env.KubeconfigPath(), "--cert-dir", certDir, "--seal-key-file", sealKey, "--host", "127.0.0.1", "--port", strconv.Itoa(port))
	got = runChart(t, append(kube, "webhook", "status"), "")
	checkGolden(t, filepath.Join("testdata", "golden", "webhook", "status-local.golden"), timesAndPorts(got.text(), port))

	err = edit()
	if !apierrors.IsForbidden(err) {
		t.Fatalf("edit of an owned field: %v, want 403 from the webhook", err)
	}
	for _, want := range []string{`admission webhook "ownership.kubectl-chart.io" denied the request`, "data.message", "web"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("denial %q lacks %q", err, want)
		}
	}
	// The release's own operation is allowed, release labels on its head
	// included; nobody else may change them (list --selector trusts them).
	c.ok("upgrade", "web", demoChart, "--set", "replicaCount=1", "--set", "message=upgraded", "--labels", "team=web")
	live, err := cs.CoreV1().ConfigMaps(c.ns).Get(ctx, cmName, metav1.GetOptions{})
	if err != nil || live.Data["message"] != "upgraded" {
		t.Errorf("after the upgrade: %v, data %v", err, live.Data)
	}
	if got := c.ok("list", "-q", "-l", "team=web"); got != "web\n" {
		t.Errorf("list -l team=web after the upgrade = %q, want web", got)
	}
	relabel := []byte(`{"data":{"` + release.HeadKeyLabels + `":"{\"team\":\"other\"}"}}`)
	if _, err := cs.CoreV1().ConfigMaps(c.ns).Patch(ctx, ownership.HeadName("web"), types.MergePatchType, relabel, metav1.PatchOptions{}); !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "denied the request") {
		t.Errorf("a write of the head's release labels by another client: %v, want 403 from the webhook", err)
	}
	if err := edit(); !apierrors.IsForbidden(err) {
		t.Errorf("edit after the upgrade: %v, want 403", err)
	}
	if status := c.ok("status", "web"); !strings.Contains(status, "BLOCKED AND BREAK-GLASS WRITES:") {
		t.Errorf("release status does not show the blocked writes:\n%s", status)
	}

	// A second local install makes a fresh CA and keeps the seal key; the
	// running webhook reloads the new files and is trusted by the new
	// caBundle.
	out = chartOK(t, append(kube, "webhook", "install", "--local", "--port", strconv.Itoa(port), "--cert-dir", certDir)...)
	if strings.Contains(out, "wrote "+sealKey) || !strings.Contains(out, "--seal-key-file "+sealKey) {
		t.Errorf("second install output, want the seal key kept:\n%s", out)
	}
	if again, _ := os.ReadFile(sealKey); !bytes.Equal(again, key) {
		t.Errorf("a second install replaced the seal key")
	}
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 20*time.Second, true, func(context.Context) (bool, error) {
		return apierrors.IsForbidden(edit()), nil
	})
	if err != nil {
		t.Errorf("after a second install, edits are not denied by the webhook: %v", edit())
	}
	// Switching mode over a local install is refused.
	if got := runChart(t, append(kube, "webhook", "install", "--self-signed"), ""); got.err == nil ||
		!strings.Contains(got.err.Error(), "chart-webhook is installed in local mode; run `kubectl chart webhook uninstall` before installing it in self-signed mode") {
		t.Errorf("--self-signed over a local install: %v", got.err)
	}

	out = chartOK(t, append(kube, "webhook", "uninstall")...)
	wantUninstall := strings.Join([]string{
		"validatingwebhookconfiguration.admissionregistration.k8s.io/chart-webhook deleted",
		"mutatingwebhookconfiguration.admissionregistration.k8s.io/chart-webhook deleted",
		"clusterrole.rbac.authorization.k8s.io/kubectl-chart-deployer deleted",
		"clusterrole.rbac.authorization.k8s.io/kubectl-chart-unlocker deleted",
	}, "\n") + "\n"
	if diff := cmp.Diff(wantUninstall, out); diff != "" {
		t.Errorf("uninstall output (-want +got):\n%s", diff)
	}
	// The API server drops the configuration from its webhook cache a moment
	// after the delete.
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 20*time.Second, true, func(context.Context) (bool, error) {
		return edit() == nil, nil
	})
	if err != nil {
		t.Errorf("edit after uninstall: %v", edit())
	}
	stop()
	out = chartOK(t, append(kube, "webhook", "uninstall")...)
	if want := "chart-webhook is not installed: nothing to delete\n"; out != want {
		t.Errorf("second uninstall: %q, want %q", out, want)
	}
	got = runChart(t, append(kube, "webhook", "status"), "")
	checkGolden(t, filepath.Join("testdata", "golden", "webhook", "status-not-installed.golden"), got.text())
}

// TestWebhookInCluster installs the webhook in the in-cluster modes on the
// test control plane (kwok runs its pods, so its Deployment becomes ready,
// but nothing can call them): without cert-manager, the default mode says
// so; --self-signed makes a CA and serving certificate that verify for the
// Service's name; with cert-manager's CRDs, the Issuers and Certificates are
// cert-manager's Go types as built; uninstall removes everything and keeps
// a namespace that holds someone else's objects.
func TestWebhookInCluster(t *testing.T) {
	env.Require(t)
	// cert-manager's CRDs are cluster-wide, and stay once installed (other
	// tests of this package install the cert-manager chart): this test,
	// which needs a cluster without them first, gets a control plane of its
	// own. Top-level tests of this package run one at a time, so the shared
	// env can be swapped for it.
	own, err := testcluster.Start(t.Context(), testcluster.Options{Full: true})
	if err != nil {
		t.Fatalf("own control plane: %v", err)
	}
	shared := env
	env = own
	t.Cleanup(func() {
		env = shared
		if err := own.Stop(); err != nil {
			t.Errorf("stopping the control plane: %v", err)
		}
	})
	atRepoRoot(t)
	kube := webhookKube(t)
	cs := env.Clientset()
	ns := webhookinstall.DefaultNamespace
	removeWebhookConfiguration(t)
	t.Cleanup(func() { _ = cs.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{}) })

	namespaceGone := func(t *testing.T) {
		t.Helper()
		err := wait.PollUntilContextTimeout(t.Context(), 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
			_, err := cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
			return apierrors.IsNotFound(err), nil
		})
		if err != nil {
			t.Fatalf("namespace %s still exists after uninstall", ns)
		}
	}

	t.Run("without cert-manager", func(t *testing.T) {
		got := runChart(t, append(kube, "webhook", "install"), "")
		if got.exit() != 1 || got.err == nil {
			t.Fatalf("install without cert-manager: exit %d, %v", got.exit(), got.err)
		}
		for _, want := range []string{"cert-manager is not installed on this cluster", "kubectl chart webhook install --self-signed"} {
			if !strings.Contains(got.err.Error(), want) {
				t.Errorf("error %q lacks %q", got.err, want)
			}
		}
		if _, err := cs.CoreV1().Namespaces().Get(t.Context(), ns, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("namespace %s: %v, want nothing created", ns, err)
		}
	})

	t.Run("self-signed", func(t *testing.T) {
		// A client dry run prints the objects and creates nothing.
		out := chartOK(t, append(kube, "webhook", "install", "--self-signed", "--dry-run", "-o", "yaml")...)
		for _, want := range []string{"kind: Namespace\n", "kind: Deployment\n", "name: chart-webhook-tls\n", "caBundle: ", "kubectl-chart.io/webhook-mode: self-signed\n"} {
			if !strings.Contains(out, want) {
				t.Errorf("dry-run output lacks %q", want)
			}
		}
		if _, err := cs.CoreV1().Namespaces().Get(t.Context(), ns, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Fatalf("a client dry run created namespace %s: %v", ns, err)
		}

		out = chartOK(t, append(kube, "webhook", "install", "--self-signed", "--image", "registry.test/chart-webhook:v9", "--timeout", "2m")...)
		wantLines := []string{
			"namespace/kubectl-chart-system created",
			"serviceaccount/chart-webhook created",
			"secret/chart-webhook-ca created",
			"secret/chart-webhook-tls created",
			"clusterrole.rbac.authorization.k8s.io/chart-webhook created",
			"clusterrolebinding.rbac.authorization.k8s.io/chart-webhook created",
			"clusterrole.rbac.authorization.k8s.io/chart-webhook-metrics-reader created",
			"clusterrole.rbac.authorization.k8s.io/kubectl-chart-deployer created",
			"clusterrole.rbac.authorization.k8s.io/kubectl-chart-unlocker created",
			"role.rbac.authorization.k8s.io/chart-webhook-seal created",
			"rolebinding.rbac.authorization.k8s.io/chart-webhook-seal created",
			"service/chart-webhook created",
			"service/chart-webhook-metrics created",
			"networkpolicy.networking.k8s.io/chart-webhook created",
			"deployment.apps/chart-webhook created",
			"poddisruptionbudget.policy/chart-webhook created",
			"mutatingwebhookconfiguration.admissionregistration.k8s.io/chart-webhook created",
			"validatingwebhookconfiguration.admissionregistration.k8s.io/chart-webhook created",
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) < len(wantLines) {
			t.Fatalf("install output:\n%s", out)
		}
		if diff := cmp.Diff(slices.Sorted(slices.Values(wantLines)), slices.Sorted(slices.Values(lines[:len(wantLines)]))); diff != "" {
			t.Errorf("install output (-want +got):\n%s", diff)
		}
		if last := lines[len(wantLines)-2 : len(wantLines)]; !strings.HasPrefix(last[0], "mutatingwebhookconfiguration") || !strings.HasPrefix(last[1], "validatingwebhookconfiguration") {
			t.Errorf("the configurations are not applied last, the mutating one first: %q", last)
		}
		if !strings.Contains(out, "serving certificate for chart-webhook.kubectl-chart-system.svc, chart-webhook.kubectl-chart-system.svc.cluster.local issued") {
			t.Errorf("install output does not report the certificate:\n%s", out)
		}
		checkSelfSigned(t, "registry.test/chart-webhook:v9")

		got := runChart(t, append(kube, "webhook", "status"), "")
		checkGolden(t, filepath.Join("testdata", "golden", "webhook", "status-self-signed.golden"), timesAndPorts(got.text(), 0))

		// Again: nothing changes, the certificates are kept.
		before, _ := cs.CoreV1().Secrets(ns).Get(t.Context(), webhookinstall.ServingSecretName, metav1.GetOptions{})
		out = chartOK(t, append(kube, "webhook", "install", "--self-signed", "--image", "registry.test/chart-webhook:v9", "--timeout", "2m")...)
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			if !strings.HasSuffix(l, " unchanged") && !strings.HasPrefix(l, "serving certificate") {
				t.Errorf("second install changed something: %q", l)
			}
		}
		if !strings.Contains(out, " kept, valid until ") {
			t.Errorf("second install did not keep the certificate:\n%s", out)
		}
		after, _ := cs.CoreV1().Secrets(ns).Get(t.Context(), webhookinstall.ServingSecretName, metav1.GetOptions{})
		if !bytes.Equal(before.Data["tls.crt"], after.Data["tls.crt"]) {
			t.Errorf("second install replaced a valid serving certificate")
		}

		// --strict takes kubectl-chart-deployer and kubectl-chart-unlocker
		// out of admin and edit (server-side apply removes the labels the
		// first install set), a later install without it puts them back;
		// status says which, and the API server's authorizer follows.
		checkStrict(t, false)
		out = chartOK(t, append(kube, "webhook", "install", "--self-signed", "--strict", "--image", "registry.test/chart-webhook:v9", "--timeout", "2m")...)
		for _, want := range []string{
			"clusterrole.rbac.authorization.k8s.io/kubectl-chart-deployer configured\n",
			"clusterrole.rbac.authorization.k8s.io/kubectl-chart-unlocker configured\n",
			"strict: only users and ServiceAccounts bound to ClusterRole kubectl-chart-deployer may deploy",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("install --strict output lacks %q:\n%s", want, out)
			}
		}
		checkStrict(t, true)
		out = chartOK(t, append(kube, "webhook", "install", "--self-signed", "--image", "registry.test/chart-webhook:v9", "--timeout", "2m")...)
		if !strings.Contains(out, "clusterrole.rbac.authorization.k8s.io/kubectl-chart-deployer configured\n") || strings.Contains(out, "strict:") {
			t.Errorf("install after --strict:\n%s", out)
		}
		checkStrict(t, false)

		// Someone else's object keeps the namespace.
		_, err := cs.CoreV1().ConfigMaps(ns).Create(t.Context(), &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "someone-elses"}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		// A seal key the webhook created under a --seal-secret of its own
		// name (it labels it as the manifests' objects) goes too.
		_, err = cs.CoreV1().Secrets(ns).Create(t.Context(), &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "custom-seal",
			Labels: map[string]string{"app.kubernetes.io/name": "chart-webhook", "app.kubernetes.io/part-of": "kubectl-chart"}}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		out = chartOK(t, append(kube, "webhook", "uninstall", "--dry-run")...)
		if !strings.HasPrefix(out, "validatingwebhookconfiguration.admissionregistration.k8s.io/chart-webhook planned (client dry run)\n"+
			"mutatingwebhookconfiguration.admissionregistration.k8s.io/chart-webhook planned (client dry run)\n") {
			t.Errorf("uninstall --dry-run:\n%s", out)
		}
		webhookConfigurations(t) // uninstall --dry-run deleted neither
		out = chartOK(t, append(kube, "webhook", "uninstall")...)
		wantOut := strings.Join([]string{
			"validatingwebhookconfiguration.admissionregistration.k8s.io/chart-webhook deleted",
			"mutatingwebhookconfiguration.admissionregistration.k8s.io/chart-webhook deleted",
			"poddisruptionbudget.policy/chart-webhook deleted",
			"deployment.apps/chart-webhook deleted",
			"networkpolicy.networking.k8s.io/chart-webhook deleted",
			"service/chart-webhook-metrics deleted",
			"service/chart-webhook deleted",
			"rolebinding.rbac.authorization.k8s.io/chart-webhook-seal deleted",
			"role.rbac.authorization.k8s.io/chart-webhook-seal deleted",
			"clusterrole.rbac.authorization.k8s.io/kubectl-chart-unlocker deleted",
			"clusterrole.rbac.authorization.k8s.io/kubectl-chart-deployer deleted",
			"clusterrole.rbac.authorization.k8s.io/chart-webhook-metrics-reader deleted",
			"clusterrolebinding.rbac.authorization.k8s.io/chart-webhook deleted",
			"clusterrole.rbac.authorization.k8s.io/chart-webhook deleted",
			"serviceaccount/chart-webhook deleted",
			"secret/chart-webhook-tls deleted",
			"secret/chart-webhook-ca deleted",
			"secret/custom-seal deleted",
			"namespace/kubectl-chart-system kept: it holds ConfigMap/someone-elses",
		}, "\n") + "\n"
		if diff := cmp.Diff(wantOut, out); diff != "" {
			t.Errorf("uninstall output (-want +got):\n%s", diff)
		}
		api := cs.AdmissionregistrationV1()
		if _, err := api.MutatingWebhookConfigurations().Get(t.Context(), webhookinstall.Name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("MutatingWebhookConfiguration after uninstall: %v", err)
		}
		if _, err := api.ValidatingWebhookConfigurations().Get(t.Context(), webhookinstall.Name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("ValidatingWebhookConfiguration after uninstall: %v", err)
		}
		if err := cs.CoreV1().ConfigMaps(ns).Delete(t.Context(), "someone-elses", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		out = chartOK(t, append(kube, "webhook", "uninstall")...)
		if want := "namespace/kubectl-chart-system deleted\n"; out != want {
			t.Errorf("second uninstall %q, want %q", out, want)
		}
		namespaceGone(t)
	})

	t.Run("cert-manager", func(t *testing.T) {
		installCertManagerCRDs(t)
		out := chartOK(t, append(kube, "webhook", "install", "--dry-run=server")...)
		for _, want := range []string{
			"issuer.cert-manager.io/chart-webhook-selfsigned created (server dry run)\n",
			"certificate.cert-manager.io/chart-webhook created (server dry run)\n",
			"mutatingwebhookconfiguration.admissionregistration.k8s.io/chart-webhook created (server dry run)\n",
			"validatingwebhookconfiguration.admissionregistration.k8s.io/chart-webhook created (server dry run)\n",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("server dry run output lacks %q:\n%s", want, out)
			}
		}
		if _, err := cs.CoreV1().Namespaces().Get(t.Context(), ns, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Fatalf("a server dry run created namespace %s: %v", ns, err)
		}

		// No cert-manager controller runs here: do not wait for it.
		out = chartOK(t, append(kube, "webhook", "install", "--wait=false")...)
		if !strings.Contains(out, "certificate.cert-manager.io/chart-webhook created\n") || !strings.Contains(out, "cainjector sets the caBundle") {
			t.Errorf("install output:\n%s", out)
		}
		checkCertManagerObjects(t)
		st := &webhookinstall.Status{}
		got := runChart(t, append(kube, "webhook", "status", "-o", "json"), "")
		if got.err != nil {
			t.Fatal(got.err)
		}
		if err := yaml.Unmarshal([]byte(got.stdout), st); err != nil {
			t.Fatal(err)
		}
		if !st.Installed || st.Healthy || st.Mode != webhookinstall.ModeCertManager || len(st.Certificates) != 2 {
			t.Errorf("status: %+v", st)
		}
		if !strings.Contains(strings.Join(st.Problems, "\n"), "cainjector has not injected the CA yet") {
			t.Errorf("status problems lack the missing caBundle: %q", st.Problems)
		}

		out = chartOK(t, append(kube, "webhook", "uninstall")...)
		for _, want := range []string{
			"certificate.cert-manager.io/chart-webhook deleted\n",
			"issuer.cert-manager.io/chart-webhook-ca deleted\n",
			"certificate.cert-manager.io/chart-webhook-ca deleted\n",
			"issuer.cert-manager.io/chart-webhook-selfsigned deleted\n",
			"namespace/kubectl-chart-system deleted\n",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("uninstall output lacks %q:\n%s", want, out)
			}
		}
		namespaceGone(t)

		t.Run("issued by cert-manager", func(t *testing.T) {
			bins := os.Getenv("KUBECTL_CHART_CERT_MANAGER")
			if bins == "" {
				t.Skip("$KUBECTL_CHART_CERT_MANAGER is not set: no cert-manager controller and cainjector to run (make cert-manager-binaries builds them; make test sets it)")
			}
			startProcess(t, filepath.Join(bins, "cert-manager-controller"), "--kubeconfig", env.KubeconfigPath(), "--cluster-resource-namespace", ns)
			startProcess(t, filepath.Join(bins, "cert-manager-cainjector"), "--kubeconfig", env.KubeconfigPath())
			// install waits for the Certificates and the Deployment, then
			// for cainjector to fill the caBundle.
			// install waits for cainjector to fill both configurations.
			chartOK(t, append(kube, "webhook", "install", "--timeout", "2m")...)
			ctx := t.Context()
			secret, err := cs.CoreV1().Secrets(ns).Get(ctx, webhookinstall.ServingSecretName, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			kp, err := webhookinstall.ParseKeyPair(secret.Data["tls.crt"], secret.Data["tls.key"])
			if err != nil {
				t.Fatal(err)
			}
			ccs := clientConfigs(webhookConfigurations(t))
			for _, name := range webhookNames {
				bundle, err := webhookinstall.ParseBundle(ccs[name].CABundle)
				if err != nil {
					t.Errorf("webhook %s: injected caBundle: %v", name, err)
					continue
				}
				for _, host := range webhookinstall.ServiceDNSNames(ns) {
					if err := webhookinstall.VerifyServing(kp.Cert, bundle, host, time.Now()); err != nil {
						t.Errorf("cert-manager's serving certificate does not verify for %s with the caBundle injected into webhook %s: %v", host, name, err)
					}
				}
			}
			st := &webhookinstall.Status{}
			got := runChart(t, append(kube, "webhook", "status", "-o", "json"), "")
			if err := yaml.Unmarshal([]byte(got.stdout), st); err != nil || !st.Healthy {
				t.Errorf("status after cert-manager issued the certificate: %v, problems %q\n%s", err, st.Problems, got.stdout)
			}
			chartOK(t, append(kube, "webhook", "uninstall")...)
			namespaceGone(t)
		})
	})
}

// checkSelfSigned checks what a self-signed install created: the caBundle
// is a CA that verifies the serving certificate in the Secret the pods
// mount, for the Service's DNS names; the Deployment runs image.
func checkSelfSigned(t *testing.T, image string) {
	t.Helper()
	ctx := t.Context()
	cs := env.Clientset()
	ns := webhookinstall.DefaultNamespace
	mut, val := webhookConfigurations(t)
	for _, ann := range []map[string]string{mut.Annotations, val.Annotations} {
		if _, ok := ann["cert-manager.io/inject-ca-from"]; ok {
			t.Errorf("a self-signed configuration asks cainjector for its CA")
		}
	}
	ccs := clientConfigs(mut, val)
	if len(ccs) != len(webhookNames) {
		t.Errorf("webhooks %v, want %v", slices.Sorted(maps.Keys(ccs)), webhookNames)
	}
	bundleRaw := ccs[webhookNames[0]].CABundle
	for _, name := range webhookNames {
		cc := ccs[name]
		path := "/validate"
		if name == "stamp.kubectl-chart.io" {
			path = "/mutate"
		}
		if svc := cc.Service; svc == nil || svc.Namespace != ns || svc.Name != webhookinstall.Name || svc.Path == nil || *svc.Path != path {
			t.Errorf("webhook %s: clientConfig.service %+v, want %s/%s path %s", name, cc.Service, ns, webhookinstall.Name, path)
		}
		if !bytes.Equal(cc.CABundle, bundleRaw) {
			t.Errorf("webhook %s: its caBundle is not that of %s", name, webhookNames[0])
		}
	}
	bundle, err := webhookinstall.ParseBundle(bundleRaw)
	if err != nil {
		t.Fatalf("caBundle: %v", err)
	}
	if len(bundle) != 1 || !bundle[0].IsCA {
		t.Errorf("caBundle holds %d certificates, want one CA", len(bundle))
	}
	secret, err := cs.CoreV1().Secrets(ns).Get(ctx, webhookinstall.ServingSecretName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if secret.Type != corev1.SecretTypeTLS {
		t.Errorf("Secret type %s", secret.Type)
	}
	kp, err := webhookinstall.ParseKeyPair(secret.Data["tls.crt"], secret.Data["tls.key"])
	if err != nil {
		t.Fatal(err)
	}
	for _, host := range webhookinstall.ServiceDNSNames(ns) {
		if err := webhookinstall.VerifyServing(kp.Cert, bundle, host, time.Now()); err != nil {
			t.Errorf("the serving certificate does not verify for %s with the caBundle: %v", host, err)
		}
	}
	if err := webhookinstall.VerifyServing(kp.Cert, bundle, "chart-webhook.elsewhere.svc", time.Now()); err == nil {
		t.Errorf("the serving certificate verifies for another namespace's Service")
	}
	d, err := cs.AppsV1().Deployments(ns).Get(ctx, webhookinstall.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := d.Spec.Template.Spec.Containers[0].Image; got != image {
		t.Errorf("image %s, want %s", got, image)
	}
	if d.Status.ReadyReplicas != 2 {
		t.Errorf("%d replicas ready after install waited, want 2", d.Status.ReadyReplicas)
	}
	// Written with server-side apply by kubectl-chart.
	managers := map[string]bool{}
	for _, mf := range d.ManagedFields {
		if mf.Operation == metav1.ManagedFieldsOperationApply {
			managers[mf.Manager] = true
		}
	}
	if !managers[ownership.FieldManager] {
		t.Errorf("Deployment appliers %v, want %s", managers, ownership.FieldManager)
	}
}

// installCertManagerCRDs installs the CRDs cert-manager's Go module ships
// (deploy/crds) and removes them when t ends.
func installCertManagerCRDs(t *testing.T) {
	t.Helper()
	out, err := exec.CommandContext(t.Context(), "go", "list", "-m", "-f", "{{.Dir}}", "github.com/cert-manager/cert-manager").Output()
	if err != nil {
		t.Fatalf("go list -m github.com/cert-manager/cert-manager: %v", err)
	}
	files, err := filepath.Glob(filepath.Join(strings.TrimSpace(string(out)), "deploy", "crds", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no CRDs in cert-manager's module: %v", err)
	}
	ext, err := apiextensionsclient.NewForConfig(env.Config())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := yaml.Unmarshal(data, crd); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if _, err := ext.ApiextensionsV1().CustomResourceDefinitions().Create(t.Context(), crd, metav1.CreateOptions{}); err != nil {
			t.Fatalf("%s: %v", crd.Name, err)
		}
		names = append(names, crd.Name)
	}
	t.Cleanup(func() {
		for _, n := range names {
			_ = ext.ApiextensionsV1().CustomResourceDefinitions().Delete(context.Background(), n, metav1.DeleteOptions{})
		}
	})
	err = wait.PollUntilContextTimeout(t.Context(), 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		for _, n := range names {
			crd, err := ext.ApiextensionsV1().CustomResourceDefinitions().Get(ctx, n, metav1.GetOptions{})
			if err != nil {
				return false, nil
			}
			established := false
			for _, c := range crd.Status.Conditions {
				established = established || c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue
			}
			if !established {
				return false, nil
			}
		}
		// Discovery lists a group's kinds as their CRDs come in, not all at
		// once: wait for the ones install looks for.
		list, err := env.Clientset().Discovery().ServerResourcesForGroupVersion("cert-manager.io/v1")
		if err != nil {
			return false, nil
		}
		var kinds []string
		for _, r := range list.APIResources {
			kinds = append(kinds, r.Kind)
		}
		return slices.Contains(kinds, "Certificate") && slices.Contains(kinds, "Issuer"), nil
	})
	if err != nil {
		t.Fatalf("cert-manager's CRDs are not established: %v", err)
	}
}

// checkCertManagerObjects compares the Issuers and Certificates on the
// cluster with cert-manager's Go types as install builds them, and checks
// the configuration asks cainjector for the serving certificate's CA.
func checkCertManagerObjects(t *testing.T) {
	t.Helper()
	ctx := t.Context()
	ns := webhookinstall.DefaultNamespace
	dyn, err := dynamic.NewForConfig(env.Config())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range webhookinstall.CertManagerObjects(ns) {
		var got runtime.Object
		var resource, name string
		switch w := want.(type) {
		case *cmv1.Issuer:
			got, resource, name = &cmv1.Issuer{}, "issuers", w.Name
		case *cmv1.Certificate:
			got, resource, name = &cmv1.Certificate{}, "certificates", w.Name
		}
		u, err := dyn.Resource(schema.GroupVersionResource{Group: "cert-manager.io", Version: "v1", Resource: resource}).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Errorf("%s/%s: %v", resource, name, err)
			continue
		}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, got); err != nil {
			t.Fatal(err)
		}
		var wantSpec, gotSpec any
		switch g := got.(type) {
		case *cmv1.Issuer:
			wantSpec, gotSpec = want.(*cmv1.Issuer).Spec, g.Spec
		case *cmv1.Certificate:
			wantSpec, gotSpec = want.(*cmv1.Certificate).Spec, g.Spec
		}
		if diff := cmp.Diff(wantSpec, gotSpec); diff != "" {
			t.Errorf("%s/%s spec (-built +cluster):\n%s", resource, name, diff)
		}
	}
	mut, val := webhookConfigurations(t)
	for kind, ann := range map[string]map[string]string{"mutating": mut.Annotations, "validating": val.Annotations} {
		if got, want := ann["cert-manager.io/inject-ca-from"], ns+"/chart-webhook"; got != want {
			t.Errorf("%s configuration: inject-ca-from %q, want %q", kind, got, want)
		}
	}
	for name, cc := range clientConfigs(mut, val) {
		if len(cc.CABundle) != 0 {
			t.Errorf("webhook %s: a cert-manager install set the caBundle itself", name)
		}
	}
}

// checkStrict checks what install (--strict or not) did to the ClusterRoles
// kubectl-chart-deployer and kubectl-chart-unlocker: with strict, neither
// carries an aggregation label, else both carry both; webhook status says
// which; and the API server (its ClusterRole aggregation controller, then
// its RBAC authorizer) lets a user with the edit role in a namespace deploy
// there only without strict.
func checkStrict(t *testing.T, strict bool) {
	t.Helper()
	ctx := t.Context()
	cs := env.Clientset()
	labels := []string{"rbac.authorization.k8s.io/aggregate-to-admin", "rbac.authorization.k8s.io/aggregate-to-edit"}
	for _, name := range []string{webhookinstall.DeployerRoleName, webhookinstall.UnlockerRoleName} {
		r, err := cs.RbacV1().ClusterRoles().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range labels {
			if v, ok := r.Labels[l]; strict && ok || !strict && v != "true" {
				t.Errorf("strict %v: ClusterRole %s has label %s=%q (present: %v)", strict, name, l, v, ok)
			}
		}
		if got := r.Labels["app.kubernetes.io/part-of"]; got != "kubectl-chart" {
			t.Errorf("ClusterRole %s: part-of %q: a strict install took more than the aggregation labels", name, got)
		}
	}
	st := &webhookinstall.Status{}
	got := runChart(t, append(webhookKube(t), "webhook", "status", "-o", "json"), "")
	if err := yaml.Unmarshal([]byte(got.stdout), st); err != nil || st.Strict == nil || *st.Strict != strict {
		t.Errorf("status: strict %v, want %v (%v)\n%s", st.Strict, strict, err, got.stdout)
	}
	wantRow := regexp.MustCompile(`(?m)^STRICT: +no: `)
	if strict {
		wantRow = regexp.MustCompile(`(?m)^STRICT: +yes: `)
	}
	if text := runChart(t, append(webhookKube(t), "webhook", "status"), "").stdout; !wantRow.MatchString(text) {
		t.Errorf("status lacks %s:\n%s", wantRow, text)
	}

	// A user with the edit role in a namespace, asking for "deploy" on a
	// release there, as the webhook does.
	const ns, user = "strict-check", "edit-user"
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	rb := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "edit", Namespace: ns},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "edit"},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: "User", Name: user}},
	}
	if _, err := cs.RbacV1().RoleBindings(ns).Create(ctx, rb, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	var allowed bool
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		sar, err := cs.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
			User:               user,
			ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: ns, Verb: "deploy", Group: "kubectl-chart.io", Resource: "releases", Name: "web"},
		}}, metav1.CreateOptions{})
		if err != nil {
			return false, err
		}
		allowed = sar.Status.Allowed
		return allowed == !strict, nil
	})
	if err != nil {
		t.Errorf("strict %v: a user with the edit role may deploy: %v, want %v (%v)", strict, allowed, !strict, err)
	}
}

// TestWebhookFlags: flags that do not fit the mode are refused before
// anything talks to a cluster.
func TestWebhookFlags(t *testing.T) {
	noCluster := []string{"--kubeconfig", filepath.Join(t.TempDir(), "none")}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"install", "--local", "--self-signed", "--cert-dir", "d"}, "--local and --self-signed exclude each other"},
		{[]string{"install", "--cert-dir", "d"}, "--cert-dir is only for --local"},
		{[]string{"install", "--self-signed", "--port", "1"}, "--port is only for --local"},
		{[]string{"install", "--local", "--cert-dir", "d", "--image", "x"}, "--image is only for the in-cluster modes, not --local"},
		{[]string{"install", "--local", "--cert-dir", "d", "--wait=false"}, "--wait is only for the in-cluster modes, not --local"},
		{[]string{"install", "--local"}, "--local needs --cert-dir"},
		{[]string{"install", "--local", "--cert-dir", "d", "--port", "0"}, "invalid --port 0"},
		{[]string{"install", "--local", "--cert-dir", "d", "-n", "elsewhere"}, "-n elsewhere: the local webhook always excludes its default namespace kubectl-chart-system"},
		{[]string{"install", "-n", "Bad_Name"}, `invalid namespace "Bad_Name"`},
		{[]string{"install", "--dry-run=maybe"}, `--dry-run must be "none", "client" or "server", not "maybe"`},
		{[]string{"install", "-o", "table"}, `--output must be "yaml" or "json", not "table"`},
		{[]string{"uninstall", "--dry-run=later"}, `--dry-run must be "none", "client" or "server", not "later"`},
		{[]string{"status", "-o", "xml"}, `invalid argument "xml"`},
		{[]string{"status", "extra"}, `"kubectl chart webhook status" accepts no arguments`},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			got := runChart(t, append(append([]string{"webhook"}, tc.args...), noCluster...), "")
			if got.err == nil || !strings.Contains(got.err.Error(), tc.want) {
				t.Errorf("error %v, want %q", got.err, tc.want)
			}
			if got.stdout != "" {
				t.Errorf("stdout %q, want nothing", got.stdout)
			}
		})
	}
}

// TestWebhookInstallHelp: install --help says who may deploy with --strict
// and without it.
func TestWebhookInstallHelp(t *testing.T) {
	got := runChart(t, []string{"webhook", "install", "--help"}, "")
	if got.err != nil {
		t.Fatal(got.err)
	}
	for _, want := range []string{
		"--strict ",
		"only users and ServiceAccounts bound to the ClusterRoles kubectl-chart-deployer",
		"without it, they are aggregated into admin and edit, so whoever may edit a namespace may deploy there",
		"An install\nwithout --strict aggregates them again.",
		"kubectl chart webhook install --strict\n",
	} {
		if !strings.Contains(got.stdout, want) {
			t.Errorf("install --help lacks %q:\n%s", want, got.stdout)
		}
	}
}
