package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"text/template"

	"sigs.k8s.io/yaml"
)

// renderManifest renders the krew-release-bot template (.krew.yaml) into
// the krew Plugin manifest of release tag, as the bot does after a GitHub
// release, except that the sha256 of each archive comes from sums (archive
// file name → hex sum) instead of a download. Both then publish the same
// manifest from one template.
//
// The bot's template language: text/template with data {{ .TagName }},
// {{ addURIAndSha "<url with {{ .TagName }}>" .TagName }} (which writes the
// uri and sha256 lines of a platform) and {{ indent N "text" }}.
func renderManifest(name string, text []byte, tag string, sums map[string]string) ([]byte, error) {
	return render(name, text, tag, sums, false)
}

// notBuilt stands for the sum of an archive that was not built, in a partial
// manifest before its platform is dropped.
const notBuilt = "not-built"

func render(name string, text []byte, tag string, sums map[string]string, partial bool) ([]byte, error) {
	funcs := template.FuncMap{
		"addURIAndSha": func(url, tag string) (string, error) {
			u, err := expandURL(url, tag)
			if err != nil {
				return "", err
			}
			base := path.Base(u)
			sum, ok := sums[base]
			if !ok && partial {
				sum = notBuilt
			} else if !ok {
				return "", fmt.Errorf("%s: no archive %s was built", u, base)
			}
			return fmt.Sprintf("uri: %s\n    sha256: %s", u, sum), nil
		},
		"indent": indent,
	}
	t, err := template.New(name).Funcs(funcs).Option("missingkey=error").Parse(string(text))
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if err := t.Execute(&out, struct{ TagName string }{tag}); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// expandURL executes the template inside addURIAndSha's URL, with the data
// the bot gives it.
func expandURL(url, tag string) (string, error) {
	t, err := template.New("url").Option("missingkey=error").Parse(url)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	err = t.Execute(&b, struct{ TagName, Version string }{tag, versionFromTag(tag)})
	return b.String(), err
}

var versionNumber = regexp.MustCompile(`\d+(\.\d+)+`)

// versionFromTag is the bot's .Version: the dotted numbers of the tag.
func versionFromTag(tag string) string {
	if v := versionNumber.FindString(tag); v != "" {
		return v
	}
	return tag
}

// indent is the bot's indent function.
func indent(spaces int, v string) string {
	v = strings.ReplaceAll(v, "    sha256:", "sha256:")
	pad := strings.Repeat(" ", spaces)
	return strings.TrimSpace(pad + strings.ReplaceAll(v, "\n", "\n"+pad))
}

// pluginManifest is the part of a krew Plugin manifest that checkManifest
// looks at.
type pluginManifest struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Spec struct {
		Version   string `json:"version"`
		Platforms []struct {
			URI    string `json:"uri"`
			Sha256 string `json:"sha256"`
			Bin    string `json:"bin"`
		} `json:"platforms"`
	} `json:"spec"`
}

// checkManifest catches what would make krew refuse the manifest written to
// file: not a v1alpha2 Plugin, a name other than the file's, another
// version than tag, or a platform without uri, sha256 or bin. krew's own
// validation (validate-krew-manifest) runs in test/krew.
func checkManifest(file string, b []byte, tag string) error {
	var m pluginManifest
	if err := yaml.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	want := strings.TrimSuffix(filepath.Base(file), ".yaml")
	var errs []string
	if m.APIVersion != "krew.googlecontainertools.github.com/v1alpha2" || m.Kind != "Plugin" {
		errs = append(errs, fmt.Sprintf("not a krew v1alpha2 Plugin (apiVersion %q, kind %q)", m.APIVersion, m.Kind))
	}
	if m.Metadata.Name != want {
		errs = append(errs, fmt.Sprintf("metadata.name is %q, krew wants the file name %q", m.Metadata.Name, want))
	}
	if m.Spec.Version != tag {
		errs = append(errs, fmt.Sprintf("spec.version is %q, want %q", m.Spec.Version, tag))
	}
	if len(m.Spec.Platforms) == 0 {
		errs = append(errs, "no platforms")
	}
	for i, p := range m.Spec.Platforms {
		if p.URI == "" || len(p.Sha256) != 64 || p.Bin == "" {
			errs = append(errs, fmt.Sprintf("platform %d lacks uri, sha256 or bin", i))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s: %s", file, strings.Join(errs, "; "))
	}
	return nil
}

// generatePartialManifest renders the template for the platforms that were
// built only: the others' entries are dropped. It serves tests that install
// this platform's archive with krew without cross-compiling every platform
// (make test); a release needs every platform (make dist).
func generatePartialManifest(o options, sums map[string]string) ([]byte, error) {
	text, err := os.ReadFile(o.Template)
	if err != nil {
		return nil, err
	}
	body, err := render(filepath.Base(o.Template), text, o.Version, sums, true)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", o.Template, err)
	}
	var m map[string]any
	if err := yaml.Unmarshal(body, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", o.Template, err)
	}
	spec, _ := m["spec"].(map[string]any)
	platforms, _ := spec["platforms"].([]any)
	var kept []any
	for _, p := range platforms {
		if pm, ok := p.(map[string]any); ok && pm["sha256"] != notBuilt {
			kept = append(kept, p)
		}
	}
	if len(kept) == 0 {
		return nil, errors.New("no platform of the manifest was built")
	}
	spec["platforms"] = kept
	out, err := yaml.Marshal(m)
	if err != nil {
		return nil, err
	}
	header := fmt.Sprintf("# Partial manifest generated by hack/dist for tests (%s only); not for a release.\n", joinPlatforms(o.Platforms))
	return append([]byte(header), out...), nil
}
