package webhook

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-chart/kubectl-chart/internal/testcluster"
	"github.com/kubectl-chart/kubectl-chart/pkg/chart/loader"
	"github.com/kubectl-chart/kubectl-chart/pkg/render"
)

// env is the control plane of this package's tests: a bare API server
// (envtest) that calls the webhook configuration of manifests/ on a local
// webhook server, with cert-manager's CRDs installed when the chart corpus
// holds cert-manager's chart.
var env *testcluster.Env

// manifestsDir is the repository's manifests/ folder.
var manifestsDir = filepath.Join("..", "..", "manifests")

// certManagerCRDs is how many CRDs of cert-manager TestMain installed (0
// when the corpus has no cert-manager chart: manifest tests skip then).
var certManagerCRDs int

func TestMain(m *testing.M) {
	mutating, validating, err := manifestWebhooks()
	if err != nil {
		fmt.Fprintf(os.Stderr, "manifests: %v\n", err)
		os.Exit(1)
	}
	crds, err := renderCertManagerCRDs()
	if err != nil {
		fmt.Fprintf(os.Stderr, "cert-manager CRDs: %v\n", err)
		os.Exit(1)
	}
	certManagerCRDs = len(crds)
	testcluster.Main(m, &env, testcluster.Options{
		ConfigureEnvtest: func(te *envtest.Environment) {
			te.CRDInstallOptions.CRDs = crds
			te.WebhookInstallOptions = envtest.WebhookInstallOptions{
				MutatingWebhooks:   []*admissionregistrationv1.MutatingWebhookConfiguration{mutating},
				ValidatingWebhooks: []*admissionregistrationv1.ValidatingWebhookConfiguration{validating},
				LocalServingHost:   "127.0.0.1",
			}
		},
	})
}

// readManifests decodes every document of manifests/<name>.
func readManifests(name string) ([][]byte, error) {
	b, err := os.ReadFile(filepath.Join(manifestsDir, name))
	if err != nil {
		return nil, err
	}
	var docs [][]byte
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(b)))
	for {
		doc, err := r.Read()
		if err == io.EOF {
			return docs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if len(bytes.TrimSpace(doc)) > 0 {
			docs = append(docs, doc)
		}
	}
}

// manifestWebhooks are manifests/' webhook configurations as envtest
// installs them: envtest turns the Service reference into a URL on its
// local serving address as https://host:port/<path>, so the path loses its
// leading slash here, and the configurations are renamed so that the
// manifests' own dry run creates chart-webhook afresh (rules, selectors
// and policies stay as shipped).
func manifestWebhooks() (*admissionregistrationv1.MutatingWebhookConfiguration, *admissionregistrationv1.ValidatingWebhookConfiguration, error) {
	var mutating admissionregistrationv1.MutatingWebhookConfiguration
	var validating admissionregistrationv1.ValidatingWebhookConfiguration
	for file, into := range map[string]any{"mutatingwebhookconfiguration.yaml": &mutating, "validatingwebhookconfiguration.yaml": &validating} {
		docs, err := readManifests(file)
		if err != nil {
			return nil, nil, err
		}
		if len(docs) != 1 {
			return nil, nil, fmt.Errorf("%s: %d documents, want 1", file, len(docs))
		}
		if err := yaml.UnmarshalStrict(docs[0], into); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", file, err)
		}
	}
	mutating.Name += "-envtest"
	validating.Name += "-envtest"
	trim := func(c *admissionregistrationv1.WebhookClientConfig) {
		if s := c.Service; s != nil && s.Path != nil {
			p := strings.TrimPrefix(*s.Path, "/")
			s.Path = &p
		}
	}
	for i := range mutating.Webhooks {
		trim(&mutating.Webhooks[i].ClientConfig)
	}
	for i := range validating.Webhooks {
		trim(&validating.Webhooks[i].ClientConfig)
	}
	return &mutating, &validating, nil
}

// certManagerChart is cert-manager's chart in the shared corpus
// ($KUBECTL_CHART_CORPUS or ../shared/charts beside the repository); ""
// when absent.
func certManagerChart() string {
	dir := os.Getenv("KUBECTL_CHART_CORPUS")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "shared", "charts")
	}
	p := filepath.Join(dir, "cert-manager", "cert-manager")
	if _, err := os.Stat(filepath.Join(p, "Chart.yaml")); err != nil {
		return ""
	}
	return p
}

// renderCertManagerCRDs renders cert-manager's chart with crds.enabled (its
// CRDs are templates) and returns its CustomResourceDefinitions.
func renderCertManagerCRDs() ([]*apiextensionsv1.CustomResourceDefinition, error) {
	dir := certManagerChart()
	if dir == "" {
		return nil, nil
	}
	ch, err := loader.Load(dir)
	if err != nil {
		return nil, err
	}
	opts := render.DefaultOptions()
	opts.ReleaseName, opts.Namespace = "cert-manager", "cert-manager"
	res, err := render.Render(context.Background(), ch, map[string]any{"crds": map[string]any{"enabled": true}}, opts)
	if err != nil {
		return nil, err
	}
	var crds []*apiextensionsv1.CustomResourceDefinition
	for _, m := range res.Manifests {
		if m.Head == nil || m.Head.Kind != "CustomResourceDefinition" {
			continue
		}
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := yaml.Unmarshal([]byte(m.Content), crd); err != nil {
			return nil, fmt.Errorf("%s: %w", m.Name, err)
		}
		crds = append(crds, crd)
	}
	if len(crds) == 0 {
		return nil, fmt.Errorf("%s rendered no CustomResourceDefinition", dir)
	}
	return crds, nil
}
