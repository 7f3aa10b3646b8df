package webhookinstall

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
)

// PlanOptions say which objects Plan builds.
type PlanOptions struct {
	// Mode is where the webhook runs and who makes its certificate.
	Mode Mode
	// Namespace is the webhook's namespace (default DefaultNamespace;
	// always that in local mode).
	Namespace string
	// Image is the webhook's container image (default DefaultImage()).
	Image string
	// CABundle is the configuration's caBundle (self-signed and local;
	// cainjector sets it in cert-manager mode).
	CABundle []byte
	// Secrets are added to the objects (self-signed: the CA and the
	// serving certificate).
	Secrets []*corev1.Secret
	// LocalHost and LocalPort are where the local webhook process listens
	// (local).
	LocalHost string
	LocalPort int
}

// Plan is what install applies.
type Plan struct {
	Mode      Mode
	Namespace string
	// Objects are applied first: everything but the configuration (none in
	// local mode).
	Objects []*unstructured.Unstructured
	// Configuration is the MutatingWebhookConfiguration, applied once the
	// webhook can answer (with failurePolicy Fail, an earlier one would
	// refuse writes to owned objects meanwhile).
	Configuration *admissionregistrationv1.MutatingWebhookConfiguration
}

// All is every object of the plan, the configuration last.
func (p *Plan) All() ([]*unstructured.Unstructured, error) {
	cfg, err := toUnstructured(p.Configuration)
	if err != nil {
		return nil, err
	}
	return append(slices.Clone(p.Objects), cfg), nil
}

// LocalURL is the clientConfig.url of a webhook on host:port serving path.
func LocalURL(host string, port int, path string) string {
	return "https://" + net.JoinHostPort(host, strconv.Itoa(port)) + path
}

// Plan builds the objects of a mode from the manifests: the namespace moved
// to o.Namespace, the image set, cert-manager's objects (cert-manager) or
// o.Secrets (self-signed) added, and the configuration pointed at the
// Service (in-cluster) or at o.LocalHost:o.LocalPort (local). The manifests
// are not modified.
func (m *Manifests) Plan(o PlanOptions) (*Plan, error) {
	if err := o.Mode.Valid(); err != nil {
		return nil, err
	}
	ns := o.Namespace
	if ns == "" || o.Mode == ModeLocal {
		// The local chart-webhook excludes its default --namespace.
		ns = DefaultNamespace
	}
	image := o.Image
	if image == "" {
		image = DefaultImage()
	}
	p := &Plan{Mode: o.Mode, Namespace: ns}

	cfg, err := m.configuration(o, ns)
	if err != nil {
		return nil, err
	}
	p.Configuration = cfg
	if o.Mode == ModeLocal {
		return p, nil
	}

	deployments := 0
	for _, obj := range m.Objects {
		if obj.GetKind() == "MutatingWebhookConfiguration" {
			continue
		}
		obj = obj.DeepCopy()
		relocate(obj, ns)
		if obj.GetKind() == "Deployment" && obj.GetName() == Name {
			if err := setImage(obj, image); err != nil {
				return nil, err
			}
			deployments++
		}
		p.Objects = append(p.Objects, obj)
	}
	if deployments != 1 {
		return nil, fmt.Errorf("manifests: %d Deployments named %s, want 1", deployments, Name)
	}

	var extra []runtime.Object
	switch o.Mode {
	case ModeCertManager:
		extra = CertManagerObjects(ns)
	case ModeSelfSigned:
		if len(o.Secrets) == 0 || len(o.CABundle) == 0 {
			return nil, errors.New("self-signed: no certificate Secrets or caBundle")
		}
		for _, s := range o.Secrets {
			s = s.DeepCopy()
			s.TypeMeta = metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"}
			s.Namespace = ns
			extra = append(extra, s)
		}
	}
	for _, e := range extra {
		u, err := toUnstructured(e)
		if err != nil {
			return nil, err
		}
		p.Objects = append(p.Objects, u)
	}
	return p, nil
}

// configuration is the manifests' MutatingWebhookConfiguration for mode:
// rules, selectors and policies as shipped, namespace moved, clientConfig
// and caBundle set.
func (m *Manifests) configuration(o PlanOptions, ns string) (*admissionregistrationv1.MutatingWebhookConfiguration, error) {
	cfg := m.Configuration.DeepCopy()
	cfg.TypeMeta = metav1.TypeMeta{APIVersion: admissionregistrationv1.SchemeGroupVersion.String(), Kind: "MutatingWebhookConfiguration"}
	if cfg.Annotations == nil {
		cfg.Annotations = map[string]string{}
	}
	cfg.Annotations[AnnotationMode] = string(o.Mode)
	if o.Mode == ModeCertManager {
		cfg.Annotations[annotationInjectCA] = ns + "/" + servingCertificateName
	} else {
		delete(cfg.Annotations, annotationInjectCA)
	}
	for i := range cfg.Webhooks {
		w := &cfg.Webhooks[i]
		svc := w.ClientConfig.Service
		if svc == nil {
			return nil, fmt.Errorf("manifests: webhook %s has no clientConfig.service", w.Name)
		}
		path := "/"
		if svc.Path != nil {
			path = *svc.Path
		}
		relocateSelector(w.NamespaceSelector, ns)
		switch o.Mode {
		case ModeLocal:
			if o.LocalHost == "" || o.LocalPort <= 0 || o.LocalPort > 65535 {
				return nil, fmt.Errorf("local: invalid address %s:%d", o.LocalHost, o.LocalPort)
			}
			url := LocalURL(o.LocalHost, o.LocalPort, path)
			w.ClientConfig = admissionregistrationv1.WebhookClientConfig{URL: &url, CABundle: o.CABundle}
		default:
			if svc.Namespace == DefaultNamespace {
				svc.Namespace = ns
			}
			w.ClientConfig.CABundle = o.CABundle
		}
	}
	return cfg, nil
}

// relocateSelector moves the exclusion of the webhook's own namespace in a
// namespaceSelector (kubernetes.io/metadata.name NotIn […]) to ns.
func relocateSelector(sel *metav1.LabelSelector, ns string) {
	if sel == nil {
		return
	}
	for i := range sel.MatchExpressions {
		e := &sel.MatchExpressions[i]
		if e.Key != corev1.LabelMetadataName || e.Operator != metav1.LabelSelectorOpNotIn {
			continue
		}
		for j, v := range e.Values {
			if v == DefaultNamespace {
				e.Values[j] = ns
			}
		}
	}
}

// relocate moves an object of the manifests from DefaultNamespace to ns:
// the Namespace itself, namespaced objects, and ServiceAccount subjects of
// bindings.
func relocate(obj *unstructured.Unstructured, ns string) {
	if ns == DefaultNamespace {
		return
	}
	if obj.GetKind() == "Namespace" && obj.GetName() == DefaultNamespace {
		obj.SetName(ns)
	}
	if obj.GetNamespace() == DefaultNamespace {
		obj.SetNamespace(ns)
	}
	if strings.HasSuffix(obj.GetKind(), "Binding") {
		subjects, _, _ := unstructured.NestedSlice(obj.Object, "subjects")
		for _, s := range subjects {
			if sm, ok := s.(map[string]any); ok && sm["namespace"] == DefaultNamespace {
				sm["namespace"] = ns
			}
		}
		if subjects != nil {
			_ = unstructured.SetNestedSlice(obj.Object, subjects, "subjects")
		}
	}
}

// setImage sets the image of the webhook's container.
func setImage(obj *unstructured.Unstructured, image string) error {
	containers, _, _ := unstructured.NestedSlice(obj.Object, "spec", "template", "spec", "containers")
	found := false
	for _, c := range containers {
		if cm, ok := c.(map[string]any); ok && cm["name"] == ContainerName {
			cm["image"] = image
			found = true
		}
	}
	if !found {
		return fmt.Errorf("manifests: Deployment %s has no container %s", obj.GetName(), ContainerName)
	}
	return unstructured.SetNestedSlice(obj.Object, containers, "spec", "template", "spec", "containers")
}

// toUnstructured converts a typed object (TypeMeta set) for the applier,
// without the fields a typed object always has but nobody set (status,
// creationTimestamp).
func toUnstructured(obj runtime.Object) (*unstructured.Unstructured, error) {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, fmt.Errorf("%T: %w", obj, err)
	}
	u := &unstructured.Unstructured{Object: m}
	unstructured.RemoveNestedField(u.Object, "status")
	unstructured.RemoveNestedField(u.Object, "metadata", "creationTimestamp")
	return u, nil
}
