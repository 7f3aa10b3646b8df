package main

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/yaml"
)

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// fakeSums are sums for every archive of release tag.
func fakeSums(tag string) map[string]string {
	sums := map[string]string{}
	for _, p := range allPlatforms {
		name := p.archiveName(tag)
		sums[name] = sha256Hex([]byte(name))
	}
	return sums
}

// krewPlatform is a platform of a krew manifest, as the test reads it.
type krewPlatform struct {
	Selector struct {
		MatchLabels map[string]string `json:"matchLabels"`
	} `json:"selector"`
	URI    string `json:"uri"`
	Sha256 string `json:"sha256"`
	Bin    string `json:"bin"`
	Files  []struct {
		From string `json:"from"`
		To   string `json:"to"`
	} `json:"files"`
}

// TestRenderManifest renders the repository's .krew.yaml as make dist does
// and checks every platform: selector, release URI, sum, bin, files.
func TestRenderManifest(t *testing.T) {
	const tag = "v1.2.3"
	text, err := os.ReadFile(filepath.Join("..", "..", ".krew.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	sums := fakeSums(tag)
	out, err := renderManifest(".krew.yaml", text, tag, sums)
	if err != nil {
		t.Fatal(err)
	}
	if err := checkManifest("krew/chart.yaml", out, tag); err != nil {
		t.Error(err)
	}
	var m struct {
		APIVersion string `json:"apiVersion"`
		Kind       string
		Metadata   struct{ Name string }
		Spec       struct {
			Version          string
			Homepage         string
			ShortDescription string `json:"shortDescription"`
			Description      string
			Caveats          string
			Platforms        []krewPlatform
		}
	}
	if err := yaml.UnmarshalStrict(out, &m); err != nil {
		// Strict: a field krew does not know (a typo) fails here.
		t.Fatalf("%v\n%s", err, out)
	}
	if m.Metadata.Name != "chart" || m.Spec.Version != tag || m.Spec.Homepage != "https://github.com/kubectl-chart/kubectl-chart" {
		t.Errorf("name %q, version %q, homepage %q", m.Metadata.Name, m.Spec.Version, m.Spec.Homepage)
	}
	if m.Spec.ShortDescription == "" || m.Spec.Description == "" {
		t.Error("no shortDescription or description")
	}
	for _, want := range []string{"kubectl chart webhook install", "store/chart/" + tag + "/kubectl_complete-chart", "kubectl_complete-chart.cmd"} {
		if !strings.Contains(m.Spec.Caveats, want) {
			t.Errorf("caveats do not mention %q:\n%s", want, m.Spec.Caveats)
		}
	}
	// krew's validate-krew-manifest warns about longer lines.
	for field, max := range map[string]int{m.Spec.Description: 80, m.Spec.Caveats: 80, m.Spec.ShortDescription: 70} {
		for _, line := range strings.Split(field, "\n") {
			if len(line) > max {
				t.Errorf("line longer than %d: %q", max, line)
			}
		}
	}

	type platformSummary struct {
		OS, Arch, URI, Sha256, Bin string
		Files                      []string
	}
	var got []platformSummary
	for _, p := range m.Spec.Platforms {
		s := platformSummary{OS: p.Selector.MatchLabels["os"], Arch: p.Selector.MatchLabels["arch"], URI: p.URI, Sha256: p.Sha256, Bin: p.Bin}
		for _, f := range p.Files {
			s.Files = append(s.Files, f.From+" -> "+f.To)
		}
		got = append(got, s)
	}
	var want []platformSummary
	for _, p := range allPlatforms {
		name := p.archiveName(tag)
		s := platformSummary{OS: p.OS, Arch: p.Arch, Sha256: sums[name], Bin: "kubectl-chart",
			URI:   "https://github.com/kubectl-chart/kubectl-chart/releases/download/v1.2.3/" + name,
			Files: []string{"kubectl-chart -> .", "kubectl_complete-chart -> .", "LICENSE -> ."}}
		if p.OS == "windows" {
			s.Bin = "kubectl-chart.exe"
			s.Files = []string{"kubectl-chart.exe -> .", "kubectl_complete-chart.cmd -> .", "LICENSE -> ."}
		}
		// Every file of the platform's archive is installed.
		var names []string
		for _, e := range p.entries(".", "bin") {
			names = append(names, e.Name+" -> .")
		}
		if diff := cmp.Diff(slices.Sorted(slices.Values(s.Files)), slices.Sorted(slices.Values(names))); diff != "" {
			t.Errorf("%s: manifest files and archive entries differ (-manifest +archive):\n%s", p, diff)
		}
		want = append(want, s)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("platforms (-want +got):\n%s", diff)
	}
}

// TestRenderManifestBotSyntax renders templates written for
// krew-release-bot: .Version in URLs, the indent function, and the errors
// for a missing archive or an unknown field.
func TestRenderManifestBotSyntax(t *testing.T) {
	sums := map[string]string{"x_1.2.3.tgz": strings.Repeat("a", 64)}
	tests := []struct {
		name, text, want, wantErr string
	}{
		{
			name: "version in url",
			text: `    {{addURIAndSha "https://h/{{ .TagName }}/x_{{ .Version }}.tgz" .TagName }}`,
			want: "    uri: https://h/v1.2.3/x_1.2.3.tgz\n    sha256: " + strings.Repeat("a", 64),
		},
		{
			name: "indent",
			text: "  - {{ addURIAndSha \"https://h/x_{{ .Version }}.tgz\" .TagName | indent 4 }}",
			want: "  - uri: https://h/x_1.2.3.tgz\n    sha256: " + strings.Repeat("a", 64),
		},
		{name: "missing archive", text: `{{addURIAndSha "https://h/y.tgz" .TagName }}`, wantErr: "https://h/y.tgz: no archive y.tgz was built"},
		{name: "unknown field", text: `{{ .PluginName }}`, wantErr: "can't evaluate field PluginName"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := renderManifest("t", []byte(tc.text), "v1.2.3", sums)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, string(got)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestCheckManifest(t *testing.T) {
	ok := `apiVersion: krew.googlecontainertools.github.com/v1alpha2
kind: Plugin
metadata:
  name: chart
spec:
  version: v1.0.0
  platforms:
  - uri: https://h/a.tgz
    sha256: ` + strings.Repeat("ab", 32) + `
    bin: kubectl-chart
`
	tests := []struct {
		name, file, text, want string
	}{
		{name: "ok", file: "krew/chart.yaml", text: ok},
		{name: "name differs from file", file: "krew/other.yaml", text: ok, want: `metadata.name is "chart", krew wants the file name "other"`},
		{name: "version", file: "chart.yaml", text: strings.Replace(ok, "v1.0.0", "v2.0.0", 1), want: `spec.version is "v2.0.0", want "v1.0.0"`},
		{name: "kind", file: "chart.yaml", text: strings.Replace(ok, "Plugin", "Index", 1), want: "not a krew v1alpha2 Plugin"},
		{name: "bad sum", file: "chart.yaml", text: strings.Replace(ok, "abab", "", 1), want: "platform 0 lacks uri, sha256 or bin"},
		{name: "no platforms", file: "chart.yaml", text: ok[:strings.Index(ok, "  platforms:")], want: "no platforms"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := checkManifest(tc.file, []byte(tc.text), "v1.0.0")
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
}
