package loader

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const chartYAML = "apiVersion: v2\nname: demo\nversion: 0.1.0\n"

func TestLoadArchiveRefuses(t *testing.T) {
	ok := entry{name: "demo/Chart.yaml", body: chartYAML}
	tests := []struct {
		name    string
		opts    Options
		entries []entry
		wantErr string
	}{
		{
			name:    "parent directory dropped with the chart folder by Helm",
			entries: []entry{ok, {name: "../x", body: "x"}},
			wantErr: `chart illegally references parent directory: "../x"`,
		},
		{
			name:    "parent directory inside the chart",
			entries: []entry{ok, {name: "demo/templates/../../../x", body: "x"}},
			wantErr: `chart illegally references parent directory: "demo/templates/../../../x"`,
		},
		{
			name:    "parent directory with backslashes",
			entries: []entry{ok, {name: `demo\..\..\x`, body: "x"}},
			wantErr: `chart illegally references parent directory: "demo\\..\\..\\x"`,
		},
		{
			name:    "name starting with dots after the chart folder",
			entries: []entry{ok, {name: "demo/..x", body: "x"}},
			wantErr: `chart illegally references parent directory: "demo/..x"`,
		},
		{
			name:    "absolute path",
			entries: []entry{ok, {name: "/etc/passwd", body: "x"}},
			wantErr: `chart illegally contains absolute paths: "/etc/passwd"`,
		},
		{
			name:    "absolute path after the chart folder",
			entries: []entry{ok, {name: "demo//etc/passwd", body: "x"}},
			wantErr: `chart illegally contains absolute paths: "demo//etc/passwd"`,
		},
		{
			name:    "windows drive",
			entries: []entry{ok, {name: `C:\Windows\x`, body: "x"}},
			wantErr: `chart contains illegally named files: "C:\\Windows\\x"`,
		},
		{
			name:    "windows drive after the chart folder",
			entries: []entry{ok, {name: `demo\c:/x`, body: "x"}},
			wantErr: `chart contains illegally named files: "demo\\c:/x"`,
		},
		{
			name:    "file outside any folder",
			entries: []entry{{name: "Chart.yaml", body: chartYAML}},
			wantErr: `chart illegally contains content outside the base directory: "Chart.yaml"`,
		},
		{
			name:    "Chart.yaml as a folder",
			entries: []entry{{name: "Chart.yaml/x", body: chartYAML}},
			wantErr: `chart yaml not in base directory: "Chart.yaml/x"`,
		},
		{
			name:    "symbolic link",
			entries: []entry{ok, {name: "demo/templates/x.yaml", typeflag: tar.TypeSymlink, linkname: "/etc/passwd"}},
			wantErr: `chart contains a symbolic link, which is not allowed: "demo/templates/x.yaml" -> "/etc/passwd"`,
		},
		{
			name:    "hard link",
			entries: []entry{ok, {name: "demo/values.yaml", typeflag: tar.TypeLink, linkname: "demo/Chart.yaml"}},
			wantErr: `chart contains a hard link, which is not allowed: "demo/values.yaml" -> "demo/Chart.yaml"`,
		},
		{
			name:    "device",
			entries: []entry{ok, {name: "demo/null", typeflag: tar.TypeChar}},
			wantErr: `chart contains an entry of unsupported type '3': "demo/null"`,
		},
		{
			name:    "header larger than the chart bound",
			entries: []entry{ok, {name: "demo/big", size: MaxDecompressedChartSize + 1}},
			wantErr: `decompressed chart is larger than the maximum size 104857600: "demo/big"`,
		},
		{
			name:    "content reaching the chart bound",
			opts:    Options{MaxChartSize: 100, MaxFiles: 10},
			entries: []entry{ok, {name: "demo/big", body: strings.Repeat("x", 100-len(chartYAML))}},
			wantErr: `decompressed chart is larger than the maximum size 100: "demo/big"`,
		},
		{
			name:    "file bound",
			opts:    Options{MaxChartSize: 1000, MaxFileSize: 10, MaxFiles: 10},
			entries: []entry{{name: "demo/small", body: "x"}, {name: "demo/big", body: strings.Repeat("x", 11)}},
			wantErr: `chart file is larger than the maximum file size 10: "demo/big"`,
		},
		{
			name:    "file count",
			opts:    Options{MaxChartSize: 1000, MaxFiles: 2},
			entries: []entry{ok, {name: "demo/a"}, {name: "demo/b"}},
			wantErr: `chart has more than 2 files: "demo/b"`,
		},
		{
			name:    "truncated",
			entries: []entry{ok, {name: "demo/values.yaml", body: "a: 1\n", size: 4096}},
			wantErr: `demo/values.yaml: unexpected EOF`,
		},
		{
			name:    "no files",
			entries: []entry{{name: "demo/", typeflag: tar.TypeDir}},
			wantErr: "no files in chart archive",
		},
		{
			name:    "no Chart.yaml",
			entries: []entry{{name: "demo/values.yaml", body: "a: 1\n"}},
			wantErr: "Chart.yaml file is missing",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.opts).LoadArchive(bytes.NewReader(makeArchive(t, tc.entries...)))
			if got := errString(err); got != tc.wantErr {
				t.Errorf("error = %q, want %q", got, tc.wantErr)
			}
		})
	}
}

func TestLoadArchiveAccepts(t *testing.T) {
	data := makeArchive(t,
		entry{name: "pax_global_header", typeflag: tar.TypeXGlobalHeader},
		entry{name: "demo/", typeflag: tar.TypeDir},
		entry{name: "demo/Chart.yaml", body: "\xEF\xBB\xBF" + chartYAML},
		entry{name: "demo/templates/./x.yaml", body: "\xEF\xBB\xBFkind: X\n"},
		entry{name: `demo\files\win.txt`, body: "w"},
		entry{name: "demo/charts/sub-1.0.0.tgz", body: string(makeArchive(t,
			entry{name: "sub/Chart.yaml", body: "apiVersion: v2\nname: sub\nversion: 1.0.0\n"},
		))},
		entry{name: "demo/charts/sub-1.0.0.tgz.prov", body: "signature"},
	)
	c, err := LoadArchive(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	want := summary{
		Name: "demo", Version: "0.1.0", APIVersion: "v2",
		Templates: []string{"templates/x.yaml"},
		Files:     []string{"files/win.txt", "charts/sub-1.0.0.tgz.prov"},
		Raw:       []string{"Chart.yaml", "templates/x.yaml", "files/win.txt", "charts/sub-1.0.0.tgz", "charts/sub-1.0.0.tgz.prov"},
		Subcharts: []summary{{
			Name: "sub", Version: "1.0.0", APIVersion: "v2",
			Templates: []string{}, Files: []string{}, Raw: []string{"Chart.yaml"},
		}},
	}
	if diff := cmp.Diff(want, summarize(c)); diff != "" {
		t.Errorf("chart (-want +got):\n%s", diff)
	}
	if got := string(c.Templates[0].Data); got != "kind: X\n" {
		t.Errorf("template = %q, want the byte order mark dropped", got)
	}
}

func TestLoadArchiveNestedBudget(t *testing.T) {
	// Each nested archive is small, its content is not: the bound holds for
	// the whole tree, where Helm would give every archive its own.
	big := strings.Repeat("x", 600)
	sub := func(name string) entry {
		return entry{name: "demo/charts/" + name + "-1.0.0.tgz", body: string(makeArchive(t,
			entry{name: name + "/Chart.yaml", body: "apiVersion: v2\nname: " + name + "\nversion: 1.0.0\n"},
			entry{name: name + "/big", body: big},
		))}
	}
	data := makeArchive(t, entry{name: "demo/Chart.yaml", body: chartYAML}, sub("a"), sub("b"))
	_, err := New(Options{MaxChartSize: 1000, MaxFiles: 100}).LoadArchive(bytes.NewReader(data))
	want := `error unpacking subchart b-1.0.0.tgz in demo: decompressed chart is larger than the maximum size 1000: "b/big"`
	if got := errString(err); got != want {
		t.Errorf("error = %q, want %q", got, want)
	}
	if _, err := New(Options{MaxChartSize: 2000, MaxFiles: 100}).LoadArchive(bytes.NewReader(data)); err != nil {
		t.Errorf("within the bound: %v", err)
	}
}

func TestLoadFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name    string
		path    string
		wantErr string
	}{
		{
			name: "chart",
			path: write("demo-0.1.0.tgz", makeArchive(t, entry{name: "demo/Chart.yaml", body: chartYAML})),
		},
		{
			name:    "values file",
			path:    write("values.yaml", []byte("a: 1\n")),
			wantErr: "file '" + dir + "/values.yaml' seems to be a YAML file, but expected a gzipped archive",
		},
		{
			name:    "text file",
			path:    write("notes.txt", []byte("hello\n")),
			wantErr: "file '" + dir + "/notes.txt' does not appear to be a gzipped archive; got 'application/octet-stream'",
		},
		{
			name:    "empty file",
			path:    write("empty.tgz", nil),
			wantErr: "file '" + dir + "/empty.tgz' does not appear to be a gzipped archive; got 'application/octet-stream'",
		},
		{
			name:    "gzip magic, bad header checksum",
			path:    write("bad.tgz", []byte("\x1F\x8B\x08\x02\x00\x00\x00\x00\x00\xFF\x00\x00rest")),
			wantErr: "file '" + dir + "/bad.tgz' does not appear to be a valid chart file (details: gzip: invalid header)",
		},
		{
			name:    "directory",
			path:    dir,
			wantErr: "cannot load a directory",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadFile(tc.path)
			if got := errString(err); got != tc.wantErr {
				t.Errorf("error = %q, want %q", got, tc.wantErr)
			}
		})
	}
}

func TestLoadFiles(t *testing.T) {
	files := []*BufferedFile{
		{Name: "templates/a.yaml", Data: []byte("kind: A\n")},
		{Name: "requirements.yaml", Data: []byte("dependencies:\n- name: sub\n  repository: file://x\n")},
		{Name: "charts/zeta/Chart.yaml", Data: []byte("apiVersion: v2\nname: zeta\nversion: 1.0.0\n")},
		{Name: "charts/alpha/Chart.yaml", Data: []byte("apiVersion: v2\nname: alpha\nversion: 1.0.0\n")},
		{Name: "charts/_skip/Chart.yaml", Data: []byte("not: loaded\n")},
		// Chart.yaml last: read first anyway, the v2 apiVersion decides
		// that requirements.yaml is not a file.
		{Name: "Chart.yaml", Data: []byte(chartYAML)},
	}
	c, err := LoadFiles(files)
	if err != nil {
		t.Fatal(err)
	}
	want := summary{
		Name: "demo", Version: "0.1.0", APIVersion: "v2",
		Dependencies: []string{"sub"},
		Templates:    []string{"templates/a.yaml"},
		Files:        []string{},
		Raw: []string{
			"templates/a.yaml", "requirements.yaml", "charts/zeta/Chart.yaml",
			"charts/alpha/Chart.yaml", "charts/_skip/Chart.yaml", "Chart.yaml",
		},
		Subcharts: []summary{
			{Name: "alpha", Version: "1.0.0", APIVersion: "v2", Templates: []string{}, Files: []string{}, Raw: []string{"Chart.yaml"}},
			{Name: "zeta", Version: "1.0.0", APIVersion: "v2", Templates: []string{}, Files: []string{}, Raw: []string{"Chart.yaml"}},
		},
	}
	if diff := cmp.Diff(want, summarize(c)); diff != "" {
		t.Errorf("chart (-want +got):\n%s", diff)
	}
	if files[2].Name != "charts/zeta/Chart.yaml" {
		t.Errorf("input changed: %q", files[2].Name)
	}

	tests := []struct {
		name    string
		files   []*BufferedFile
		wantErr string
	}{
		{
			name:    "stray file under charts/",
			files:   []*BufferedFile{{Name: "Chart.yaml", Data: []byte(chartYAML)}, {Name: "charts/README.md", Data: []byte("x")}},
			wantErr: "error unpacking subchart README.md in demo: Chart.yaml file is missing",
		},
		{
			name:    "folder named like an archive",
			files:   []*BufferedFile{{Name: "Chart.yaml", Data: []byte(chartYAML)}, {Name: "charts/x.tgz/Chart.yaml", Data: []byte("x")}},
			wantErr: "error unpacking subchart tar in demo: expected x.tgz, got x.tgz/Chart.yaml",
		},
		{
			name:    "bad lock",
			files:   []*BufferedFile{{Name: "Chart.yaml", Data: []byte(chartYAML)}, {Name: "Chart.lock", Data: []byte("generated: yesterday\n")}},
			wantErr: `cannot load Chart.lock: error unmarshaling JSON: while decoding JSON: parsing time "yesterday" as "2006-01-02T15:04:05Z07:00": cannot parse "yesterday" as "2006"`,
		},
		{
			name:    "no name",
			files:   []*BufferedFile{{Name: "Chart.yaml", Data: []byte("version: 1.0.0\n")}},
			wantErr: "validation: chart.metadata.name is required",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadFiles(tc.files)
			if got := errString(err); got != tc.wantErr {
				t.Errorf("error = %q, want %q", got, tc.wantErr)
			}
		})
	}
}

// TestReadArchiveFiles reads an archive without loading it, within the
// loader's bounds: the files as named in the chart, BOMs dropped, and the
// same refusals as LoadArchive.
func TestReadArchiveFiles(t *testing.T) {
	tests := []struct {
		name      string
		opts      Options
		entries   []entry
		wantNames []string
		wantErr   string
	}{
		{
			name:      "files named within the chart",
			entries:   []entry{{name: "demo/Chart.yaml", body: "\xEF\xBB\xBF" + chartYAML}, {name: "demo/templates/x.yaml", body: "a: b"}},
			wantNames: []string{"Chart.yaml", "templates/x.yaml"},
		},
		{
			name:      "no Chart.yaml is not the reader's concern",
			entries:   []entry{{name: "demo/values.yaml", body: "a: 1"}},
			wantNames: []string{"values.yaml"},
		},
		{
			name:    "traversal",
			entries: []entry{{name: "demo/../../x", body: "x"}},
			wantErr: `chart illegally references parent directory: "demo/../../x"`,
		},
		{
			name:    "too many files",
			opts:    Options{MaxFiles: 1},
			entries: []entry{{name: "demo/Chart.yaml", body: chartYAML}, {name: "demo/values.yaml"}},
			wantErr: `chart has more than 1 files: "demo/values.yaml"`,
		},
		{
			name:    "too large",
			opts:    Options{MaxChartSize: 10},
			entries: []entry{{name: "demo/Chart.yaml", body: chartYAML}},
			wantErr: `decompressed chart is larger than the maximum size 10: "demo/Chart.yaml"`,
		},
		{name: "empty", wantErr: "no files in chart archive"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			files, err := New(tc.opts).ReadArchiveFiles(bytes.NewReader(makeArchive(t, tc.entries...)))
			if diff := cmp.Diff(tc.wantErr, errString(err)); diff != "" {
				t.Fatalf("error (-want +got):\n%s", diff)
			}
			if err != nil {
				return
			}
			var got []string
			for _, f := range files {
				got = append(got, f.Name)
				if bytes.HasPrefix(f.Data, utf8bom) {
					t.Errorf("%s: BOM kept", f.Name)
				}
			}
			if diff := cmp.Diff(tc.wantNames, got); diff != "" {
				t.Errorf("files (-want +got):\n%s", diff)
			}
		})
	}
	// The package-level reader has the default bounds.
	if _, err := ReadArchiveFiles(bytes.NewReader(makeArchive(t, entry{name: "demo/Chart.yaml", body: chartYAML}))); err != nil {
		t.Error(err)
	}
}
