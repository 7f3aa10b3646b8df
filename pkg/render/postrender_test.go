package render_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kubectl-chart/kubectl-chart/pkg/chart"
	"github.com/kubectl-chart/kubectl-chart/pkg/render"
)

// fakePostRenderer records what it is given and returns what fn makes of
// it. (The real ones, plugins and executables, are compared with Helm in
// internal/cmd's TestPostRenderTemplate.)
type fakePostRenderer struct {
	scope render.PostRenderScope
	fn    func(in string) (string, error)
	got   []string
}

func (f *fakePostRenderer) PostRender(_ context.Context, in []byte) ([]byte, error) {
	f.got = append(f.got, string(in))
	out, err := f.fn(string(in))
	return []byte(out), err
}

func (f *fakePostRenderer) Scope() render.PostRenderScope { return f.scope }

// postRenderChart has a partial, an empty template, two documents in one
// template, a hook and a webhook configuration (which Helm 3 and Helm 4
// order differently).
func postRenderChart() *chart.Chart {
	file := func(name, data string) *chart.File { return &chart.File{Name: name, Data: []byte(data)} }
	return &chart.Chart{
		Metadata: &chart.Metadata{APIVersion: "v2", Name: "pr", Version: "0.1.0"},
		Templates: []*chart.File{
			file("templates/_helpers.tpl", `{{ define "pr.name" }}{{ .Release.Name }}-pr{{ end }}`),
			file("templates/empty.yaml", "{{ if false }}kind: Nothing{{ end }}\n"),
			file("templates/webhook.yaml", "apiVersion: admissionregistration.k8s.io/v1\nkind: MutatingWebhookConfiguration\nmetadata:\n  name: {{ include \"pr.name\" . }}\nwebhooks: []\n"),
			file("templates/app.yaml", "# the service\napiVersion: v1\nkind: Service\nmetadata:\n  name: {{ include \"pr.name\" . }}\nspec:\n  ports:\n    - port: 80\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ include \"pr.name\" . }}\ndata:\n  k: \"v\"\n"),
			file("templates/hook.yaml", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {{ include \"pr.name\" . }}-test\n  annotations:\n    helm.sh/hook: test\n"),
			file("templates/crd-kind.yaml", "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n"),
		},
	}
}

func renderWith(t *testing.T, pr render.PostRenderer) (*render.Result, error) {
	t.Helper()
	opts := render.DefaultOptions()
	opts.ReleaseName = "rel"
	opts.PostRenderer = pr
	return render.Render(t.Context(), postRenderChart(), nil, opts)
}

// docs lists a result's documents as "template: kind" lines, manifests then
// hooks.
func docs(res *render.Result) []string {
	var out []string
	for _, m := range res.Manifests {
		out = append(out, m.Name+": "+m.Head.Kind)
	}
	for _, h := range res.Hooks {
		out = append(out, "hook "+h.Path+": "+h.Kind)
	}
	return out
}

// TestPostRenderTemplates checks Helm 4's way: every template, hooks
// included, annotated with its path, in path order; the output split back
// by the annotation, then sorted as any render.
func TestPostRenderTemplates(t *testing.T) {
	// What Helm 4's annotateAndMerge makes of the chart (kyaml's format).
	const merged = `# the service
apiVersion: v1
kind: Service
metadata:
  name: rel-pr
  annotations:
    postrenderer.helm.sh/postrender-filename: 'pr/templates/app.yaml'
spec:
  ports:
  - port: 80
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: rel-pr
  annotations:
    postrenderer.helm.sh/postrender-filename: 'pr/templates/app.yaml'
data:
  k: "v"
---
apiVersion: example.com/v1
kind: Widget
metadata:
  name: w
  annotations:
    postrenderer.helm.sh/postrender-filename: 'pr/templates/crd-kind.yaml'
---
apiVersion: v1
kind: Pod
metadata:
  name: rel-pr-test
  annotations:
    helm.sh/hook: test
    postrenderer.helm.sh/postrender-filename: 'pr/templates/hook.yaml'
---
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata:
  name: rel-pr
  annotations:
    postrenderer.helm.sh/postrender-filename: 'pr/templates/webhook.yaml'
webhooks: []
`
	tests := []struct {
		name         string
		fn           func(string) (string, error)
		wantDocs     []string
		wantManifest string
		wantErr      string
	}{
		{
			name:     "as it is",
			fn:       func(in string) (string, error) { return in, nil },
			wantDocs: []string{"pr/templates/app.yaml: ConfigMap", "pr/templates/app.yaml: Service", "pr/templates/webhook.yaml: MutatingWebhookConfiguration", "pr/templates/crd-kind.yaml: Widget", "hook pr/templates/hook.yaml: Pod"},
			wantManifest: "---\n# Source: pr/templates/app.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: rel-pr\ndata:\n  k: \"v\"\n\n" +
				"---\n# Source: pr/templates/app.yaml\n# the service\napiVersion: v1\nkind: Service\nmetadata:\n  name: rel-pr\nspec:\n  ports:\n  - port: 80\n\n" +
				"---\n# Source: pr/templates/webhook.yaml\napiVersion: admissionregistration.k8s.io/v1\nkind: MutatingWebhookConfiguration\nmetadata:\n  name: rel-pr\nwebhooks: []\n\n" +
				"---\n# Source: pr/templates/crd-kind.yaml\napiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n\n",
		},
		{
			name: "a document added, one dropped, a hook made plain",
			fn: func(in string) (string, error) {
				in = strings.Replace(in, "    helm.sh/hook: test\n", "", 1)
				in = strings.Replace(in, "kind: Widget", "kind: Gadget", 1)
				return in + "---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: added\n", nil
			},
			wantDocs: []string{
				"generated-by-postrender-5.yaml: Secret", "pr/templates/app.yaml: ConfigMap", "pr/templates/app.yaml: Service",
				"pr/templates/hook.yaml: Pod", "pr/templates/webhook.yaml: MutatingWebhookConfiguration", "pr/templates/crd-kind.yaml: Gadget",
			},
		},
		{name: "not YAML", fn: func(string) (string, error) { return "a: [\n", nil }, wantErr: "error while parsing post rendered output: error parsing YAML: MalformedYAMLError: yaml: line 1: did not find expected node content"},
		{name: "failed", fn: func(string) (string, error) { return "", errors.New("exit status 3") }, wantErr: "error while running post render on files: exit status 3"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pr := &fakePostRenderer{scope: render.PostRenderTemplates, fn: tc.fn}
			res, err := renderWith(t, pr)
			if diff := cmp.Diff([]string{merged}, pr.got); diff != "" {
				t.Errorf("post-renderer input (-want +got):\n%s", diff)
			}
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("error = %v\nwant %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.wantDocs, docs(res)); diff != "" {
				t.Errorf("documents (-want +got):\n%s", diff)
			}
			if tc.wantManifest != "" {
				if diff := cmp.Diff(tc.wantManifest, res.ManifestText(false)); diff != "" {
					t.Errorf("manifest (-want +got):\n%s", diff)
				}
			}
			// The manifest scope's step leaves this result alone.
			text, err := res.PostRenderManifest(t.Context(), pr, render.TemplateOptions{})
			if err != nil || text != res.ManifestText(false) || len(pr.got) != 1 {
				t.Errorf("PostRenderManifest with a templates-scope post-renderer: %q, %v, %d runs", text, err, len(pr.got))
			}
		})
	}
}

// TestPostRenderManifest checks Helm 3's way: Render leaves the
// post-renderer alone; PostRenderManifest gives it the manifest as Helm 3
// builds it (documents trimmed, Helm 3's order) and its output becomes the
// manifest, the hooks untouched.
func TestPostRenderManifest(t *testing.T) {
	upper := func(in string) (string, error) { return strings.ToUpper(in), nil }
	const helm3Manifest = "---\n# Source: pr/templates/app.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: rel-pr\ndata:\n  k: \"v\"\n" +
		"---\n# Source: pr/templates/app.yaml\n# the service\napiVersion: v1\nkind: Service\nmetadata:\n  name: rel-pr\nspec:\n  ports:\n    - port: 80\n" +
		"---\n# Source: pr/templates/webhook.yaml\napiVersion: admissionregistration.k8s.io/v1\nkind: MutatingWebhookConfiguration\nmetadata:\n  name: rel-pr\nwebhooks: []\n" +
		"---\n# Source: pr/templates/crd-kind.yaml\napiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n"
	tests := []struct {
		name      string
		opts      render.TemplateOptions
		fn        func(string) (string, error)
		wantInput string
		want      string
		wantErr   string
	}{
		{name: "manifest", fn: upper, wantInput: helm3Manifest, want: strings.ToUpper(helm3Manifest)},
		{name: "with --output-dir: nothing", opts: render.TemplateOptions{OutputDir: "out"}, fn: upper, wantInput: "", want: ""},
		{name: "failed", fn: func(string) (string, error) { return "", errors.New("exit status 3") }, wantInput: helm3Manifest, wantErr: "error while running post render on files: exit status 3"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pr := &fakePostRenderer{scope: render.PostRenderManifest, fn: tc.fn}
			res, err := renderWith(t, pr)
			if err != nil {
				t.Fatal(err)
			}
			if len(pr.got) != 0 {
				t.Fatalf("Render ran a manifest-scope post-renderer")
			}
			hooks := res.Hooks[0].Manifest
			got, err := res.PostRenderManifest(t.Context(), pr, tc.opts)
			if diff := cmp.Diff([]string{tc.wantInput}, pr.got); diff != "" {
				t.Errorf("post-renderer input (-want +got):\n%s", diff)
			}
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("error = %v\nwant %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want || res.ManifestText(true) != tc.want {
				t.Errorf("manifest %q, ManifestText %q; want %q", got, res.ManifestText(true), tc.want)
			}
			text, err := res.Template(render.TemplateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			wantText := strings.TrimSpace(tc.want) + "\n---\n# Source: pr/templates/hook.yaml\n" + hooks + "\n"
			if diff := cmp.Diff(wantText, text); diff != "" {
				t.Errorf("template output (-want +got):\n%s", diff)
			}
		})
	}
}
