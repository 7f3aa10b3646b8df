// Command chart-webhook is the ownership admission webhook of kubectl-chart:
// a mutating webhook that refuses writes from other tools to what a release
// owns, stamps server-verified users on release heads and revision records,
// and keeps release history append-only (DESIGN.md, "Webhook rules").
// It is deployed from manifests/ with a certificate issued by cert-manager,
// or run locally with --kubeconfig against a URL webhook configuration.
package main

import (
	goflag "flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/pflag"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client/config"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/kubectl-chart/kubectl-chart/internal/version"
	"github.com/kubectl-chart/kubectl-chart/internal/webhook"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// options are the command line.
type options struct {
	server      webhook.ServerOptions
	kubeconfig  string
	sealKeyFile string
	zap         zap.Options
	showVersion bool
}

// serviceAccountNamespace is where a pod finds its own namespace.
const serviceAccountNamespace = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

func defaultOptions() *options {
	o := &options{server: webhook.DefaultServerOptions()}
	// The webhook's own namespace: from the downward API, else the
	// ServiceAccount's, else the manifests' default.
	if ns := os.Getenv("POD_NAMESPACE"); ns != "" {
		o.server.Namespace = ns
	} else if b, err := os.ReadFile(serviceAccountNamespace); err == nil && strings.TrimSpace(string(b)) != "" {
		o.server.Namespace = strings.TrimSpace(string(b))
	}
	return o
}

func (o *options) flags(out io.Writer) *pflag.FlagSet {
	fs := pflag.NewFlagSet("chart-webhook", pflag.ContinueOnError)
	fs.SetOutput(out)
	s := &o.server
	fs.StringVar(&o.kubeconfig, "kubeconfig", "", "Kubeconfig file to reach the API server (default: $KUBECONFIG, in-cluster configuration, ~/.kube/config)")
	fs.StringVar(&s.CertDir, "cert-dir", s.CertDir, "Folder holding the serving certificate tls.crt and key tls.key (a mounted cert-manager Secret); reloaded when they change")
	fs.StringVar(&s.Host, "host", s.Host, "Address the webhook server listens on (empty: all addresses)")
	fs.IntVar(&s.Port, "port", s.Port, "Port the webhook server listens on (HTTPS, paths "+webhook.PathMutate+" and "+webhook.PathValidate+")")
	fs.StringVar(&s.MetricsBindAddress, "metrics-bind-address", s.MetricsBindAddress, "Address of the Prometheus /metrics endpoint (HTTPS unless --metrics-secure=false); 0 turns it off")
	fs.BoolVar(&s.MetricsSecure, "metrics-secure", s.MetricsSecure, "Serve /metrics over HTTPS, only to callers whose bearer token the API server accepts (TokenReview) and who may get /metrics (SubjectAccessReview: bind the ClusterRole chart-webhook-metrics-reader); false: plain HTTP to anyone, for a webhook on your machine")
	fs.StringVar(&s.MetricsCertDir, "metrics-cert-dir", s.MetricsCertDir, "Folder holding the metrics server's tls.crt and tls.key, reloaded when they change (default: --cert-dir); when it holds none, a self-signed certificate is made at start")
	fs.StringVar(&s.HealthProbeBindAddress, "health-probe-bind-address", s.HealthProbeBindAddress, "Address of /healthz and /readyz (ready once the release head cache has synced); 0 turns them off")
	fs.StringVar(&s.PprofBindAddress, "pprof-bind-address", s.PprofBindAddress, "Address of Go's profiling endpoints /debug/pprof/ (plain HTTP, unauthenticated: localhost only, e.g. 127.0.0.1:6060); empty or 0 turns them off, the default")
	fs.StringSliceVar(&s.BreakGlassUsers, "break-glass-users", nil, "Users allowed to change what releases own; every such write is recorded as an Event on the release head")
	fs.StringSliceVar(&s.BreakGlassGroups, "break-glass-groups", nil, "Groups allowed to change what releases own; every such write is recorded as an Event on the release head")
	fs.StringSliceVar(&s.ExcludedNamespaces, "excluded-namespaces", nil, "Namespaces whose requests are let through untouched, besides kube-system and the webhook's own namespace")
	fs.StringVar(&s.Namespace, "namespace", s.Namespace, "The webhook's own namespace, always excluded (default: $POD_NAMESPACE or the ServiceAccount's namespace)")
	fs.BoolVar(&s.RecheckDenials, "recheck-denials", s.RecheckDenials, "Before denying, read the release head once from the API server in case the cache lags behind a lock just taken")
	fs.DurationVar(&s.MaxLockTTL, "max-lock-ttl", 0, "Longest a release lock may be taken or renewed for (default 20m; the plugin takes 2m and renews)")
	fs.StringVar(&s.SealSecret, "seal-secret", s.SealSecret, "Secret in the webhook's namespace holding the key that seals revision records (created with a random key when absent; every replica uses the same)")
	fs.StringVar(&o.sealKeyFile, "seal-key-file", "", "File holding the key that seals revision records, instead of --seal-secret (at least 16 bytes; every webhook answering the same cluster must use the same)")
	fs.DurationVar(&s.AuthorizationAllowedTTL, "authorization-cache-allowed-ttl", 0, "How long a SubjectAccessReview that allowed a user to deploy or unlock a release is trusted (default 1m)")
	fs.DurationVar(&s.AuthorizationDeniedTTL, "authorization-cache-denied-ttl", 0, "How long a SubjectAccessReview that refused is trusted (default 5s)")
	fs.DurationVar(&s.GracefulShutdownTimeout, "graceful-shutdown-timeout", s.GracefulShutdownTimeout, "How long in-flight requests may take to finish after SIGTERM")
	fs.BoolVar(&o.showVersion, "version", false, "Print the version and exit")

	gofs := goflag.NewFlagSet("zap", goflag.ContinueOnError)
	o.zap.BindFlags(gofs)
	fs.AddGoFlagSet(gofs)

	fs.Usage = func() {
		fmt.Fprintf(out, `chart-webhook: the kubectl-chart ownership admission webhook.

It answers two webhook configurations named "chart-webhook" (manifests/) for
objects labelled kubectl-chart.io/release, and for release records:
  - the MutatingWebhookConfiguration on https://<host>:<port>%s only stamps:
    the user taking a release's lock on its head (kubectl-chart.io/lock-user),
    the user creating a revision record on the record
    (kubectl-chart.io/applied-by), with the record's seal
    (kubectl-chart.io/record-seal, an HMAC under the key of --seal-secret);
  - the ValidatingWebhookConfiguration on %s decides, after every mutating
    webhook: writes by anyone but the release's running operation that change
    a field the release owns (or its managedFields entry), remove its labels,
    or delete the object are denied, naming the fields, the release, its
    revision and the command to use; a lock is taken, renewed or cleared only
    by a user the API server authorises to "deploy" (or "unlock")
    releases.kubectl-chart.io in the release's namespace (a
    SubjectAccessReview, cached); the operation writes objects only after
    its sealed revision record exists; revision records are append-only;
  - break-glass users and groups may write anyway; denials and break-glass
    writes are counted in metrics and recorded as Events on the release head.
Release heads are read from an informer cache of ConfigMaps labelled
kubectl-chart.io/record=head (RBAC: configmaps get/list/watch, events
create/patch, subjectaccessreviews create; of Secrets only its own seal key).

Metrics (chart_webhook_*, and controller-runtime's) are served on
https://<metrics-bind-address>/metrics with the certificate of
--metrics-cert-dir (default --cert-dir; self-signed when absent). A request
needs a bearer token (e.g. a ServiceAccount's) that the API server accepts
and whose user may get the non-resource URL /metrics (ClusterRole
chart-webhook-metrics-reader): else 401 (no token), 500 (a token the API
server refuses) or 403 (no permission). The webhook asks the API server
(RBAC: tokenreviews and subjectaccessreviews create) and caches the answers
for up to 5 minutes.

Usage:
  chart-webhook [flags]

Flags:
%s`, webhook.PathMutate, webhook.PathValidate, fs.FlagUsages())
	}
	return fs
}

// run is the command; it returns the exit code: 0 after a clean shutdown
// (SIGTERM, SIGINT) or --help, 1 on any error.
func run(args []string, stdout, stderr io.Writer) int {
	o := defaultOptions()
	fs := o.flags(stdout)
	if err := fs.Parse(args); err != nil {
		if err == pflag.ErrHelp {
			return 0
		}
		fmt.Fprintf(stderr, "chart-webhook: %v\nSee 'chart-webhook --help'.\n", err)
		return 1
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "chart-webhook: unexpected arguments %q\nSee 'chart-webhook --help'.\n", fs.Args())
		return 1
	}
	if o.showVersion {
		fmt.Fprintf(stdout, "chart-webhook %s\n", version.Version)
		return 0
	}

	if o.sealKeyFile != "" {
		key, err := os.ReadFile(o.sealKeyFile)
		if err == nil && len(key) < 16 {
			err = fmt.Errorf("%d bytes, want at least 16", len(key))
		}
		if err != nil {
			fmt.Fprintf(stderr, "chart-webhook: --seal-key-file: %v\n", err)
			return 1
		}
		o.server.SealKey = key
	}
	o.zap.DestWriter = stderr
	log := zap.New(zap.UseFlagOptions(&o.zap)).WithName(webhook.Component)
	ctrl.SetLogger(log)
	klog.SetLogger(log.WithName("client-go"))
	o.server.Logger = log

	cfg, err := o.restConfig()
	if err != nil {
		log.Error(err, "cannot configure the API server client")
		return 1
	}
	mgr, err := webhook.NewManager(cfg, o.server)
	if err != nil {
		log.Error(err, "cannot set up the webhook")
		return 1
	}
	log.Info("starting", "version", version.Version, "port", o.server.Port, "certDir", o.server.CertDir,
		"metrics", o.server.MetricsBindAddress, "metricsSecure", o.server.MetricsSecure,
		"excludedNamespaces", o.server.Excluded(), "breakGlassUsers", o.server.BreakGlassUsers,
		"breakGlassGroups", o.server.BreakGlassGroups)
	if err := mgr.Start(ctrl.SetupSignalHandler()); err != nil {
		log.Error(err, "webhook stopped with an error")
		return 1
	}
	log.Info("stopped")
	return 0
}

func (o *options) restConfig() (*rest.Config, error) {
	var cfg *rest.Config
	var err error
	if o.kubeconfig != "" {
		cfg, err = clientcmd.BuildConfigFromFlags("", o.kubeconfig)
	} else {
		cfg, err = config.GetConfig()
	}
	if err != nil {
		return nil, err
	}
	cfg.UserAgent = webhook.Component + "/" + version.Version
	return cfg, nil
}
