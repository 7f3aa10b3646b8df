package loader

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// symlink makes name (slash-separated, in dir) a link to target.
func symlink(t *testing.T, dir, target, name string) {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, p); err != nil {
		t.Skipf("no symbolic links here: %v", err)
	}
}

func TestLoadDirSymlinks(t *testing.T) {
	outside := writeTree(t, map[string]string{"secret.yaml": "kind: Secret\n", "dir/x.yaml": "kind: X\n"})

	tests := []struct {
		name  string
		links map[string]string // name -> target
		// ignore is the .helmignore, if any.
		ignore    string
		want      []string // Raw names
		wantErr   string
		wantFiles map[string]string
	}{
		{
			name:      "file link inside the chart",
			links:     map[string]string{"templates/link.yaml": "../files/real.yaml"},
			want:      []string{"Chart.yaml", "files/real.yaml", "templates/link.yaml"},
			wantFiles: map[string]string{"templates/link.yaml": "kind: Real\n"},
		},
		{
			name:  "directory link inside the chart",
			links: map[string]string{"templates/more": "../files"},
			want:  []string{"Chart.yaml", "files/real.yaml", "templates/more/real.yaml"},
		},
		{
			name:  "absolute link inside the chart",
			links: map[string]string{"templates/abs.yaml": "@/files/real.yaml"},
			want:  []string{"Chart.yaml", "files/real.yaml", "templates/abs.yaml"},
		},
		{
			name:    "file link outside the chart",
			links:   map[string]string{"templates/x.yaml": outside + "/secret.yaml"},
			wantErr: "symlink templates/x.yaml points outside the chart: " + resolve(t, outside) + "/secret.yaml",
		},
		{
			name:    "relative link outside the chart",
			links:   map[string]string{"templates/x.yaml": "../../" + filepath.Base(outside) + "/secret.yaml"},
			wantErr: "symlink templates/x.yaml points outside the chart: ",
		},
		{
			name:    "directory link outside the chart",
			links:   map[string]string{"files/ext": outside + "/dir"},
			wantErr: "symlink files/ext points outside the chart: " + resolve(t, outside) + "/dir",
		},
		{
			name:   "ignored link outside the chart",
			links:  map[string]string{"files/ext": outside},
			ignore: "ext/\n",
			want:   []string{".helmignore", "Chart.yaml", "files/real.yaml"},
		},
		{
			name:    "loop to the root",
			links:   map[string]string{"files/root": ".."},
			wantErr: "symlink files/root forms a loop: ",
		},
		{
			name:    "loop through two links",
			links:   map[string]string{"a/to-b": "../b", "b/to-a": "../a"},
			wantErr: "symlink a/to-b/to-a forms a loop: ",
		},
		{
			name:    "dangling link",
			links:   map[string]string{"templates/gone.yaml": "nowhere.yaml"},
			wantErr: "error evaluating symlink ",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			files := map[string]string{
				"Chart.yaml":      chartYAML,
				"files/real.yaml": "kind: Real\n",
			}
			if tc.ignore != "" {
				files[".helmignore"] = tc.ignore
			}
			parent := t.TempDir()
			dir := filepath.Join(parent, "chart")
			for name, data := range files {
				p := filepath.Join(dir, filepath.FromSlash(name))
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			for name, target := range tc.links {
				if rest, ok := strings.CutPrefix(target, "@"); ok {
					target = dir + rest
				}
				if strings.HasPrefix(target, "../../") {
					// Relative to the link: from chart/templates up to
					// the temporary folders.
					target = strings.Replace(target, "../../", relTo(t, filepath.Join(dir, "templates"), filepath.Dir(outside))+"/", 1)
				}
				symlink(t, dir, target, name)
			}
			c, err := LoadDir(dir)
			if tc.wantErr != "" {
				if got := errString(err); !strings.HasPrefix(got, tc.wantErr) {
					t.Fatalf("error = %q, want it to start with %q", got, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, names(c.Raw)); diff != "" {
				t.Errorf("files (-want +got):\n%s", diff)
			}
			for _, f := range c.Raw {
				if want, ok := tc.wantFiles[f.Name]; ok && string(f.Data) != want {
					t.Errorf("%s = %q, want %q", f.Name, f.Data, want)
				}
			}
		})
	}
}

func resolve(t *testing.T, p string) string {
	t.Helper()
	r, err := filepath.EvalSymlinks(p)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func relTo(t *testing.T, from, to string) string {
	t.Helper()
	r, err := filepath.Rel(from, to)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestLoadDirRootLink(t *testing.T) {
	dir := writeTree(t, map[string]string{"Chart.yaml": chartYAML, "templates/a.yaml": "kind: A\n"})
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(dir, link); err != nil {
		t.Skipf("no symbolic links here: %v", err)
	}
	c, err := LoadDir(link)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"Chart.yaml", "templates/a.yaml"}, names(c.Raw)); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}
}

func TestLoadDirBounds(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"Chart.yaml":       chartYAML,
		"templates/a.yaml": strings.Repeat("a", 100),
		"templates/b.yaml": strings.Repeat("b", 100),
	})
	tests := []struct {
		name    string
		opts    Options
		wantErr string
	}{
		{name: "within", opts: Options{MaxChartSize: int64(len(chartYAML)) + 200, MaxFiles: 3}},
		{
			name:    "size",
			opts:    Options{MaxChartSize: int64(len(chartYAML)) + 199, MaxFiles: 3},
			wantErr: "error reading templates/b.yaml: chart exceeds maximum decompressed size of 240 bytes",
		},
		{
			name:    "files",
			opts:    Options{MaxChartSize: 1000, MaxFiles: 2},
			wantErr: "error reading templates/b.yaml: chart has more than 2 files",
		},
		{
			name:    "file size",
			opts:    Options{MaxChartSize: 1000, MaxFileSize: 99, MaxFiles: 3},
			wantErr: "error reading templates/a.yaml: chart file is larger than the maximum file size 99",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.opts).LoadDir(dir)
			if got := errString(err); got != tc.wantErr {
				t.Errorf("error = %q, want %q", got, tc.wantErr)
			}
		})
	}
}

func TestLoadDirOdd(t *testing.T) {
	t.Run("missing directory", func(t *testing.T) {
		// Helm's walk drops the error on the root.
		_, err := LoadDir(filepath.Join(t.TempDir(), "nothing"))
		if got, want := errString(err), "Chart.yaml file is missing"; got != want {
			t.Errorf("error = %q, want %q", got, want)
		}
	})
	t.Run("bad helmignore", func(t *testing.T) {
		dir := writeTree(t, map[string]string{"Chart.yaml": chartYAML, ".helmignore": "a/**/b\n"})
		_, err := LoadDir(dir)
		if got, want := errString(err), "double-star (**) syntax is not supported"; got != want {
			t.Errorf("error = %q, want %q", got, want)
		}
	})
	t.Run("ignored directory not read", func(t *testing.T) {
		dir := writeTree(t, map[string]string{"Chart.yaml": chartYAML, ".helmignore": "private/\n", "private/x": "x"})
		if err := os.Chmod(filepath.Join(dir, "private"), 0); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = os.Chmod(filepath.Join(dir, "private"), 0o755) })
		if _, err := LoadDir(dir); err != nil {
			t.Error(err)
		}
	})
}
