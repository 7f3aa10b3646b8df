package packager

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/kubectl-chart/kubectl-chart/pkg/chart"
	"github.com/kubectl-chart/kubectl-chart/pkg/chart/loader"
)

// The loader's test charts.
const testdata = "../loader/testdata"

// view is what must survive packaging: everything a render sees.
type view struct {
	Metadata  *chart.Metadata
	Lock      *chart.Lock
	Templates map[string]string
	Files     map[string]string
	Values    map[string]any
	Schema    string
	Subcharts []view
}

func viewOf(c *chart.Chart) view {
	v := view{
		Metadata:  c.Metadata,
		Lock:      c.Lock,
		Templates: contents(c.Templates),
		Files:     contents(c.Files),
		Values:    c.Values,
		Schema:    string(c.Schema),
	}
	for _, d := range c.Dependencies() {
		v.Subcharts = append(v.Subcharts, viewOf(d))
	}
	return v
}

func contents(files []*chart.File) map[string]string {
	out := map[string]string{}
	for _, f := range files {
		out[f.Name] = string(f.Data)
	}
	return out
}

type tarEntry struct {
	Name string
	Mode int64
}

// readArchive lists an archive's entries, checking Helm's gzip header.
func readArchive(t *testing.T, path string) ([]tarEntry, map[string]string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	if gz.Comment != "Helm" || !bytes.Equal(gz.Extra, headerBytes) {
		t.Errorf("gzip header: comment %q, extra %q", gz.Comment, gz.Extra)
	}
	var entries []tarEntry
	data := map[string]string{}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		entries = append(entries, tarEntry{Name: h.Name, Mode: h.Mode})
		data[h.Name] = string(b)
	}
	return entries, data
}

func TestPackageDir(t *testing.T) {
	tests := []struct {
		name string
		dir  string
		// want are the archive's name and entries.
		wantFile    string
		wantEntries []string
		// wantChartYAML is the Chart.yaml written, when checked.
		wantChartYAML string
	}{
		{
			name:     "v2 chart with subcharts",
			dir:      "v2chart",
			wantFile: "parent-0.1.0.tgz",
			wantEntries: []string{
				"parent/Chart.yaml", "parent/Chart.lock", "parent/values.yaml", "parent/values.schema.json",
				"parent/templates/_helpers.tpl", "parent/templates/deployment.yaml",
				"parent/crds/things.yaml", "parent/files/config.yaml",
				"parent/charts/alpine/Chart.yaml", "parent/charts/alpine/values.yaml", "parent/charts/alpine/templates/pod.yaml",
				"parent/charts/tgzsub/Chart.yaml", "parent/charts/tgzsub/values.yaml", "parent/charts/tgzsub/templates/secret.yaml",
				"parent/charts/tgzsub/charts/inner/Chart.yaml",
			},
			wantChartYAML: "apiVersion: v2\ndependencies:\n- name: alpine\n  repository: file://charts/alpine\n  version: 0.2.0\n" +
				"- alias: packed\n  name: tgzsub\n  repository: https://example.com/charts\n  version: 1.0.0\n" +
				"name: parent\ntype: application\nversion: 0.1.0\n",
		},
		{
			name:     "v1 chart keeps requirements.yaml",
			dir:      "v1chart",
			wantFile: "frobnitz-1.2.3.tgz",
			wantEntries: []string{
				"frobnitz/Chart.yaml", "frobnitz/values.yaml", "frobnitz/templates/configmap.yaml",
				"frobnitz/requirements.lock", "frobnitz/requirements.yaml",
				"frobnitz/charts/mysql/Chart.yaml", "frobnitz/charts/mysql/templates/svc.yaml",
			},
			wantChartYAML: "apiVersion: v1\nappVersion: \"7.0\"\ndescription: A v1 chart without apiVersion\n" +
				"keywords:\n- frobnitz\nname: frobnitz\nversion: 1.2.3\n",
		},
		{
			name:     "helmignore honoured",
			dir:      "ignored",
			wantFile: "ignored-0.1.0.tgz",
			wantEntries: []string{
				"ignored/Chart.yaml", "ignored/templates/cm.yaml",
				"ignored/.helmignore", "ignored/README.md", "ignored/keep/a.txt",
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(testdata, tc.dir)
			out := filepath.Join(t.TempDir(), "out", "new")
			path, err := PackageDir(dir, out)
			if err != nil {
				t.Fatal(err)
			}
			if want := filepath.Join(out, tc.wantFile); path != want {
				t.Errorf("path = %q, want %q", path, want)
			}

			entries, data := readArchive(t, path)
			var want []tarEntry
			for _, n := range tc.wantEntries {
				want = append(want, tarEntry{Name: n, Mode: 0o644})
			}
			if diff := cmp.Diff(want, entries); diff != "" {
				t.Errorf("entries (-want +got):\n%s", diff)
			}
			if tc.wantChartYAML != "" {
				if diff := cmp.Diff(tc.wantChartYAML, data[tc.wantEntries[0]]); diff != "" {
					t.Errorf("Chart.yaml (-want +got):\n%s", diff)
				}
			}

			orig, err := loader.LoadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			back, err := loader.Load(path)
			if err != nil {
				t.Fatalf("loading the package: %v", err)
			}
			if diff := cmp.Diff(viewOf(orig), viewOf(back)); diff != "" {
				t.Errorf("chart after packaging (-before +after):\n%s", diff)
			}
		})
	}
}

func TestPackageDirTimes(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"Chart.yaml":         "apiVersion: v2\nname: timed\nversion: 1.0.0\n",
		"values.yaml":        "a: 1\n",
		"values.schema.json": "{}",
		"templates/x.yaml":   "kind: X\n",
	}
	stamp := time.Date(2020, 2, 3, 4, 5, 6, 0, time.UTC)
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, stamp, stamp); err != nil {
			t.Fatal(err)
		}
	}
	path, err := PackageDir(dir, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c, err := loader.LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range c.Raw {
		if !f.ModTime.Equal(stamp) {
			t.Errorf("%s: modified %v, want the file's time %v", f.Name, f.ModTime, stamp)
		}
	}
}

func TestPackageDirErrors(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "Chart.yaml"), []byte(
		"apiVersion: v2\nname: needy\nversion: 1.0.0\ndependencies:\n- name: a\n  repository: x\n- name: b\n  repository: x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	_, err := PackageDir(dir, out)
	if got, want := errString(err), "found in Chart.yaml, but missing in charts/ directory: a, b"; got != want {
		t.Errorf("error = %q, want %q", got, want)
	}
	if entries, _ := os.ReadDir(out); len(entries) != 0 {
		t.Errorf("files written: %v", entries)
	}

	_, err = PackageDir(filepath.Join(testdata, "bad", "bad-version"), out)
	if got, want := errString(err), `validation: chart.metadata.version "one.two" is invalid`; got != want {
		t.Errorf("error = %q, want %q", got, want)
	}
}

func TestSaveErrors(t *testing.T) {
	valid := func() *chart.Chart {
		return &chart.Chart{Metadata: &chart.Metadata{APIVersion: "v2", Name: "demo", Version: "1.0.0"}}
	}
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		chart   func() *chart.Chart
		outDir  string
		wantErr string
	}{
		{
			name:    "invalid metadata",
			chart:   func() *chart.Chart { c := valid(); c.Metadata.Version = ""; return c },
			outDir:  t.TempDir(),
			wantErr: "chart validation: validation: chart.metadata.version is required",
		},
		{
			name:    "output is a file",
			chart:   valid,
			outDir:  file,
			wantErr: "is not a directory: " + file,
		},
		{
			name:    "bad schema",
			chart:   func() *chart.Chart { c := valid(); c.Schema = []byte("{"); return c },
			outDir:  t.TempDir(),
			wantErr: "invalid JSON in values.schema.json",
		},
		{
			name: "bad subchart name",
			chart: func() *chart.Chart {
				c := valid()
				sub := valid()
				sub.Metadata.Name = "x"
				c.AddDependency(sub)
				sub.Metadata.Name = "../x"
				return c
			},
			outDir:  t.TempDir(),
			wantErr: `"../x" is not a valid chart name`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Save(tc.chart(), tc.outDir)
			if got := errString(err); got != tc.wantErr {
				t.Errorf("error = %q, want %q", got, tc.wantErr)
			}
			if tc.outDir != file {
				if matches, _ := filepath.Glob(filepath.Join(tc.outDir, "*")); len(matches) != 0 {
					t.Errorf("left behind: %v", matches)
				}
			}
		})
	}
}

func TestSaveRoundTrip(t *testing.T) {
	// A chart built in memory, saved and loaded back.
	c := &chart.Chart{
		Metadata:  &chart.Metadata{APIVersion: "v2", Name: "mem", Version: "0.0.1", Annotations: map[string]string{"a": "b"}},
		Raw:       []*chart.File{{Name: "values.yaml", Data: []byte("# comment kept\nx: 1\n")}},
		Templates: []*chart.File{{Name: "templates/a.yaml", Data: []byte("kind: A\n")}},
		Files:     []*chart.File{{Name: "files/b.txt", Data: []byte("b")}},
		Values:    map[string]any{"x": float64(1)},
	}
	path, err := Save(c, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	_, data := readArchive(t, path)
	if got := data["mem/values.yaml"]; got != "# comment kept\nx: 1\n" {
		t.Errorf("values.yaml = %q", got)
	}
	back, err := loader.LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(viewOf(c), viewOf(back), cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("chart (-saved +loaded):\n%s", diff)
	}
	if !strings.HasSuffix(path, "mem-0.0.1.tgz") {
		t.Errorf("path = %q", path)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
