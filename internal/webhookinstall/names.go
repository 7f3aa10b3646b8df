package webhookinstall

import (
	"fmt"

	"github.com/kubectl-chart/kubectl-chart/internal/version"
)

// Names shared with manifests/ (a test checks that the manifests use them).
const (
	// DefaultNamespace is the webhook's namespace in manifests/.
	DefaultNamespace = "kubectl-chart-system"
	// Name is the name of both webhook configurations (Mutating and
	// Validating), the Deployment, the Service, the ServiceAccount and the
	// webhook's own RBAC objects.
	Name = "chart-webhook"
	// ContainerName is the webhook's container in the Deployment.
	ContainerName = "chart-webhook"
	// ImageRepository is where the release images are published.
	ImageRepository = "ghcr.io/kubectl-chart/chart-webhook"
	// ServingSecretName is the kubernetes.io/tls Secret the Deployment
	// mounts at --cert-dir: written by cert-manager (serving Certificate) or
	// by self-signed mode.
	ServingSecretName = "chart-webhook-tls"
	// CASecretName holds the CA that signs the serving certificate (and
	// whose certificate is the caBundle).
	CASecretName = "chart-webhook-ca"
	// SealSecretName is the Secret the in-cluster webhook creates at its
	// first start with the key that seals revision records (chart-webhook
	// --seal-secret); install does not write it, uninstall deletes it.
	SealSecretName = "chart-webhook-seal"
	// DeployerRoleName and UnlockerRoleName are the ClusterRoles of
	// manifests/roles.yaml that grant the verbs "deploy" and "unlock" on
	// releases.kubectl-chart.io, which the webhook asks the API server
	// about before it lets a user take a release's lock.
	DeployerRoleName = "kubectl-chart-deployer"
	UnlockerRoleName = "kubectl-chart-unlocker"
)

// aggregationLabels are the labels of manifests/roles.yaml that aggregate
// the deployer and unlocker ClusterRoles into the built-in admin and edit
// ClusterRoles; install --strict leaves them off.
var aggregationLabels = []string{
	"rbac.authorization.k8s.io/aggregate-to-admin",
	"rbac.authorization.k8s.io/aggregate-to-edit",
}

// roleNames are the ClusterRoles whose aggregation --strict decides, in
// manifests/ order.
var roleNames = []string{DeployerRoleName, UnlockerRoleName}

// Files of the local mode's folder (--cert-dir) besides the certificate
// files: the key that seals revision records, for chart-webhook
// --seal-key-file (a local webhook cannot rely on the namespace of the
// seal Secret existing).
const SealKeyFile = "seal.key"

// Annotations this package sets on what it creates.
const (
	// AnnotationMode on both webhook configurations records the mode they
	// were installed in, for status, a later install and uninstall.
	AnnotationMode = "kubectl-chart.io/webhook-mode"
	// annotationInjectCA asks cert-manager's cainjector to fill caBundle.
	annotationInjectCA = "cert-manager.io/inject-ca-from"
	// annotationCertName is set by cert-manager on the Secrets of its
	// Certificates.
	annotationCertName = "cert-manager.io/certificate-name"
)

// Labels every object of manifests/ carries; the Namespace with labelName
// = Name is one install created (and uninstall may delete).
const (
	labelName   = "app.kubernetes.io/name"
	labelPartOf = "app.kubernetes.io/part-of"
	partOf      = "kubectl-chart"
)

// DefaultImage is the image of the release that built this plugin.
func DefaultImage() string { return ImageRepository + ":" + version.Version }

// Mode is where the webhook runs and who issues its certificate.
type Mode string

// Modes.
const (
	// ModeCertManager runs the webhook in the cluster with a certificate
	// issued by cert-manager.
	ModeCertManager Mode = "cert-manager"
	// ModeSelfSigned runs the webhook in the cluster with a CA and serving
	// certificate that the plugin made.
	ModeSelfSigned Mode = "self-signed"
	// ModeLocal registers a webhook process running on the user's machine
	// (a URL clientConfig).
	ModeLocal Mode = "local"
)

// InCluster says whether the webhook runs in the cluster (Deployment).
func (m Mode) InCluster() bool { return m == ModeCertManager || m == ModeSelfSigned }

// Valid says whether m is one of the modes.
func (m Mode) Valid() error {
	switch m {
	case ModeCertManager, ModeSelfSigned, ModeLocal:
		return nil
	}
	return fmt.Errorf("unknown webhook mode %q", m)
}

// DryRun is install's and uninstall's --dry-run.
type DryRun string

// Dry-run strategies, as kubectl's --dry-run.
const (
	DryRunNone   DryRun = "none"
	DryRunClient DryRun = "client"
	DryRunServer DryRun = "server"
)
