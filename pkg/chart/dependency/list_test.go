package dependency

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kubectl-chart/kubectl-chart/pkg/chart/loader"
	"github.com/kubectl-chart/kubectl-chart/pkg/chart/packager"
)

// writeChart writes a minimal chart folder.
func writeChart(t *testing.T, dir, name, version, extra string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, "templates"), 0o755); err != nil {
		t.Fatal(err)
	}
	body := "apiVersion: v2\nname: " + name + "\nversion: " + version + "\n" + extra
	if err := os.WriteFile(filepath.Join(dir, "Chart.yaml"), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// packageInto packages a chart name-version into charts/ of parent, under
// file (its own name by default).
func packageInto(t *testing.T, parent, name, version, file string) {
	t.Helper()
	src := writeChart(t, filepath.Join(t.TempDir(), name), name, version, "")
	ch, err := loader.LoadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	p, err := packager.Save(ch, filepath.Join(parent, "charts"))
	if err != nil {
		t.Fatal(err)
	}
	if file != "" {
		if err := os.Rename(p, filepath.Join(parent, "charts", file)); err != nil {
			t.Fatal(err)
		}
	}
}

// TestListStatus checks each of Helm's statuses (the words of Helm's
// action.Dependency.dependencyStatus, read from its code).
func TestListStatus(t *testing.T) {
	cases := []struct {
		name, constraint string
		setup            func(t *testing.T, parent string)
		want             string
	}{
		{name: "archive ok", constraint: "^1.0.0", setup: func(t *testing.T, p string) { packageInto(t, p, "dep", "1.2.0", "") }, want: "ok"},
		{name: "archive wrong version", constraint: "^2.0.0", setup: func(t *testing.T, p string) { packageInto(t, p, "dep", "1.2.0", "") }, want: "wrong version"},
		{name: "archive of another chart", constraint: "^1.0.0", setup: func(t *testing.T, p string) { packageInto(t, p, "other", "1.0.0", "dep-1.0.0.tgz") }, want: "misnamed"},
		{name: "corrupt archive", constraint: "^1.0.0", setup: func(t *testing.T, p string) {
			if err := os.WriteFile(filepath.Join(p, "charts", "dep-1.0.0.tgz"), []byte("not gzip"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, want: "corrupt"},
		{name: "too many matches", constraint: "^1.0.0", setup: func(t *testing.T, p string) {
			packageInto(t, p, "dep", "1.0.0", "")
			packageInto(t, p, "dep", "1.1.0", "")
		}, want: "too many matches"},
		{name: "invalid constraint", constraint: "!!", setup: func(t *testing.T, p string) { packageInto(t, p, "dep", "1.0.0", "") }, want: "invalid version"},
		{name: "unpacked", constraint: "^1.0.0", setup: func(t *testing.T, p string) {
			writeChart(t, filepath.Join(p, "charts", "dep"), "dep", "1.0.0", "")
		}, want: "unpacked"},
		{name: "unpacked wrong version", constraint: "^2.0.0", setup: func(t *testing.T, p string) {
			writeChart(t, filepath.Join(p, "charts", "dep"), "dep", "1.0.0", "")
		}, want: "wrong version"},
		{name: "missing", constraint: "^1.0.0", setup: func(t *testing.T, p string) {}, want: "missing"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			parent := writeChart(t, t.TempDir(), "parent", "1.0.0",
				"dependencies:\n- name: dep\n  version: \""+tc.constraint+"\"\n  repository: https://example.com\n")
			if err := os.MkdirAll(filepath.Join(parent, "charts"), 0o755); err != nil {
				t.Fatal(err)
			}
			tc.setup(t, parent)
			l, err := List(parent)
			if err != nil {
				if tc.want == "corrupt" {
					// Helm's loader refuses the whole chart too.
					return
				}
				t.Fatal(err)
			}
			want := []Status{{Name: "dep", Version: tc.constraint, Repository: "https://example.com", Status: tc.want}}
			if diff := cmp.Diff(want, l.Dependencies); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestListWarnings: charts of charts/ that Chart.yaml does not name.
func TestListWarnings(t *testing.T) {
	parent := writeChart(t, t.TempDir(), "parent", "1.0.0", "dependencies:\n- name: dep\n  version: 1.0.0\n  repository: file://../dep\n")
	packageInto(t, parent, "dep", "1.0.0", "")
	packageInto(t, parent, "stray", "0.1.0", "")
	l, err := List(parent)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{`WARNING: "` + filepath.Join(parent, "charts", "stray-0.1.0.tgz") + `" is not in Chart.yaml.`}
	if diff := cmp.Diff(want, l.Warnings); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestURLEqual is Helm's urlutil.Equal.
func TestURLEqual(t *testing.T) {
	cases := []struct {
		a, b string
		want bool
	}{
		{"https://example.com/charts", "https://example.com/charts/", true},
		{"https://example.com", "https://example.com/", true},
		{"https://example.com/a/../charts", "https://example.com/charts", true},
		{"https://example.com/charts", "http://example.com/charts", false},
		{"https://example.com/charts", "https://example.com/other", false},
	}
	for _, tc := range cases {
		if got := urlEqual(tc.a, tc.b); got != tc.want {
			t.Errorf("urlEqual(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}
