package webhookinstall

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-chart/kubectl-chart/internal/apply"
	"github.com/kubectl-chart/kubectl-chart/manifests/monitoring"
	"github.com/kubectl-chart/kubectl-chart/pkg/release"
)

// The Prometheus Operator's API, which install --monitoring needs.
const (
	monitoringGroup   = "monitoring.coreos.com"
	monitoringVersion = "v1"
)

// monitoringCRDs are the Prometheus Operator's kinds the monitoring objects
// are, with their resource names.
var monitoringCRDs = []struct{ Kind, Resource string }{
	{"ServiceMonitor", "servicemonitors"},
	{"PrometheusRule", "prometheusrules"},
}

// MonitoringApplyHint is how to apply the monitoring objects without
// install: the kustomization of manifests/monitoring (its objects are in
// DefaultNamespace).
const MonitoringApplyHint = "kubectl apply --server-side -k manifests/monitoring/"

// monitoringKustomization is the part of manifests/monitoring's
// kustomization.yaml this package understands: resources and a
// configMapGenerator of files with fixed names. Anything else is refused.
type monitoringKustomization struct {
	APIVersion         string   `json:"apiVersion"`
	Kind               string   `json:"kind"`
	Resources          []string `json:"resources"`
	ConfigMapGenerator []struct {
		Name      string   `json:"name"`
		Namespace string   `json:"namespace"`
		Files     []string `json:"files"`
		Options   struct {
			DisableNameSuffixHash bool              `json:"disableNameSuffixHash"`
			Labels                map[string]string `json:"labels,omitempty"`
			Annotations           map[string]string `json:"annotations,omitempty"`
		} `json:"options"`
	} `json:"configMapGenerator"`
}

// ReadMonitoring reads a kustomization.yaml of monitoring objects and its
// files from fsys (manifests/monitoring): the objects of its resources, in
// order, then the ConfigMaps it generates, as `kubectl kustomize` builds
// them.
func ReadMonitoring(fsys fs.FS) ([]*unstructured.Unstructured, error) {
	data, err := fs.ReadFile(fsys, "kustomization.yaml")
	if err != nil {
		return nil, fmt.Errorf("monitoring manifests: %w", err)
	}
	var k monitoringKustomization
	if err := yaml.UnmarshalStrict(data, &k); err != nil {
		return nil, fmt.Errorf("monitoring manifests: kustomization.yaml: %w", err)
	}
	if k.Kind != "Kustomization" {
		return nil, fmt.Errorf("monitoring manifests: kustomization.yaml: kind %q, want Kustomization", k.Kind)
	}
	var objs []*unstructured.Unstructured
	var errs []error
	for _, res := range k.Resources {
		got, err := readObjects(fsys, res)
		if err != nil {
			errs = append(errs, fmt.Errorf("monitoring %w", err))
			continue
		}
		objs = append(objs, got...)
	}
	for _, g := range k.ConfigMapGenerator {
		if !g.Options.DisableNameSuffixHash {
			errs = append(errs, fmt.Errorf("monitoring manifests: kustomization.yaml: configMapGenerator %s: want options.disableNameSuffixHash: true (install applies fixed names)", g.Name))
			continue
		}
		cm := &corev1.ConfigMap{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
			ObjectMeta: metav1.ObjectMeta{Name: g.Name, Namespace: g.Namespace, Labels: g.Options.Labels, Annotations: g.Options.Annotations},
			Data:       map[string]string{},
		}
		for _, f := range g.Files {
			key, file, found := strings.Cut(f, "=")
			if !found {
				key, file = path.Base(f), f
			}
			content, err := fs.ReadFile(fsys, file)
			if err != nil {
				errs = append(errs, fmt.Errorf("monitoring manifests: configMapGenerator %s: %w", g.Name, err))
				continue
			}
			cm.Data[key] = string(content)
		}
		u, err := toUnstructured(cm)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		objs = append(objs, u)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return objs, nil
}

// loadMonitoring reads the embedded manifests/monitoring.
func loadMonitoring() ([]*unstructured.Unstructured, error) { return ReadMonitoring(monitoring.FS) }

// MonitoringObjects are the monitoring objects moved to namespace ns: the
// ServiceMonitor then selects the metrics Service of ns and verifies the
// serving certificate's name there. The manifests are not modified.
func (m *Manifests) MonitoringObjects(ns string) []*unstructured.Unstructured {
	if ns == "" {
		ns = DefaultNamespace
	}
	out := make([]*unstructured.Unstructured, 0, len(m.Monitoring))
	for _, obj := range m.Monitoring {
		obj = obj.DeepCopy()
		relocate(obj, ns)
		if ns != DefaultNamespace && obj.GroupVersionKind().Group == monitoringGroup && obj.GetKind() == "ServiceMonitor" {
			relocateServiceMonitor(obj, ns)
		}
		out = append(out, obj)
	}
	return out
}

// relocateServiceMonitor points a ServiceMonitor's namespaceSelector and the
// TLS server name of its endpoints at namespace ns.
func relocateServiceMonitor(obj *unstructured.Unstructured, ns string) {
	names, found, _ := unstructured.NestedStringSlice(obj.Object, "spec", "namespaceSelector", "matchNames")
	if found {
		for i, n := range names {
			if n == DefaultNamespace {
				names[i] = ns
			}
		}
		_ = unstructured.SetNestedStringSlice(obj.Object, names, "spec", "namespaceSelector", "matchNames")
	}
	endpoints, _, _ := unstructured.NestedSlice(obj.Object, "spec", "endpoints")
	for _, e := range endpoints {
		em, ok := e.(map[string]any)
		if !ok {
			continue
		}
		if name, _, _ := unstructured.NestedString(em, "tlsConfig", "serverName"); slices.Contains(ServiceDNSNames(DefaultNamespace), name) {
			_ = unstructured.SetNestedField(em, strings.Replace(name, "."+DefaultNamespace+".", "."+ns+".", 1), "tlsConfig", "serverName")
		}
	}
	if endpoints != nil {
		_ = unstructured.SetNestedSlice(obj.Object, endpoints, "spec", "endpoints")
	}
}

// MonitoringResult is what install --monitoring did.
type MonitoringResult struct {
	// Namespace is where the objects are (or were to be) applied.
	Namespace string
	// Applied tells that the ServiceMonitor, the PrometheusRule and the
	// dashboard's ConfigMap were applied (a server dry run included); their
	// changes are among InstallResult.Changes.
	Applied bool
	// Planned tells that they are among the objects of a client dry run
	// (whether or not the cluster has the CRDs yet).
	Planned bool
	// MissingCRDs are the Prometheus Operator's CRDs the cluster lacks
	// (resource.group), sorted. Without them nothing was applied.
	MissingCRDs []string
}

// Message says what install did about monitoring, for the command to print:
// that the objects were applied and what Prometheus needs besides, or which
// CRDs are missing and how to apply the objects once they exist.
func (r *MonitoringResult) Message() string {
	missing := strings.Join(r.MissingCRDs, " and ")
	switch {
	case r.Planned && len(r.MissingCRDs) > 0:
		return fmt.Sprintf("monitoring: planned, but the cluster has no %s yet (the Prometheus Operator's CRDs): install the operator before applying them", missing)
	case r.Planned:
		return "monitoring: planned (ServiceMonitor, PrometheusRule and the Grafana dashboard's ConfigMap)"
	case r.Applied:
		return fmt.Sprintf("monitoring: ServiceMonitor, PrometheusRule and the Grafana dashboard's ConfigMap (label grafana_dashboard=1) applied in namespace %s; "+
			"bind your Prometheus's ServiceAccount to ClusterRole chart-webhook-metrics-reader and label its namespace kubectl-chart.io/metrics-scraper=true (docs/monitoring.md)", r.Namespace)
	}
	how := "run `kubectl chart webhook install --monitoring` again"
	if r.Namespace == DefaultNamespace {
		how += " or `" + MonitoringApplyHint + "`"
	}
	return fmt.Sprintf("monitoring: skipped: the cluster has no %s (the Prometheus Operator's CRDs); install the Prometheus Operator, then %s", missing, how)
}

// MissingMonitoringCRDs are the Prometheus Operator's CRDs the API server
// does not serve (resource.group), sorted; none when it serves both.
func (in *Installer) MissingMonitoringCRDs(ctx context.Context) ([]string, error) {
	_ = ctx // discovery takes no context
	list, err := in.kube.Discovery().ServerResourcesForGroupVersion(monitoringGroup + "/" + monitoringVersion)
	if err != nil && !apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("discovery of %s/%s: %w", monitoringGroup, monitoringVersion, err)
	}
	var have []string
	if list != nil {
		for _, r := range list.APIResources {
			have = append(have, r.Kind)
		}
	}
	var missing []string
	for _, c := range monitoringCRDs {
		if !slices.Contains(have, c.Kind) {
			missing = append(missing, c.Resource+"."+monitoringGroup)
		}
	}
	slices.Sort(missing)
	return missing, nil
}

// applyMonitoring applies the monitoring objects in namespace ns when the
// cluster serves their kinds, and says so in the result either way.
func (in *Installer) applyMonitoring(ctx context.Context, ns string, opts apply.Options) (*MonitoringResult, []apply.Change, error) {
	res := &MonitoringResult{Namespace: ns}
	missing, err := in.MissingMonitoringCRDs(ctx)
	if err != nil {
		return res, nil, err
	}
	if res.MissingCRDs = missing; len(missing) > 0 {
		return res, nil, nil
	}
	cs, err := in.applier.Apply(ctx, in.manifests.MonitoringObjects(ns), opts)
	res.Applied = err == nil
	return res, cs.Changes, err
}

// monitoringRefs are the monitoring objects of namespace ns, for uninstall.
func (m *Manifests) monitoringRefs(ns string) []release.ObjectRef {
	var refs []release.ObjectRef
	for _, obj := range m.MonitoringObjects(ns) {
		refs = append(refs, apply.RefOf(obj))
	}
	return refs
}

// ourObject says whether an object carries the labels of the webhook's
// manifests (not one of the same name that someone else made).
func ourObject(m *metav1.PartialObjectMetadata) bool {
	return m.Labels[labelName] == Name && m.Labels[labelPartOf] == partOf
}
