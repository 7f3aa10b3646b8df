package webhookinstall

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	cmv1 "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	"github.com/fluxcd/cli-utils/pkg/kstatus/status"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Status is what `kubectl chart webhook status` shows.
type Status struct {
	// Installed tells that either webhook configuration exists.
	Installed bool `json:"installed"`
	// Healthy tells that it is installed and nothing below is wrong: the
	// webhook enforces ownership.
	Healthy bool `json:"healthy"`
	Mode    Mode `json:"mode,omitempty"`
	// Strict tells that the ClusterRoles kubectl-chart-deployer and
	// kubectl-chart-unlocker are not aggregated into the built-in admin and
	// edit roles (install --strict): only the users and ServiceAccounts
	// bound to them may deploy. Nil when that cannot be said (a problem
	// says why): one is missing, they cannot be read, or one is aggregated
	// and the other is not.
	Strict *bool `json:"strict,omitempty"`
	// Namespace is the webhook's namespace (in-cluster modes).
	Namespace string `json:"namespace,omitempty"`
	// Configurations are the mutating and the validating configuration, in
	// this order, missing ones included.
	Configurations []ConfigurationStatus `json:"configurations,omitempty"`
	// CABundle are the CAs of the configurations' caBundles, each once;
	// empty when they have none.
	CABundle []CertificateSummary `json:"caBundle"`
	// Deployment is the webhook's Deployment (in-cluster modes).
	Deployment *DeploymentStatus `json:"deployment,omitempty"`
	// Certificates are cert-manager's Certificates (cert-manager mode).
	Certificates []CertManagerCertificate `json:"certificates,omitempty"`
	// Serving is the serving certificate: from its Secret (in-cluster
	// modes) or as the local webhook serves it.
	Serving *ServingStatus `json:"servingCertificate,omitempty"`
	// Server is whether the local webhook process answers (local mode).
	Server *ServerStatus `json:"server,omitempty"`
	// Problems say what stops the webhook from enforcing ownership, or
	// will soon, and what to do.
	Problems []string `json:"problems,omitempty"`
}

// ConfigurationStatus is one of the webhook configurations.
type ConfigurationStatus struct {
	// Kind is MutatingWebhookConfiguration or
	// ValidatingWebhookConfiguration.
	Kind   string `json:"kind"`
	Exists bool   `json:"exists"`
	// Webhooks are the names of its webhooks.
	Webhooks []string `json:"webhooks,omitempty"`
	// Endpoint is where the API server calls its first webhook: a URL, or
	// service namespace/name:port/path.
	Endpoint      string `json:"endpoint,omitempty"`
	FailurePolicy string `json:"failurePolicy,omitempty"`
}

// CertificateSummary names a certificate and its end.
type CertificateSummary struct {
	Subject  string    `json:"subject"`
	NotAfter time.Time `json:"notAfter"`
}

// DeploymentStatus is the webhook's Deployment.
type DeploymentStatus struct {
	Name     string `json:"name"`
	Image    string `json:"image,omitempty"`
	Replicas int32  `json:"replicas"`
	Ready    int32  `json:"ready"`
	// Status is kstatus' status of the Deployment (Current once rolled out
	// and available), or "missing".
	Status  string `json:"status"`
	Message string `json:"message,omitempty"`
}

// CertManagerCertificate is one of cert-manager's Certificates.
type CertManagerCertificate struct {
	Name     string     `json:"name"`
	Ready    bool       `json:"ready"`
	Message  string     `json:"message,omitempty"`
	NotAfter *time.Time `json:"notAfter,omitempty"`
}

// ServingStatus is the webhook's serving certificate.
type ServingStatus struct {
	// Source is the Secret it was read from, or the address that served it.
	Source   string    `json:"source"`
	Hosts    []string  `json:"hosts,omitempty"`
	NotAfter time.Time `json:"notAfter,omitzero"`
	// Trusted tells that it is valid for the host the API server calls and
	// chains to a CA of the caBundle.
	Trusted bool `json:"trusted"`
	// TrustError is why it is not trusted.
	TrustError string `json:"trustError,omitempty"`
	// Error is why it could not be read.
	Error string `json:"error,omitempty"`

	leaf *x509.Certificate
}

// ServerStatus says whether the local webhook answers.
type ServerStatus struct {
	Address   string `json:"address"`
	Answering bool   `json:"answering"`
	Error     string `json:"error,omitempty"`
}

// Observed is what Status reads from the cluster (and the local webhook);
// ComputeStatus judges it.
type Observed struct {
	// Configurations are the webhook configurations (nil ones do not
	// exist).
	Configurations Configurations
	// Namespace is the webhook's namespace.
	Namespace string
	// Roles are the ClusterRoles kubectl-chart-deployer and
	// kubectl-chart-unlocker by name; a missing one is absent (or
	// RolesErr).
	Roles    map[string]*rbacv1.ClusterRole
	RolesErr error
	// Deployment is nil when missing (or DeploymentErr).
	Deployment    *appsv1.Deployment
	DeploymentErr error
	// ServingSecret is nil when missing (or ServingSecretErr).
	ServingSecret    *corev1.Secret
	ServingSecretErr error
	// Certificates are cert-manager's (cert-manager mode).
	Certificates    []*cmv1.Certificate
	CertificatesErr error
	// Served is the certificate chain the local webhook served, or why it
	// did not (ServedErr).
	Served    []*x509.Certificate
	ServedErr error
}

// StatusOptions say where Status looks.
type StatusOptions struct {
	// Namespace is where to look for the webhook's objects when its
	// configurations do not say (default DefaultNamespace).
	Namespace string
	// ProbeTimeout bounds the TLS handshake with a local webhook.
	ProbeTimeout time.Duration
}

// Status reads the webhook's configurations, its ClusterRoles and, by its
// mode, its Deployment, certificates and Secret, or probes the local
// webhook; and judges them.
func (in *Installer) Status(ctx context.Context, o StatusOptions) (*Status, error) {
	obs, err := in.Observe(ctx, o)
	if err != nil {
		return nil, err
	}
	return ComputeStatus(obs, in.now()), nil
}

// Observe reads what Status judges. Only a failure to read the
// configurations is an error; other failures are recorded in Observed.
func (in *Installer) Observe(ctx context.Context, o StatusOptions) (*Observed, error) {
	cfgs, err := in.configurations(ctx)
	if err != nil {
		return nil, err
	}
	obs := &Observed{Configurations: cfgs, Namespace: o.Namespace}
	if obs.Namespace == "" {
		obs.Namespace = DefaultNamespace
	}
	if ns := cfgs.ServiceNamespace(); ns != "" {
		obs.Namespace = ns
	}
	mode := cfgs.Mode()

	var wg sync.WaitGroup
	if cfgs.Exist() {
		wg.Go(func() { obs.Roles, obs.RolesErr = in.roles(ctx) })
	}
	if mode == ModeLocal {
		timeout := o.ProbeTimeout
		if timeout <= 0 {
			timeout = 3 * time.Second
		}
		obs.Served, obs.ServedErr = probe(ctx, cfgs, timeout)
		wg.Wait()
		return obs, nil
	}
	wg.Go(func() {
		d, err := in.kube.AppsV1().Deployments(obs.Namespace).Get(ctx, Name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
		case err != nil:
			obs.DeploymentErr = err
		default:
			obs.Deployment = d
		}
	})
	if !cfgs.Exist() {
		wg.Wait()
		return obs, nil
	}
	wg.Go(func() {
		s, err := in.kube.CoreV1().Secrets(obs.Namespace).Get(ctx, ServingSecretName, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
		case err != nil:
			obs.ServingSecretErr = err
		default:
			obs.ServingSecret = s
		}
	})
	if mode == ModeCertManager {
		wg.Go(func() { obs.Certificates, obs.CertificatesErr = in.certificates(ctx, obs.Namespace) })
	}
	wg.Wait()
	return obs, nil
}

// roles reads the deployer and unlocker ClusterRoles; missing ones are
// left out.
func (in *Installer) roles(ctx context.Context) (map[string]*rbacv1.ClusterRole, error) {
	out := map[string]*rbacv1.ClusterRole{}
	for _, name := range roleNames {
		r, err := in.kube.RbacV1().ClusterRoles().Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return out, fmt.Errorf("ClusterRole/%s: %w", name, err)
		}
		out[name] = r
	}
	return out, nil
}

// certificates reads the CA and serving Certificates; missing ones are
// left out.
func (in *Installer) certificates(ctx context.Context, ns string) ([]*cmv1.Certificate, error) {
	mapping, err := in.applier.RESTMapper().RESTMapping(schema.GroupKind{Group: certManagerGroup, Kind: cmv1.CertificateKind}, "v1")
	if err != nil {
		return nil, fmt.Errorf("cert-manager's Certificate: %w", err)
	}
	var out []*cmv1.Certificate
	for _, name := range []string{caName, servingCertificateName} {
		u, err := in.dynamic.Resource(mapping.Resource).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return out, fmt.Errorf("Certificate/%s/%s: %w", ns, name, err)
		}
		c := &cmv1.Certificate{}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, c); err != nil {
			return out, fmt.Errorf("Certificate/%s/%s: %w", ns, name, err)
		}
		out = append(out, c)
	}
	return out, nil
}

// probe makes a TLS handshake with the local webhook the configurations
// call (the URL of their first webhook), and returns the chain it served.
func probe(ctx context.Context, cfgs Configurations, timeout time.Duration) ([]*x509.Certificate, error) {
	raw := ""
	for _, v := range cfgs.views() {
		if len(v.webhooks) > 0 && v.webhooks[0].clientConfig.URL != nil {
			raw = *v.webhooks[0].clientConfig.URL
			break
		}
	}
	if raw == "" {
		return nil, fmt.Errorf("no URL")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, err
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "443")
	}
	d := &tls.Dialer{
		NetDialer: &net.Dialer{Timeout: timeout},
		// The certificate is verified by ComputeStatus, which says why it
		// is not trusted rather than failing the handshake.
		Config: &tls.Config{InsecureSkipVerify: true, ServerName: u.Hostname(), MinVersion: tls.VersionTLS12}, //nolint:gosec
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	return conn.(*tls.Conn).ConnectionState().PeerCertificates, nil
}

// caBundleGroup is the webhooks that carry the same caBundle.
type caBundleGroup struct {
	// kinds are the configurations of those webhooks.
	kinds []string
	raw   []byte
	certs []*x509.Certificate
}

// what names the group's caBundle in problems: "the caBundle" when every
// webhook has it.
func (g *caBundleGroup) what(groups int) string {
	if groups == 1 {
		return "the caBundle"
	}
	return "the caBundle of " + strings.Join(g.kinds, " and ") + " " + Name
}

// ComputeStatus judges what Observe read, at time now.
func ComputeStatus(obs *Observed, now time.Time) *Status {
	s := &Status{CABundle: []CertificateSummary{}}
	problem := func(format string, args ...any) { s.Problems = append(s.Problems, fmt.Sprintf(format, args...)) }
	cfgs := obs.Configurations
	if !cfgs.Exist() {
		if obs.Deployment != nil {
			s.Namespace = obs.Namespace
			problem("Deployment %s/%s exists but neither webhook configuration %s does: nothing calls the webhook; run `kubectl chart webhook install` again, or `kubectl chart webhook uninstall`",
				obs.Namespace, Name, Name)
		}
		return s
	}
	s.Installed = true
	s.Mode = cfgs.Mode()
	views := cfgs.views()

	if cfgs.Mutating == nil {
		s.Configurations = append(s.Configurations, ConfigurationStatus{Kind: kindMutating})
		problem("%s %s is missing: release records are not stamped, so the validating webhook refuses every release operation; run `kubectl chart webhook install` again", kindMutating, Name)
	}
	// What the API server does with writes to owned objects while the
	// webhook does not answer: the validating webhooks' failure policy
	// says (the mutating one only stamps records, which the validating one
	// refuses unstamped).
	meanwhile := "refused"
	var first *webhookView // the webhook whose endpoint the serving certificate is checked for
	var groups []*caBundleGroup
	for _, v := range views {
		cs := ConfigurationStatus{Kind: v.kind, Exists: true}
		if len(v.webhooks) == 0 {
			consequence := "nothing blocks writes from other tools"
			if v.kind == kindMutating {
				consequence = "release records are not stamped, so the validating webhook refuses every release operation"
			}
			problem("%s %s has no webhooks: %s; run `kubectl chart webhook install` again", v.kind, Name, consequence)
		}
		for i, w := range v.webhooks {
			cs.Webhooks = append(cs.Webhooks, w.name)
			if i == 0 {
				cs.Endpoint = endpoint(w.clientConfig)
				if w.failurePolicy != nil {
					cs.FailurePolicy = string(*w.failurePolicy)
				}
				if first == nil {
					first = &v.webhooks[0]
				}
			}
			if v.kind == kindValidating && w.failurePolicy != nil && *w.failurePolicy == admissionregistrationv1.Ignore {
				meanwhile = "let through unchecked"
				problem("the failurePolicy of webhook %s is Ignore: writes to owned objects pass unchecked whenever the webhook does not answer", w.name)
			}
			var g *caBundleGroup
			for _, x := range groups {
				if bytes.Equal(x.raw, w.clientConfig.CABundle) {
					g = x
				}
			}
			if g == nil {
				g = &caBundleGroup{raw: w.clientConfig.CABundle}
				groups = append(groups, g)
			}
			if !slices.Contains(g.kinds, v.kind) {
				g.kinds = append(g.kinds, v.kind)
			}
		}
		s.Configurations = append(s.Configurations, cs)
	}
	if cfgs.Validating == nil {
		s.Configurations = append(s.Configurations, ConfigurationStatus{Kind: kindValidating})
		problem("%s %s is missing: nothing blocks writes from other tools; run `kubectl chart webhook install` again", kindValidating, Name)
	}
	if first == nil {
		s.Strict = strictStatus(obs, problem)
		return s
	}
	if first.clientConfig.Service != nil {
		s.Namespace = obs.Namespace
	}

	seen := map[string]bool{}
	for _, g := range groups {
		what := g.what(len(groups))
		if len(g.raw) == 0 {
			if s.Mode == ModeCertManager {
				problem("%s is empty: cert-manager's cainjector has not injected the CA yet (is cainjector running?); until it does, the API server cannot call the webhook", what)
			} else {
				problem("%s is empty: the API server cannot call the webhook; run `kubectl chart webhook install` again", what)
			}
			continue
		}
		certs, err := ParseBundle(g.raw)
		if err != nil {
			problem("%s does not parse: %v", what, err)
			continue
		}
		g.certs = certs
		valid := 0
		for _, c := range certs {
			if !seen[string(c.Raw)] {
				seen[string(c.Raw)] = true
				s.CABundle = append(s.CABundle, CertificateSummary{Subject: c.Subject.CommonName, NotAfter: c.NotAfter.UTC()})
			}
			if now.Before(c.NotAfter) {
				valid++
			}
		}
		if valid == 0 {
			problem("every CA of %s has expired; run `kubectl chart webhook install` again", what)
		}
	}

	// The host the API server checks the serving certificate for.
	host := ""
	switch cc := first.clientConfig; {
	case cc.URL != nil:
		if u, err := url.Parse(*cc.URL); err == nil {
			host = u.Hostname()
		}
	case cc.Service != nil:
		host = cc.Service.Name + "." + cc.Service.Namespace + ".svc"
	}

	if s.Mode == ModeLocal {
		s.Server = &ServerStatus{Address: endpointAddress(endpoint(first.clientConfig)), Answering: obs.ServedErr == nil && len(obs.Served) > 0}
		if !s.Server.Answering {
			if obs.ServedErr != nil {
				s.Server.Error = obs.ServedErr.Error()
			}
			problem("nothing answers at %s: start the local webhook (chart-webhook --kubeconfig <kubeconfig> --cert-dir <dir> --seal-key-file <dir>/%s --port %s); until then writes to owned objects are %s",
				s.Server.Address, SealKeyFile, portOf(s.Server.Address), meanwhile)
		} else {
			s.Serving = servingStatus("served by "+s.Server.Address, obs.Served[0])
		}
	} else {
		s.Deployment = deploymentStatus(obs)
		if d := s.Deployment; d.Ready == 0 {
			problem("no replica of Deployment %s/%s is ready (%s): writes to owned objects are %s until one is", obs.Namespace, Name, orDash(d.Message, d.Status), meanwhile)
		} else if d.Ready < d.Replicas {
			problem("only %d of %d replicas of Deployment %s/%s are ready", d.Ready, d.Replicas, obs.Namespace, Name)
		}
		source := "Secret " + obs.Namespace + "/" + ServingSecretName
		switch {
		case obs.ServingSecretErr != nil:
			s.Serving = &ServingStatus{Source: source, Error: obs.ServingSecretErr.Error()}
		case obs.ServingSecret == nil:
			s.Serving = &ServingStatus{Source: source, Error: "missing"}
			problem("Secret %s/%s is missing: the webhook's pods cannot start", obs.Namespace, ServingSecretName)
		default:
			kp, err := ParseKeyPair(obs.ServingSecret.Data[corev1.TLSCertKey], obs.ServingSecret.Data[corev1.TLSPrivateKeyKey])
			if err != nil {
				s.Serving = &ServingStatus{Source: source, Error: err.Error()}
				problem("Secret %s/%s holds no usable certificate: %v", obs.Namespace, ServingSecretName, err)
			} else {
				s.Serving = servingStatus(source, kp.Cert)
			}
		}
		if s.Mode == ModeCertManager {
			s.Certificates = certManagerStatus(obs.Certificates)
			if obs.CertificatesErr != nil {
				problem("cannot read cert-manager's Certificates: %v", obs.CertificatesErr)
			}
			for _, c := range s.Certificates {
				if !c.Ready {
					problem("cert-manager's Certificate %s/%s is not ready: %s", obs.Namespace, c.Name, orDash(c.Message, "no Ready condition yet"))
				}
			}
		}
	}
	if sv := s.Serving; sv != nil && sv.Error == "" {
		sv.Trusted = true
		for _, g := range groups {
			if err := VerifyServing(sv.leaf, g.certs, host, now); err != nil {
				if sv.Trusted {
					sv.Trusted, sv.TrustError = false, err.Error()
				}
				problem("the serving certificate (%s) is not trusted for %s by %s: %s; run `kubectl chart webhook install` again", sv.Source, host, g.what(len(groups)), err)
			}
		}
		if sv.Trusted && s.Mode == ModeSelfSigned && sv.NotAfter.Before(now.Add(ServingRenewBefore)) {
			problem("the serving certificate expires at %s: run `kubectl chart webhook install --self-signed` to renew it", sv.NotAfter.Format(time.RFC3339))
		}
	}
	s.Strict = strictStatus(obs, problem)
	s.Healthy = len(s.Problems) == 0
	return s
}

// strictStatus says whether the deployer and unlocker ClusterRoles are
// left out of admin and edit (nil: neither yes nor no), and reports missing
// roles and roles aggregated in part.
func strictStatus(obs *Observed, problem func(string, ...any)) *bool {
	if obs.RolesErr != nil {
		problem("cannot read the ClusterRoles %s: %v", strings.Join(roleNames, " and "), obs.RolesErr)
		return nil
	}
	what := map[string]string{
		DeployerRoleName: "install, upgrade, roll back or uninstall releases",
		UnlockerRoleName: "take over or clear another user's release lock (--force-unlock)",
	}
	all, none, found := true, true, 0
	for _, name := range roleNames {
		r := obs.Roles[name]
		if r == nil {
			problem("ClusterRole %s is missing: only users granted its verb on releases.kubectl-chart.io otherwise (cluster admins) may %s; run `kubectl chart webhook install` again",
				name, what[name])
			continue
		}
		found++
		for _, l := range aggregationLabels {
			if r.Labels[l] == "true" {
				none = false
			} else {
				all = false
			}
		}
	}
	if found < len(roleNames) {
		return nil
	}
	if !all && !none {
		problem("the ClusterRoles %s are aggregated into admin and edit only in part: run `kubectl chart webhook install` again, with --strict to leave them out, without to put them in",
			strings.Join(roleNames, " and "))
		return nil
	}
	return &none
}

// endpoint is where a clientConfig points: its URL, or service
// namespace/name:port/path.
func endpoint(cc admissionregistrationv1.WebhookClientConfig) string {
	switch {
	case cc.URL != nil:
		return *cc.URL
	case cc.Service != nil:
		port := int32(443)
		if cc.Service.Port != nil {
			port = *cc.Service.Port
		}
		path := ""
		if cc.Service.Path != nil {
			path = *cc.Service.Path
		}
		return fmt.Sprintf("service %s/%s:%d%s", cc.Service.Namespace, cc.Service.Name, port, path)
	}
	return ""
}

// servingStatus describes a serving certificate; ComputeStatus decides
// whether the caBundles trust it.
func servingStatus(source string, leaf *x509.Certificate) *ServingStatus {
	return &ServingStatus{Source: source, Hosts: certHosts(leaf), NotAfter: leaf.NotAfter.UTC(), leaf: leaf}
}

func certHosts(c *x509.Certificate) []string {
	hosts := append([]string{}, c.DNSNames...)
	for _, ip := range c.IPAddresses {
		hosts = append(hosts, ip.String())
	}
	return hosts
}

func deploymentStatus(obs *Observed) *DeploymentStatus {
	ds := &DeploymentStatus{Name: obs.Namespace + "/" + Name}
	switch {
	case obs.DeploymentErr != nil:
		ds.Status, ds.Message = string(status.UnknownStatus), obs.DeploymentErr.Error()
		return ds
	case obs.Deployment == nil:
		ds.Status, ds.Message = "missing", "the Deployment does not exist"
		return ds
	}
	d := obs.Deployment.DeepCopy()
	d.TypeMeta = metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"}
	ds.Replicas = 1
	if d.Spec.Replicas != nil {
		ds.Replicas = *d.Spec.Replicas
	}
	ds.Ready = d.Status.ReadyReplicas
	for _, c := range d.Spec.Template.Spec.Containers {
		if c.Name == ContainerName {
			ds.Image = c.Image
		}
	}
	u, err := toUnstructured(d)
	if err == nil {
		// toUnstructured drops status, which kstatus needs.
		st, _ := runtime.DefaultUnstructuredConverter.ToUnstructured(&d.Status)
		u.Object["status"] = st
		var res *status.Result
		if res, err = status.Compute(u); err == nil {
			ds.Status, ds.Message = string(res.Status), res.Message
		}
	}
	if err != nil {
		ds.Status, ds.Message = string(status.UnknownStatus), err.Error()
	}
	return ds
}

func certManagerStatus(certs []*cmv1.Certificate) []CertManagerCertificate {
	out := []CertManagerCertificate{}
	for _, c := range certs {
		cs := CertManagerCertificate{Name: c.Name}
		for _, cond := range c.Status.Conditions {
			if cond.Type == cmv1.CertificateConditionReady {
				cs.Ready = cond.Status == cmmeta.ConditionTrue
				cs.Message = cond.Message
			}
		}
		if c.Status.NotAfter != nil {
			t := c.Status.NotAfter.UTC()
			cs.NotAfter = &t
		}
		out = append(out, cs)
	}
	return out
}

// endpointAddress is host:port of a URL endpoint.
func endpointAddress(endpoint string) string {
	u, err := url.Parse(endpoint)
	if err != nil {
		return endpoint
	}
	if u.Port() == "" {
		return net.JoinHostPort(u.Hostname(), "443")
	}
	return u.Host
}

func portOf(addr string) string {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "?"
	}
	if _, err := strconv.Atoi(port); err != nil {
		return "?"
	}
	return port
}

func orDash(s, alt string) string {
	if strings.TrimSpace(s) == "" {
		return alt
	}
	return s
}
