package certmanager

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-chart/kubectl-chart/internal/testcluster"
	"github.com/kubectl-chart/kubectl-chart/pkg/ownership"
)

// EnvCertManager names the folder of cert-manager's binaries
// (cert-manager-controller, cert-manager-cainjector); make test sets it
// (hack/cert-manager.mk).
const EnvCertManager = "KUBECTL_CHART_CERT_MANAGER"

// certManagerModule is the module whose CRDs (deploy/crds) the control
// plane installs: the one go.mod requires for cert-manager's API types, the
// same version hack/cert-manager.mk builds the binaries from.
const certManagerModule = "github.com/cert-manager/cert-manager"

var (
	env *testcluster.Env
	// binDir holds the binaries; skip says why the test cannot run ("" when
	// it can).
	binDir, skip string
)

func TestMain(m *testing.M) {
	binDir = os.Getenv(EnvCertManager)
	if binDir == "" {
		skip = fmt.Sprintf("$%s is not set: build cert-manager's controller and cainjector with make cert-manager-binaries (make test does) and point it at their folder", EnvCertManager)
		os.Exit(m.Run())
	}
	crds, err := moduleCRDs()
	if err != nil {
		fmt.Fprintf(os.Stderr, "cert-manager CRDs: %v\n", err)
		os.Exit(1)
	}
	testcluster.Main(m, &env, testcluster.Options{
		ConfigureEnvtest: func(te *envtest.Environment) {
			te.CRDInstallOptions.Paths = []string{crds}
			te.CRDInstallOptions.ErrorIfPathMissing = true
		},
	})
}

// moduleCRDs is deploy/crds of cert-manager's module in the module cache.
func moduleCRDs() (string, error) {
	goBin := "go"
	if v := os.Getenv("GO"); v != "" {
		goBin = v
	}
	out, err := exec.Command(goBin, "list", "-m", "-f", "{{.Dir}}", certManagerModule).Output()
	if err != nil {
		return "", fmt.Errorf("go list -m %s: %w", certManagerModule, err)
	}
	dir := filepath.Join(strings.TrimSpace(string(out)), "deploy", "crds")
	if _, err := os.Stat(filepath.Join(dir, "cert-manager.io_certificates.yaml")); err != nil {
		return "", err
	}
	return dir, nil
}

// process is a binary running for the duration of a test, its output kept
// for the failure message.
type process struct {
	name string
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{} // closed when it has exited
	err  error         // its exit, once done
}

// running fails the test if p has exited.
func (p *process) running(t *testing.T) {
	t.Helper()
	select {
	case <-p.done:
		t.Fatalf("%s exited (%v):\n%s", p.name, p.err, tail(p.out.String(), 40))
	default:
	}
}

// syncBuffer is a bytes.Buffer safe for a process writing and a test
// reading.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// start runs bin with args; the test's cleanup stops it with SIGTERM (and
// SIGKILL after 10 s), and the kernel kills it if the test binary dies.
func start(t *testing.T, bin string, args ...string) *process {
	t.Helper()
	p := &process{name: filepath.Base(bin), cmd: exec.Command(bin, args...), out: &syncBuffer{}, done: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("%s output:\n%s", p.name, tail(p.out.String(), 60))
		}
	})
	return p
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// kubectl runs the control plane's kubectl as the admin.
func kubectl(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), filepath.Join(env.AssetsDir(), "kubectl"), append([]string{"--kubeconfig", env.KubeconfigPath()}, args...)...)
	cmd.Env = append(os.Environ(), "KUBECACHEDIR="+filepath.Join(env.Dir(), "kube-cache"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

const (
	// The names of manifests/.
	systemNamespace = "kubectl-chart-system"
	servingCert     = "chart-webhook"     // Certificate of the webhook's Service
	servingSecret   = "chart-webhook-tls" // its Secret, mounted at --cert-dir
	caCert          = "chart-webhook-ca"  // the CA Certificate (and its Secret) that signs it
)

// TestCertManagerIssuesTheWebhookCertificate applies manifests/ (the
// Deployment runs no pods here: no nodes) with cert-manager running, and
// checks what the webhook needs from it: the serving certificate issued for
// the Service's DNS names by the manifests' CA, in the Secret the pods
// mount, and that CA injected into the caBundle of every webhook of the
// Mutating and the ValidatingWebhookConfiguration, so that the API server
// trusts the webhook.
func TestCertManagerIssuesTheWebhookCertificate(t *testing.T) {
	if skip != "" {
		t.Skip(skip)
	}
	env.Require(t)
	ctx := t.Context()
	for _, name := range []string{"cert-manager-controller", "cert-manager-cainjector"} {
		if _, err := os.Stat(filepath.Join(binDir, name)); err != nil {
			t.Fatalf("$%s=%s: %v (make cert-manager-binaries builds it)", EnvCertManager, binDir, err)
		}
	}
	began := time.Now()
	controller := start(t, filepath.Join(binDir, "cert-manager-controller"), "--kubeconfig", env.KubeconfigPath(), "--cluster-resource-namespace", systemNamespace)
	cainjector := start(t, filepath.Join(binDir, "cert-manager-cainjector"), "--kubeconfig", env.KubeconfigPath())

	manifests := filepath.Join("..", "..", "manifests")
	t.Logf("kubectl apply --server-side -k manifests:\n%s", kubectl(t, "apply", "--server-side", "--field-manager=kubectl-chart-test", "-k", manifests))

	kubectl(t, "wait", "-n", systemNamespace, "--for=condition=Ready", "--timeout=90s",
		"issuer/chart-webhook-selfsigned", "certificate/"+caCert, "issuer/chart-webhook-ca", "certificate/"+servingCert)
	controller.running(t)
	t.Logf("Certificates Ready %s after cert-manager started", time.Since(began).Round(time.Millisecond))

	// The DNS names the manifests ask for.
	var want struct {
		Spec struct {
			DNSNames []string `json:"dnsNames"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal([]byte(kubectl(t, "get", "-n", systemNamespace, "certificate/"+servingCert, "-o", "yaml")), &want); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(want.Spec.DNSNames, "chart-webhook."+systemNamespace+".svc") {
		t.Fatalf("the Certificate's dnsNames %q lack the Service's name", want.Spec.DNSNames)
	}

	secrets := env.Clientset().CoreV1().Secrets(systemNamespace)
	s, err := secrets.Get(ctx, servingSecret, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"tls.crt", "tls.key", "ca.crt"} {
		if len(s.Data[k]) == 0 {
			t.Fatalf("Secret %s has no %s (keys: %v)", servingSecret, k, slices.Sorted(maps.Keys(s.Data)))
		}
	}
	pair, err := tls.X509KeyPair(s.Data["tls.crt"], s.Data["tls.key"])
	if err != nil {
		t.Fatalf("tls.crt and tls.key of %s: %v", servingSecret, err)
	}
	leaf := pair.Leaf
	if diff := cmp.Diff(want.Spec.DNSNames, leaf.DNSNames); diff != "" {
		t.Errorf("DNS names of the issued certificate (-want +got):\n%s", diff)
	}
	if !slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageServerAuth) {
		t.Errorf("the serving certificate lacks server auth: %v", leaf.ExtKeyUsage)
	}
	ca, err := secrets.Get(ctx, caCert, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ca.Data["tls.crt"], s.Data["ca.crt"]) {
		t.Errorf("ca.crt of %s is not the certificate of the CA %s", servingSecret, caCert)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(s.Data["ca.crt"]) {
		t.Fatalf("ca.crt of %s holds no certificate", servingSecret)
	}
	for _, name := range want.Spec.DNSNames {
		if _, err := leaf.Verify(x509.VerifyOptions{DNSName: name, Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
			t.Errorf("the serving certificate does not verify for %s against ca.crt: %v", name, err)
		}
	}

	// cainjector: both webhook configurations trust that CA.
	hooks := env.Clientset().AdmissionregistrationV1()
	// bundles are the caBundles of every webhook, by name.
	bundles := func(ctx context.Context) (map[string][]byte, error) {
		out := map[string][]byte{}
		m, err := hooks.MutatingWebhookConfigurations().Get(ctx, ownership.WebhookConfigurationName, metav1.GetOptions{})
		if err != nil {
			return nil, err
		}
		for _, w := range m.Webhooks {
			out["MutatingWebhookConfiguration "+w.Name] = w.ClientConfig.CABundle
		}
		v, err := hooks.ValidatingWebhookConfigurations().Get(ctx, ownership.WebhookConfigurationName, metav1.GetOptions{})
		if err != nil {
			return nil, err
		}
		for _, w := range v.Webhooks {
			out["ValidatingWebhookConfiguration "+w.Name] = w.ClientConfig.CABundle
		}
		return out, nil
	}
	var injected map[string][]byte
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
		cainjector.running(t)
		var err error
		if injected, err = bundles(ctx); err != nil {
			return false, err
		}
		for _, b := range injected {
			if len(b) == 0 {
				return false, nil
			}
		}
		return len(injected) > 0, nil
	})
	if err != nil {
		t.Fatalf("cainjector never set the caBundle of every webhook of the configurations %s (%d webhooks): %v", ownership.WebhookConfigurationName, len(injected), err)
	}
	t.Logf("caBundles injected %s after cert-manager started", time.Since(began).Round(time.Millisecond))
	if len(injected) < 2 {
		t.Errorf("webhooks %v, want the mutating and the validating ones", slices.Sorted(maps.Keys(injected)))
	}
	for _, name := range slices.Sorted(maps.Keys(injected)) {
		if !bytes.Equal(injected[name], s.Data["ca.crt"]) {
			t.Errorf("the caBundle of %s is not ca.crt of %s:\n%s", name, servingSecret, describePEM(injected[name]))
		}
	}
	caBundle := s.Data["ca.crt"]

	// What the API server does when it calls the webhook: a TLS handshake
	// to the Service's name trusting only caBundle, answered with the
	// mounted Secret's certificate.
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{pair}}
	srv.StartTLS()
	defer srv.Close()
	bundle := x509.NewCertPool()
	bundle.AppendCertsFromPEM(caBundle)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: bundle, ServerName: "chart-webhook." + systemNamespace + ".svc"}}}
	resp, err := client.Get(srv.URL)
	if err != nil {
		t.Fatalf("TLS to the webhook's Service name trusting the injected caBundle: %v", err)
	}
	resp.Body.Close()
}

// describePEM lists the subjects of the certificates in b.
func describePEM(b []byte) string {
	var out []string
	for {
		var block *pem.Block
		block, b = pem.Decode(b)
		if block == nil {
			break
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			out = append(out, err.Error())
			continue
		}
		out = append(out, c.Subject.String())
	}
	return strings.Join(out, "\n")
}
