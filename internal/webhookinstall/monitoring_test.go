package webhookinstall

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensions "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-chart/kubectl-chart/internal/apply"
	"github.com/kubectl-chart/kubectl-chart/manifests/monitoring"
)

// TestMonitoringAsKustomizeBuildsIt: the monitoring objects, as this package
// reads manifests/monitoring, are what `kubectl kustomize
// manifests/monitoring` builds (the ConfigMap generator included), so
// install --monitoring applies what `kubectl apply -k` applies.
func TestMonitoringAsKustomizeBuildsIt(t *testing.T) {
	if env == nil || env.AssetsDir() == "" {
		t.Skip("no test binaries (kubectl)")
	}
	out, err := exec.CommandContext(t.Context(), filepath.Join(env.AssetsDir(), "kubectl"), "kustomize", filepath.Join("..", "..", "manifests", "monitoring")).Output()
	if err != nil {
		t.Fatalf("kubectl kustomize: %v", err)
	}
	want := map[string]map[string]any{}
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(out)))
	for {
		doc, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		var obj map[string]any
		if err := yaml.Unmarshal(doc, &obj); err != nil {
			t.Fatal(err)
		}
		u := unstructured.Unstructured{Object: obj}
		want[u.GetKind()+"/"+u.GetName()] = obj
	}
	got := map[string]map[string]any{}
	for _, o := range loadManifests(t).Monitoring {
		got[o.GetKind()+"/"+o.GetName()] = o.Object
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("monitoring objects (-kubectl kustomize +LoadManifests):\n%s", diff)
	}
	if len(got) != 3 {
		t.Errorf("%d objects, want ServiceMonitor, PrometheusRule and ConfigMap", len(got))
	}
}

// TestMonitoringObjects: moved to another namespace, the ServiceMonitor
// selects that namespace's metrics Service and verifies the serving
// certificate's name there; the dashboard ConfigMap carries the Grafana
// sidecar's label and the dashboard.
func TestMonitoringObjects(t *testing.T) {
	m := loadManifests(t)
	dashboard, err := monitoring.FS.ReadFile("dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, ns := range []string{"", DefaultNamespace, "ops"} {
		t.Run("namespace "+ns, func(t *testing.T) {
			want := ns
			if want == "" {
				want = DefaultNamespace
			}
			var kinds []string
			for _, o := range m.MonitoringObjects(ns) {
				kinds = append(kinds, o.GetKind())
				if o.GetNamespace() != want {
					t.Errorf("%s: namespace %q, want %q", refOf(o), o.GetNamespace(), want)
				}
				switch o.GetKind() {
				case "ServiceMonitor":
					names, _, _ := unstructured.NestedStringSlice(o.Object, "spec", "namespaceSelector", "matchNames")
					if diff := cmp.Diff([]string{want}, names); diff != "" {
						t.Errorf("namespaceSelector.matchNames (-want +got):\n%s", diff)
					}
					eps, _, _ := unstructured.NestedSlice(o.Object, "spec", "endpoints")
					server, _, _ := unstructured.NestedString(eps[0].(map[string]any), "tlsConfig", "serverName")
					if server != ServiceDNSNames(want)[0] {
						t.Errorf("serverName %q, want %q", server, ServiceDNSNames(want)[0])
					}
				case "ConfigMap":
					if o.GetLabels()["grafana_dashboard"] != "1" {
						t.Errorf("%s: labels %v, want grafana_dashboard=1", refOf(o), o.GetLabels())
					}
					data, _, _ := unstructured.NestedString(o.Object, "data", "chart-webhook.json")
					if data != string(dashboard) {
						t.Errorf("%s: data chart-webhook.json is not dashboard.json", refOf(o))
					}
				}
				if !ourObject(&metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Labels: o.GetLabels()}}) {
					t.Errorf("%s: labels %v: uninstall would not recognise it", refOf(o), o.GetLabels())
				}
			}
			if diff := cmp.Diff([]string{"ServiceMonitor", "PrometheusRule", "ConfigMap"}, kinds); diff != "" {
				t.Errorf("kinds (-want +got):\n%s", diff)
			}
		})
	}
	// The manifests themselves stay in DefaultNamespace.
	if ns := m.Monitoring[0].GetNamespace(); ns != DefaultNamespace {
		t.Errorf("MonitoringObjects modified the manifests: namespace %q", ns)
	}
}

// TestMonitoringMessage: what install prints about monitoring.
func TestMonitoringMessage(t *testing.T) {
	missing := []string{"prometheusrules.monitoring.coreos.com", "servicemonitors.monitoring.coreos.com"}
	for _, tc := range []struct {
		name string
		res  MonitoringResult
		want []string
	}{
		{"applied", MonitoringResult{Namespace: "ops", Applied: true}, []string{
			"monitoring: ServiceMonitor, PrometheusRule and the Grafana dashboard's ConfigMap (label grafana_dashboard=1) applied in namespace ops;",
			"chart-webhook-metrics-reader", "kubectl-chart.io/metrics-scraper=true",
		}},
		{"skipped, default namespace", MonitoringResult{Namespace: DefaultNamespace, MissingCRDs: missing}, []string{
			"monitoring: skipped: the cluster has no prometheusrules.monitoring.coreos.com and servicemonitors.monitoring.coreos.com (the Prometheus Operator's CRDs); " +
				"install the Prometheus Operator, then run `kubectl chart webhook install --monitoring` again or `kubectl apply --server-side -k manifests/monitoring/`",
		}},
		{"skipped, other namespace", MonitoringResult{Namespace: "ops", MissingCRDs: missing[1:]}, []string{
			"monitoring: skipped: the cluster has no servicemonitors.monitoring.coreos.com (the Prometheus Operator's CRDs); " +
				"install the Prometheus Operator, then run `kubectl chart webhook install --monitoring` again",
		}},
		{"planned", MonitoringResult{Namespace: "ops", Planned: true}, []string{"monitoring: planned ("}},
		{"planned without CRDs", MonitoringResult{Namespace: "ops", Planned: true, MissingCRDs: missing}, []string{
			"monitoring: planned, but the cluster has no prometheusrules.monitoring.coreos.com and servicemonitors.monitoring.coreos.com yet",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.res.Message()
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("message %q lacks %q", got, w)
				}
			}
			if tc.name == "skipped, other namespace" && strings.Contains(got, "-k manifests/monitoring") {
				t.Errorf("message %q offers the kustomization, whose objects are in %s", got, DefaultNamespace)
			}
		})
	}
}

// TestMonitoringOnlyInCluster: --monitoring is refused in local mode.
func TestMonitoringOnlyInCluster(t *testing.T) {
	o := DefaultInstallOptions()
	o.Mode, o.CertDir, o.Monitoring = ModeLocal, t.TempDir(), true
	if err := o.Validate(); err == nil || !strings.Contains(err.Error(), "--monitoring is only for the in-cluster modes") {
		t.Errorf("Validate: %v, want --monitoring refused", err)
	}
}

var (
	serviceMonitors = schema.GroupVersionResource{Group: monitoringGroup, Version: monitoringVersion, Resource: "servicemonitors"}
	prometheusRules = schema.GroupVersionResource{Group: monitoringGroup, Version: monitoringVersion, Resource: "prometheusrules"}
	configMaps      = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
)

// TestInstallMonitoring, against the real API server: install --monitoring
// (self-signed, another namespace, not waiting: a bare control plane runs
// no Pods) skips the monitoring objects while the cluster lacks the
// Prometheus Operator's CRDs and says which; once stand-ins of the CRDs
// exist (testdata/crds), it applies the ServiceMonitor, the PrometheusRule
// and the dashboard ConfigMap, then finds them unchanged; a client dry run
// plans them; uninstall deletes them.
func TestInstallMonitoring(t *testing.T) {
	env.Require(t)
	ctx := t.Context()
	in, err := New(env.Config())
	if err != nil {
		t.Fatal(err)
	}
	dyn := dynamic.NewForConfigOrDie(env.Config())
	const ns = "chart-mon"
	o := DefaultInstallOptions()
	o.Mode, o.Namespace, o.Wait, o.Monitoring = ModeSelfSigned, ns, false, true
	t.Cleanup(func() {
		if _, err := in.Uninstall(context.WithoutCancel(ctx), UninstallOptions{Namespace: ns}); err != nil {
			t.Errorf("cleanup: uninstall: %v", err)
		}
	})

	monitoringChanges := func(res *InstallResult) map[string]apply.Action {
		out := map[string]apply.Action{}
		for _, c := range res.Changes {
			if c.Ref.Group == monitoringGroup || (c.Ref.Kind == "ConfigMap" && c.Ref.Name == "chart-webhook-dashboard") {
				out[c.Ref.String()] = c.Action
			}
		}
		return out
	}

	// Without the CRDs.
	res, err := in.Install(ctx, o)
	if err != nil {
		t.Fatalf("install without the CRDs: %v", err)
	}
	want := &MonitoringResult{Namespace: ns, MissingCRDs: []string{"prometheusrules.monitoring.coreos.com", "servicemonitors.monitoring.coreos.com"}}
	if diff := cmp.Diff(want, res.Monitoring); diff != "" {
		t.Errorf("monitoring without the CRDs (-want +got):\n%s", diff)
	}
	if got := monitoringChanges(res); len(got) > 0 {
		t.Errorf("monitoring objects applied without the CRDs: %v", got)
	}
	if _, err := in.kube.CoreV1().ConfigMaps(ns).Get(ctx, "chart-webhook-dashboard", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("dashboard ConfigMap without the CRDs: %v, want not found (all or nothing)", err)
	}

	createCRDs(t)

	// With them: applied, in the webhook's namespace.
	res, err = in.Install(ctx, o)
	if err != nil {
		t.Fatalf("install with the CRDs: %v", err)
	}
	if diff := cmp.Diff(&MonitoringResult{Namespace: ns, Applied: true}, res.Monitoring); diff != "" {
		t.Errorf("monitoring with the CRDs (-want +got):\n%s", diff)
	}
	wantChanges := map[string]apply.Action{
		"ServiceMonitor.monitoring.coreos.com/chart-mon/chart-webhook": apply.Created,
		"PrometheusRule.monitoring.coreos.com/chart-mon/chart-webhook": apply.Created,
		"ConfigMap/chart-mon/chart-webhook-dashboard":                  apply.Created,
	}
	if diff := cmp.Diff(wantChanges, monitoringChanges(res)); diff != "" {
		t.Errorf("changes (-want +got):\n%s", diff)
	}
	if len(res.Objects) != len(res.Changes) {
		t.Errorf("%d objects, %d changes: want one per change", len(res.Objects), len(res.Changes))
	}
	sm, err := dyn.Resource(serviceMonitors).Namespace(ns).Get(ctx, Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if names, _, _ := unstructured.NestedStringSlice(sm.Object, "spec", "namespaceSelector", "matchNames"); !slices.Equal(names, []string{ns}) {
		t.Errorf("live ServiceMonitor selects namespaces %v, want [%s]", names, ns)
	}
	if _, err := dyn.Resource(prometheusRules).Namespace(ns).Get(ctx, Name, metav1.GetOptions{}); err != nil {
		t.Error(err)
	}
	cm, err := dyn.Resource(configMaps).Namespace(ns).Get(ctx, "chart-webhook-dashboard", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if cm.GetLabels()["grafana_dashboard"] != "1" {
		t.Errorf("live dashboard ConfigMap labels %v, want grafana_dashboard=1", cm.GetLabels())
	}

	// Again: nothing to change.
	res, err = in.Install(ctx, o)
	if err != nil {
		t.Fatalf("install again: %v", err)
	}
	for ref, action := range monitoringChanges(res) {
		if action != apply.Unchanged {
			t.Errorf("second install: %s %s, want unchanged", ref, action)
		}
	}

	// A client dry run plans them.
	dry := o
	dry.DryRun = DryRunClient
	res, err = in.Install(ctx, dry)
	if err != nil {
		t.Fatalf("client dry run: %v", err)
	}
	if diff := cmp.Diff(&MonitoringResult{Namespace: ns, Planned: true}, res.Monitoring); diff != "" {
		t.Errorf("client dry run (-want +got):\n%s", diff)
	}
	if got := len(monitoringChanges(res)); got != 3 {
		t.Errorf("client dry run plans %d monitoring objects, want 3", got)
	}

	// Uninstall deletes them, first.
	ures, err := in.Uninstall(ctx, UninstallOptions{Namespace: ns})
	if err != nil {
		t.Fatalf("uninstall: %v", err)
	}
	var deleted []string
	for _, c := range ures.Changes {
		if c.Action == apply.Deleted && c.Ref.Group != "admissionregistration.k8s.io" {
			deleted = append(deleted, c.Ref.String())
		}
	}
	if len(deleted) < 3 || !sameSet(deleted[:3], []string{
		"ServiceMonitor.monitoring.coreos.com/chart-mon/chart-webhook",
		"PrometheusRule.monitoring.coreos.com/chart-mon/chart-webhook",
		"ConfigMap/chart-mon/chart-webhook-dashboard",
	}) {
		t.Errorf("uninstall deleted %v, want the monitoring objects first", deleted)
	}
	for _, gvr := range []schema.GroupVersionResource{serviceMonitors, prometheusRules} {
		if _, err := dyn.Resource(gvr).Namespace(ns).Get(ctx, Name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("%s after uninstall: %v, want not found", gvr.Resource, err)
		}
	}
	if _, err := dyn.Resource(configMaps).Namespace(ns).Get(ctx, "chart-webhook-dashboard", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("dashboard ConfigMap after uninstall: %v, want not found", err)
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// createCRDs creates the stand-ins of testdata/crds and waits until the API
// server serves them.
func createCRDs(t *testing.T) {
	t.Helper()
	ctx := t.Context()
	client := apiextensions.NewForConfigOrDie(env.Config())
	files, err := filepath.Glob(filepath.Join("testdata", "crds", "*.yaml"))
	if err != nil || len(files) != 2 {
		t.Fatalf("testdata/crds: %v, %v", files, err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := yaml.UnmarshalStrict(data, crd); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if _, err := client.ApiextensionsV1().CustomResourceDefinitions().Create(ctx, crd, metav1.CreateOptions{}); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		t.Cleanup(func() {
			_ = client.ApiextensionsV1().CustomResourceDefinitions().Delete(context.WithoutCancel(ctx), crd.Name, metav1.DeleteOptions{})
		})
		err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
			got, err := client.ApiextensionsV1().CustomResourceDefinitions().Get(ctx, crd.Name, metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			for _, c := range got.Status.Conditions {
				if c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue {
					return true, nil
				}
			}
			return false, nil
		})
		if err != nil {
			t.Fatalf("CRD %s not established: %v", crd.Name, err)
		}
	}
	in, err := New(env.Config())
	if err != nil {
		t.Fatal(err)
	}
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		missing, err := in.MissingMonitoringCRDs(ctx)
		return len(missing) == 0, err
	})
	if err != nil {
		t.Fatalf("discovery does not serve the CRDs: %v", err)
	}
}
