package webhook

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-chart/kubectl-chart/pkg/ownership"
)

const systemNamespace = "kubectl-chart-system"

// kubectl runs the test control plane's kubectl as the admin.
func kubectl(t *testing.T, args ...string) ([]byte, error) {
	t.Helper()
	env.Require(t)
	cmd := exec.CommandContext(t.Context(), filepath.Join(env.AssetsDir(), "kubectl"), append([]string{"--kubeconfig", env.KubeconfigPath()}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Logf("kubectl %s: stderr:\n%s", strings.Join(args, " "), stderr.String())
	}
	return out, err
}

// built is `kubectl kustomize manifests/`, decoded by kind/name.
type built map[string]*unstructured.Unstructured

func buildManifests(t *testing.T) built {
	t.Helper()
	out, err := kubectl(t, "kustomize", manifestsDir)
	if err != nil {
		t.Fatalf("kubectl kustomize %s: %v", manifestsDir, err)
	}
	objs := built{}
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(out)))
	for {
		doc, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal(doc, &u.Object); err != nil {
			t.Fatal(err)
		}
		objs[u.GetKind()+"/"+u.GetName()] = u
	}
	return objs
}

// get decodes the object kind/name into out.
func (b built) get(t *testing.T, kindName string, out any) {
	t.Helper()
	u := b[kindName]
	if u == nil {
		t.Fatalf("manifests have no %s (have %v)", kindName, slices.Sorted(func(yield func(string) bool) {
			for k := range b {
				if !yield(k) {
					return
				}
			}
		}))
	}
	data, _ := u.MarshalJSON()
	if err := yaml.UnmarshalStrict(data, out); err != nil {
		t.Fatalf("%s: %v", kindName, err)
	}
}

// TestManifestsServerSideDryRun applies manifests/ as a person would, with
// server-side apply, as a server-side dry run against an API server that
// knows cert-manager's CRDs: every object is valid as written (strict
// field validation, CRD schemas, admission).
func TestManifestsServerSideDryRun(t *testing.T) {
	env.Require(t)
	if certManagerCRDs == 0 {
		t.Skip("no cert-manager chart in the chart corpus: its CRDs are needed (set KUBECTL_CHART_CORPUS)")
	}
	// A dry run creates nothing, so the namespaced objects need their
	// namespace for real first (the webhook never judges it).
	_, err := env.Clientset().CoreV1().Namespaces().Create(t.Context(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: systemNamespace}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	out, err := kubectl(t, "apply", "--server-side", "--dry-run=server", "--field-manager=kubectl-chart-manifests-test", "-k", manifestsDir)
	if err != nil {
		t.Fatalf("kubectl apply --server-side --dry-run=server -k manifests: %v\n%s", err, out)
	}
	t.Logf("%s", out)
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if want := len(buildManifests(t)); len(lines) != want {
		t.Errorf("kubectl applied %d objects, the manifests hold %d", len(lines), want)
	}
	for _, l := range lines {
		if !strings.HasSuffix(l, "(server dry run)") {
			t.Errorf("not a server dry run: %q", l)
		}
	}
}

// TestManifestsAreConsistent checks what DESIGN.md and the webhook rely on
// across the manifests: names that must match, least privilege, selectors
// and policies.
func TestManifestsAreConsistent(t *testing.T) {
	b := buildManifests(t)

	// The mutating half only stamps release records.
	var stamp admissionregistrationv1.MutatingWebhookConfiguration
	b.get(t, "MutatingWebhookConfiguration/chart-webhook", &stamp)
	if len(stamp.Webhooks) != 1 {
		t.Fatalf("mutating: %d webhooks, want 1", len(stamp.Webhooks))
	}
	sw := stamp.Webhooks[0]
	namespaced := admissionregistrationv1.NamespacedScope
	if diff := cmp.Diff([]admissionregistrationv1.RuleWithOperations{{
		Operations: []admissionregistrationv1.OperationType{"CREATE", "UPDATE"},
		Rule:       admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"configmaps", "secrets"}, Scope: &namespaced},
	}}, sw.Rules); diff != "" {
		t.Errorf("mutating rules (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(&metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
		{Key: ownership.LabelRecord, Operator: metav1.LabelSelectorOpExists},
	}}, sw.ObjectSelector); diff != "" {
		t.Errorf("mutating objectSelector (-want +got):\n%s", diff)
	}
	if s := sw.ClientConfig.Service; s == nil || s.Path == nil || *s.Path != PathMutate {
		t.Errorf("mutating clientConfig.service %+v, want path %s", s, PathMutate)
	}
	if sw.SideEffects == nil || *sw.SideEffects != admissionregistrationv1.SideEffectClassNone {
		t.Errorf("mutating sideEffects %v, want None", sw.SideEffects)
	}
	if sw.FailurePolicy == nil || *sw.FailurePolicy != admissionregistrationv1.Fail {
		t.Errorf("mutating failurePolicy %v, want Fail", sw.FailurePolicy)
	}

	// The validating half decides: every labelled object, and records by
	// name.
	var hook admissionregistrationv1.ValidatingWebhookConfiguration
	b.get(t, "ValidatingWebhookConfiguration/chart-webhook", &hook)
	if len(hook.Webhooks) != 2 {
		t.Fatalf("validating: %d webhooks, want 2", len(hook.Webhooks))
	}
	// The records webhook: matchConditions on record names, and an
	// objectSelector that keeps objects labelled on both sides (they reach
	// the first webhook) away before the conditions are evaluated.
	if byName := hook.Webhooks[1]; len(byName.MatchConditions) == 0 {
		t.Errorf("validating webhook %s: want matchConditions on record names", byName.Name)
	} else if diff := cmp.Diff(&metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
		{Key: ownership.LabelRelease, Operator: metav1.LabelSelectorOpDoesNotExist},
	}}, byName.ObjectSelector); diff != "" {
		t.Errorf("validating webhook %s objectSelector (-want +got):\n%s", byName.Name, diff)
	}
	w := hook.Webhooks[0]
	fail, sideEffects := admissionregistrationv1.Fail, admissionregistrationv1.SideEffectClassNoneOnDryRun
	scope := admissionregistrationv1.AllScopes
	wantRules := []admissionregistrationv1.RuleWithOperations{{
		Operations: []admissionregistrationv1.OperationType{"CREATE", "UPDATE", "DELETE"},
		Rule:       admissionregistrationv1.Rule{APIGroups: []string{"*"}, APIVersions: []string{"*"}, Resources: []string{"*"}, Scope: &scope},
	}}
	if diff := cmp.Diff(wantRules, w.Rules); diff != "" {
		t.Errorf("rules (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(&metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
		{Key: ownership.LabelRelease, Operator: metav1.LabelSelectorOpExists},
	}}, w.ObjectSelector); diff != "" {
		t.Errorf("objectSelector (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(&metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
		{Key: corev1.LabelMetadataName, Operator: metav1.LabelSelectorOpNotIn, Values: []string{"kube-system", systemNamespace}},
	}}, w.NamespaceSelector); diff != "" {
		t.Errorf("namespaceSelector (-want +got):\n%s", diff)
	}
	if w.FailurePolicy == nil || *w.FailurePolicy != fail {
		t.Errorf("failurePolicy %v, want Fail", w.FailurePolicy)
	}
	if w.SideEffects == nil || *w.SideEffects != sideEffects {
		t.Errorf("sideEffects %v, want NoneOnDryRun", w.SideEffects)
	}
	if w.TimeoutSeconds == nil || *w.TimeoutSeconds != 5 {
		t.Errorf("timeoutSeconds %v, want 5", w.TimeoutSeconds)
	}
	svc := w.ClientConfig.Service
	if svc == nil || svc.Name != "chart-webhook" || svc.Namespace != systemNamespace || svc.Path == nil || *svc.Path != PathValidate {
		t.Errorf("clientConfig.service %+v, want chart-webhook.%s path %s", svc, systemNamespace, PathValidate)
	}

	// The Service reaches the webhook port of the Deployment's pods.
	var service corev1.Service
	b.get(t, "Service/chart-webhook", &service)
	var deploy appsv1.Deployment
	b.get(t, "Deployment/chart-webhook", &deploy)
	port := int32(443)
	if svc != nil && svc.Port != nil {
		port = *svc.Port
	}
	var target string
	for _, p := range service.Spec.Ports {
		if p.Port == port {
			target = p.TargetPort.String()
		}
	}
	pod := deploy.Spec.Template
	if len(service.Spec.Selector) == 0 {
		t.Errorf("the Service has no selector")
	}
	for k, v := range service.Spec.Selector {
		if pod.Labels[k] != v {
			t.Errorf("the Service selects %s=%s, the pods have %q", k, v, pod.Labels)
		}
	}
	c := pod.Spec.Containers[0]
	var containerPorts []string
	for _, p := range c.Ports {
		containerPorts = append(containerPorts, p.Name)
	}
	if !slices.Contains(containerPorts, target) {
		t.Errorf("Service port %d targets %q, the container has ports %q", port, target, containerPorts)
	}

	// The certificate: for the Service's names, in the Secret the pods
	// mount where --cert-dir points, and the one cainjector reads.
	var cert struct {
		Spec struct {
			SecretName string   `json:"secretName"`
			DNSNames   []string `json:"dnsNames"`
		} `json:"spec"`
	}
	certU := b["Certificate/chart-webhook"]
	if certU == nil {
		t.Fatal("no Certificate/chart-webhook")
	}
	data, _ := certU.MarshalJSON()
	_ = yaml.Unmarshal(data, &cert)
	wantDNS := "chart-webhook." + systemNamespace + ".svc"
	if !slices.Contains(cert.Spec.DNSNames, wantDNS) {
		t.Errorf("Certificate dnsNames %q lack %s", cert.Spec.DNSNames, wantDNS)
	}
	if got, want := hook.Annotations["cert-manager.io/inject-ca-from"], systemNamespace+"/"+certU.GetName(); got != want {
		t.Errorf("inject-ca-from = %q, want %q", got, want)
	}
	var mountPath string
	for _, v := range pod.Spec.Volumes {
		if v.Secret != nil && v.Secret.SecretName == cert.Spec.SecretName {
			for _, m := range c.VolumeMounts {
				if m.Name == v.Name {
					mountPath = m.MountPath
				}
			}
		}
	}
	if mountPath == "" || !slices.Contains(c.Args, "--cert-dir="+mountPath) {
		t.Errorf("the certificate Secret %s is mounted at %q; args %q", cert.Spec.SecretName, mountPath, c.Args)
	}

	// Two replicas, probes, resources, non-root, read-only root filesystem.
	if deploy.Spec.Replicas == nil || *deploy.Spec.Replicas != 2 {
		t.Errorf("replicas %v, want 2", deploy.Spec.Replicas)
	}
	if c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet == nil || c.ReadinessProbe.HTTPGet.Path != "/readyz" {
		t.Errorf("readinessProbe %+v, want GET /readyz", c.ReadinessProbe)
	}
	if c.LivenessProbe == nil || c.LivenessProbe.HTTPGet == nil || c.LivenessProbe.HTTPGet.Path != "/healthz" {
		t.Errorf("livenessProbe %+v, want GET /healthz", c.LivenessProbe)
	}
	if c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() {
		t.Errorf("resources %+v: want memory requests and limits", c.Resources)
	}
	sc := c.SecurityContext
	if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
		sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
		pod.Spec.SecurityContext == nil || pod.Spec.SecurityContext.RunAsNonRoot == nil || !*pod.Spec.SecurityContext.RunAsNonRoot {
		t.Errorf("security context: want non-root, read-only root filesystem, no privilege escalation")
	}
	if pod.Spec.ServiceAccountName != "chart-webhook" {
		t.Errorf("serviceAccountName %q", pod.Spec.ServiceAccountName)
	}

	// Least privilege: configmaps get/list/watch, events create/patch,
	// token and access reviews (who calls /metrics, who may take a lock);
	// nothing on Secrets.
	var role rbacv1.ClusterRole
	b.get(t, "ClusterRole/chart-webhook", &role)
	wantRBAC := []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get", "list", "watch"}},
		{APIGroups: []string{""}, Resources: []string{"events"}, Verbs: []string{"create", "patch"}},
		{APIGroups: []string{"authentication.k8s.io"}, Resources: []string{"tokenreviews"}, Verbs: []string{"create"}},
		{APIGroups: []string{"authorization.k8s.io"}, Resources: []string{"subjectaccessreviews"}, Verbs: []string{"create"}},
	}
	if diff := cmp.Diff(wantRBAC, role.Rules); diff != "" {
		t.Errorf("ClusterRole rules (-want +got):\n%s", diff)
	}
	var binding rbacv1.ClusterRoleBinding
	b.get(t, "ClusterRoleBinding/chart-webhook", &binding)
	if diff := cmp.Diff([]rbacv1.Subject{{Kind: "ServiceAccount", Name: "chart-webhook", Namespace: systemNamespace}}, binding.Subjects); diff != "" {
		t.Errorf("ClusterRoleBinding subjects (-want +got):\n%s", diff)
	}
	if "system:serviceaccount:"+systemNamespace+":chart-webhook" != webhookUser {
		t.Errorf("the tests run the webhook as %s, not as the manifests' ServiceAccount", webhookUser)
	}
}

// TestManifestsServeMetricsSafely checks the metrics side of the manifests:
// /metrics on its own HTTPS port with authentication and authorization,
// reachable through a Service of its own (never the webhook's), readable
// with chart-webhook-metrics-reader, and a NetworkPolicy on the webhook's
// pods whose ports are the Deployment's: the webhook port open, the
// metrics port only to labelled namespaces, the health port to no pod.
func TestManifestsServeMetricsSafely(t *testing.T) {
	b := buildManifests(t)
	var deploy appsv1.Deployment
	b.get(t, "Deployment/chart-webhook", &deploy)
	pod := deploy.Spec.Template
	c := pod.Spec.Containers[0]
	ports := map[string]int32{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	if diff := cmp.Diff(map[string]int32{"webhook": 9443, "https-metrics": 8443, "health": 8081}, ports); diff != "" {
		t.Errorf("container ports (-want +got):\n%s", diff)
	}
	for _, arg := range []string{"--port=9443", "--metrics-bind-address=:8443", "--health-probe-bind-address=:8081"} {
		if !slices.Contains(c.Args, arg) {
			t.Errorf("args %q lack %s", c.Args, arg)
		}
	}
	if slices.Contains(c.Args, "--metrics-secure=false") {
		t.Errorf("args %q serve metrics without TLS and authentication", c.Args)
	}
	if !DefaultServerOptions().MetricsSecure {
		t.Errorf("chart-webhook serves metrics insecurely by default")
	}

	// The webhook's Service reaches the webhook port only; metrics have
	// their own Service.
	selects := func(kindName string, selector map[string]string) {
		t.Helper()
		if len(selector) == 0 {
			t.Errorf("%s has no selector", kindName)
		}
		for k, v := range selector {
			if pod.Labels[k] != v {
				t.Errorf("%s selects %s=%s, the pods have %q", kindName, k, v, pod.Labels)
			}
		}
	}
	type servicePort struct {
		Name   string
		Port   int32
		Target string
	}
	servicePorts := func(s corev1.Service) []servicePort {
		var out []servicePort
		for _, p := range s.Spec.Ports {
			out = append(out, servicePort{p.Name, p.Port, p.TargetPort.String()})
		}
		return out
	}
	var service, metricsService corev1.Service
	b.get(t, "Service/chart-webhook", &service)
	b.get(t, "Service/chart-webhook-metrics", &metricsService)
	selects("Service/chart-webhook", service.Spec.Selector)
	selects("Service/chart-webhook-metrics", metricsService.Spec.Selector)
	if diff := cmp.Diff([]servicePort{{"webhook", 443, "webhook"}}, servicePorts(service)); diff != "" {
		t.Errorf("Service/chart-webhook ports (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]servicePort{{"https-metrics", 8443, "https-metrics"}}, servicePorts(metricsService)); diff != "" {
		t.Errorf("Service/chart-webhook-metrics ports (-want +got):\n%s", diff)
	}

	var reader rbacv1.ClusterRole
	b.get(t, "ClusterRole/"+metricsReaderRole, &reader)
	if diff := cmp.Diff([]rbacv1.PolicyRule{{NonResourceURLs: []string{"/metrics"}, Verbs: []string{"get"}}}, reader.Rules); diff != "" {
		t.Errorf("ClusterRole/%s rules (-want +got):\n%s", metricsReaderRole, diff)
	}

	// The NetworkPolicy: on the webhook's pods, ingress only, and each
	// rule's ports are container ports.
	var np networkingv1.NetworkPolicy
	b.get(t, "NetworkPolicy/chart-webhook", &np)
	sel, err := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector)
	if err != nil {
		t.Fatal(err)
	}
	if sel.Empty() || !sel.Matches(labels.Set(pod.Labels)) {
		t.Errorf("the NetworkPolicy selects %s, not the pods (%q)", sel, pod.Labels)
	}
	if diff := cmp.Diff([]networkingv1.PolicyType{networkingv1.PolicyTypeIngress}, np.Spec.PolicyTypes); diff != "" {
		t.Errorf("policyTypes (-want +got):\n%s", diff)
	}
	// Which container port each rule opens, and from where ("anywhere" or
	// the peers' namespace selectors).
	type opening struct {
		Port string
		From string
	}
	var got []opening
	for _, rule := range np.Spec.Ingress {
		from := "anywhere"
		if len(rule.From) > 0 {
			var peers []string
			for _, p := range rule.From {
				if p.IPBlock != nil || p.PodSelector != nil || p.NamespaceSelector == nil {
					peers = append(peers, fmt.Sprintf("%+v", p))
					continue
				}
				s, err := metav1.LabelSelectorAsSelector(p.NamespaceSelector)
				if err != nil {
					t.Fatal(err)
				}
				peers = append(peers, "namespaces "+s.String())
			}
			from = strings.Join(peers, ", ")
		}
		if len(rule.Ports) == 0 {
			got = append(got, opening{"every port", from})
		}
		for _, p := range rule.Ports {
			name := ""
			for n, num := range ports {
				if p.Port != nil && (p.Port.String() == n || p.Port.IntValue() == int(num)) {
					name = n
				}
			}
			if name == "" || p.Protocol == nil || *p.Protocol != corev1.ProtocolTCP {
				t.Errorf("NetworkPolicy port %v/%v is no container port (%v)", p.Port, p.Protocol, ports)
			}
			got = append(got, opening{name, from})
		}
	}
	want := []opening{
		{"webhook", "anywhere"},
		{"https-metrics", "namespaces kubectl-chart.io/metrics-scraper=true"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("NetworkPolicy openings (-want +got):\n%s", diff)
	}
}
