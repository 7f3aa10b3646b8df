package webhookinstall

import (
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
	inCluster := func(ns string) []string {
		return []string{
			"Namespace/" + ns,
			"ServiceAccount/" + ns + "/chart-webhook",
			"ClusterRole.rbac.authorization.k8s.io/chart-webhook",
			"ClusterRoleBinding.rbac.authorization.k8s.io/chart-webhook",
			"ClusterRole.rbac.authorization.k8s.io/chart-webhook-metrics-reader",
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
	type want struct {
		objects     []string
		clientCfg   admissionregistrationv1.WebhookClientConfig
		annotations map[string]string
		excluded    []string
	}
	path, port := "/mutate", int32(443)
	url := "https://127.0.0.1:9443/mutate"
	url6 := "https://[::1]:8443/mutate"
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
				clientCfg:   admissionregistrationv1.WebhookClientConfig{Service: &admissionregistrationv1.ServiceReference{Namespace: DefaultNamespace, Name: Name, Path: &path, Port: &port}},
				annotations: map[string]string{AnnotationMode: "cert-manager", annotationInjectCA: DefaultNamespace + "/chart-webhook"},
				excluded:    []string{"kube-system", DefaultNamespace},
			},
		},
		{
			name: "cert-manager in another namespace",
			opts: PlanOptions{Mode: ModeCertManager, Namespace: "webhooks"},
			want: want{
				objects:     append(inCluster("webhooks"), certManager("webhooks")...),
				clientCfg:   admissionregistrationv1.WebhookClientConfig{Service: &admissionregistrationv1.ServiceReference{Namespace: "webhooks", Name: Name, Path: &path, Port: &port}},
				annotations: map[string]string{AnnotationMode: "cert-manager", annotationInjectCA: "webhooks/chart-webhook"},
				excluded:    []string{"kube-system", "webhooks"},
			},
		},
		{
			name: "self-signed",
			opts: PlanOptions{Mode: ModeSelfSigned, Namespace: "webhooks", CABundle: []byte("CA"), Secrets: []*corev1.Secret{secret}},
			want: want{
				objects:     append(inCluster("webhooks"), "Secret/webhooks/"+ServingSecretName),
				clientCfg:   admissionregistrationv1.WebhookClientConfig{Service: &admissionregistrationv1.ServiceReference{Namespace: "webhooks", Name: Name, Path: &path, Port: &port}, CABundle: []byte("CA")},
				annotations: map[string]string{AnnotationMode: "self-signed"},
				excluded:    []string{"kube-system", "webhooks"},
			},
		},
		{
			name: "local",
			opts: PlanOptions{Mode: ModeLocal, Namespace: "ignored", CABundle: []byte("CA"), LocalHost: "127.0.0.1", LocalPort: 9443},
			want: want{
				clientCfg:   admissionregistrationv1.WebhookClientConfig{URL: &url, CABundle: []byte("CA")},
				annotations: map[string]string{AnnotationMode: "local"},
				excluded:    []string{"kube-system", DefaultNamespace},
			},
		},
		{
			name: "local on IPv6",
			opts: PlanOptions{Mode: ModeLocal, CABundle: []byte("CA"), LocalHost: "::1", LocalPort: 8443},
			want: want{
				clientCfg:   admissionregistrationv1.WebhookClientConfig{URL: &url6, CABundle: []byte("CA")},
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
			cfg := p.Configuration
			if diff := cmp.Diff(tc.want.clientCfg, cfg.Webhooks[0].ClientConfig); diff != "" {
				t.Errorf("clientConfig (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.want.annotations, cfg.Annotations); diff != "" {
				t.Errorf("annotations (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.want.excluded, cfg.Webhooks[0].NamespaceSelector.MatchExpressions[0].Values); diff != "" {
				t.Errorf("excluded namespaces (-want +got):\n%s", diff)
			}
			// Everything else of the configuration is manifests/' own.
			shipped := m.Configuration.Webhooks[0]
			got := cfg.Webhooks[0]
			got.ClientConfig, shipped.ClientConfig = admissionregistrationv1.WebhookClientConfig{}, admissionregistrationv1.WebhookClientConfig{}
			got.NamespaceSelector, shipped.NamespaceSelector = nil, nil
			if diff := cmp.Diff(shipped, got); diff != "" {
				t.Errorf("webhook differs from manifests/ (-manifests +plan):\n%s", diff)
			}
			if diff := cmp.Diff(m.Configuration.Labels, cfg.Labels); diff != "" {
				t.Errorf("labels (-manifests +plan):\n%s", diff)
			}

			ns := tc.opts.Namespace
			if ns == "" || tc.opts.Mode == ModeLocal {
				ns = DefaultNamespace
			}
			for _, o := range p.Objects {
				if n := o.GetNamespace(); n != "" && n != ns {
					t.Errorf("%s: namespace %s, want %s", refOf(o), n, ns)
				}
				switch o.GetKind() {
				case "ClusterRoleBinding":
					subjects, _, _ := unstructured.NestedSlice(o.Object, "subjects")
					if got := subjects[0].(map[string]any)["namespace"]; got != ns {
						t.Errorf("ClusterRoleBinding subject in %v, want %s", got, ns)
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
	if got := m.Configuration.Webhooks[0].ClientConfig.Service.Namespace; got != DefaultNamespace {
		t.Errorf("Plan changed the manifests: service namespace %s", got)
	}
	for _, o := range m.Objects {
		if n := o.GetNamespace(); n != "" && n != DefaultNamespace {
			t.Errorf("Plan changed the manifests: %s", refOf(o))
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

func TestModeOf(t *testing.T) {
	url := "https://127.0.0.1:1/mutate"
	svc := &admissionregistrationv1.ServiceReference{Name: Name, Namespace: "ns"}
	cfg := func(ann map[string]string, cc ...admissionregistrationv1.WebhookClientConfig) *admissionregistrationv1.MutatingWebhookConfiguration {
		c := &admissionregistrationv1.MutatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: Name, Annotations: ann}}
		for _, x := range cc {
			c.Webhooks = append(c.Webhooks, admissionregistrationv1.MutatingWebhook{ClientConfig: x})
		}
		return c
	}
	for _, tc := range []struct {
		name string
		cfg  *admissionregistrationv1.MutatingWebhookConfiguration
		want Mode
	}{
		{"annotated", cfg(map[string]string{AnnotationMode: "self-signed"}, admissionregistrationv1.WebhookClientConfig{URL: &url}), ModeSelfSigned},
		{"a URL", cfg(nil, admissionregistrationv1.WebhookClientConfig{URL: &url}), ModeLocal},
		{"kubectl apply -k manifests", cfg(map[string]string{annotationInjectCA: "ns/chart-webhook"}, admissionregistrationv1.WebhookClientConfig{Service: svc}), ModeCertManager},
		{"a Service", cfg(nil, admissionregistrationv1.WebhookClientConfig{Service: svc}), ModeSelfSigned},
		{"bad annotation", cfg(map[string]string{AnnotationMode: "cloud"}, admissionregistrationv1.WebhookClientConfig{URL: &url}), ModeLocal},
		{"no webhooks", cfg(nil), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ModeOf(tc.cfg); got != tc.want {
				t.Errorf("ModeOf = %q, want %q", got, tc.want)
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
