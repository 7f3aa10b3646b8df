package webhook

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/flowcontrol"
	crwebhook "sigs.k8s.io/controller-runtime/pkg/webhook"
)

// TestClientConfig: a configuration without rate limits (from --kubeconfig)
// gets no client-side rate limiter, as the in-cluster one from
// controller-runtime's GetConfig; one that sets them keeps them; the
// caller's configuration is not changed.
func TestClientConfig(t *testing.T) {
	limiter := flowcontrol.NewFakeAlwaysRateLimiter()
	for _, c := range []struct {
		name        string
		in          rest.Config
		wantQPS     float32
		wantBurst   int
		wantLimiter bool
	}{
		{name: "unset: no client-side limit", in: rest.Config{Host: "https://127.0.0.1:6443"}, wantQPS: -1},
		{name: "set: kept", in: rest.Config{QPS: 50, Burst: 100}, wantQPS: 50, wantBurst: 100},
		{name: "disabled: kept", in: rest.Config{QPS: -1}, wantQPS: -1},
		{name: "rate limiter: kept", in: rest.Config{RateLimiter: limiter}, wantLimiter: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			in := c.in
			got := clientConfig(&in)
			if got.QPS != c.wantQPS || got.Burst != c.wantBurst || (got.RateLimiter != nil) != c.wantLimiter {
				t.Errorf("QPS %v, Burst %d, RateLimiter %v; want %v, %d, %v", got.QPS, got.Burst, got.RateLimiter != nil, c.wantQPS, c.wantBurst, c.wantLimiter)
			}
			if got.Host != c.in.Host {
				t.Errorf("Host %q, want %q", got.Host, c.in.Host)
			}
			if in.QPS != c.in.QPS {
				t.Errorf("the caller's configuration changed: QPS %v, was %v", in.QPS, c.in.QPS)
			}
		})
	}
}

// TestWebhookServerHTTP1: the webhook server offers only HTTP/1.1, even to
// a client that prefers HTTP/2 (as the API server's webhook client does).
func TestWebhookServerHTTP1(t *testing.T) {
	dir := t.TempDir()
	pool := writeServingCert(t, dir)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	o := DefaultServerOptions()
	o.Host, o.Port, o.CertDir = "127.0.0.1", port, dir
	srv := crwebhook.NewServer(webhookServerOptions(o))
	srv.Register("/ping", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("pong")) }))
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- srv.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})

	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: pool, NextProtos: []string{"h2", "http/1.1"}},
		ForceAttemptHTTP2: true,
	}}
	var resp *http.Response
	if err := wait.PollUntilContextTimeout(t.Context(), 20*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
		resp, err = client.Get("https://127.0.0.1:" + strconv.Itoa(port) + "/ping")
		return err == nil, nil
	}); err != nil {
		t.Fatalf("the webhook server did not answer: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.ProtoMajor != 1 || resp.TLS == nil || resp.TLS.NegotiatedProtocol != "http/1.1" {
		t.Errorf("HTTP %d over %s, ALPN %q; want 200 over HTTP/1.1, ALPN http/1.1", resp.StatusCode, resp.Proto, resp.TLS.NegotiatedProtocol)
	}
}

// writeServingCert writes a self-signed certificate for 127.0.0.1 as
// tls.crt and tls.key into dir and returns a pool that trusts it.
func writeServingCert(t *testing.T, dir string) *x509.CertPool {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "chart-webhook test"},
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "tls.crt"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "tls.key"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return pool
}
