package webhookinstall

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"

	cmv1 "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	"github.com/google/go-cmp/cmp"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-chart/kubectl-chart/internal/testcluster"
)

func loadManifests(t *testing.T) *Manifests {
	t.Helper()
	m, err := LoadManifests()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestManifestsAsKustomizeBuildsThem: the embedded manifests, as this
// package reads them, are exactly what `kubectl kustomize manifests/` builds
// (same objects, same order, same image), so install applies what
// `kubectl apply -k manifests/` applies.
func TestManifestsAsKustomizeBuildsThem(t *testing.T) {
	if skip, _ := strconv.ParseBool(os.Getenv(testcluster.EnvSkip)); skip {
		t.Skip("no test binaries (kubectl)")
	}
	assets, err := testcluster.AssetsDir()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.CommandContext(t.Context(), filepath.Join(assets, "kubectl"), "kustomize", filepath.Join("..", "..", "manifests")).Output()
	if err != nil {
		t.Fatalf("kubectl kustomize: %v", err)
	}
	var want []map[string]any
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
		want = append(want, obj)
	}
	m := loadManifests(t)
	var got []map[string]any
	for _, o := range append(append([]*unstructured.Unstructured{}, m.Objects...), m.CertManager...) {
		got = append(got, o.Object)
	}
	// kustomize orders by kind (its legacy order); compare as sets keyed
	// by kind/name, and the count.
	key := func(o map[string]any) string {
		u := unstructured.Unstructured{Object: o}
		return u.GetKind() + "/" + u.GetName()
	}
	index := func(objs []map[string]any) map[string]map[string]any {
		out := map[string]map[string]any{}
		for _, o := range objs {
			out[key(o)] = o
		}
		return out
	}
	if diff := cmp.Diff(index(want), index(got)); diff != "" {
		t.Errorf("manifests (-kubectl kustomize +LoadManifests):\n%s", diff)
	}
	if len(got) != len(want) {
		t.Errorf("%d objects, kustomize builds %d", len(got), len(want))
	}
}

// TestCertManagerObjectsAreCertificateYAML: the Issuers and Certificates
// install builds with cert-manager's Go types are manifests/certificate.yaml.
func TestCertManagerObjectsAreCertificateYAML(t *testing.T) {
	m := loadManifests(t)
	var want []runtime.Object
	for _, u := range m.CertManager {
		var obj runtime.Object
		switch u.GetKind() {
		case cmv1.IssuerKind:
			obj = &cmv1.Issuer{}
		case cmv1.CertificateKind:
			obj = &cmv1.Certificate{}
		default:
			t.Fatalf("certificate.yaml: unexpected %s", u.GetKind())
		}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(u.Object, obj, true); err != nil {
			t.Fatalf("%s/%s: %v", u.GetKind(), u.GetName(), err)
		}
		want = append(want, obj)
	}
	if diff := cmp.Diff(want, CertManagerObjects(DefaultNamespace)); diff != "" {
		t.Errorf("cert-manager objects (-certificate.yaml +CertManagerObjects):\n%s", diff)
	}
}

// TestManifestsUseTheNames: the names this package relies on are those of
// manifests/: the Deployment's container, the Secret it mounts, the
// Service both configurations call, the ClusterRoles --strict changes and
// their aggregation labels.
func TestManifestsUseTheNames(t *testing.T) {
	m := loadManifests(t)
	var deploy *appsv1.Deployment
	for _, o := range m.Objects {
		if o.GetKind() == "Deployment" {
			deploy = &appsv1.Deployment{}
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, deploy); err != nil {
				t.Fatal(err)
			}
		}
		if o.GetNamespace() != "" && o.GetNamespace() != DefaultNamespace {
			t.Errorf("%s is in namespace %s, not %s", refOf(o), o.GetNamespace(), DefaultNamespace)
		}
	}
	if deploy == nil || deploy.Name != Name {
		t.Fatalf("no Deployment %s", Name)
	}
	var mounted []string
	var container bool
	for _, v := range deploy.Spec.Template.Spec.Volumes {
		if v.Secret != nil {
			mounted = append(mounted, v.Secret.SecretName)
		}
	}
	for _, c := range deploy.Spec.Template.Spec.Containers {
		container = container || c.Name == ContainerName
	}
	if !container {
		t.Errorf("the Deployment has no container %s", ContainerName)
	}
	if diff := cmp.Diff([]string{ServingSecretName}, mounted); diff != "" {
		t.Errorf("Secrets the Deployment mounts (-want +got):\n%s", diff)
	}
	services := map[string]*admissionregistrationv1.ServiceReference{}
	for _, w := range m.Mutating.Webhooks {
		services[w.Name] = w.ClientConfig.Service
	}
	for _, w := range m.Validating.Webhooks {
		services[w.Name] = w.ClientConfig.Service
	}
	for name, svc := range services {
		if svc == nil || svc.Name != Name || svc.Namespace != DefaultNamespace {
			t.Errorf("webhook %s calls %+v, want Service %s/%s", name, svc, DefaultNamespace, Name)
		}
	}
	if m.Mutating.Name != Name || m.Validating.Name != Name {
		t.Errorf("configurations %s and %s, want %s", m.Mutating.Name, m.Validating.Name, Name)
	}
	for _, cfg := range []map[string]string{m.Mutating.Annotations, m.Validating.Annotations} {
		if got, want := cfg[annotationInjectCA], DefaultNamespace+"/"+servingCertificateName; got != want {
			t.Errorf("inject-ca-from %q, want %q", got, want)
		}
	}
	var roles []string
	for _, o := range m.Objects {
		if !isRole(o) {
			continue
		}
		roles = append(roles, o.GetName())
		for _, l := range aggregationLabels {
			if o.GetLabels()[l] != "true" {
				t.Errorf("ClusterRole %s: label %s is %q, want \"true\"", o.GetName(), l, o.GetLabels()[l])
			}
		}
	}
	if diff := cmp.Diff(roleNames, roles); diff != "" {
		t.Errorf("deployer and unlocker ClusterRoles (-want +got):\n%s", diff)
	}
}

func TestReadManifestsErrors(t *testing.T) {
	config := `apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata:
  name: chart-webhook
webhooks:
  - name: w.example.com
    admissionReviewVersions: ["v1"]
    sideEffects: None
    clientConfig:
      service: {name: chart-webhook, namespace: kubectl-chart-system, path: /mutate}
`
	validating := `apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata:
  name: chart-webhook
webhooks:
  - name: v.example.com
    admissionReviewVersions: ["v1"]
    sideEffects: None
    clientConfig:
      service: {name: chart-webhook, namespace: kubectl-chart-system, path: /validate}
`
	for _, tc := range []struct {
		name  string
		files fstest.MapFS
		want  string
	}{
		{"no kustomization", fstest.MapFS{}, "kustomization.yaml: file does not exist"},
		{"patches are refused", fstest.MapFS{
			"kustomization.yaml": {Data: []byte("kind: Kustomization\nresources: [a.yaml]\npatches: [{path: p.yaml}]\n")},
		}, `unknown field "patches"`},
		{"missing resource", fstest.MapFS{
			"kustomization.yaml": {Data: []byte("kind: Kustomization\nresources: [a.yaml]\n")},
		}, "a.yaml: file does not exist"},
		{"no configuration", fstest.MapFS{
			"kustomization.yaml": {Data: []byte("kind: Kustomization\nresources: [a.yaml]\n")},
			"a.yaml":             {Data: []byte("# only a comment\n---\napiVersion: v1\nkind: ServiceAccount\nmetadata: {name: x}\n")},
		}, "no MutatingWebhookConfiguration"},
		{"no validating configuration", fstest.MapFS{
			"kustomization.yaml": {Data: []byte("kind: Kustomization\nresources: [hook.yaml]\n")},
			"hook.yaml":          {Data: []byte(config)},
		}, "no ValidatingWebhookConfiguration"},
		{"two validating configurations", fstest.MapFS{
			"kustomization.yaml": {Data: []byte("kind: Kustomization\nresources: [hook.yaml, v.yaml, v.yaml]\n")},
			"hook.yaml":          {Data: []byte(config)},
			"v.yaml":             {Data: []byte(validating)},
		}, "v.yaml: a second ValidatingWebhookConfiguration chart-webhook"},
		{"a validating configuration without webhooks", fstest.MapFS{
			"kustomization.yaml": {Data: []byte("kind: Kustomization\nresources: [hook.yaml, v.yaml]\n")},
			"hook.yaml":          {Data: []byte(config)},
			"v.yaml":             {Data: []byte(validating[:strings.Index(validating, "webhooks:")])},
		}, "ValidatingWebhookConfiguration/chart-webhook has no webhooks"},
		{"document without a name", fstest.MapFS{
			"kustomization.yaml": {Data: []byte("kind: Kustomization\nresources: [a.yaml]\n")},
			"a.yaml":             {Data: []byte("apiVersion: v1\nkind: ServiceAccount\n")},
		}, "a.yaml: document 1: want apiVersion, kind and metadata.name"},
		{"a configuration with an unknown field", fstest.MapFS{
			"kustomization.yaml": {Data: []byte("kind: Kustomization\nresources: [hook.yaml, v.yaml]\n")},
			"hook.yaml":          {Data: []byte(config + "    timeoutSecond: 5\n")},
			"v.yaml":             {Data: []byte(validating)},
		}, `unknown field "webhooks[0].timeoutSecond"`},
		{"a validating configuration with an unknown field", fstest.MapFS{
			"kustomization.yaml": {Data: []byte("kind: Kustomization\nresources: [hook.yaml, v.yaml]\n")},
			"hook.yaml":          {Data: []byte(config)},
			"v.yaml":             {Data: []byte(validating + "    reinvocationPolicy: IfNeeded\n")},
		}, `unknown field "webhooks[0].reinvocationPolicy"`},
		{"ok", fstest.MapFS{
			"kustomization.yaml": {Data: []byte("kind: Kustomization\nresources: [hook.yaml, v.yaml]\n")},
			"hook.yaml":          {Data: []byte(config)},
			"v.yaml":             {Data: []byte(validating)},
		}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadManifests(tc.files)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if tc.want == "" && err != nil || tc.want != "" && !strings.Contains(got, tc.want) {
				t.Errorf("error %q, want one containing %q", got, tc.want)
			}
		})
	}
}

func TestOverrideImage(t *testing.T) {
	for _, tc := range []struct {
		image, name, newName, newTag, digest string
		want                                 string
	}{
		{"ghcr.io/a/b:latest", "ghcr.io/a/b", "", "v1", "", "ghcr.io/a/b:v1"},
		{"ghcr.io/a/b", "ghcr.io/a/b", "", "v1", "", "ghcr.io/a/b:v1"},
		{"ghcr.io/a/b:latest", "ghcr.io/a/b", "reg:5000/c", "", "", "reg:5000/c:latest"},
		{"ghcr.io/a/b:latest", "ghcr.io/a/b", "", "v1", "sha256:00", "ghcr.io/a/b@sha256:00"},
		{"reg:5000/b", "reg", "", "v1", "", "reg:5000/b"},
		{"other:1", "ghcr.io/a/b", "", "v1", "", "other:1"},
	} {
		obj := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "apps/v1", "kind": "Deployment",
			"spec": map[string]any{"template": map[string]any{"spec": map[string]any{
				"containers": []any{map[string]any{"name": "c", "image": tc.image}},
			}}},
		}}
		overrideImage(obj, tc.name, tc.newName, tc.newTag, tc.digest)
		cs, _, _ := unstructured.NestedSlice(obj.Object, "spec", "template", "spec", "containers")
		if got := cs[0].(map[string]any)["image"]; got != tc.want {
			t.Errorf("%s with {%s %s %s %s}: %v, want %s", tc.image, tc.name, tc.newName, tc.newTag, tc.digest, got, tc.want)
		}
	}
}
