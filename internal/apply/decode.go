package apply

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-chart/kubectl-chart/pkg/render"
)

// Decode turns a multi-document YAML manifest (as rendered, with `# Source:`
// comments) into objects, in document order; List documents are flattened.
// Namespaced objects without a namespace get defaultNamespace; cluster-scoped
// objects keep none. The scope of a kind comes from discovery, or from a CRD
// in the same manifest. Errors name the document and its source; every bad
// document is reported.
func (m *Manager) Decode(manifest string, defaultNamespace string) ([]*unstructured.Unstructured, error) {
	objs, docs, err := decodeManifest(manifest)
	var errs []error
	if err != nil {
		errs = append(errs, err)
	}

	// Kinds the manifest's own CRDs define (they may not exist yet).
	crdScopes := map[schema.GroupKind]bool{} // true: namespaced
	for _, o := range objs {
		if gvk := o.GroupVersionKind(); !isCRD(gvk.Group, gvk.Kind) {
			continue
		}
		group, _, _ := unstructured.NestedString(o.Object, "spec", "group")
		kind, _, _ := unstructured.NestedString(o.Object, "spec", "names", "kind")
		scope, _, _ := unstructured.NestedString(o.Object, "spec", "scope")
		crdScopes[schema.GroupKind{Group: group, Kind: kind}] = scope != "Cluster"
	}

	for i, o := range objs {
		gvk := o.GroupVersionKind()
		var namespaced bool
		mapping, err := m.mapping(gvk)
		switch {
		case err == nil:
			namespaced = mapping.Scope.Name() == meta.RESTScopeNameNamespace
		case meta.IsNoMatchError(err):
			n, ok := crdScopes[gvk.GroupKind()]
			if !ok {
				errs = append(errs, fmt.Errorf("%s: %s: the server has no kind %q in version %q (is its CRD installed?)",
					docs[i], RefOf(o), gvk.Kind, gvk.GroupVersion()))
				continue
			}
			namespaced = n
		default:
			errs = append(errs, fmt.Errorf("%s: %s: %w", docs[i], RefOf(o), err))
			continue
		}
		switch {
		case namespaced && o.GetNamespace() == "":
			o.SetNamespace(defaultNamespace)
		case !namespaced && o.GetNamespace() != "":
			o.SetNamespace("")
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return objs, nil
}

// decodeManifest decodes documents without the cluster: objects, and for
// each the name of its document for errors. Documents are decoded in
// parallel (YAML parsing is most of an install's own CPU time); the result
// keeps document order.
func decodeManifest(manifest string) ([]*unstructured.Unstructured, []string, error) {
	docs := render.SplitManifests(manifest)
	names := make([]string, len(docs))
	var (
		source string // the last `# Source:` seen
		inFile int    // documents since it
	)
	for i, doc := range docs {
		if s := sourceOf(doc); s != "" {
			source, inFile = s, 0
		}
		inFile++
		names[i] = fmt.Sprintf("document %d", i+1)
		if source != "" {
			names[i] = source
			if inFile > 1 {
				names[i] = fmt.Sprintf("%s (document %d)", source, inFile)
			}
		}
	}

	items := make([][]*unstructured.Unstructured, len(docs))
	docErrs := make([][]error, len(docs))
	forEach(context.Background(), len(docs), runtime.GOMAXPROCS(0), func(i int) {
		items[i], docErrs[i] = decodeDocument(docs[i], names[i])
	}, nil)

	var (
		objs     []*unstructured.Unstructured
		objNames []string
		errs     []error
	)
	for i := range docs {
		errs = append(errs, docErrs[i]...)
		for _, it := range items[i] {
			objs = append(objs, it)
			objNames = append(objNames, names[i])
		}
	}
	return objs, objNames, errors.Join(errs...)
}

// decodeDocument decodes one document: no object for comments only, the
// items of a List.
func decodeDocument(doc, name string) ([]*unstructured.Unstructured, []error) {
	data, err := yaml.YAMLToJSON([]byte(doc))
	if err != nil {
		return nil, []error{fmt.Errorf("%s: %w", name, err)}
	}
	if s := strings.TrimSpace(string(data)); s == "null" || s == "" {
		return nil, nil // comments only
	}
	obj, _, err := unstructured.UnstructuredJSONScheme.Decode(data, nil, nil)
	if err != nil {
		return nil, []error{fmt.Errorf("%s: %w", name, err)}
	}
	var items []*unstructured.Unstructured
	switch t := obj.(type) {
	case *unstructured.Unstructured:
		items = []*unstructured.Unstructured{t}
	case *unstructured.UnstructuredList:
		_ = t.EachListItem(func(o kruntime.Object) error {
			items = append(items, o.(*unstructured.Unstructured))
			return nil
		})
	default:
		return nil, []error{fmt.Errorf("%s: unexpected object %T", name, obj)}
	}
	var (
		out  []*unstructured.Unstructured
		errs []error
	)
	for _, it := range items {
		if err := validateHead(it); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
			continue
		}
		out = append(out, it)
	}
	return out, errs
}

func validateHead(o *unstructured.Unstructured) error {
	switch {
	case o.GetAPIVersion() == "":
		return fmt.Errorf("%s %q has no apiVersion", o.GetKind(), o.GetName())
	case o.GetKind() == "":
		return fmt.Errorf("object %q has no kind", o.GetName())
	case o.GetName() == "":
		return fmt.Errorf("%s has no metadata.name", o.GetKind())
	}
	return nil
}

// sourceOf is the path of a document's `# Source:` comment line, or "".
func sourceOf(doc string) string {
	for line := range strings.SplitSeq(doc, "\n") {
		line = strings.TrimSpace(line)
		if rest, ok := strings.CutPrefix(line, "# Source: "); ok {
			return strings.TrimSpace(rest)
		}
		if line != "" && !strings.HasPrefix(line, "#") {
			return ""
		}
	}
	return ""
}
