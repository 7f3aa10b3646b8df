package webhookinstall

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-chart/kubectl-chart/internal/apply"
	"github.com/kubectl-chart/kubectl-chart/manifests"
)

// certManagerGroup is the API group of cert-manager's Issuer and
// Certificate.
const certManagerGroup = "cert-manager.io"

// kustomization is the part of kustomization.yaml this package
// understands: the resources and the image override. Anything else
// (patches, generators, …) is refused rather than silently ignored.
type kustomization struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Resources  []string `json:"resources"`
	Images     []struct {
		Name    string `json:"name"`
		NewName string `json:"newName,omitempty"`
		NewTag  string `json:"newTag,omitempty"`
		Digest  string `json:"digest,omitempty"`
	} `json:"images,omitempty"`
}

// Manifests are manifests/ as kustomize builds them: the objects of the
// resources kustomization.yaml lists, in its order, with its image
// overrides.
type Manifests struct {
	// Objects are every object but the cert-manager ones.
	Objects []*unstructured.Unstructured
	// CertManager are the Issuers and Certificates of certificate.yaml:
	// install builds its own from Go types (CertManagerObjects); these are
	// what they must equal.
	CertManager []*unstructured.Unstructured
	// Mutating is the MutatingWebhookConfiguration, which stamps release
	// records (also in Objects).
	Mutating *admissionregistrationv1.MutatingWebhookConfiguration
	// Validating is the ValidatingWebhookConfiguration, which decides
	// (also in Objects).
	Validating *admissionregistrationv1.ValidatingWebhookConfiguration
	// Monitoring are the objects of manifests/monitoring (ServiceMonitor,
	// PrometheusRule, the dashboard's ConfigMap), which install applies
	// only with --monitoring (ReadMonitoring; LoadManifests sets them).
	Monitoring []*unstructured.Unstructured
}

// LoadManifests reads the embedded manifests/ and manifests/monitoring.
func LoadManifests() (*Manifests, error) {
	m, err := ReadManifests(manifests.FS)
	if err != nil {
		return nil, err
	}
	if m.Monitoring, err = loadMonitoring(); err != nil {
		return nil, err
	}
	return m, nil
}

// ReadManifests reads kustomization.yaml and its resources from fsys.
func ReadManifests(fsys fs.FS) (*Manifests, error) {
	data, err := fs.ReadFile(fsys, "kustomization.yaml")
	if err != nil {
		return nil, fmt.Errorf("manifests: %w", err)
	}
	var k kustomization
	if err := yaml.UnmarshalStrict(data, &k); err != nil {
		return nil, fmt.Errorf("manifests: kustomization.yaml: %w", err)
	}
	if k.Kind != "Kustomization" {
		return nil, fmt.Errorf("manifests: kustomization.yaml: kind %q, want Kustomization", k.Kind)
	}
	m := &Manifests{}
	var errs []error
	for _, res := range k.Resources {
		objs, err := readObjects(fsys, res)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, o := range objs {
			for _, img := range k.Images {
				overrideImage(o, img.Name, img.NewName, img.NewTag, img.Digest)
			}
			if o.GroupVersionKind().Group == certManagerGroup {
				m.CertManager = append(m.CertManager, o)
				continue
			}
			m.Objects = append(m.Objects, o)
			var into runtime.Object
			switch o.GetKind() {
			case kindMutating:
				if m.Mutating != nil {
					errs = append(errs, fmt.Errorf("manifests: %s: a second %s %s", res, kindMutating, o.GetName()))
					continue
				}
				m.Mutating = &admissionregistrationv1.MutatingWebhookConfiguration{}
				into = m.Mutating
			case kindValidating:
				if m.Validating != nil {
					errs = append(errs, fmt.Errorf("manifests: %s: a second %s %s", res, kindValidating, o.GetName()))
					continue
				}
				m.Validating = &admissionregistrationv1.ValidatingWebhookConfiguration{}
				into = m.Validating
			default:
				continue
			}
			if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(o.Object, into, true); err != nil {
				errs = append(errs, fmt.Errorf("manifests: %s: %w", res, err))
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	switch {
	case m.Mutating == nil:
		return nil, errors.New("manifests: no " + kindMutating)
	case m.Validating == nil:
		return nil, errors.New("manifests: no " + kindValidating)
	case len(m.Mutating.Webhooks) == 0:
		return nil, fmt.Errorf("manifests: %s/%s has no webhooks", kindMutating, m.Mutating.Name)
	case len(m.Validating.Webhooks) == 0:
		return nil, fmt.Errorf("manifests: %s/%s has no webhooks", kindValidating, m.Validating.Name)
	}
	return m, nil
}

// Kinds of the two webhook configurations.
const (
	kindMutating   = "MutatingWebhookConfiguration"
	kindValidating = "ValidatingWebhookConfiguration"
)

// isConfiguration says whether obj is one of the webhook configurations,
// which install applies apart from (after) the other objects.
func isConfiguration(obj *unstructured.Unstructured) bool {
	k := obj.GroupVersionKind()
	return k.Group == admissionregistrationv1.GroupName && (k.Kind == kindMutating || k.Kind == kindValidating)
}

// readObjects decodes the documents of one resource file; comment-only
// documents are skipped.
func readObjects(fsys fs.FS, name string) ([]*unstructured.Unstructured, error) {
	data, err := fs.ReadFile(fsys, name)
	if err != nil {
		return nil, fmt.Errorf("manifests: %w", err)
	}
	var objs []*unstructured.Unstructured
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for i := 1; ; i++ {
		doc, err := r.Read()
		if err == io.EOF {
			return objs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("manifests: %s: %w", name, err)
		}
		var obj map[string]any
		if err := yaml.Unmarshal(doc, &obj); err != nil {
			return nil, fmt.Errorf("manifests: %s: document %d: %w", name, i, err)
		}
		if len(obj) == 0 {
			continue
		}
		u := &unstructured.Unstructured{Object: obj}
		if u.GetKind() == "" || u.GetAPIVersion() == "" || u.GetName() == "" {
			return nil, fmt.Errorf("manifests: %s: document %d: want apiVersion, kind and metadata.name", name, i)
		}
		objs = append(objs, u)
	}
}

// overrideImage applies one kustomize images entry to the containers of a
// Deployment.
func overrideImage(obj *unstructured.Unstructured, name, newName, newTag, digest string) {
	if obj.GetKind() != "Deployment" {
		return
	}
	containers, _, _ := unstructured.NestedSlice(obj.Object, "spec", "template", "spec", "containers")
	for _, c := range containers {
		cm, ok := c.(map[string]any)
		if !ok {
			continue
		}
		image, _ := cm["image"].(string)
		repo, tag := splitImage(image)
		if repo != name {
			continue
		}
		if newName != "" {
			repo = newName
		}
		switch {
		case digest != "":
			tag = "@" + digest
		case newTag != "":
			tag = ":" + newTag
		}
		cm["image"] = repo + tag
	}
	_ = unstructured.SetNestedSlice(obj.Object, containers, "spec", "template", "spec", "containers")
}

// splitImage splits an image reference into its repository and its ":tag"
// or "@digest" suffix.
func splitImage(image string) (repo, suffix string) {
	if i := strings.IndexByte(image, '@'); i >= 0 {
		return image[:i], image[i:]
	}
	if i := strings.LastIndexByte(image, ':'); i >= 0 && !strings.Contains(image[i:], "/") {
		return image[:i], image[i:]
	}
	return image, ""
}

// refOf names an object as errors and change sets do.
func refOf(obj *unstructured.Unstructured) string { return apply.RefOf(obj).String() }
