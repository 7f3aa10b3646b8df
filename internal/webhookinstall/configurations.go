package webhookinstall

import (
	"context"
	"fmt"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Configurations are chart-webhook's two webhook configurations as the
// cluster has them; either is nil when it does not exist.
type Configurations struct {
	// Mutating stamps release records (path /mutate).
	Mutating *admissionregistrationv1.MutatingWebhookConfiguration
	// Validating decides (path /validate).
	Validating *admissionregistrationv1.ValidatingWebhookConfiguration
}

// Exist tells whether either configuration exists.
func (c Configurations) Exist() bool { return c.Mutating != nil || c.Validating != nil }

// Mode is the mode the configurations were installed in: that of the
// mutating one, else of the validating one (see modeOf); "" when neither
// says.
func (c Configurations) Mode() Mode {
	for _, v := range c.views() {
		if m := modeOf(v); m != "" {
			return m
		}
	}
	return ""
}

// ServiceNamespace is the namespace of the Service the configurations call;
// "" for URLs.
func (c Configurations) ServiceNamespace() string {
	for _, v := range c.views() {
		for _, w := range v.webhooks {
			if s := w.clientConfig.Service; s != nil {
				return s.Namespace
			}
		}
	}
	return ""
}

// configView is what this package reads of one configuration, whichever
// its kind.
type configView struct {
	kind        string
	annotations map[string]string
	webhooks    []webhookView
}

// webhookView is one webhook of a configuration.
type webhookView struct {
	name          string
	clientConfig  admissionregistrationv1.WebhookClientConfig
	failurePolicy *admissionregistrationv1.FailurePolicyType
}

// views are the existing configurations, the mutating one first.
func (c Configurations) views() []configView {
	var out []configView
	if m := c.Mutating; m != nil {
		v := configView{kind: kindMutating, annotations: m.Annotations}
		for _, w := range m.Webhooks {
			v.webhooks = append(v.webhooks, webhookView{name: w.Name, clientConfig: w.ClientConfig, failurePolicy: w.FailurePolicy})
		}
		out = append(out, v)
	}
	if m := c.Validating; m != nil {
		v := configView{kind: kindValidating, annotations: m.Annotations}
		for _, w := range m.Webhooks {
			v.webhooks = append(v.webhooks, webhookView{name: w.Name, clientConfig: w.ClientConfig, failurePolicy: w.FailurePolicy})
		}
		out = append(out, v)
	}
	return out
}

// modeOf is the mode a webhook configuration was installed in: its
// AnnotationMode, else what its clientConfig says (a URL: local;
// cainjector's annotation: cert-manager, as `kubectl apply -k manifests/`
// installs it; a Service: self-signed); "" when it has no webhooks.
func modeOf(v configView) Mode {
	if m := Mode(v.annotations[AnnotationMode]); m.Valid() == nil {
		return m
	}
	if len(v.webhooks) == 0 {
		return ""
	}
	switch cc := v.webhooks[0].clientConfig; {
	case cc.URL != nil:
		return ModeLocal
	case v.annotations[annotationInjectCA] != "":
		return ModeCertManager
	case cc.Service != nil:
		return ModeSelfSigned
	}
	return ""
}

// configurations reads both webhook configurations; a missing one is nil.
func (in *Installer) configurations(ctx context.Context) (Configurations, error) {
	var c Configurations
	api := in.kube.AdmissionregistrationV1()
	mut, err := api.MutatingWebhookConfigurations().Get(ctx, Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
	case err != nil:
		return c, fmt.Errorf("%s/%s: %w", kindMutating, Name, err)
	default:
		c.Mutating = mut
	}
	val, err := api.ValidatingWebhookConfigurations().Get(ctx, Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
	case err != nil:
		return c, fmt.Errorf("%s/%s: %w", kindValidating, Name, err)
	default:
		c.Validating = val
	}
	return c, nil
}
