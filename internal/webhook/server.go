package webhook

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/record"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	crwebhook "sigs.k8s.io/controller-runtime/pkg/webhook"

	"github.com/kubectl-chart/kubectl-chart/pkg/ownership"
)

// Component is the webhook's name: Event source, logger name, and the name
// of its MutatingWebhookConfiguration in manifests/.
const Component = "chart-webhook"

// AlwaysExcluded are namespaces whose requests are never judged, whatever
// the configuration: the webhook must not stand in the way of the control
// plane or of itself.
var AlwaysExcluded = []string{"kube-system"}

// ServerOptions configure the webhook process (cmd/webhook's flags).
type ServerOptions struct {
	// Host and Port the webhook server listens on (Host "" = all
	// addresses).
	Host string
	Port int
	// CertDir holds tls.crt and tls.key (a mounted cert-manager Secret);
	// they are reloaded when they change.
	CertDir string
	// MetricsBindAddress serves Prometheus metrics on /metrics; "0" turns
	// them off.
	MetricsBindAddress string
	// MetricsSecure serves /metrics over HTTPS to clients the API server
	// authenticates (a bearer token, by TokenReview) and authorizes (get on
	// the non-resource URL /metrics, by SubjectAccessReview); false serves
	// plain HTTP to anyone (a webhook on a developer's machine).
	MetricsSecure bool
	// MetricsCertDir holds the metrics server's tls.crt and tls.key
	// (reloaded when they change); "" uses CertDir. When the folder holds
	// no such pair, a self-signed certificate is made at start.
	MetricsCertDir string
	// HealthProbeBindAddress serves /healthz and /readyz; "0" turns them off.
	HealthProbeBindAddress string
	// BreakGlassUsers and BreakGlassGroups may change what releases own
	// (and each such write is recorded).
	BreakGlassUsers, BreakGlassGroups []string
	// Namespace is the webhook's own namespace, always excluded.
	Namespace string
	// ExcludedNamespaces are excluded besides AlwaysExcluded and Namespace.
	ExcludedNamespaces []string
	// RecheckDenials reads a release head from the API server once before
	// a denial, in case the cache lags behind a lock just taken.
	RecheckDenials bool
	// PprofBindAddress serves net/http/pprof's /debug/pprof/ (plain HTTP,
	// no authentication: bind it to localhost or leave it off); "" or "0"
	// turns it off, the default.
	PprofBindAddress string
	// GracefulShutdownTimeout bounds the shutdown after a signal.
	GracefulShutdownTimeout time.Duration
	// MaxLockTTL caps the expiry of release locks (0:
	// ownership.DefaultMaxLockTTL).
	MaxLockTTL time.Duration
	// SealKey is the HMAC key of record seals (ownership.RecordSeal); when
	// empty, it is read from the Secret SealSecret in Namespace, which is
	// created with a random key if it does not exist (every replica must
	// use the same key).
	SealKey    []byte
	SealSecret string
	// AuthorizationAllowedTTL and AuthorizationDeniedTTL are how long the
	// answers of SubjectAccessReviews are cached (0: DefaultAllowedTTL,
	// DefaultDeniedTTL).
	AuthorizationAllowedTTL, AuthorizationDeniedTTL time.Duration
	// Registry receives the metrics; default controller-runtime's registry
	// (the one the metrics server serves).
	Registry prometheus.Registerer
	// Logger is the process's logger.
	Logger logr.Logger
}

// DefaultServerOptions are the defaults of cmd/webhook's flags.
func DefaultServerOptions() ServerOptions {
	return ServerOptions{
		Port:                    crwebhook.DefaultPort,
		CertDir:                 "/etc/chart-webhook/tls",
		MetricsBindAddress:      ":8443",
		MetricsSecure:           true,
		HealthProbeBindAddress:  ":8081",
		Namespace:               "kubectl-chart-system",
		RecheckDenials:          true,
		SealSecret:              DefaultSealSecret,
		GracefulShutdownTimeout: 15 * time.Second,
	}
}

// Excluded lists every namespace the handler lets through: AlwaysExcluded,
// the webhook's own namespace and the configured ones, without
// duplicates.
func (o ServerOptions) Excluded() []string {
	out := slices.Clone(AlwaysExcluded)
	for _, ns := range append([]string{o.Namespace}, o.ExcludedNamespaces...) {
		if ns != "" && !slices.Contains(out, ns) {
			out = append(out, ns)
		}
	}
	return out
}

// NewManager wires the webhook process: a controller-runtime manager whose
// cache holds only release head ConfigMaps (managedFields stripped), the
// webhook server with the handler on Path, metrics, health probes (/readyz
// is ready once the server runs and the cache has synced) and an Event
// broadcaster. Start it with mgr.Start(ctx); it stops gracefully when ctx
// ends.
func NewManager(cfg *rest.Config, o ServerOptions) (manager.Manager, error) {
	if o.Registry == nil {
		o.Registry = crmetrics.Registry
	}
	log := o.Logger
	if log.GetSink() == nil {
		log = logr.Discard()
	}
	cfg = clientConfig(cfg)
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return nil, err
	}
	timeout := o.GracefulShutdownTimeout
	mgr, err := manager.New(cfg, manager.Options{
		Scheme: scheme,
		Logger: log,
		Cache: cache.Options{
			ByObject: map[client.Object]cache.ByObject{
				&corev1.ConfigMap{}: {Label: labels.SelectorFromSet(labels.Set{ownership.LabelRecord: ownership.RecordHead})},
			},
			DefaultTransform: cache.TransformStripManagedFields(),
		},
		Metrics:                 metricsServerOptions(o),
		HealthProbeBindAddress:  o.HealthProbeBindAddress,
		PprofBindAddress:        o.PprofBindAddress,
		WebhookServer:           crwebhook.NewServer(webhookServerOptions(o)),
		GracefulShutdownTimeout: &timeout,
	})
	if err != nil {
		return nil, fmt.Errorf("webhook: %w", err)
	}

	// The head informer exists before the cache starts, so that it syncs
	// at start and /readyz waits for it.
	if _, err := mgr.GetCache().GetInformer(context.Background(), &corev1.ConfigMap{}); err != nil {
		return nil, fmt.Errorf("webhook: head informer: %w", err)
	}

	recorder, err := eventRecorder(cfg, scheme, mgr, log)
	if err != nil {
		return nil, err
	}
	metrics, err := NewMetrics(o.Registry)
	if err != nil {
		return nil, fmt.Errorf("webhook: metrics: %w", err)
	}
	if err := o.Registry.Register(NewReleaseCollector(mgr.GetCache(), time.Now)); err != nil {
		return nil, fmt.Errorf("webhook: release metrics: %w", err)
	}
	var live client.Reader
	if o.RecheckDenials {
		live = mgr.GetAPIReader()
	}
	cs, err := kubernetes.NewForConfigAndClient(cfg, mgr.GetHTTPClient())
	if err != nil {
		return nil, fmt.Errorf("webhook: client: %w", err)
	}
	key := o.SealKey
	if len(key) == 0 {
		if key, err = sealKey(context.Background(), cs.CoreV1().Secrets(o.Namespace), o.SealSecret); err != nil {
			return nil, err
		}
	}
	authz := NewCachedAuthorizer(cs.AuthorizationV1().SubjectAccessReviews())
	if o.AuthorizationAllowedTTL > 0 {
		authz.AllowedTTL = o.AuthorizationAllowedTTL
	}
	if o.AuthorizationDeniedTTL > 0 {
		authz.DeniedTTL = o.AuthorizationDeniedTTL
	}
	handler, err := NewHandler(Options{
		Config: ownership.Config{
			BreakGlassUsers: o.BreakGlassUsers, BreakGlassGroups: o.BreakGlassGroups, Now: time.Now,
			MaxLockTTL: o.MaxLockTTL, SealKey: key,
		},
		Heads:              mgr.GetCache(),
		Live:               live,
		ExcludedNamespaces: o.Excluded(),
		Recorder:           recorder,
		Metrics:            metrics,
		Authorizer:         authz,
	})
	if err != nil {
		return nil, err
	}
	// GetWebhookServer adds the server to the manager's runnables.
	server := mgr.GetWebhookServer()
	server.Register(PathMutate, Serve(handler.Stamper(), log.WithName("admission").WithValues("webhook", PathMutate)))
	server.Register(PathValidate, Serve(handler, log.WithName("admission").WithValues("webhook", PathValidate)))

	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return nil, err
	}
	if err := mgr.AddReadyzCheck("webhook-server", server.StartedChecker()); err != nil {
		return nil, err
	}
	if err := mgr.AddReadyzCheck("head-cache", cacheSynced(mgr.GetCache())); err != nil {
		return nil, err
	}
	return mgr, nil
}

// webhookServerOptions configure the HTTPS server of the handler: HTTP/1.1
// only (disableHTTP2).
func webhookServerOptions(o ServerOptions) crwebhook.Options {
	return crwebhook.Options{Host: o.Host, Port: o.Port, CertDir: o.CertDir, TLSOpts: []func(*tls.Config){disableHTTP2}}
}

// metricsServerOptions configure the server of /metrics. Secure (the
// default): HTTPS, HTTP/1.1 only (disableHTTP2) and the authentication and
// authorization filter of metricsAuthFilter, which asks the API server
// (TokenReview, SubjectAccessReview: RBAC in manifests/rbac.yaml) whether
// the caller's bearer token may get /metrics (ClusterRole
// chart-webhook-metrics-reader), as controller-runtime's filter does
// without bringing k8s.io/apiserver into the binary; the filter caches
// answers for a minute (tokens), five minutes (allowed) and 30 seconds
// (denied). A request without a token or with one the API server does not
// authenticate gets 401, one whose user lacks the permission 403, one the
// API server could not be asked about 500.
func metricsServerOptions(o ServerOptions) metricsserver.Options {
	if !o.MetricsSecure {
		return metricsserver.Options{BindAddress: o.MetricsBindAddress}
	}
	certDir := o.MetricsCertDir
	if certDir == "" {
		certDir = o.CertDir
	}
	return metricsserver.Options{
		BindAddress:    o.MetricsBindAddress,
		SecureServing:  true,
		FilterProvider: metricsAuthFilter,
		CertDir:        certDir,
		TLSOpts:        []func(*tls.Config){disableHTTP2},
	}
}

// disableHTTP2 offers only HTTP/1.1 in the TLS handshake, as kubebuilder's
// scaffold does by default: HTTP/2's rapid-reset and stream-cancellation
// flaws (CVE-2023-44487, CVE-2023-39325) buy nothing for a server whose one
// client, the API server, keeps HTTP/1.1 connections alive instead; and over
// HTTP/1.1 an admission costs the webhook about a third less CPU (no
// goroutine and frame machinery per stream), which halved the latency the
// webhook adds to updates at 200/s (hack/bench-webhook).
func disableHTTP2(c *tls.Config) { c.NextProtos = []string{"http/1.1"} }

// clientConfig is cfg without client-side rate limiting when cfg sets none
// (QPS 0, no RateLimiter), as controller-runtime's config.GetConfig leaves
// the in-cluster configuration: a configuration from --kubeconfig would
// otherwise get client-go's default of 5 requests/s, and the live re-read
// of a head before each denial (RecheckDenials) would queue for 200 ms per
// denial behind it, until a burst of denials times out at the API server.
// The webhook's requests are bounded by the admission requests it answers;
// the API server's priority and fairness guards it.
func clientConfig(cfg *rest.Config) *rest.Config {
	if cfg.QPS != 0 || cfg.RateLimiter != nil {
		return cfg
	}
	cfg = rest.CopyConfig(cfg)
	cfg.QPS = -1
	return cfg
}

// cacheSynced is ready once the informer cache has synced.
func cacheSynced(c cache.Cache) healthz.Checker {
	return func(req *http.Request) error {
		ctx, cancel := context.WithTimeout(req.Context(), 50*time.Millisecond)
		defer cancel()
		if !c.WaitForCacheSync(ctx) {
			return errors.New("the release head cache has not synced yet")
		}
		return nil
	}
}

// eventRecorder starts a core/v1 Event broadcaster that stops with the
// manager. Its correlator counts repeats of an Event (a PATCH of its count)
// and rate-limits a flood of Events on one head.
func eventRecorder(cfg *rest.Config, scheme *runtime.Scheme, mgr manager.Manager, log logr.Logger) (EventRecorder, error) {
	client, err := typedcorev1.NewForConfigAndClient(cfg, mgr.GetHTTPClient())
	if err != nil {
		return nil, fmt.Errorf("webhook: events client: %w", err)
	}
	host, _ := os.Hostname()
	bc := record.NewBroadcaster()
	bc.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: client.Events("")})
	bc.StartEventWatcher(func(e *corev1.Event) {
		log.V(1).Info("event", "object", e.InvolvedObject.Namespace+"/"+e.InvolvedObject.Name, "reason", e.Reason, "message", e.Message)
	})
	if err := mgr.Add(manager.RunnableFunc(func(ctx context.Context) error {
		<-ctx.Done()
		bc.Shutdown()
		return nil
	})); err != nil {
		return nil, err
	}
	return bc.NewRecorder(scheme, corev1.EventSource{Component: Component, Host: host}), nil
}
