package webhookinstall

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"

	"github.com/kubectl-chart/kubectl-chart/internal/apply"
	"github.com/kubectl-chart/kubectl-chart/internal/atomicfile"
	"github.com/kubectl-chart/kubectl-chart/pkg/release"
)

// Installer installs, reports on and uninstalls chart-webhook on one
// cluster.
type Installer struct {
	kube      kubernetes.Interface
	dynamic   dynamic.Interface
	metadata  metadata.Interface
	applier   *apply.Manager
	manifests *Manifests
	now       func() time.Time
}

// New returns an Installer for the cluster of cfg, with the embedded
// manifests.
func New(cfg *rest.Config) (*Installer, error) {
	m, err := LoadManifests()
	if err != nil {
		return nil, err
	}
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("dynamic client: %w", err)
	}
	md, err := metadata.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("metadata client: %w", err)
	}
	applier, err := apply.New(cfg)
	if err != nil {
		return nil, err
	}
	return &Installer{kube: kube, dynamic: dyn, metadata: md, applier: applier, manifests: m, now: time.Now}, nil
}

// InstallOptions say how Install installs the webhook.
type InstallOptions struct {
	// Mode is where the webhook runs and who makes its certificate.
	Mode Mode
	// Namespace is the webhook's namespace (in-cluster modes; the local
	// process excludes DefaultNamespace).
	Namespace string
	// Image is the webhook's container image.
	Image string
	// DryRun: client builds the objects and writes nothing (no files
	// either); server applies them as a server-side dry run.
	DryRun DryRun
	// ForceConflicts takes fields other field managers own.
	ForceConflicts bool
	// Wait, in the in-cluster modes, waits until the Deployment (and
	// cert-manager's Certificates) are ready before registering the webhook
	// configuration, and then for cainjector to fill its caBundle; for at
	// most Timeout.
	Wait    bool
	Timeout time.Duration
	// CertDir, Host and Port are the local mode's: where to write tls.crt,
	// tls.key and ca.crt, and where the local chart-webhook listens.
	CertDir string
	Host    string
	Port    int
}

// DefaultInstallOptions are install's defaults: cert-manager mode in
// DefaultNamespace with this release's image, waiting up to 5 minutes.
func DefaultInstallOptions() InstallOptions {
	return InstallOptions{
		Mode:      ModeCertManager,
		Namespace: DefaultNamespace,
		Image:     DefaultImage(),
		DryRun:    DryRunNone,
		Wait:      true,
		Timeout:   5 * time.Minute,
		Host:      "127.0.0.1",
		Port:      9443,
	}
}

// Validate checks the options on their own.
func (o InstallOptions) Validate() error {
	if err := o.Mode.Valid(); err != nil {
		return err
	}
	switch o.DryRun {
	case DryRunNone, DryRunClient, DryRunServer:
	default:
		return fmt.Errorf(`invalid dry-run value %q: want "none", "client" or "server"`, o.DryRun)
	}
	if o.Mode == ModeLocal {
		if o.CertDir == "" {
			return errors.New("--local needs --cert-dir: the folder to write the serving certificate to")
		}
		if o.Port <= 0 || o.Port > 65535 {
			return fmt.Errorf("invalid --port %d", o.Port)
		}
		if o.Host == "" {
			return errors.New("--host must not be empty")
		}
		if net.ParseIP(o.Host) == nil {
			if errs := validation.IsDNS1123Subdomain(o.Host); len(errs) > 0 {
				return fmt.Errorf("invalid --host %q: want an IP address or a DNS name", o.Host)
			}
		}
		return nil
	}
	if errs := validation.IsDNS1123Label(o.Namespace); len(errs) > 0 {
		return fmt.Errorf("invalid namespace %q: %v", o.Namespace, errs)
	}
	if o.Image == "" {
		return errors.New("--image must not be empty")
	}
	return nil
}

// ErrNoCertManager is returned by an install in cert-manager mode on a
// cluster without cert-manager.
var ErrNoCertManager = errors.New("cert-manager is not installed on this cluster (the API server serves no cert-manager.io/v1 Certificate and Issuer): " +
	"install cert-manager (https://cert-manager.io/docs/installation/) and run this again, " +
	"or run `kubectl chart webhook install --self-signed` to let kubectl chart make the CA and the serving certificate itself")

// Planned is the action of every object in a client dry run: nothing was
// asked of the server.
const Planned apply.Action = "planned"

// InstallResult is what Install did, or would do in a dry run.
type InstallResult struct {
	Mode      Mode
	Namespace string
	DryRun    DryRun
	// Objects are the objects applied (or to apply), the configuration
	// last.
	Objects []*unstructured.Unstructured
	// Changes are the apply results, in the same order.
	Changes []apply.Change
	// Serving is the webhook's serving certificate (self-signed and local
	// modes).
	Serving *CertificateInfo
	// URL is the local webhook's clientConfig.url (local mode).
	URL string
	// Files are the files written (local mode; none in a dry run).
	Files []string
}

// CertificateInfo describes a certificate install made or kept.
type CertificateInfo struct {
	Subject  string    `json:"subject"`
	Hosts    []string  `json:"hosts"`
	NotAfter time.Time `json:"notAfter"`
	// Reused tells that a still valid certificate was kept.
	Reused bool `json:"reused,omitempty"`
	// CAReused tells that the CA was kept.
	CAReused bool `json:"caReused,omitempty"`
}

// Install installs (or updates) the webhook in mode o.Mode: it refuses a
// cluster where the webhook is installed in another mode or namespace, and
// cert-manager mode on a cluster without cert-manager (ErrNoCertManager).
// The webhook's objects are applied first; once the webhook can answer
// (o.Wait), its configuration is. The result is returned in every case.
func (in *Installer) Install(ctx context.Context, o InstallOptions) (*InstallResult, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	ns := o.Namespace
	if o.Mode == ModeLocal || ns == "" {
		ns = DefaultNamespace
	}
	res := &InstallResult{Mode: o.Mode, Namespace: ns, DryRun: o.DryRun}
	existing, err := in.configuration(ctx)
	if err != nil {
		return res, err
	}
	if existing != nil {
		if err := checkSameInstall(existing, o.Mode, ns); err != nil {
			return res, err
		}
	}
	if o.Mode == ModeCertManager {
		ok, err := in.CertManagerInstalled(ctx)
		if err != nil {
			return res, err
		}
		if !ok {
			return res, ErrNoCertManager
		}
	}

	po := PlanOptions{Mode: o.Mode, Namespace: ns, Image: o.Image}
	var files map[string][]byte
	switch o.Mode {
	case ModeSelfSigned:
		if po.Secrets, po.CABundle, res.Serving, err = in.selfSignedCertificates(ctx, ns); err != nil {
			return res, err
		}
	case ModeLocal:
		if files, po.CABundle, res.Serving, err = localCertificates(o.Host, in.now()); err != nil {
			return res, err
		}
		po.LocalHost, po.LocalPort = o.Host, o.Port
	}
	plan, err := in.manifests.Plan(po)
	if err != nil {
		return res, err
	}
	if res.Objects, err = plan.All(); err != nil {
		return res, err
	}
	if o.Mode == ModeLocal {
		res.URL = *plan.Configuration.Webhooks[0].ClientConfig.URL
	}
	if o.DryRun == DryRunClient {
		for _, obj := range res.Objects {
			res.Changes = append(res.Changes, apply.Change{Ref: apply.RefOf(obj), Action: Planned, Object: obj})
		}
		return res, nil
	}

	if files != nil && o.DryRun == DryRunNone {
		if res.Files, err = writeFiles(o.CertDir, files); err != nil {
			return res, err
		}
	}
	opts := apply.DefaultOptions()
	opts.Force, opts.DryRun = o.ForceConflicts, o.DryRun == DryRunServer
	objects := res.Objects[:len(res.Objects)-1]
	cfg := res.Objects[len(res.Objects)-1]
	if len(objects) > 0 {
		cs, err := in.applier.Apply(ctx, objects, opts)
		res.Changes = append(res.Changes, cs.Changes...)
		if err != nil {
			return res, err
		}
		if o.Wait && o.DryRun == DryRunNone {
			if err := in.waitReady(ctx, objects, o.Timeout); err != nil {
				return res, fmt.Errorf("chart-webhook did not become ready, so its MutatingWebhookConfiguration %s is not registered (nothing enforces ownership yet): %w", Name, err)
			}
		}
	}
	cs, err := in.applier.Apply(ctx, []*unstructured.Unstructured{cfg}, opts)
	res.Changes = append(res.Changes, cs.Changes...)
	if err != nil {
		return res, err
	}
	if o.Mode == ModeCertManager && o.Wait && o.DryRun == DryRunNone {
		if err := in.waitCABundle(ctx, o.Timeout); err != nil {
			return res, err
		}
	}
	return res, nil
}

// checkSameInstall refuses to install over an installation in another mode
// or namespace: the objects of one would be left behind by the other.
func checkSameInstall(existing *admissionregistrationv1.MutatingWebhookConfiguration, mode Mode, ns string) error {
	have := ModeOf(existing)
	if have == "" {
		return fmt.Errorf("MutatingWebhookConfiguration %s exists but was not installed by kubectl chart (no %s annotation, no clientConfig): delete it first", Name, AnnotationMode)
	}
	if have != mode {
		return fmt.Errorf("chart-webhook is installed in %s mode%s; run `kubectl chart webhook uninstall` before installing it in %s mode",
			have, inNamespace(existing), mode)
	}
	if mode.InCluster() {
		if have := serviceNamespace(existing); have != "" && have != ns {
			return fmt.Errorf("chart-webhook is installed in namespace %s; run `kubectl chart webhook uninstall` before installing it in namespace %s", have, ns)
		}
	}
	return nil
}

func inNamespace(cfg *admissionregistrationv1.MutatingWebhookConfiguration) string {
	if ns := serviceNamespace(cfg); ns != "" {
		return " in namespace " + ns
	}
	return ""
}

// ModeOf is the mode a webhook configuration was installed in: its
// AnnotationMode, else what its clientConfig says (a URL: local; cainjector's
// annotation: cert-manager, as `kubectl apply -k manifests/` installs it; a
// Service: self-signed); "" when it has no webhooks.
func ModeOf(cfg *admissionregistrationv1.MutatingWebhookConfiguration) Mode {
	if m := Mode(cfg.Annotations[AnnotationMode]); m.Valid() == nil {
		return m
	}
	if len(cfg.Webhooks) == 0 {
		return ""
	}
	switch cc := cfg.Webhooks[0].ClientConfig; {
	case cc.URL != nil:
		return ModeLocal
	case cfg.Annotations[annotationInjectCA] != "":
		return ModeCertManager
	case cc.Service != nil:
		return ModeSelfSigned
	}
	return ""
}

// serviceNamespace is the namespace of the Service a configuration calls;
// "" for a URL.
func serviceNamespace(cfg *admissionregistrationv1.MutatingWebhookConfiguration) string {
	for _, w := range cfg.Webhooks {
		if s := w.ClientConfig.Service; s != nil {
			return s.Namespace
		}
	}
	return ""
}

// configuration reads the webhook configuration; nil when it does not
// exist.
func (in *Installer) configuration(ctx context.Context) (*admissionregistrationv1.MutatingWebhookConfiguration, error) {
	cfg, err := in.kube.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(ctx, Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("MutatingWebhookConfiguration/%s: %w", Name, err)
	}
	return cfg, nil
}

// CertManagerInstalled says whether the API server serves cert-manager's
// Certificate and Issuer (cert-manager.io/v1).
func (in *Installer) CertManagerInstalled(ctx context.Context) (bool, error) {
	_ = ctx // discovery takes no context
	list, err := in.kube.Discovery().ServerResourcesForGroupVersion(certManagerGroup + "/v1")
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("discovery of %s/v1: %w", certManagerGroup, err)
	}
	var kinds []string
	for _, r := range list.APIResources {
		kinds = append(kinds, r.Kind)
	}
	return slices.Contains(kinds, "Certificate") && slices.Contains(kinds, "Issuer"), nil
}

// waitReady waits for the Deployment and cert-manager's objects among objs.
func (in *Installer) waitReady(ctx context.Context, objs []*unstructured.Unstructured, timeout time.Duration) error {
	var refs []release.ObjectRef
	for _, o := range objs {
		ref := apply.RefOf(o)
		if ref.Kind == "Deployment" || ref.Group == certManagerGroup {
			refs = append(refs, ref)
		}
	}
	wo := apply.DefaultWaitOptions()
	if timeout > 0 {
		wo.Timeout = timeout
	}
	return in.applier.Wait(ctx, refs, wo)
}

// waitCABundle waits for cainjector to fill the caBundle of every webhook.
func (in *Installer) waitCABundle(ctx context.Context, timeout time.Duration) error {
	if timeout <= 0 {
		timeout = apply.DefaultWaitOptions().Timeout
	}
	err := wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		cfg, err := in.configuration(ctx)
		if err != nil || cfg == nil {
			return false, err
		}
		for _, w := range cfg.Webhooks {
			if len(w.ClientConfig.CABundle) == 0 {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("MutatingWebhookConfiguration/%s: cert-manager's cainjector did not set its caBundle within %s (is cainjector running?): %w", Name, timeout, err)
	}
	return nil
}

// selfSignedCertificates are the Secrets of self-signed mode and the
// caBundle. A CA and serving certificate already in the Secrets are kept
// while valid (the serving one until ServingRenewBefore its end). When the
// CA is replaced, the caBundle holds the previous CA after the new one, so
// that replicas still serving the old certificate stay trusted until they
// load the new one.
func (in *Installer) selfSignedCertificates(ctx context.Context, ns string) ([]*corev1.Secret, []byte, *CertificateInfo, error) {
	now := in.now()
	oldCA, err := in.keyPair(ctx, ns, CASecretName)
	if err != nil {
		return nil, nil, nil, err
	}
	oldServing, err := in.keyPair(ctx, ns, ServingSecretName)
	if err != nil {
		return nil, nil, nil, err
	}
	hosts := ServiceDNSNames(ns)
	info := &CertificateInfo{Hosts: hosts}

	ca := oldCA
	if ca == nil || !ca.Cert.IsCA || ca.Cert.NotAfter.Before(now.Add(ServingDuration)) || ca.Cert.NotBefore.After(now) {
		if ca, err = NewCA(caName, now, CADuration); err != nil {
			return nil, nil, nil, err
		}
	} else {
		info.CAReused = true
	}
	bundle := slices.Clone(ca.CertPEM)
	if oldCA != nil && !info.CAReused && oldCA.Cert.NotAfter.After(now) {
		bundle = append(bundle, oldCA.CertPEM...)
	}

	serving := oldServing
	if serving == nil || !info.CAReused || !servingValid(serving, ca, hosts, now.Add(ServingRenewBefore)) {
		if serving, err = ca.IssueServing(hosts, now, ServingDuration); err != nil {
			return nil, nil, nil, err
		}
	} else {
		info.Reused = true
	}
	info.Subject, info.NotAfter = serving.Cert.Subject.CommonName, serving.Cert.NotAfter

	secret := func(name string, kp *KeyPair) *corev1.Secret {
		return &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{labelName: Name, labelPartOf: partOf}},
			Type:       corev1.SecretTypeTLS,
			Data: map[string][]byte{
				corev1.TLSCertKey:       kp.CertPEM,
				corev1.TLSPrivateKeyKey: kp.KeyPEM,
				"ca.crt":                ca.CertPEM,
			},
		}
	}
	return []*corev1.Secret{secret(CASecretName, ca), secret(ServingSecretName, serving)}, bundle, info, nil
}

// servingValid says whether kp is a serving certificate of ca for every
// host, still valid at t.
func servingValid(kp, ca *KeyPair, hosts []string, t time.Time) bool {
	for _, h := range hosts {
		if VerifyServing(kp.Cert, []*x509.Certificate{ca.Cert}, h, t) != nil {
			return false
		}
	}
	return true
}

// keyPair reads a kubernetes.io/tls Secret; nil when it is missing or
// does not hold a usable key pair (it is then replaced).
func (in *Installer) keyPair(ctx context.Context, ns, name string) (*KeyPair, error) {
	s, err := in.kube.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("Secret/%s/%s: %w", ns, name, err)
	}
	kp, err := ParseKeyPair(s.Data[corev1.TLSCertKey], s.Data[corev1.TLSPrivateKeyKey])
	if err != nil {
		return nil, nil
	}
	return kp, nil
}

// LocalCADuration and LocalServingDuration are the validity of the local
// mode's certificates (made afresh by every install).
const (
	LocalCADuration      = 365 * 24 * time.Hour
	LocalServingDuration = 365 * 24 * time.Hour
)

// Files of a certificate folder, as chart-webhook's --cert-dir reads them.
const (
	CertFile = "tls.crt"
	KeyFile  = "tls.key"
	CAFile   = "ca.crt"
)

// localCertificates makes a fresh CA and a serving certificate for host:
// the files of the certificate folder and the caBundle.
func localCertificates(host string, now time.Time) (map[string][]byte, []byte, *CertificateInfo, error) {
	ca, err := NewCA("chart-webhook-local-ca", now, LocalCADuration)
	if err != nil {
		return nil, nil, nil, err
	}
	serving, err := ca.IssueServing([]string{host}, now, LocalServingDuration)
	if err != nil {
		return nil, nil, nil, err
	}
	files := map[string][]byte{CertFile: serving.CertPEM, KeyFile: serving.KeyPEM, CAFile: ca.CertPEM}
	info := &CertificateInfo{Subject: serving.Cert.Subject.CommonName, Hosts: []string{host}, NotAfter: serving.Cert.NotAfter}
	return files, ca.CertPEM, info, nil
}

// writeFiles writes files into dir (created 0700 if missing), each through
// a temporary file and a rename, so that a running chart-webhook never reads
// half a file; keys are 0600. It returns the paths written, sorted.
func writeFiles(dir string, files map[string][]byte) ([]string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("certificate folder: %w", err)
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	slices.Sort(names)
	var written []string
	for _, name := range names {
		perm := os.FileMode(0o644)
		if name == KeyFile {
			perm = 0o600
		}
		path := filepath.Join(dir, name)
		if err := atomicfile.WriteFile(path, files[name], perm); err != nil {
			return written, fmt.Errorf("%s: %w", path, err)
		}
		written = append(written, path)
	}
	return written, nil
}
