package loader

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func wantV1() summary {
	return summary{
		Name: "frobnitz", Version: "1.2.3", APIVersion: "v1",
		Dependencies: []string{"mysql"},
		Lock:         []string{"sha256:0123", "2024-01-02T03:04:05Z", "mysql@0.1.0"},
		Templates:    []string{"templates/configmap.yaml"},
		Files:        []string{"requirements.lock", "requirements.yaml"},
		Raw: []string{
			"Chart.yaml", "charts/mysql/Chart.yaml", "charts/mysql/templates/svc.yaml",
			"requirements.lock", "requirements.yaml", "templates/configmap.yaml", "values.yaml",
		},
		Values: map[string]any{"name": "frobnitz", "mysql": map[string]any{"enabled": true}},
		Subcharts: []summary{{
			Name: "mysql", Version: "0.1.0", APIVersion: "v1",
			Templates: []string{"templates/svc.yaml"},
			Files:     []string{},
			Raw:       []string{"Chart.yaml", "templates/svc.yaml"},
		}},
	}
}

// wantV2 is testdata/v2chart; hidden tells whether templates/.hidden.yaml
// is loaded (from an archive, where .helmignore rules do not apply).
func wantV2(hidden bool) summary {
	templates := []string{"templates/_helpers.tpl", "templates/deployment.yaml"}
	raw := []string{
		"Chart.lock", "Chart.yaml", "charts/.cache/x", "charts/_scratch/notes.txt",
		"charts/alpine/Chart.yaml", "charts/alpine/templates/pod.yaml", "charts/alpine/values.yaml",
		"charts/tgzsub-1.0.0.tgz", "crds/things.yaml", "files/config.yaml",
		"templates/_helpers.tpl", "templates/deployment.yaml", "values.schema.json", "values.yaml",
	}
	if hidden {
		templates = append([]string{"templates/.hidden.yaml"}, templates...)
		raw = append(raw[:10:10], append([]string{"templates/.hidden.yaml"}, raw[10:]...)...)
	}
	return summary{
		Name: "parent", Version: "0.1.0", APIVersion: "v2",
		Dependencies: []string{"alpine", "tgzsub as packed"},
		Lock:         []string{"sha256:abcd", "2024-05-06T07:08:09Z", "alpine@0.2.0", "tgzsub@1.0.0"},
		Templates:    templates,
		Files:        []string{"crds/things.yaml", "files/config.yaml"},
		Raw:          raw,
		Values: map[string]any{
			"replicas": float64(1),
			"image":    map[string]any{"tag": "1.0", "repository": "nginx"},
		},
		Schema: `{"$schema": "https://json-schema.org/draft-07/schema#", "type": "object"}` + "\n",
		Subcharts: []summary{
			{
				Name: "alpine", Version: "0.2.0", APIVersion: "v2",
				Templates: []string{"templates/pod.yaml"},
				Files:     []string{},
				Raw:       []string{"Chart.yaml", "templates/pod.yaml", "values.yaml"},
				Values:    map[string]any{"sub": true},
			},
			{
				Name: "tgzsub", Version: "1.0.0", APIVersion: "v2",
				Templates: []string{"templates/secret.yaml"},
				Files:     []string{},
				Raw:       []string{"Chart.yaml", "values.yaml", "templates/secret.yaml", "charts/inner/Chart.yaml"},
				Values:    map[string]any{"packed": true},
				Subcharts: []summary{{
					Name: "inner", Version: "0.0.1", APIVersion: "v2",
					Templates: []string{}, Files: []string{}, Raw: []string{"Chart.yaml"},
				}},
			},
		},
	}
}

func wantIgnored() summary {
	return summary{
		Name: "ignored", Version: "0.1.0", APIVersion: "v2",
		Templates: []string{"templates/cm.yaml"},
		Files:     []string{".helmignore", "README.md", "keep/a.txt"},
		Raw:       []string{".helmignore", "Chart.yaml", "README.md", "keep/a.txt", "templates/cm.yaml"},
	}
}

func TestLoad(t *testing.T) {
	tests := []struct {
		name string
		// dir is a chart folder under testdata; archived, it is loaded
		// from a .tgz built from it instead.
		dir      string
		archived bool
		want     summary
	}{
		{name: "v1 chart with requirements.yaml", dir: "v1chart", want: wantV1()},
		{name: "v1 chart archived", dir: "v1chart", archived: true, want: wantV1()},
		{name: "v2 chart with subcharts", dir: "v2chart", want: wantV2(false)},
		{name: "v2 chart archived", dir: "v2chart", archived: true, want: wantV2(true)},
		{name: "helmignore", dir: "ignored", want: wantIgnored()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join("testdata", tc.dir)
			if tc.archived {
				path = filepath.Join(t.TempDir(), tc.dir+".tgz")
				if err := os.WriteFile(path, archiveDir(t, filepath.Join("testdata", tc.dir), tc.dir), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			c, err := Load(path)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if diff := cmp.Diff(tc.want, summarize(c)); diff != "" {
				t.Errorf("chart (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLoadDirDetails(t *testing.T) {
	c, err := LoadDir(filepath.Join("testdata", "v2chart"))
	if err != nil {
		t.Fatal(err)
	}
	// The byte order mark of Chart.yaml is gone from the file too.
	if raw := c.Raw[1]; raw.Name != "Chart.yaml" || bytes.HasPrefix(raw.Data, utf8bom) {
		t.Errorf("Raw[1] = %s starting %q, want Chart.yaml without byte order mark", raw.Name, raw.Data[:3])
	}
	for _, sc := range c.Dependencies() {
		if sc.Parent() != c {
			t.Errorf("subchart %s: parent not set", sc.Name())
		}
	}
	if got := c.Dependencies()[1].ChartFullPath(); got != "parent/charts/tgzsub" {
		t.Errorf("ChartFullPath = %q", got)
	}
	if c.Templates[0].ModTime.IsZero() {
		t.Error("template without modification time")
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name    string
		path    string
		wantErr string
	}{
		{name: "missing Chart.yaml", path: "bad/missing-chart-yaml", wantErr: "unable to detect chart at <abs>/testdata/bad/missing-chart-yaml/Chart.yaml: open <abs>/testdata/bad/missing-chart-yaml/Chart.yaml: no such file or directory"},
		{name: "bad version", path: "bad/bad-version", wantErr: `validation: chart.metadata.version "one.two" is invalid`},
		{name: "bad yaml", path: "bad/bad-yaml", wantErr: "cannot load Chart.yaml: error converting YAML to JSON: yaml: line 2: did not find expected ',' or ']'"},
		{name: "bad values", path: "bad/bad-values", wantErr: "cannot load values.yaml: cannot unmarshal yaml document: error converting YAML to JSON: yaml: line 1: did not find expected ',' or ']'"},
		{name: "bad subchart", path: "bad/bad-subchart", wantErr: "error unpacking subchart broken in badsub: validation: chart.metadata.version is required"},
		{name: "no such path", path: "bad/nothing-here", wantErr: "stat testdata/bad/nothing-here: no such file or directory"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(filepath.Join("testdata", tc.path))
			wd, _ := os.Getwd()
			if got := strings.ReplaceAll(errString(err), wd, "<abs>"); got != tc.wantErr {
				t.Errorf("error = %q, want %q", got, tc.wantErr)
			}
		})
	}
}
