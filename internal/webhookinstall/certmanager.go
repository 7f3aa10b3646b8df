package webhookinstall

import (
	"time"

	cmv1 "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// Names of the cert-manager objects (as manifests/certificate.yaml names
// them).
const (
	// selfSignedIssuerName signs the CA certificate.
	selfSignedIssuerName = "chart-webhook-selfsigned"
	// caName is the CA Certificate and the CA Issuer that signs the
	// serving certificate (from Secret CASecretName).
	caName = "chart-webhook-ca"
	// servingCertificateName is the serving Certificate, written to
	// ServingSecretName; the configuration's inject-ca-from names it.
	servingCertificateName = "chart-webhook"
)

// Validity of the certificates, in both in-cluster modes.
const (
	// CADuration is how long the CA is valid.
	CADuration = 10 * 365 * 24 * time.Hour
	// ServingDuration is how long a serving certificate is valid.
	ServingDuration = 90 * 24 * time.Hour
	// ServingRenewBefore is how long before its end a serving certificate
	// is renewed (by cert-manager, or by the next self-signed install).
	ServingRenewBefore = 15 * 24 * time.Hour
)

// ServiceDNSNames are the names the webhook's Service answers to in
// namespace, which its serving certificate must hold.
func ServiceDNSNames(namespace string) []string {
	return []string{
		Name + "." + namespace + ".svc",
		Name + "." + namespace + ".svc.cluster.local",
	}
}

// CertManagerObjects are the cert-manager objects of the webhook in
// namespace, as manifests/certificate.yaml declares them: a self-signed
// Issuer signs a CA Certificate; a CA Issuer, from the CA's Secret, signs
// the serving Certificate for the Service's DNS names into
// ServingSecretName. The CA, and so the caBundle cainjector copies, stays
// the same when the serving certificate is renewed.
func CertManagerObjects(namespace string) []runtime.Object {
	labels := func() map[string]string {
		return map[string]string{labelName: Name, labelPartOf: partOf}
	}
	meta := func(name string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: labels()}
	}
	issuerTypeMeta := metav1.TypeMeta{APIVersion: cmv1.SchemeGroupVersion.String(), Kind: cmv1.IssuerKind}
	certTypeMeta := metav1.TypeMeta{APIVersion: cmv1.SchemeGroupVersion.String(), Kind: cmv1.CertificateKind}
	issuerRef := func(name string) cmmeta.IssuerReference {
		return cmmeta.IssuerReference{Group: certManagerGroup, Kind: cmv1.IssuerKind, Name: name}
	}
	ecdsa := func(rotation cmv1.PrivateKeyRotationPolicy) *cmv1.CertificatePrivateKey {
		return &cmv1.CertificatePrivateKey{Algorithm: cmv1.ECDSAKeyAlgorithm, Size: 256, RotationPolicy: rotation}
	}
	return []runtime.Object{
		&cmv1.Issuer{
			TypeMeta:   issuerTypeMeta,
			ObjectMeta: meta(selfSignedIssuerName),
			Spec:       cmv1.IssuerSpec{IssuerConfig: cmv1.IssuerConfig{SelfSigned: &cmv1.SelfSignedIssuer{}}},
		},
		&cmv1.Certificate{
			TypeMeta:   certTypeMeta,
			ObjectMeta: meta(caName),
			Spec: cmv1.CertificateSpec{
				IsCA:       true,
				CommonName: caName,
				SecretName: CASecretName,
				Duration:   &metav1.Duration{Duration: CADuration},
				PrivateKey: ecdsa(""),
				IssuerRef:  issuerRef(selfSignedIssuerName),
			},
		},
		&cmv1.Issuer{
			TypeMeta:   issuerTypeMeta,
			ObjectMeta: meta(caName),
			Spec:       cmv1.IssuerSpec{IssuerConfig: cmv1.IssuerConfig{CA: &cmv1.CAIssuer{SecretName: CASecretName}}},
		},
		&cmv1.Certificate{
			TypeMeta:   certTypeMeta,
			ObjectMeta: meta(servingCertificateName),
			Spec: cmv1.CertificateSpec{
				SecretName:  ServingSecretName,
				DNSNames:    ServiceDNSNames(namespace),
				Duration:    &metav1.Duration{Duration: ServingDuration},
				RenewBefore: &metav1.Duration{Duration: ServingRenewBefore},
				PrivateKey:  ecdsa(cmv1.RotationPolicyAlways),
				Usages:      []cmv1.KeyUsage{cmv1.UsageServerAuth, cmv1.UsageDigitalSignature},
				IssuerRef:   issuerRef(caName),
			},
		},
	}
}
