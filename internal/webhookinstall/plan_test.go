package webhookinstall

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func names(objs []*unstructured.Unstructured) []string {
	var out []string
	for _, o := range objs {
		out = append(out, refOf(o))
	}
	return out
}

func TestPlan(t *testing.T) {
	m := loadManifests(t)
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: ServingSecretName}, Type: corev1.SecretTypeTLS, Data: map[string][]byte{"tls.crt": []byte("c")}}
	roles := []string{
		"ClusterRole.rbac.authorization.k8s.io/kubectl-chart-deployer",
		"ClusterRole.rbac.authorization.k8s.io/kubectl-chart-unlocker",
	}
	inCluster := func(ns string) []string {
		return []string{
			"Namespace/" + ns,
			"ServiceAccount/" + ns + "/chart-webhook",
			"ClusterRole.rbac.authorization.k8s.io/chart-webhook",
			"ClusterRoleBinding.rbac.authorization.k8s.io/chart-webhook",
			"ClusterRole.rbac.authorization.k8s.io/chart-webhook-metrics-reader",
			roles[0],
			roles[1],
			"Role.rbac.authorization.k8s.io/" + ns + "/chart-webhook-seal",
			"RoleBinding.rbac.authorization.k8s.io/" + ns + "/chart-webhook-seal",
			"Service/" + ns + "/chart-webhook",
			"Service/" + ns + "/chart-webhook-metrics",
			"NetworkPolicy.networking.k8s.io/" + ns + "/chart-webhook",
			"Deployment.apps/" + ns + "/chart-webhook",
			"PodDisruptionBudget.policy/" + ns + "/chart-webhook",
		}
	}
	certManager := func(ns string) []string {
		return []string{
			"Issuer.cert-manager.io/" + ns + "/chart-webhook-selfsigned",
			"Certificate.cert-manager.io/" + ns + "/chart-webhook-ca",
			"Issuer.cert-manager.io/" + ns + "/chart-webhook-ca",
			"Certificate.cert-manager.io/" + ns + "/chart-webhook",
		}
	}
	service := func(ns, path string) admissionregistrationv1.WebhookClientConfig {
		port := int32(443)
		return admissionregistrationv1.WebhookClientConfig{Service: &admissionregistrationv1.ServiceReference{Namespace: ns, Name: Name, Path: &path, Port: &port}}
	}
	withCA := func(cc admissionregistrationv1.WebhookClientConfig) admissionregistrationv1.WebhookClientConfig {
		cc.CABundle = []byte("CA")
		return cc
	}
	url := func(u string) admissionregistrationv1.WebhookClientConfig {
		return admissionregistrationv1.WebhookClientConfig{URL: &u, CABundle: []byte("CA")}
	}
	type want struct {
		objects []string
		// mutating and validating are the clientConfig of every webhook of
		// each configuration.
		mutating, validating admissionregistrationv1.WebhookClientConfig
		annotations          map[string]string
		excluded             []string
	}
	for _, tc := range []struct {
		name string
		opts PlanOptions
		want want
	}{
		{
			name: "cert-manager",
			opts: PlanOptions{Mode: ModeCertManager},
			want: want{
				objects:     append(inCluster(DefaultNamespace), certManager(DefaultNamespace)...),
				mutating:    service(DefaultNamespace, "/mutate"),
				validating:  service(DefaultNamespace, "/validate"),
				annotations: map[string]string{AnnotationMode: "cert-manager", annotationInjectCA: DefaultNamespace + "/chart-webhook"},
				excluded:    []string{"kube-system", DefaultNamespace},
			},
		},
		{
			name: "cert-manager in another namespace",
			opts: PlanOptions{Mode: ModeCertManager, Namespace: "webhooks"},
			want: want{
				objects:     append(inCluster("webhooks"), certManager("webhooks")...),
				mutating:    service("webhooks", "/mutate"),
				validating:  service("webhooks", "/validate"),
				annotations: map[string]string{AnnotationMode: "cert-manager", annotationInjectCA: "webhooks/chart-webhook"},
				excluded:    []string{"kube-system", "webhooks"},
			},
		},
		{
			name: "self-signed",
			opts: PlanOptions{Mode: ModeSelfSigned, Namespace: "webhooks", CABundle: []byte("CA"), Secrets: []*corev1.Secret{secret}},
			want: want{
				objects:     append(inCluster("webhooks"), "Secret/webhooks/"+ServingSecretName),
				mutating:    withCA(service("webhooks", "/mutate")),
				validating:  withCA(service("webhooks", "/validate")),
				annotations: map[string]string{AnnotationMode: "self-signed"},
				excluded:    []string{"kube-system", "webhooks"},
			},
		},
		{
			name: "local",
			opts: PlanOptions{Mode: ModeLocal, Namespace: "ignored", CABundle: []byte("CA"), LocalHost: "127.0.0.1", LocalPort: 9443},
			want: want{
				objects:     roles,
				mutating:    url("https://127.0.0.1:9443/mutate"),
				validating:  url("https://127.0.0.1:9443/validate"),
				annotations: map[string]string{AnnotationMode: "local"},
				excluded:    []string{"kube-system", DefaultNamespace},
			},
		},
		{
			name: "local on IPv6",
			opts: PlanOptions{Mode: ModeLocal, CABundle: []byte("CA"), LocalHost: "::1", LocalPort: 8443},
			want: want{
				objects:     roles,
				mutating:    url("https://[::1]:8443/mutate"),
				validating:  url("https://[::1]:8443/validate"),
				annotations: map[string]string{AnnotationMode: "local"},
				excluded:    []string{"kube-system", DefaultNamespace},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := m.Plan(tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want.objects, names(p.Objects)); diff != "" {
				t.Errorf("objects (-want +got):\n%s", diff)
			}
			all, err := p.All()
			if err != nil {
				t.Fatal(err)
			}
			wantAll := append(slices.Clone(tc.want.objects),
				"MutatingWebhookConfiguration.admissionregistration.k8s.io/chart-webhook",
				"ValidatingWebhookConfiguration.admissionregistration.k8s.io/chart-webhook")
			if diff := cmp.Diff(wantAll, names(all)); diff != "" {
				t.Errorf("All(): the configurations are not last, the mutating one first (-want +got):\n%s", diff)
			}

			// Both configurations: only clientConfig, the excluded
			// namespace and the annotations differ from manifests/.
			type hook struct {
				name     string
				cc       admissionregistrationv1.WebhookClientConfig
				selector *metav1.LabelSelector
			}
			check := func(kind string, want admissionregistrationv1.WebhookClientConfig, annotations, shippedLabels, labels map[string]string, got, shipped []hook, gotRest, shippedRest any) {
				t.Helper()
				if len(got) != len(shipped) || len(got) == 0 {
					t.Fatalf("%s: %d webhooks, manifests/ has %d", kind, len(got), len(shipped))
				}
				for i, h := range got {
					if diff := cmp.Diff(want, h.cc); diff != "" {
						t.Errorf("%s webhook %s clientConfig (-want +got):\n%s", kind, h.name, diff)
					}
					if diff := cmp.Diff(tc.want.excluded, h.selector.MatchExpressions[0].Values); diff != "" {
						t.Errorf("%s webhook %s excluded namespaces (-want +got):\n%s", kind, h.name, diff)
					}
					if h.name != shipped[i].name {
						t.Errorf("%s webhook %d is %s, manifests/ has %s", kind, i, h.name, shipped[i].name)
					}
				}
				if diff := cmp.Diff(tc.want.annotations, annotations); diff != "" {
					t.Errorf("%s annotations (-want +got):\n%s", kind, diff)
				}
				if diff := cmp.Diff(shippedLabels, labels); diff != "" {
					t.Errorf("%s labels (-manifests +plan):\n%s", kind, diff)
				}
				if diff := cmp.Diff(shippedRest, gotRest); diff != "" {
					t.Errorf("%s webhooks differ from manifests/ (-manifests +plan):\n%s", kind, diff)
				}
			}
			mutHooks := func(ws []admissionregistrationv1.MutatingWebhook) ([]hook, []admissionregistrationv1.MutatingWebhook) {
				var hooks []hook
				rest := slices.Clone(ws)
				for i, w := range ws {
					hooks = append(hooks, hook{w.Name, w.ClientConfig, w.NamespaceSelector})
					rest[i].ClientConfig, rest[i].NamespaceSelector = admissionregistrationv1.WebhookClientConfig{}, nil
				}
				return hooks, rest
			}
			valHooks := func(ws []admissionregistrationv1.ValidatingWebhook) ([]hook, []admissionregistrationv1.ValidatingWebhook) {
				var hooks []hook
				rest := slices.Clone(ws)
				for i, w := range ws {
					hooks = append(hooks, hook{w.Name, w.ClientConfig, w.NamespaceSelector})
					rest[i].ClientConfig, rest[i].NamespaceSelector = admissionregistrationv1.WebhookClientConfig{}, nil
				}
				return hooks, rest
			}
			gotMut, gotMutRest := mutHooks(p.Mutating.Webhooks)
			shippedMut, shippedMutRest := mutHooks(m.Mutating.Webhooks)
			check("mutating", tc.want.mutating, p.Mutating.Annotations, m.Mutating.Labels, p.Mutating.Labels, gotMut, shippedMut, gotMutRest, shippedMutRest)
			gotVal, gotValRest := valHooks(p.Validating.Webhooks)
			shippedVal, shippedValRest := valHooks(m.Validating.Webhooks)
			check("validating", tc.want.validating, p.Validating.Annotations, m.Validating.Labels, p.Validating.Labels, gotVal, shippedVal, gotValRest, shippedValRest)

			ns := tc.opts.Namespace
			if ns == "" || tc.opts.Mode == ModeLocal {
				ns = DefaultNamespace
			}
			for _, o := range p.Objects {
				if n := o.GetNamespace(); n != "" && n != ns {
					t.Errorf("%s: namespace %s, want %s", refOf(o), n, ns)
				}
				switch o.GetKind() {
				case "ClusterRoleBinding", "RoleBinding":
					subjects, _, _ := unstructured.NestedSlice(o.Object, "subjects")
					if got := subjects[0].(map[string]any)["namespace"]; got != ns {
						t.Errorf("%s subject in %v, want %s", refOf(o), got, ns)
					}
				case "Deployment":
					cs, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
					if got := cs[0].(map[string]any)["image"]; got != DefaultImage() {
						t.Errorf("image %v, want %s", got, DefaultImage())
					}
				case "Certificate":
					if o.GetName() == servingCertificateName {
						dns, _, _ := unstructured.NestedStringSlice(o.Object, "spec", "dnsNames")
						if diff := cmp.Diff([]string{"chart-webhook." + ns + ".svc", "chart-webhook." + ns + ".svc.cluster.local"}, dns); diff != "" {
							t.Errorf("dnsNames (-want +got):\n%s", diff)
						}
					}
				}
				for _, field := range [][]string{{"status"}, {"metadata", "creationTimestamp"}} {
					if _, ok, _ := unstructured.NestedFieldNoCopy(o.Object, field...); ok {
						t.Errorf("%s has %s", refOf(o), strings.Join(field, "."))
					}
				}
			}
		})
	}

	// The manifests themselves are never changed by a plan.
	if got := m.Mutating.Webhooks[0].ClientConfig.Service.Namespace; got != DefaultNamespace {
		t.Errorf("Plan changed the manifests: mutating service namespace %s", got)
	}
	if got := m.Validating.Webhooks[0].ClientConfig.Service.Namespace; got != DefaultNamespace {
		t.Errorf("Plan changed the manifests: validating service namespace %s", got)
	}
	for _, o := range m.Objects {
		if n := o.GetNamespace(); n != "" && n != DefaultNamespace {
			t.Errorf("Plan changed the manifests: %s", refOf(o))
		}
	}
}

// TestPlanStrict: --strict plans the deployer and unlocker ClusterRoles
// without their aggregation labels, in every mode; without it they carry
// them; nothing else of the plan changes, and the manifests keep them.
func TestPlanStrict(t *testing.T) {
	m := loadManifests(t)
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: ServingSecretName}, Type: corev1.SecretTypeTLS}
	base := map[Mode]PlanOptions{
		ModeCertManager: {Mode: ModeCertManager},
		ModeSelfSigned:  {Mode: ModeSelfSigned, CABundle: []byte("CA"), Secrets: []*corev1.Secret{secret}},
		ModeLocal:       {Mode: ModeLocal, CABundle: []byte("CA"), LocalHost: "127.0.0.1", LocalPort: 9443},
	}
	aggregated := map[string]string{
		"app.kubernetes.io/name":                       "chart-webhook",
		"app.kubernetes.io/part-of":                    "kubectl-chart",
		"rbac.authorization.k8s.io/aggregate-to-admin": "true",
		"rbac.authorization.k8s.io/aggregate-to-edit":  "true",
	}
	alone := map[string]string{
		"app.kubernetes.io/name":    "chart-webhook",
		"app.kubernetes.io/part-of": "kubectl-chart",
	}
	for _, tc := range []struct {
		name   string
		mode   Mode
		strict bool
		want   map[string]string
	}{
		{"cert-manager", ModeCertManager, false, aggregated},
		{"cert-manager strict", ModeCertManager, true, alone},
		{"self-signed", ModeSelfSigned, false, aggregated},
		{"self-signed strict", ModeSelfSigned, true, alone},
		{"local", ModeLocal, false, aggregated},
		{"local strict", ModeLocal, true, alone},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := base[tc.mode]
			o.Strict = tc.strict
			p, err := m.Plan(o)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]map[string]string{}
			for _, obj := range p.Objects {
				if obj.GetKind() == "ClusterRole" && strings.HasPrefix(obj.GetName(), "kubectl-chart-") {
					got[obj.GetName()] = obj.GetLabels()
				}
			}
			want := map[string]map[string]string{DeployerRoleName: tc.want, UnlockerRoleName: tc.want}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("labels of the ClusterRoles (-want +got):\n%s", diff)
			}
			// Strict changes those labels only.
			o.Strict = !tc.strict
			other, err := m.Plan(o)
			if err != nil {
				t.Fatal(err)
			}
			strip := func(objs []*unstructured.Unstructured) []*unstructured.Unstructured {
				var out []*unstructured.Unstructured
				for _, obj := range objs {
					obj = obj.DeepCopy()
					if isRole(obj) {
						obj.SetLabels(nil)
					}
					out = append(out, obj)
				}
				return out
			}
			if diff := cmp.Diff(strip(other.Objects), strip(p.Objects)); diff != "" {
				t.Errorf("strict %v and %v plans differ beyond the ClusterRoles' labels (-other +this):\n%s", !tc.strict, tc.strict, diff)
			}
		})
	}
	for _, o := range m.Objects {
		if isRole(o) && o.GetLabels()["rbac.authorization.k8s.io/aggregate-to-admin"] != "true" {
			t.Errorf("Plan changed the manifests: %s lost its aggregation label", refOf(o))
		}
	}
}

func TestPlanErrors(t *testing.T) {
	m := loadManifests(t)
	for _, tc := range []struct {
		name string
		opts PlanOptions
		want string
	}{
		{"no mode", PlanOptions{}, `unknown webhook mode ""`},
		{"self-signed without certificates", PlanOptions{Mode: ModeSelfSigned}, "no certificate Secrets or caBundle"},
		{"local without port", PlanOptions{Mode: ModeLocal, LocalHost: "127.0.0.1"}, "local: invalid address 127.0.0.1:0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := m.Plan(tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
}

func TestConfigurationsMode(t *testing.T) {
	url := "https://127.0.0.1:1/mutate"
	svc := &admissionregistrationv1.ServiceReference{Name: Name, Namespace: "ns"}
	mutating := func(ann map[string]string, cc ...admissionregistrationv1.WebhookClientConfig) *admissionregistrationv1.MutatingWebhookConfiguration {
		c := &admissionregistrationv1.MutatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: Name, Annotations: ann}}
		for _, x := range cc {
			c.Webhooks = append(c.Webhooks, admissionregistrationv1.MutatingWebhook{ClientConfig: x})
		}
		return c
	}
	validating := func(ann map[string]string, cc ...admissionregistrationv1.WebhookClientConfig) *admissionregistrationv1.ValidatingWebhookConfiguration {
		c := &admissionregistrationv1.ValidatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: Name, Annotations: ann}}
		for _, x := range cc {
			c.Webhooks = append(c.Webhooks, admissionregistrationv1.ValidatingWebhook{ClientConfig: x})
		}
		return c
	}
	for _, tc := range []struct {
		name    string
		cfgs    Configurations
		want    Mode
		wantNS  string
		wantAny bool
	}{
		{"annotated", Configurations{Mutating: mutating(map[string]string{AnnotationMode: "self-signed"}, admissionregistrationv1.WebhookClientConfig{URL: &url})}, ModeSelfSigned, "", true},
		{"a URL", Configurations{Mutating: mutating(nil, admissionregistrationv1.WebhookClientConfig{URL: &url})}, ModeLocal, "", true},
		{"kubectl apply -k manifests", Configurations{
			Mutating:   mutating(map[string]string{annotationInjectCA: "ns/chart-webhook"}, admissionregistrationv1.WebhookClientConfig{Service: svc}),
			Validating: validating(map[string]string{annotationInjectCA: "ns/chart-webhook"}, admissionregistrationv1.WebhookClientConfig{Service: svc}),
		}, ModeCertManager, "ns", true},
		{"a Service", Configurations{Mutating: mutating(nil, admissionregistrationv1.WebhookClientConfig{Service: svc})}, ModeSelfSigned, "ns", true},
		{"bad annotation", Configurations{Mutating: mutating(map[string]string{AnnotationMode: "cloud"}, admissionregistrationv1.WebhookClientConfig{URL: &url})}, ModeLocal, "", true},
		{"no webhooks", Configurations{Mutating: mutating(nil)}, "", "", true},
		{"the validating one only", Configurations{Validating: validating(map[string]string{AnnotationMode: "cert-manager"}, admissionregistrationv1.WebhookClientConfig{Service: svc})}, ModeCertManager, "ns", true},
		{"the mutating one without webhooks, the validating one local", Configurations{
			Mutating:   mutating(nil),
			Validating: validating(nil, admissionregistrationv1.WebhookClientConfig{URL: &url}),
		}, ModeLocal, "", true},
		{"none", Configurations{}, "", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.cfgs.Mode(); got != tc.want {
				t.Errorf("Mode() = %q, want %q", got, tc.want)
			}
			if got := tc.cfgs.ServiceNamespace(); got != tc.wantNS {
				t.Errorf("ServiceNamespace() = %q, want %q", got, tc.wantNS)
			}
			if got := tc.cfgs.Exist(); got != tc.wantAny {
				t.Errorf("Exist() = %v, want %v", got, tc.wantAny)
			}
		})
	}
}

// TestCheckSameInstall: an install over one in another mode or namespace,
// or over configurations kubectl chart did not make, is refused, whichever
// of the two configurations says so.
func TestCheckSameInstall(t *testing.T) {
	m := loadManifests(t)
	plan := func(o PlanOptions) *Plan {
		p, err := m.Plan(o)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: ServingSecretName}}
	local := plan(PlanOptions{Mode: ModeLocal, CABundle: []byte("CA"), LocalHost: "127.0.0.1", LocalPort: 9443})
	selfSigned := plan(PlanOptions{Mode: ModeSelfSigned, Namespace: "webhooks", CABundle: []byte("CA"), Secrets: []*corev1.Secret{secret}})
	foreign := selfSigned.Validating.DeepCopy()
	foreign.Annotations = nil
	foreign.Webhooks[0].ClientConfig = admissionregistrationv1.WebhookClientConfig{}
	for _, tc := range []struct {
		name string
		cfgs Configurations
		mode Mode
		ns   string
		want string
	}{
		{"nothing installed", Configurations{}, ModeCertManager, DefaultNamespace, ""},
		{"the same", Configurations{Mutating: local.Mutating, Validating: local.Validating}, ModeLocal, DefaultNamespace, ""},
		{"another mode", Configurations{Mutating: local.Mutating, Validating: local.Validating}, ModeSelfSigned, DefaultNamespace,
			"chart-webhook is installed in local mode; run `kubectl chart webhook uninstall` before installing it in self-signed mode"},
		{"another mode, the validating one only", Configurations{Validating: local.Validating}, ModeCertManager, DefaultNamespace,
			"chart-webhook is installed in local mode"},
		{"another namespace", Configurations{Mutating: selfSigned.Mutating, Validating: selfSigned.Validating}, ModeSelfSigned, DefaultNamespace,
			"chart-webhook is installed in namespace webhooks; run `kubectl chart webhook uninstall` before installing it in namespace kubectl-chart-system"},
		{"not ours", Configurations{Mutating: selfSigned.Mutating, Validating: foreign}, ModeSelfSigned, "webhooks",
			"ValidatingWebhookConfiguration chart-webhook exists but was not installed by kubectl chart"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkSameInstall(tc.cfgs, tc.mode, tc.ns)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if tc.want == "" && err != nil || tc.want != "" && !strings.Contains(got, tc.want) {
				t.Errorf("checkSameInstall = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestInstallOptionsValidate(t *testing.T) {
	local := func(f func(*InstallOptions)) InstallOptions {
		o := DefaultInstallOptions()
		o.Mode, o.CertDir = ModeLocal, "/tmp/x"
		f(&o)
		return o
	}
	def := func(f func(*InstallOptions)) InstallOptions {
		o := DefaultInstallOptions()
		f(&o)
		return o
	}
	for _, tc := range []struct {
		name string
		opts InstallOptions
		want string
	}{
		{"defaults", DefaultInstallOptions(), ""},
		{"local", local(func(*InstallOptions) {}), ""},
		{"local on a name", local(func(o *InstallOptions) { o.Host = "host.docker.internal" }), ""},
		{"local without cert dir", local(func(o *InstallOptions) { o.CertDir = "" }), "--local needs --cert-dir"},
		{"local bad port", local(func(o *InstallOptions) { o.Port = 70000 }), "invalid --port 70000"},
		{"local bad host", local(func(o *InstallOptions) { o.Host = "not a host" }), `invalid --host "not a host"`},
		{"bad namespace", def(func(o *InstallOptions) { o.Namespace = "Not_OK" }), `invalid namespace "Not_OK"`},
		{"no image", def(func(o *InstallOptions) { o.Image = "" }), "--image must not be empty"},
		{"bad dry run", def(func(o *InstallOptions) { o.DryRun = "maybe" }), `invalid dry-run value "maybe"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.opts.Validate()
			got := ""
			if err != nil {
				got = err.Error()
			}
			if tc.want == "" && err != nil || tc.want != "" && !strings.Contains(got, tc.want) {
				t.Errorf("Validate() = %q, want %q", got, tc.want)
			}
		})
	}
}
