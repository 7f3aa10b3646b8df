package render

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"unicode"
)

// TemplateOptions shape `template` output.
type TemplateOptions struct {
	// IncludeCRDs prints the crds/ files first.
	IncludeCRDs bool
	// SkipTests leaves out test hooks.
	SkipTests bool
	// NoHooks leaves out every hook.
	NoHooks bool
	// OutputDir writes files under this folder instead of returning text.
	OutputDir string
	// UseReleaseName puts files under OutputDir/<release name>.
	UseReleaseName bool
	// ReleaseName is used with UseReleaseName.
	ReleaseName string
}

// ManifestText is the release manifest as Helm stores it: every non-hook
// document with its `# Source:` line, CRDs first when asked; after
// PostRenderManifest, what the post-renderer returned.
func (r *Result) ManifestText(includeCRDs bool) string {
	if r.postRendered != nil {
		return *r.postRendered
	}
	var b strings.Builder
	b.Grow(r.manifestLen(includeCRDs))
	if includeCRDs {
		r.writeCRDs(&b)
	}
	for _, m := range r.Manifests {
		_ = writeSourced(&b, m.Name, m.Content) // a strings.Builder does not fail
	}
	return b.String()
}

// sourcedLen is the length writeSourced writes.
func sourcedLen(name string, contentLen int) int {
	return len("---\n# Source: \n\n") + len(name) + contentLen
}

// manifestLen is the length of ManifestText(includeCRDs) before a
// post-renderer ran.
func (r *Result) manifestLen(includeCRDs bool) int {
	n := 0
	if includeCRDs {
		for _, crd := range r.CRDs {
			n += sourcedLen(crd.Filename, len(crd.File.Data))
		}
	}
	for _, m := range r.Manifests {
		n += sourcedLen(m.Name, len(m.Content))
	}
	return n
}

// writeCRDs writes CRDText into b.
func (r *Result) writeCRDs(b *strings.Builder) {
	for _, crd := range r.CRDs {
		b.WriteString("---\n# Source: ")
		b.WriteString(crd.Filename)
		b.WriteByte('\n')
		b.Write(crd.File.Data)
		b.WriteByte('\n')
	}
}

// CRDText is the crds/ files with `# Source:` lines, as `template
// --include-crds` prints them before the manifest.
func (r *Result) CRDText() string {
	n := 0
	for _, crd := range r.CRDs {
		n += sourcedLen(crd.Filename, len(crd.File.Data))
	}
	var b strings.Builder
	b.Grow(n)
	r.writeCRDs(&b)
	return b.String()
}

// Template renders the output of `helm template`: the manifest, then the
// hooks. OutputDir is ignored: see WriteFiles.
func (r *Result) Template(o TemplateOptions) (string, error) {
	var b strings.Builder
	b.Grow(r.manifestLen(o.IncludeCRDs) + 1 + r.hooksLen(o))
	err := r.WriteTemplate(&b, o)
	return b.String(), err
}

// WriteTemplate writes what Template returns to w, document by document:
// the output of a big chart is megabytes, and each copy of it costs page
// faults on fresh memory, so it is not built as one string first.
func (r *Result) WriteTemplate(w io.Writer, o TemplateOptions) error {
	if r.postRendered != nil || o.IncludeCRDs && len(r.CRDs) > 0 {
		// The manifest is trimmed as a whole (Helm's strings.TrimSpace).
		if _, err := io.WriteString(w, strings.TrimSpace(r.ManifestText(o.IncludeCRDs))+"\n"); err != nil {
			return err
		}
	} else {
		// Each document starts with "---": only the last one's trailing
		// space is trimmed.
		for i, m := range r.Manifests {
			content := m.Content
			if i == len(r.Manifests)-1 {
				content = strings.TrimRightFunc(content, unicode.IsSpace)
			}
			if err := writeSourced(w, m.Name, content); err != nil {
				return err
			}
		}
		if len(r.Manifests) == 0 {
			if _, err := io.WriteString(w, "\n"); err != nil {
				return err
			}
		}
	}
	if o.NoHooks {
		return nil
	}
	for _, h := range r.Hooks {
		if o.SkipTests && h.IsTest() {
			continue
		}
		if err := writeSourced(w, h.Path, h.Manifest); err != nil {
			return err
		}
	}
	return nil
}

// hooksLen is the length of the hooks' part of Template's output.
func (r *Result) hooksLen(o TemplateOptions) int {
	n := 0
	for _, h := range r.Hooks {
		if !o.NoHooks && !(o.SkipTests && h.IsTest()) {
			n += sourcedLen(h.Path, len(h.Manifest))
		}
	}
	return n
}

// writeSourced writes one document as Helm prints it: "---\n# Source:
// NAME\nCONTENT\n". Output of big charts is megabytes: it goes piece by
// piece to a presized builder or a buffered writer (io.WriteString copies
// nothing more for those), with no fmt.
func writeSourced(w io.Writer, name, content string) error {
	for _, s := range [...]string{"---\n# Source: ", name, "\n", content, "\n"} {
		if _, err := io.WriteString(w, s); err != nil {
			return err
		}
	}
	return nil
}

// WriteFiles writes each document under o.OutputDir as `helm template
// --output-dir` does (CRDs, manifests, hooks; documents of one template
// appended to one file) and returns the paths written, in order, joined as
// Helm prints them.
func (r *Result) WriteFiles(o TemplateOptions) ([]string, error) {
	var paths []string
	written := map[string]bool{}
	write := func(dir, name, content string) error {
		p := filepath.Join(dir, name)
		if err := writeToFile(dir, name, content, written[p]); err != nil {
			return err
		}
		written[p] = true
		// Helm joins with a separator, without cleaning the path.
		paths = append(paths, dir+string(filepath.Separator)+name)
		return nil
	}
	if o.IncludeCRDs {
		for _, crd := range r.CRDs {
			if err := write(o.OutputDir, crd.Filename, string(crd.File.Data)); err != nil {
				return paths, err
			}
		}
	}
	dir := o.OutputDir
	if o.UseReleaseName {
		dir = filepath.Join(o.OutputDir, o.ReleaseName)
	}
	for _, m := range r.Manifests {
		if err := write(dir, m.Name, m.Content); err != nil {
			return paths, err
		}
	}
	if !o.NoHooks {
		for _, h := range r.Hooks {
			if o.SkipTests && h.IsTest() {
				continue
			}
			if err := write(dir, h.Path, h.Manifest); err != nil {
				return paths, err
			}
		}
	}
	return paths, nil
}

// writeToFile writes or appends one document as Helm does for --output-dir.
func writeToFile(outputDir, name, data string, appendData bool) error {
	outfileName := filepath.Join(outputDir, name)
	if err := os.MkdirAll(filepath.Dir(outfileName), 0o755); err != nil {
		return err
	}
	flag := os.O_RDWR | os.O_CREATE | os.O_TRUNC
	if appendData {
		flag = os.O_APPEND | os.O_WRONLY
	}
	f, err := os.OpenFile(outfileName, flag, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := fmt.Fprintf(f, "---\n# Source: %s\n%s\n", name, data); err != nil {
		return err
	}
	return nil
}

// ShowOnly keeps the documents of the templates matching the patterns, as
// `helm template --show-only` does (a pattern matches the path below the
// chart name, e.g. templates/deployment.yaml or charts/sub/templates/*.yaml).
func ShowOnly(text string, patterns []string) (string, error) {
	docs := SplitManifests(text)
	var out bytes.Buffer
	for _, f := range patterns {
		f = filepath.ToSlash(f)
		missing := true
		for _, d := range docs {
			name, ok := sourceOf(d)
			if !ok {
				continue
			}
			if matched, _ := filepath.Match(f, name); !matched {
				continue
			}
			fmt.Fprintf(&out, "---\n%s\n", d)
			missing = false
		}
		if missing {
			return "", fmt.Errorf("could not find template %s in chart", f)
		}
	}
	return out.String(), nil
}

// sourceOf reads the path after the chart name of a document's first
// `# Source: chart/...` line.
func sourceOf(doc string) (string, bool) {
	i := strings.Index(doc, "# Source: ")
	if i < 0 {
		return "", false
	}
	rest := doc[i+len("# Source: "):]
	if j := strings.IndexByte(rest, '\n'); j >= 0 {
		rest = rest[:j]
	}
	slash := strings.IndexByte(rest, '/')
	if slash <= 0 || slash == len(rest)-1 {
		return "", false
	}
	return rest[slash+1:], true
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
