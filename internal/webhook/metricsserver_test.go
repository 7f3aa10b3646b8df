package webhook

import (
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
)

// metricsReaderRole is manifests/rbac.yaml's ClusterRole for scrapers.
const metricsReaderRole = "chart-webhook-metrics-reader"

// TestMetricsServerOptions: /metrics is served over HTTPS behind the
// authentication and authorization filter by default, with the webhook's
// serving certificate unless a folder of its own is given; insecure is
// plain HTTP without the filter.
func TestMetricsServerOptions(t *testing.T) {
	type view struct {
		BindAddress, CertDir  string
		SecureServing, Filter bool
		TLSOpts               int
	}
	for _, c := range []struct {
		name   string
		modify func(*ServerOptions)
		want   view
	}{
		{name: "default", modify: func(*ServerOptions) {},
			want: view{BindAddress: ":8443", CertDir: "/etc/chart-webhook/tls", SecureServing: true, Filter: true, TLSOpts: 1}},
		{name: "a certificate folder of its own", modify: func(o *ServerOptions) { o.MetricsCertDir = "/etc/metrics-tls" },
			want: view{BindAddress: ":8443", CertDir: "/etc/metrics-tls", SecureServing: true, Filter: true, TLSOpts: 1}},
		{name: "insecure", modify: func(o *ServerOptions) { o.MetricsSecure, o.MetricsBindAddress = false, "127.0.0.1:8080" },
			want: view{BindAddress: "127.0.0.1:8080"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := DefaultServerOptions()
			c.modify(&o)
			got := metricsServerOptions(o)
			v := view{BindAddress: got.BindAddress, CertDir: got.CertDir, SecureServing: got.SecureServing, Filter: got.FilterProvider != nil, TLSOpts: len(got.TLSOpts)}
			if diff := cmp.Diff(c.want, v); diff != "" {
				t.Errorf("metrics server options (-want +got):\n%s", diff)
			}
		})
	}
}

// TestMetricsAuth starts chart-webhook's metrics server as NewManager does
// (default options), as the webhook's ServiceAccount with
// manifests/rbac.yaml's permissions, against the test API server, and
// scrapes its /metrics: over HTTPS only (HTTP/1.1, the webhook's serving
// certificate), refused without a token (401), with a token the API server
// does not authenticate (401) and to a ServiceAccount not bound to
// chart-webhook-metrics-reader (403), served to one bound to it
// (200, the webhook's metrics). The tokens are real
// ServiceAccount tokens (TokenRequest), checked by the API server
// (TokenReview, SubjectAccessReview with RBAC).
func TestMetricsAuth(t *testing.T) {
	env.Require(t)
	ctx := t.Context()
	cs := env.Clientset()
	if err := applyRBAC(ctx, cs); err != nil {
		t.Fatal(err)
	}
	sa, err := env.Envtest().AddUser(envtest.User{Name: webhookUser, Groups: []string{"system:serviceaccounts", "system:serviceaccounts:kubectl-chart-system"}}, nil)
	if err != nil {
		t.Fatal(err)
	}

	// The metrics server as NewManager makes it (metricsServerOptions,
	// the manager's client configuration), with a serving certificate for
	// 127.0.0.1 in --cert-dir, which it uses too. It serves
	// controller-runtime's registry: the webhook's collectors go there, and
	// leave it when the test ends. (TestBinary checks that the process
	// serves its metrics this way.)
	certDir := t.TempDir()
	pool := writeServingCert(t, certDir)
	metrics, err := freeAddress()
	if err != nil {
		t.Fatal(err)
	}
	o := DefaultServerOptions()
	o.CertDir, o.MetricsBindAddress = certDir, metrics
	if _, err := NewMetrics(&testRegisterer{Registerer: crmetrics.Registry, t: t}); err != nil {
		t.Fatal(err)
	}
	cfg := clientConfig(sa.Config())
	httpClient, err := rest.HTTPClientFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := metricsserver.NewServer(metricsServerOptions(o), cfg, httpClient)
	if err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Start(sctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("metrics server: %v", err)
		}
	})

	// Two ServiceAccounts of a test namespace: prometheus is bound to
	// chart-webhook-metrics-reader, stranger is not.
	ns := env.Namespace(t)
	token := func(name string) string {
		t.Helper()
		if _, err := cs.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		expiry := int64(600)
		tr, err := cs.CoreV1().ServiceAccounts(ns).CreateToken(ctx, name, &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &expiry}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("token of ServiceAccount/%s/%s: %v", ns, name, err)
		}
		return tr.Status.Token
	}
	prometheusToken, strangerToken := token("prometheus"), token("stranger")
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: metricsReaderRole + "-" + ns},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: metricsReaderRole},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "prometheus", Namespace: ns}},
	}
	if _, err := cs.RbacV1().ClusterRoleBindings().Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cs.RbacV1().ClusterRoleBindings().Delete(context.Background(), binding.Name, metav1.DeleteOptions{})
	})

	// A client that trusts the serving certificate and offers HTTP/2 first.
	client := &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: pool, NextProtos: []string{"h2", "http/1.1"}},
		ForceAttemptHTTP2: true,
	}}
	type answer struct {
		Code  int
		Proto string
	}
	get := func(url, token string) (answer, string, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return answer{}, "", err
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := client.Do(req)
		if err != nil {
			return answer{}, "", err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		return answer{Code: resp.StatusCode, Proto: resp.Proto}, string(body), err
	}
	url := "https://" + metrics + "/metrics"
	var last error
	if err := wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		_, _, last = get(url, "")
		return last == nil, nil
	}); err != nil {
		t.Fatalf("the metrics server did not answer: %v (last: %v)", err, last)
	}

	for _, c := range []struct {
		name  string
		token string
		want  answer
		// body must contain these.
		body []string
	}{
		{name: "anonymous", want: answer{http.StatusUnauthorized, "HTTP/1.1"}, body: []string{"Unauthorized"}},
		// The TokenReview does not authenticate it (and says why:
		// controller-runtime's filter answered 500 then).
		{name: "a token the API server does not accept", token: "not-a-token", want: answer{http.StatusUnauthorized, "HTTP/1.1"}, body: []string{"Unauthorized"}},
		{name: "a ServiceAccount without " + metricsReaderRole, token: strangerToken, want: answer{http.StatusForbidden, "HTTP/1.1"},
			body: []string{"Authorization denied for user system:serviceaccount:" + ns + ":stranger"}},
		{name: "a ServiceAccount bound to " + metricsReaderRole, token: prometheusToken, want: answer{http.StatusOK, "HTTP/1.1"},
			body: []string{"# TYPE " + MetricDuration + " histogram", MetricDuration + "_count 0"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, body, err := get(url, c.token)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(c.want, got); diff != "" {
				t.Errorf("GET %s (-want +got):\n%s\n%s", url, diff, body)
			}
			for _, want := range c.body {
				if !strings.Contains(body, want) {
					t.Errorf("the answer lacks %q:\n%.2000s", want, body)
				}
			}
		})
	}

	// Plain HTTP gets nothing: a 400 from the TLS server, or a reset
	// connection when the server closes it before the client has read it.
	if got, body, err := get("http://"+metrics+"/metrics", prometheusToken); err == nil && got.Code != http.StatusBadRequest {
		t.Errorf("GET over plain HTTP: %d, want 400 or no answer\n%.2000s", got.Code, body)
	}
}

// testRegisterer registers collectors with a registry and unregisters them
// when the test ends.
type testRegisterer struct {
	prometheus.Registerer
	t testing.TB
}

func (r *testRegisterer) Register(c prometheus.Collector) error {
	if err := r.Registerer.Register(c); err != nil {
		return err
	}
	r.t.Cleanup(func() { r.Registerer.Unregister(c) })
	return nil
}

func (r *testRegisterer) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := r.Register(c); err != nil {
			panic(err)
		}
	}
}
