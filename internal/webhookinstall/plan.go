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
	rbacv1 "k8s.io/api/rbac/v1"
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
	// CABundle is the caBundle of both configurations (self-signed and
	// local; cainjector sets it in cert-manager mode).
	CABundle []byte
	// Secrets are added to the objects (self-signed: the CA and the
	// serving certificate).
	Secrets []*corev1.Secret
	// LocalHost and LocalPort are where the local webhook process listens
	// (local).
	LocalHost string
	LocalPort int
	// Strict leaves the aggregation labels off the ClusterRoles
	// kubectl-chart-deployer and kubectl-chart-unlocker, so that only the
	// users and ServiceAccounts bound to them explicitly may deploy, not
	// everyone with the built-in admin or edit role.
	Strict bool
}

// Plan is what install applies.
type Plan struct {
	Mode      Mode
	Namespace string
	// Objects are applied first: everything but the webhook configurations
	// (in local mode, only the ClusterRoles kubectl-chart-deployer and
	// kubectl-chart-unlocker, whose verbs the local webhook asks about).
	Objects []*unstructured.Unstructured
	// Mutating and Validating are the webhook configurations, applied in
	// this order once the webhook can answer (with failurePolicy Fail,
	// earlier ones would refuse writes to owned objects meanwhile). The
	// mutating one goes first: the validating one refuses release records
	// that were not stamped.
	Mutating   *admissionregistrationv1.MutatingWebhookConfiguration
	Validating *admissionregistrationv1.ValidatingWebhookConfiguration
}

// Configurations are the two webhook configurations, in the order they are
// applied.
func (p *Plan) Configurations() ([]*unstructured.Unstructured, error) {
	mut, err := toUnstructured(p.Mutating)
	if err != nil {
		return nil, err
	}
	val, err := toUnstructured(p.Validating)
	if err != nil {
		return nil, err
	}
	return []*unstructured.Unstructured{mut, val}, nil
}

// All is every object of the plan, the configurations last.
func (p *Plan) All() ([]*unstructured.Unstructured, error) {
	cfgs, err := p.Configurations()
	if err != nil {
		return nil, err
	}
	return append(slices.Clone(p.Objects), cfgs...), nil
}

// LocalURL is the clientConfig.url of a webhook on host:port serving path.
func LocalURL(host string, port int, path string) string {
	return "https://" + net.JoinHostPort(host, strconv.Itoa(port)) + path
}

// Plan builds the objects of a mode from the manifests: the namespace moved
// to o.Namespace, the image set, cert-manager's objects (cert-manager) or
// o.Secrets (self-signed) added, the deployer and unlocker ClusterRoles
// without their aggregation labels (o.Strict), and both configurations
// pointed at the Service (in-cluster) or at o.LocalHost:o.LocalPort
// (local). The manifests are not modified.
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

	var err error
	if p.Mutating, p.Validating, err = m.configurations(o, ns); err != nil {
		return nil, err
	}

	deployments, roles := 0, 0
	for _, obj := range m.Objects {
		if isConfiguration(obj) {
			continue
		}
		role := isRole(obj)
		if o.Mode == ModeLocal && !role {
			continue
		}
		obj = obj.DeepCopy()
		relocate(obj, ns)
		if role {
			roles++
			if o.Strict {
				labels := obj.GetLabels()
				for _, l := range aggregationLabels {
					delete(labels, l)
				}
				obj.SetLabels(labels)
			}
		}
		if obj.GetKind() == "Deployment" && obj.GetName() == Name {
			if err := setImage(obj, image); err != nil {
				return nil, err
			}
			deployments++
		}
		p.Objects = append(p.Objects, obj)
	}
	if roles != len(roleNames) {
		return nil, fmt.Errorf("manifests: %d of the ClusterRoles %s, want all", roles, strings.Join(roleNames, ", "))
	}
	if o.Mode == ModeLocal {
		return p, nil
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

// isRole says whether obj is the deployer or the unlocker ClusterRole.
func isRole(obj *unstructured.Unstructured) bool {
	k := obj.GroupVersionKind()
	return k.Group == rbacv1.GroupName && k.Kind == "ClusterRole" && slices.Contains(roleNames, obj.GetName())
}

// configurations are the manifests' webhook configurations for mode:
// rules, selectors and policies as shipped, namespace moved, clientConfig
// and caBundle set, the mode recorded.
func (m *Manifests) configurations(o PlanOptions, ns string) (*admissionregistrationv1.MutatingWebhookConfiguration, *admissionregistrationv1.ValidatingWebhookConfiguration, error) {
	gv := admissionregistrationv1.SchemeGroupVersion.String()
	mut := m.Mutating.DeepCopy()
	mut.TypeMeta = metav1.TypeMeta{APIVersion: gv, Kind: kindMutating}
	setConfigurationMeta(&mut.ObjectMeta, o.Mode, ns)
	for i := range mut.Webhooks {
		w := &mut.Webhooks[i]
		if err := pointWebhook(w.Name, &w.ClientConfig, w.NamespaceSelector, o, ns); err != nil {
			return nil, nil, err
		}
	}
	val := m.Validating.DeepCopy()
	val.TypeMeta = metav1.TypeMeta{APIVersion: gv, Kind: kindValidating}
	setConfigurationMeta(&val.ObjectMeta, o.Mode, ns)
	for i := range val.Webhooks {
		w := &val.Webhooks[i]
		if err := pointWebhook(w.Name, &w.ClientConfig, w.NamespaceSelector, o, ns); err != nil {
			return nil, nil, err
		}
	}
	return mut, val, nil
}

// setConfigurationMeta records the mode on a configuration and asks
// cainjector for the serving certificate's CA in cert-manager mode only.
func setConfigurationMeta(meta *metav1.ObjectMeta, mode Mode, ns string) {
	if meta.Annotations == nil {
		meta.Annotations = map[string]string{}
	}
	meta.Annotations[AnnotationMode] = string(mode)
	if mode == ModeCertManager {
		meta.Annotations[annotationInjectCA] = ns + "/" + servingCertificateName
	} else {
		delete(meta.Annotations, annotationInjectCA)
	}
}

// pointWebhook points one webhook at the Service in ns (in-cluster) or at
// the local process (a URL with the Service's path), with the caBundle of
// o, and moves the exclusion of the webhook's own namespace to ns.
func pointWebhook(name string, cc *admissionregistrationv1.WebhookClientConfig, sel *metav1.LabelSelector, o PlanOptions, ns string) error {
	svc := cc.Service
	if svc == nil {
		return fmt.Errorf("manifests: webhook %s has no clientConfig.service", name)
	}
	path := "/"
	if svc.Path != nil {
		path = *svc.Path
	}
	relocateSelector(sel, ns)
	if o.Mode == ModeLocal {
		if o.LocalHost == "" || o.LocalPort <= 0 || o.LocalPort > 65535 {
			return fmt.Errorf("local: invalid address %s:%d", o.LocalHost, o.LocalPort)
		}
		url := LocalURL(o.LocalHost, o.LocalPort, path)
		*cc = admissionregistrationv1.WebhookClientConfig{URL: &url, CABundle: o.CABundle}
		return nil
	}
	if svc.Namespace == DefaultNamespace {
		svc.Namespace = ns
	}
	cc.CABundle = o.CABundle
	return nil
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
