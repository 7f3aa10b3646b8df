package webhook

import (
	"bufio"
	"bytes"
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
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
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

	var hook admissionregistrationv1.MutatingWebhookConfiguration
	b.get(t, "MutatingWebhookConfiguration/chart-webhook", &hook)
	if len(hook.Webhooks) != 1 {
		t.Fatalf("%d webhooks, want 1", len(hook.Webhooks))
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
	if svc == nil || svc.Name != "chart-webhook" || svc.Namespace != systemNamespace || svc.Path == nil || *svc.Path != Path {
		t.Errorf("clientConfig.service %+v, want chart-webhook.%s path %s", svc, systemNamespace, Path)
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

	// Least privilege: configmaps get/list/watch, events create/patch;
	// nothing on Secrets.
	var role rbacv1.ClusterRole
	b.get(t, "ClusterRole/chart-webhook", &role)
	wantRBAC := []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get", "list", "watch"}},
		{APIGroups: []string{""}, Resources: []string{"events"}, Verbs: []string{"create", "patch"}},
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
