package webhook

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
)

// TestBinary builds chart-webhook (cmd/webhook) and runs it as a process
// against the test API server: --help and bad flags exit 0 and 1; it
// becomes ready (webhook server up, head cache synced), serves its metrics
// over HTTPS to authenticated callers only, and exits 0 soon after SIGTERM.
func TestBinary(t *testing.T) {
	env.Require(t)
	bin := filepath.Join(t.TempDir(), "chart-webhook")
	build := exec.CommandContext(t.Context(), "go", "build", "-o", bin, "../../cmd/webhook")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	for _, c := range []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"--help"}, 0, "--break-glass-groups"},
		{[]string{"--no-such-flag"}, 1, "unknown flag: --no-such-flag"},
		{[]string{"extra"}, 1, "unexpected arguments"},
	} {
		cmd := exec.CommandContext(t.Context(), bin, c.args...)
		out, err := cmd.CombinedOutput()
		if code := cmd.ProcessState.ExitCode(); code != c.code || !strings.Contains(string(out), c.out) {
			t.Errorf("chart-webhook %q: exit %d (%v), output %q; want exit %d and %q", c.args, code, err, out, c.code, c.out)
		}
	}

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
	// The seal key: the process creates its Secret in its namespace.
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "kubectl-chart-system"}}
	if _, err := env.Clientset().CoreV1().Namespaces().Create(t.Context(), ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	cmd := exec.Command(bin,
		"--kubeconfig", env.KubeconfigPath(),
		"--cert-dir", env.Envtest().WebhookInstallOptions.LocalServingCertDir,
		"--host", "127.0.0.1", "--port", portNum,
		"--health-probe-bind-address", probe,
		"--metrics-bind-address", metrics,
		"--break-glass-users", "carol",
		"--excluded-namespaces", "monitoring")
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-done
		}
	})

	get := func(url string) (int, string) {
		resp, err := http.Get(url)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	err = wait.PollUntilContextTimeout(t.Context(), 50*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		code, _ := get("http://" + probe + "/readyz")
		return code == http.StatusOK, nil
	})
	if err != nil {
		t.Fatalf("not ready: %v\nlogs:\n%s", err, logs.String())
	}
	// Metrics by default: HTTPS with the serving certificate of
	// --cert-dir, and nothing without a token (TestMetricsAuth scrapes
	// them with one).
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(env.Envtest().WebhookInstallOptions.LocalServingCAData)
	tlsClient := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	if resp, err := tlsClient.Get("https://" + metrics + "/metrics"); err != nil {
		t.Errorf("/metrics: %v", err)
	} else {
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("/metrics without a token: %d, want 401", resp.StatusCode)
		}
	}

	// It made its seal key, once: a second start reads the same.
	if sec, err := env.Clientset().CoreV1().Secrets("kubectl-chart-system").Get(t.Context(), DefaultSealSecret, metav1.GetOptions{}); err != nil {
		t.Errorf("seal key Secret: %v", err)
	} else if n := len(sec.Data[SealSecretKey]); n != 32 || sec.Immutable == nil || !*sec.Immutable {
		t.Errorf("seal key Secret: %d bytes, immutable %v; want 32 bytes, immutable", n, sec.Immutable)
	}

	start := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("exit after SIGTERM: %v\nlogs:\n%s", err, logs.String())
		}
		t.Logf("stopped %s after SIGTERM", time.Since(start).Round(time.Millisecond))
	case <-time.After(20 * time.Second):
		t.Fatalf("still running 20s after SIGTERM\nlogs:\n%s", logs.String())
	}
	for _, want := range []string{`"msg":"starting"`, `"excludedNamespaces":["kube-system","kubectl-chart-system","monitoring"]`, `"msg":"stopped"`} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("logs lack %s:\n%s", want, logs.String())
		}
	}
}
