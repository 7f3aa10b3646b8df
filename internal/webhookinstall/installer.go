package webhookinstall

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

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
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

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
	// Strict installs the ClusterRoles kubectl-chart-deployer and
	// kubectl-chart-unlocker without their aggregation labels: only users
	// and ServiceAccounts bound to them explicitly may deploy. Without it
	// they are aggregated into the built-in admin and edit roles (an
	// install without it puts back the labels a strict one removed).
	Strict bool
	// Monitoring also applies manifests/monitoring (in-cluster modes): a
	// ServiceMonitor and a PrometheusRule, when the cluster has the
	// Prometheus Operator's CRDs (else they are skipped, and the result
	// says so), and the Grafana dashboard's ConfigMap.
	Monitoring bool
	// Wait, in the in-cluster modes, waits until the Deployment (and
	// cert-manager's Certificates) are ready before registering the webhook
	// configurations, and then for cainjector to fill their caBundles; for
	// at most Timeout.
	Wait    bool
	Timeout time.Duration
	// CertDir, Host and Port are the local mode's: where to write tls.crt,
	// tls.key, ca.crt and seal.key, and where the local chart-webhook
	// listens.
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
		if o.Monitoring {
			return errors.New("--monitoring is only for the in-cluster modes: Prometheus cannot scrape a webhook on this machine through a Service")
		}
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
	// Objects are the objects applied (or to apply), the configurations
	// last (mutating, then validating).
	Objects []*unstructured.Unstructured
	// Changes are the apply results, in the same order.
	Changes []apply.Change
	// Serving is the webhook's serving certificate (self-signed and local
	// modes).
	Serving *CertificateInfo
	// URLs are the local webhook's clientConfig.url of the mutating and
	// of the validating configuration (local mode).
	URLs []string
	// SealKeyFile is the file holding the key that seals revision records,
	// for chart-webhook --seal-key-file (local mode): written when missing,
	// kept otherwise (a key replaced while an operation runs would stop
	// it).
	SealKeyFile string
	// Files are the files written (local mode; none in a dry run).
	Files []string
	// Monitoring is what --monitoring did (nil without it).
	Monitoring *MonitoringResult
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
// (o.Wait), its configurations are, the mutating one first. The result is
// returned in every case.
func (in *Installer) Install(ctx context.Context, o InstallOptions) (*InstallResult, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	ns := o.Namespace
	if o.Mode == ModeLocal || ns == "" {
		ns = DefaultNamespace
	}
	res := &InstallResult{Mode: o.Mode, Namespace: ns, DryRun: o.DryRun}
	existing, err := in.configurations(ctx)
	if err != nil {
		return res, err
	}
	if err := checkSameInstall(existing, o.Mode, ns); err != nil {
		return res, err
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

	po := PlanOptions{Mode: o.Mode, Namespace: ns, Image: o.Image, Strict: o.Strict}
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
		res.SealKeyFile = filepath.Join(o.CertDir, SealKeyFile)
		key, err := localSealKey(res.SealKeyFile)
		if err != nil {
			return res, err
		}
		if key != nil {
			files[SealKeyFile] = key
		}
		po.LocalHost, po.LocalPort = o.Host, o.Port
	}
	plan, err := in.manifests.Plan(po)
	if err != nil {
		return res, err
	}
	cfgs, err := plan.Configurations()
	if err != nil {
		return res, err
	}
	res.Objects = append(slices.Clone(plan.Objects), cfgs...)
	if o.Mode == ModeLocal {
		res.URLs = []string{*plan.Mutating.Webhooks[0].ClientConfig.URL, *plan.Validating.Webhooks[0].ClientConfig.URL}
	}
	if o.DryRun == DryRunClient {
		if o.Monitoring {
			res.Monitoring = &MonitoringResult{Namespace: ns, Planned: true}
			if res.Monitoring.MissingCRDs, err = in.MissingMonitoringCRDs(ctx); err != nil {
				return res, err
			}
			res.Objects = append(res.Objects, in.manifests.MonitoringObjects(ns)...)
		}
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
	if len(plan.Objects) > 0 {
		cs, err := in.applier.Apply(ctx, plan.Objects, opts)
		res.Changes = append(res.Changes, cs.Changes...)
		if err != nil {
			return res, err
		}
		if err := checkAggregation(cs.Changes, o.Strict); err != nil {
			return res, err
		}
		if o.Mode.InCluster() && o.Wait && o.DryRun == DryRunNone {
			if err := in.waitReady(ctx, plan.Objects, o.Timeout); err != nil {
				return res, fmt.Errorf("chart-webhook did not become ready, so its webhook configurations (%s and %s %s) are not registered (nothing enforces ownership yet): %w",
					kindMutating, kindValidating, Name, err)
			}
		}
	}
	// One at a time, the mutating one first: the validating one refuses
	// release records that were not stamped.
	for _, cfg := range cfgs {
		cs, err := in.applier.Apply(ctx, []*unstructured.Unstructured{cfg}, opts)
		res.Changes = append(res.Changes, cs.Changes...)
		if err != nil {
			return res, err
		}
	}
	if o.Mode == ModeCertManager && o.Wait && o.DryRun == DryRunNone {
		if err := in.waitCABundle(ctx, o.Timeout); err != nil {
			return res, err
		}
	}
	// Last: alerts on a webhook that is not registered yet would fire.
	if o.Monitoring {
		mon, changes, err := in.applyMonitoring(ctx, ns, opts)
		res.Monitoring = mon
		res.Changes = append(res.Changes, changes...)
		if len(changes) > 0 {
			res.Objects = append(res.Objects, in.manifests.MonitoringObjects(ns)...)
		}
		if err != nil {
			return res, err
		}
	}
	return res, nil
}

// checkAggregation checks that the deployer and unlocker ClusterRoles, as
// the apply left them, carry the aggregation labels, or (strict) none of
// them. Server-side apply removes the labels that install set before and a
// strict install leaves off, but not those another field manager set (a
// `kubectl apply -k manifests/`, a `kubectl label`): those are named with
// the command that removes them.
func checkAggregation(changes []apply.Change, strict bool) error {
	var errs []error
	for _, c := range changes {
		if c.Object == nil || !isRole(c.Object) {
			continue
		}
		labels := c.Object.GetLabels()
		for _, l := range aggregationLabels {
			_, has := labels[l]
			switch {
			case strict && has:
				errs = append(errs, fmt.Errorf("%s: --strict could not remove the label %s, which another field manager (%s) set: remove it with `kubectl label clusterrole %s %s-`",
					c.Ref, l, strings.Join(labelManagers(c.Object, l), ", "), c.Object.GetName(), l))
			case !strict && labels[l] != "true":
				errs = append(errs, fmt.Errorf("%s: label %s is %q, want \"true\"", c.Ref, l, labels[l]))
			}
		}
	}
	return errors.Join(errs...)
}

// labelManagers are the field managers that own label l of obj, or
// "unknown" when managedFields do not say.
func labelManagers(obj *unstructured.Unstructured, l string) []string {
	path := fieldpath.MakePathOrDie("metadata", "labels", l)
	var out []string
	for _, e := range obj.GetManagedFields() {
		if e.FieldsV1 == nil || slices.Contains(out, e.Manager) {
			continue
		}
		set := &fieldpath.Set{}
		if err := set.FromJSON(bytes.NewReader(e.FieldsV1.Raw)); err == nil && set.Has(path) {
			out = append(out, e.Manager)
		}
	}
	if len(out) == 0 {
		return []string{"unknown"}
	}
	return out
}

// checkSameInstall refuses to install over an installation in another mode
// or namespace: the objects of one would be left behind by the other.
func checkSameInstall(existing Configurations, mode Mode, ns string) error {
	for _, v := range existing.views() {
		have := modeOf(v)
		if have == "" {
			return fmt.Errorf("%s %s exists but was not installed by kubectl chart (no %s annotation, no clientConfig): delete it first", v.kind, Name, AnnotationMode)
		}
		if have != mode {
			return fmt.Errorf("chart-webhook is installed in %s mode%s; run `kubectl chart webhook uninstall` before installing it in %s mode",
				have, inNamespace(existing), mode)
		}
	}
	if mode.InCluster() {
		if have := existing.ServiceNamespace(); have != "" && have != ns {
			return fmt.Errorf("chart-webhook is installed in namespace %s; run `kubectl chart webhook uninstall` before installing it in namespace %s", have, ns)
		}
	}
	return nil
}

func inNamespace(c Configurations) string {
	if ns := c.ServiceNamespace(); ns != "" {
		return " in namespace " + ns
	}
	return ""
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

// waitCABundle waits for cainjector to fill the caBundle of every webhook
// of both configurations.
func (in *Installer) waitCABundle(ctx context.Context, timeout time.Duration) error {
	if timeout <= 0 {
		timeout = apply.DefaultWaitOptions().Timeout
	}
	var missing []string
	err := wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		cfgs, err := in.configurations(ctx)
		if err != nil {
			return false, err
		}
		missing = missing[:0]
		if cfgs.Mutating == nil {
			missing = append(missing, kindMutating+"/"+Name)
		}
		if cfgs.Validating == nil {
			missing = append(missing, kindValidating+"/"+Name)
		}
		for _, v := range cfgs.views() {
			for _, w := range v.webhooks {
				if len(w.clientConfig.CABundle) == 0 {
					missing = append(missing, v.kind+"/"+Name)
					break
				}
			}
		}
		return len(missing) == 0, nil
	})
	if err != nil {
		if len(missing) == 0 {
			missing = []string{kindMutating + "/" + Name, kindValidating + "/" + Name}
		}
		return fmt.Errorf("%s: cert-manager's cainjector did not set the caBundle within %s (is cainjector running?): %w", strings.Join(missing, " and "), timeout, err)
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

// minSealKey is the shortest seal key chart-webhook accepts.
const minSealKey = 16

// localSealKey is a new seal key for the file path: nil when path already
// holds a usable one, which is kept (records sealed under it stay valid
// and a running operation is not stopped).
func localSealKey(path string) ([]byte, error) {
	old, err := os.ReadFile(path)
	switch {
	case err == nil && len(old) >= minSealKey:
		return nil, nil
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("seal key: %w", err)
	}
	key := make([]byte, 32)
	_, _ = rand.Read(key) // never fails (crypto/rand)
	return []byte(hex.EncodeToString(key)), nil
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
		if name == KeyFile || name == SealKeyFile {
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
