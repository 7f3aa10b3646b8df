package webhookinstall

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var testNow = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

func mustCA(t *testing.T, name string, now time.Time, validity time.Duration) *KeyPair {
	t.Helper()
	ca, err := NewCA(name, now, validity)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func mustServing(t *testing.T, ca *KeyPair, hosts []string, now time.Time, validity time.Duration) *KeyPair {
	t.Helper()
	kp, err := ca.IssueServing(hosts, now, validity)
	if err != nil {
		t.Fatal(err)
	}
	return kp
}

func TestPKI(t *testing.T) {
	ca := mustCA(t, "test-ca", testNow, CADuration)
	if !ca.Cert.IsCA || ca.Cert.Subject.CommonName != "test-ca" {
		t.Errorf("CA: IsCA %v, subject %s", ca.Cert.IsCA, ca.Cert.Subject)
	}
	pub, ok := ca.Cert.PublicKey.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		t.Errorf("CA key %T, want ECDSA P-256", ca.Cert.PublicKey)
	}
	hosts := ServiceDNSNames("ns")
	leaf := mustServing(t, ca, hosts, testNow, ServingDuration)
	if diff := cmp.Diff(hosts, leaf.Cert.DNSNames); diff != "" {
		t.Errorf("DNS names (-want +got):\n%s", diff)
	}
	if got, want := leaf.Cert.NotAfter, testNow.Add(ServingDuration); !got.Equal(want) {
		t.Errorf("NotAfter %s, want %s", got, want)
	}
	if diff := cmp.Diff([]x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, leaf.Cert.ExtKeyUsage); diff != "" {
		t.Errorf("ExtKeyUsage (-want +got):\n%s", diff)
	}
	bundle, err := ParseBundle(ca.CertPEM)
	if err != nil {
		t.Fatal(err)
	}
	other := mustCA(t, "other-ca", testNow, CADuration)

	for _, tc := range []struct {
		name   string
		leaf   *x509.Certificate
		bundle []*x509.Certificate
		host   string
		at     time.Time
		want   string
	}{
		{"service name", leaf.Cert, bundle, "chart-webhook.ns.svc", testNow, ""},
		{"cluster.local name", leaf.Cert, bundle, "chart-webhook.ns.svc.cluster.local", testNow, ""},
		{"a bundle with two CAs", leaf.Cert, []*x509.Certificate{other.Cert, ca.Cert}, "chart-webhook.ns.svc", testNow, ""},
		{"another name", leaf.Cert, bundle, "chart-webhook.other.svc", testNow, "certificate is valid for chart-webhook.ns.svc"},
		{"another CA", leaf.Cert, []*x509.Certificate{other.Cert}, "chart-webhook.ns.svc", testNow, "certificate signed by unknown authority"},
		{"expired", leaf.Cert, bundle, "chart-webhook.ns.svc", testNow.Add(ServingDuration + time.Second), "certificate has expired"},
		{"backdated for clock skew", leaf.Cert, bundle, "chart-webhook.ns.svc", testNow.Add(-30 * time.Minute), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := VerifyServing(tc.leaf, tc.bundle, tc.host, tc.at)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if tc.want == "" && err != nil || tc.want != "" && !strings.Contains(got, tc.want) {
				t.Errorf("VerifyServing = %q, want %q", got, tc.want)
			}
		})
	}

	// An IP address is an IP SAN, and the serving certificate never
	// outlives its CA.
	short := mustCA(t, "short-ca", testNow, 24*time.Hour)
	ipLeaf := mustServing(t, short, []string{"127.0.0.1"}, testNow, LocalServingDuration)
	if len(ipLeaf.Cert.IPAddresses) != 1 || ipLeaf.Cert.IPAddresses[0].String() != "127.0.0.1" || len(ipLeaf.Cert.DNSNames) != 0 {
		t.Errorf("IP SANs %v, DNS SANs %v", ipLeaf.Cert.IPAddresses, ipLeaf.Cert.DNSNames)
	}
	if !ipLeaf.Cert.NotAfter.Equal(short.Cert.NotAfter) {
		t.Errorf("serving certificate ends %s, after its CA (%s)", ipLeaf.Cert.NotAfter, short.Cert.NotAfter)
	}
	if err := VerifyServing(ipLeaf.Cert, []*x509.Certificate{short.Cert}, "127.0.0.1", testNow); err != nil {
		t.Errorf("IP certificate: %v", err)
	}

	// Key pairs round-trip through PEM; a key of another certificate is
	// refused.
	if _, err := ParseKeyPair(leaf.CertPEM, leaf.KeyPEM); err != nil {
		t.Errorf("ParseKeyPair: %v", err)
	}
	if _, err := ParseKeyPair(leaf.CertPEM, ca.KeyPEM); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Errorf("ParseKeyPair with the wrong key: %v", err)
	}
	if _, err := ParseBundle([]byte("  \n")); err == nil {
		t.Error("ParseBundle of nothing: no error")
	}
}

func TestWriteFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "certs")
	files, bundle, info, err := localCertificates("127.0.0.1", testNow)
	if err != nil {
		t.Fatal(err)
	}
	written, err := writeFiles(dir, files)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{filepath.Join(dir, CAFile), filepath.Join(dir, CertFile), filepath.Join(dir, KeyFile)}
	if diff := cmp.Diff(want, written); diff != "" {
		t.Errorf("written (-want +got):\n%s", diff)
	}
	perms := map[string]os.FileMode{}
	for _, p := range append(written, dir) {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		perms[filepath.Base(p)] = st.Mode().Perm()
	}
	if diff := cmp.Diff(map[string]os.FileMode{"certs": 0o700, CAFile: 0o644, CertFile: 0o644, KeyFile: 0o600}, perms); diff != "" {
		t.Errorf("permissions (-want +got):\n%s", diff)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 3 {
		t.Errorf("%d entries in the folder, want 3 (no temporary files left)", len(entries))
	}
	crt, _ := os.ReadFile(filepath.Join(dir, CertFile))
	key, _ := os.ReadFile(filepath.Join(dir, KeyFile))
	kp, err := ParseKeyPair(crt, key)
	if err != nil {
		t.Fatal(err)
	}
	cas, err := ParseBundle(bundle)
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyServing(kp.Cert, cas, "127.0.0.1", testNow); err != nil {
		t.Errorf("the written certificate is not trusted by the caBundle: %v", err)
	}
	if diff := cmp.Diff([]string{"127.0.0.1"}, info.Hosts); diff != "" {
		t.Errorf("hosts (-want +got):\n%s", diff)
	}
}
