package testregistry

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// EnvBinary names the registry binary (hack/registry.mk sets it).
const EnvBinary = "KUBECTL_CHART_REGISTRY"

// Options choose how the registry is served.
type Options struct {
	// TLS serves HTTPS with a certificate for 127.0.0.1 and localhost signed
	// by a CA generated for this registry (Registry.CAFile).
	TLS bool
	// Users, when not empty, turns on htpasswd basic auth with these
	// username → password pairs. Only with TLS, as clients send basic
	// credentials over plain HTTP only reluctantly.
	Users map[string]string
}

// Registry is a running registry.
type Registry struct {
	// Host is "127.0.0.1:PORT", the registry's name in references.
	Host string
	// CAFile is the PEM CA that signed the server certificate (TLS only).
	CAFile string
	// CAPool holds that CA (TLS only).
	CAPool *x509.CertPool
	// Dir is the registry's folder: config.yml, storage/, registry.log.
	Dir string
	// LogFile is the registry's output (including its access log).
	LogFile string
}

// Binary returns the registry binary from $KUBECTL_CHART_REGISTRY, skipping
// the test when it is not set (failing it when $CI is "true").
func Binary(t testing.TB) string {
	t.Helper()
	bin := os.Getenv(EnvBinary)
	if bin == "" {
		msg := "$" + EnvBinary + " is not set: build the registry with `make registry-binary` " +
			"(or run `make test`, which builds it and sets the variable)"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("$%s: %v", EnvBinary, err)
	}
	return bin
}

// Start runs a registry until the test ends.
func Start(t testing.TB, o Options) *Registry {
	t.Helper()
	bin := Binary(t)
	if len(o.Users) > 0 && !o.TLS {
		t.Fatal("testregistry: basic auth needs TLS")
	}
	dir := t.TempDir()
	r := &Registry{Dir: dir, LogFile: filepath.Join(dir, "registry.log")}
	var tlsCfg *tls.Config
	if o.TLS {
		pool, err := writeCerts(dir)
		if err != nil {
			t.Fatal(err)
		}
		r.CAFile, r.CAPool = filepath.Join(dir, "ca.crt"), pool
		tlsCfg = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	htpasswd := ""
	if len(o.Users) > 0 {
		htpasswd = filepath.Join(dir, "htpasswd")
		if err := writeHtpasswd(htpasswd, o.Users); err != nil {
			t.Fatal(err)
		}
	}

	// A free port can be taken by someone else between the probe and the
	// registry's listen: try a few.
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		port, err := freePort()
		if err != nil {
			t.Fatal(err)
		}
		r.Host = "127.0.0.1:" + strconv.Itoa(port)
		cfg := filepath.Join(dir, "config.yml")
		if err := os.WriteFile(cfg, []byte(config(dir, r.Host, o.TLS, htpasswd)), 0o600); err != nil {
			t.Fatal(err)
		}
		lastErr = r.run(t, bin, cfg, tlsCfg)
		if lastErr == nil {
			return r
		}
	}
	t.Fatalf("testregistry: %v", lastErr)
	return nil
}

func (r *Registry) run(t testing.TB, bin, cfg string, tlsCfg *tls.Config) error {
	logf, err := os.OpenFile(r.LogFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	cmd := exec.Command(bin, "serve", cfg)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = append(os.Environ(), "OTEL_TRACES_EXPORTER=none", "OTEL_SDK_DISABLED=true")
	if err := cmd.Start(); err != nil {
		logf.Close()
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait(); logf.Close() }()
	stop := func() {
		_ = cmd.Process.Kill()
		<-exited
	}

	scheme := "http"
	if tlsCfg != nil {
		scheme = "https"
	}
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: tlsCfg}}
	defer client.CloseIdleConnections()
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case err := <-exited:
			exited <- err
			log, _ := os.ReadFile(r.LogFile)
			return fmt.Errorf("registry exited (%v):\n%s", err, tail(log))
		default:
		}
		resp, err := client.Get(scheme + "://" + r.Host + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusUnauthorized {
				t.Cleanup(stop)
				return nil
			}
		}
		if time.Now().After(deadline) {
			stop()
			log, _ := os.ReadFile(r.LogFile)
			return fmt.Errorf("registry not ready on %s after 30s (%v):\n%s", r.Host, err, tail(log))
		}
		// Readiness poll, not an assertion: the registry answers in ~100 ms.
		time.Sleep(20 * time.Millisecond)
	}
}

func tail(b []byte) []byte {
	if len(b) > 4000 {
		return b[len(b)-4000:]
	}
	return b
}

// config is the registry's configuration (distribution's config.yml).
func config(dir, addr string, withTLS bool, htpasswd string) string {
	var b bytes.Buffer
	fmt.Fprintf(&b, `version: 0.1
log:
  level: info
  formatter: text
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: %q
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: %q
  draintimeout: 1s
`, filepath.Join(dir, "storage"), addr)
	if withTLS {
		fmt.Fprintf(&b, "  tls:\n    certificate: %q\n    key: %q\n",
			filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key"))
	}
	if htpasswd != "" {
		fmt.Fprintf(&b, "auth:\n  htpasswd:\n    realm: testregistry\n    path: %q\n", htpasswd)
	}
	return b.String()
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func writeHtpasswd(path string, users map[string]string) error {
	var b bytes.Buffer
	for u, p := range users {
		h, err := bcrypt.GenerateFromPassword([]byte(p), bcrypt.MinCost)
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s:%s\n", u, h)
	}
	return os.WriteFile(path, b.Bytes(), 0o600)
}

// writeCerts writes ca.crt, server.crt and server.key into dir.
func writeCerts(dir string) (*x509.CertPool, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "kubectl-chart test registry CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:     []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, err
	}
	files := []struct {
		path, typ string
		der       []byte
	}{
		{filepath.Join(dir, "ca.crt"), "CERTIFICATE", caDER},
		{filepath.Join(dir, "server.crt"), "CERTIFICATE", der},
		{filepath.Join(dir, "server.key"), "EC PRIVATE KEY", keyDER},
	}
	for _, f := range files {
		if err := os.WriteFile(f.path, pem.EncodeToMemory(&pem.Block{Type: f.typ, Bytes: f.der}), 0o600); err != nil {
			return nil, err
		}
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return pool, nil
}
