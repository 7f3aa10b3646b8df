package render

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/kio"
	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"
)

// PostRenderer rewrites rendered manifests, as Helm's --post-renderer does:
// a stream of YAML documents in, the stream that replaces it out.
type PostRenderer interface {
	// PostRender is given the documents and returns their replacement.
	PostRender(ctx context.Context, manifests []byte) ([]byte, error)
	// Scope says which documents it is given, and when.
	Scope() PostRenderScope
}

// PostRenderScope is which documents a post-renderer is given: Helm 4 and
// Helm 3 differ.
type PostRenderScope int

const (
	// PostRenderTemplates is Helm 4's way (post-renderer plugins): every
	// rendered template, hooks included, goes through it before the
	// documents are sorted. Each document carries its template's path in
	// the annotation postrenderer.helm.sh/postrender-filename, which splits
	// the output back into templates and is then removed; a document
	// without it is named generated-by-postrender-<i>.yaml. Render runs it.
	PostRenderTemplates PostRenderScope = iota
	// PostRenderManifest is Helm 3's way (executables): the release
	// manifest text, `# Source:` lines included (and the CRDs with
	// `template --include-crds`), goes through it after sorting; hooks do
	// not. What it returns is the manifest. Result.PostRenderManifest runs
	// it.
	PostRenderManifest
)

// postRenderFilenameAnnotation is the annotation with which Helm 4 names a
// document's template for the way back from a post-renderer.
const postRenderFilenameAnnotation = "postrenderer.helm.sh/postrender-filename"

// postRenderTemplates runs pr over the rendered templates as Helm 4's
// renderResources does with its default ("combined") strategy, and returns
// the templates rebuilt from its output.
func postRenderTemplates(ctx context.Context, pr PostRenderer, files map[string]string) (map[string]string, error) {
	merged, err := annotateAndMerge(files)
	if err != nil {
		return nil, fmt.Errorf("error merging manifests: %w", err)
	}
	out, err := pr.PostRender(ctx, []byte(merged))
	if err != nil {
		return nil, fmt.Errorf("error while running post render on files: %w", err)
	}
	files, err = splitAndDeannotate(string(out))
	if err != nil {
		return nil, fmt.Errorf("error while parsing post rendered output: %w", err)
	}
	return files, nil
}

// annotateAndMerge joins the templates into one stream, in path order,
// each document annotated with its template's path; partials and empty
// templates are left out. The documents go through kyaml as in Helm, which
// sets how the stream is formatted.
func annotateAndMerge(files map[string]string) (string, error) {
	var all []*kyaml.RNode
	for _, name := range slices.Sorted(maps.Keys(files)) {
		content := files[name]
		if strings.HasPrefix(baseName(name), "_") || strings.TrimSpace(content) == "" {
			continue
		}
		for _, doc := range SplitManifests(content) {
			nodes, err := kio.ParseAll(doc)
			if err != nil {
				return "", fmt.Errorf("parsing %s: %w", name, err)
			}
			for _, n := range nodes {
				if err := n.PipeE(kyaml.SetAnnotation(postRenderFilenameAnnotation, name)); err != nil {
					return "", fmt.Errorf("annotating %s: %w", name, err)
				}
				all = append(all, n)
			}
		}
	}
	merged, err := kio.StringAll(all)
	if err != nil {
		return "", fmt.Errorf("writing merged docs: %w", err)
	}
	return merged, nil
}

// splitAndDeannotate rebuilds the templates from a post-renderer's output:
// the documents grouped by their filename annotation (removed), in the
// order they came.
func splitAndDeannotate(postRendered string) (map[string]string, error) {
	nodes, err := kio.ParseAll(postRendered)
	if err != nil {
		return nil, fmt.Errorf("error parsing YAML: %w", err)
	}
	byName := map[string][]*kyaml.RNode{}
	for i, n := range nodes {
		meta, err := n.GetMeta()
		if err != nil {
			return nil, fmt.Errorf("getting metadata: %w", err)
		}
		name := meta.Annotations[postRenderFilenameAnnotation]
		if name == "" {
			name = fmt.Sprintf("generated-by-postrender-%d.yaml", i)
		}
		if err := n.PipeE(kyaml.ClearAnnotation(postRenderFilenameAnnotation)); err != nil {
			return nil, fmt.Errorf("clearing filename annotation: %w", err)
		}
		byName[name] = append(byName[name], n)
	}
	files := make(map[string]string, len(byName))
	for name, docs := range byName {
		text, err := kio.StringAll(docs)
		if err != nil {
			return nil, fmt.Errorf("re-writing %s: %w", name, err)
		}
		files[name] = text
	}
	return files, nil
}

// PostRenderManifest runs a post-renderer of PostRenderManifest scope
// (Helm 3's way) over the manifest Helm 3 would give it and keeps its
// output as the manifest: ManifestText and Template return it from then on.
// o says what that manifest holds, as for `template`: the CRDs with
// IncludeCRDs; nothing at all with OutputDir (Helm 3 writes the files
// first, then post-renders what is left of the manifest: nothing). It
// returns the manifest to store or print: ManifestText(o.IncludeCRDs), or
// "" with OutputDir, when pr is nil or of the other scope (which Render
// ran).
func (r *Result) PostRenderManifest(ctx context.Context, pr PostRenderer, o TemplateOptions) (string, error) {
	manifest := ""
	if o.OutputDir == "" {
		manifest = r.ManifestText(o.IncludeCRDs)
	}
	if pr == nil || pr.Scope() != PostRenderManifest {
		return manifest, nil
	}
	if o.OutputDir == "" {
		manifest = r.helm3ManifestText(o.IncludeCRDs)
	}
	out, err := pr.PostRender(ctx, []byte(manifest))
	if err != nil {
		return "", fmt.Errorf("error while running post render on files: %w", err)
	}
	text := string(out)
	r.postRendered = &text
	return text, nil
}

// helm3InstallOrder is Helm 3's install order: Helm 4's without the
// webhook configurations, which Helm 3 sorts with the kinds it does not
// know (last, by name).
var helm3InstallOrder = slices.DeleteFunc(slices.Clone(InstallOrder), func(kind string) bool {
	return kind == "MutatingWebhookConfiguration" || kind == "ValidatingWebhookConfiguration"
})

// helm3ManifestText is the manifest as Helm 3 builds it: in Helm 3's
// install order, each document trimmed of the whitespace around it (Helm 4
// keeps what follows it).
func (r *Result) helm3ManifestText(includeCRDs bool) string {
	var b strings.Builder
	if includeCRDs {
		b.WriteString(r.CRDText())
	}
	// Manifests are sorted stably by Helm 4's order from template order:
	// sorting them stably again by Helm 3's gives Helm 3's order (two
	// documents Helm 3 ranks the same are of one kind, which Helm 4 left
	// in template order).
	manifests := slices.Clone(r.Manifests)
	slices.SortStableFunc(manifests, func(a, b Manifest) int {
		switch {
		case helm3InstallOrder.Less(a.Head.Kind, b.Head.Kind):
			return -1
		case helm3InstallOrder.Less(b.Head.Kind, a.Head.Kind):
			return 1
		}
		return 0
	})
	for _, m := range manifests {
		fmt.Fprintf(&b, "---\n# Source: %s\n%s\n", m.Name, strings.TrimSpace(m.Content))
	}
	return b.String()
}
