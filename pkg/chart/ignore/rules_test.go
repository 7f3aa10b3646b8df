package ignore

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// fakeInfo is the part of fs.FileInfo that the rules look at.
type fakeInfo struct {
	name string
	dir  bool
}

func (f fakeInfo) Name() string { return f.name }
func (f fakeInfo) Size() int64  { return 0 }
func (f fakeInfo) Mode() fs.FileMode {
	if f.dir {
		return fs.ModeDir | 0o755
	}
	return 0o644
}
func (f fakeInfo) ModTime() time.Time { return time.Time{} }
func (f fakeInfo) IsDir() bool        { return f.dir }
func (f fakeInfo) Sys() any           { return nil }

func raws(r *Rules) []string {
	out := []string{}
	for _, p := range r.patterns {
		out = append(out, p.raw)
	}
	return out
}

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []string
		wantErr string
	}{
		{
			name: "comments and blank lines",
			in:   "#ignore\n\n\t#ignore\nfoo\nbar/*\nbaz/bar/foo.txt\n\none/more\n",
			want: []string{"foo", "bar/*", "baz/bar/foo.txt", "one/more"},
		},
		{
			name: "spaces trimmed",
			in:   "  foo  \r\n\tbar\t\n",
			want: []string{"foo", "bar"},
		},
		{
			name: "byte order mark on the first line",
			in:   "\xEF\xBB\xBF*.tgz\n\xEF\xBB\xBFx\n",
			want: []string{"*.tgz", "\xEF\xBB\xBFx"},
		},
		{
			name:    "double star",
			in:      "ok\nfoo/**/bar\nnever",
			want:    []string{"ok"},
			wantErr: "double-star (**) syntax is not supported",
		},
		{
			name:    "bad glob",
			in:      "[z-",
			want:    []string{},
			wantErr: "syntax error in pattern",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Parse(strings.NewReader(tc.in))
			if got := errString(err); got != tc.wantErr {
				t.Fatalf("error = %q, want %q", got, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, raws(r)); diff != "" {
				t.Errorf("patterns (-want +got):\n%s", diff)
			}
		})
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestParseFile(t *testing.T) {
	f := filepath.Join(t.TempDir(), HelmIgnore)
	if err := os.WriteFile(f, []byte("mast/a.txt\n.DS_Store\n.git\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := ParseFile(f)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"mast/a.txt", ".DS_Store", ".git"}, raws(r)); diff != "" {
		t.Errorf("patterns (-want +got):\n%s", diff)
	}
	if _, err := ParseFile(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("ParseFile of a missing file: no error")
	}
}

func TestIgnore(t *testing.T) {
	// The cases of Helm's own table (pkg/ignore/rules_test.go), then more.
	tests := []struct {
		pattern string
		name    string
		dir     bool
		want    bool
	}{
		// Globs.
		{`helm.txt`, "helm.txt", false, true},
		{`helm.*`, "helm.txt", false, true},
		{`helm.*`, "rudder.txt", false, false},
		{`*.txt`, "tiller.txt", false, true},
		{`*.txt`, "cargo/a.txt", false, true},
		{`cargo/*.txt`, "cargo/a.txt", false, true},
		{`cargo/*.*`, "cargo/a.txt", false, true},
		{`cargo/*.txt`, "mast/a.txt", false, false},
		{`ru[c-e]?er.txt`, "rudder.txt", false, true},
		{`templates/.?*`, "templates/.dotfile", false, true},
		{`*.txt`, "a/b/c.txt", false, true},
		{`a/*.txt`, "a/b/c.txt", false, false},
		// The root is never ignored (helm/helm#1776).
		{`.*`, ".", true, false},
		{`.*`, "./", true, false},
		{`.*`, ".joonix", false, true},
		{`.*`, "helm.txt", false, false},
		{`.*`, "", true, false},
		// Directories.
		{`cargo/`, "cargo", true, true},
		{`cargo/`, "cargo/", true, true},
		{`cargo/`, "mast/", true, false},
		{`helm.txt/`, "helm.txt", false, false},
		// Negation, with Helm's semantics: a non-match is ignored.
		{`!helm.txt`, "helm.txt", false, false},
		{`!helm.txt`, "tiller.txt", false, true},
		{`!*.txt`, "cargo", true, true},
		{`!cargo/`, "mast/", true, true},
		{`!cargo/`, "cargo.txt", false, true},
		// Anchored at the root.
		{`/a.txt`, "a.txt", false, true},
		{`/a.txt`, "cargo/a.txt", false, false},
		{`/cargo/a.txt`, "cargo/a.txt", false, true},
		{`/cargo/`, "cargo", true, true},
		{`/cargo/`, "x/cargo", true, false},
	}
	for _, tc := range tests {
		r, err := Parse(strings.NewReader(tc.pattern))
		if err != nil {
			t.Fatalf("Parse(%q): %v", tc.pattern, err)
		}
		fi := fakeInfo{name: filepath.Base(tc.name), dir: tc.dir}
		if got := r.Ignore(tc.name, fi); got != tc.want {
			t.Errorf("pattern %q: Ignore(%q) = %v, want %v", tc.pattern, tc.name, got, tc.want)
		}
	}
}

func TestIgnoreOrder(t *testing.T) {
	// The first rule that decides wins.
	r, err := Parse(strings.NewReader("*.txt\n!keep.txt\n"))
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]bool{"keep.txt": true, "other.txt": true, "x.yaml": true} {
		if got := r.Ignore(name, fakeInfo{name: name}); got != want {
			t.Errorf("Ignore(%q) = %v, want %v", name, got, want)
		}
	}
	if r.Ignore("x", nil) != true {
		t.Error("Ignore with a nil FileInfo: want the negated rule to apply")
	}
}

func TestAddDefaults(t *testing.T) {
	r := Empty()
	r.AddDefaults()
	if diff := cmp.Diff([]string{"templates/.?*"}, raws(r)); diff != "" {
		t.Errorf("patterns (-want +got):\n%s", diff)
	}
	var zero Rules
	zero.AddDefaults()
	if !zero.Ignore("templates/.hidden", fakeInfo{name: ".hidden"}) {
		t.Error("templates/.hidden not ignored")
	}
	if zero.Ignore("templates/.", fakeInfo{name: "."}) {
		t.Error("templates/. ignored")
	}
	if zero.Ignore("files/.hidden", fakeInfo{name: ".hidden"}) {
		t.Error("files/.hidden ignored")
	}
}
