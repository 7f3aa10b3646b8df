package repo

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const sampleIndex = `apiVersion: v1
entries:
  nginx:
  - name: nginx
    version: 1.0.0
    urls: [nginx-1.0.0.tgz]
    digest: aaaa
    description: web server
  - name: nginx
    version: 2.0.0-beta.1
    urls: [nginx-2.0.0-beta.1.tgz]
  - name: nginx
    version: 1.10.0
    urls: [nginx-1.10.0.tgz]
  - name: nginx
    version: not-semver
    urls: [x.tgz]
  - name: ""
    version: 9.9.9
  - null
  empty: []
generated: "2024-01-01T00:00:00Z"
`

func TestParseIndex(t *testing.T) {
	i, err := ParseIndex([]byte(sampleIndex))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, cv := range i.Entries["nginx"] {
		got = append(got, cv.Version)
	}
	// Newest first; the entry without a name and the null one are dropped;
	// not-semver is not a valid chart version either.
	if diff := cmp.Diff([]string{"2.0.0-beta.1", "1.10.0", "1.0.0"}, got); diff != "" {
		t.Errorf("versions (-want +got):\n%s", diff)
	}

	errs := []struct {
		name, data string
		want       error
		wantText   string
	}{
		{name: "empty", data: "", want: ErrEmptyIndex},
		{name: "html", data: "\n<!doctype html><html></html>", want: ErrHTML},
		{name: "no apiVersion", data: "entries: {}\n", want: ErrNoAPIVersion},
		{name: "unknown field", data: "apiVersion: v1\nfoo: bar\n", wantText: `unknown field "foo"`},
	}
	for _, tc := range errs {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseIndex([]byte(tc.data))
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("got %v, want %v", err, tc.want)
			}
			if tc.wantText != "" && (err == nil || !strings.Contains(err.Error(), tc.wantText)) {
				t.Errorf("got %v, want %q", err, tc.wantText)
			}
		})
	}

	j, err := ParseIndex([]byte(`{"apiVersion":"v1","entries":{"a":[{"name":"a","version":"1.0.0","urls":["a.tgz"]}]}}`))
	if err != nil || len(j.Entries["a"]) != 1 {
		t.Errorf("JSON index: %v %v", j, err)
	}
}

func TestSelectVersion(t *testing.T) {
	versions := []string{"3.0.0-rc.1", "2.1.0", "2.0.0", "1.2.3", "1.0.0", "0.9.0", "0.1.0"}
	tests := []struct {
		name, constraint string
		want             string
		wantErr          string
	}{
		{name: "latest stable", want: "2.1.0"},
		{name: "devel", constraint: DevelConstraint, want: "3.0.0-rc.1"},
		{name: "exact", constraint: "1.2.3", want: "1.2.3"},
		{name: "exact pre-release", constraint: "3.0.0-rc.1", want: "3.0.0-rc.1"},
		{name: "caret", constraint: "^1", want: "1.2.3"},
		{name: "range", constraint: ">=0.5 <1", want: "0.9.0"},
		{name: "missing exact", constraint: "1.1.0",
			wantErr: `chart "c" version "1.1.0" not found; nearest available versions: 2.0.0, 1.2.3, 1.0.0, 0.9.0, 0.1.0`},
		{name: "missing newest", constraint: "5.0.0",
			wantErr: `chart "c" version "5.0.0" not found; nearest available versions: 3.0.0-rc.1, 2.1.0, 2.0.0, 1.2.3, 1.0.0`},
		{name: "missing range", constraint: ">5",
			wantErr: `chart "c" version ">5" not found; nearest available versions: 3.0.0-rc.1, 2.1.0, 2.0.0, 1.2.3, 1.0.0`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k, err := SelectVersion("c", versions, tc.constraint)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Errorf("got %v\nwant %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if versions[k] != tc.want {
				t.Errorf("got %s, want %s", versions[k], tc.want)
			}
		})
	}
}

func TestEditFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "helm", "repositories.yaml")
	err := EditFile(t.Context(), p, func(f *File) error {
		f.Update(&Entry{Name: "a", URL: "https://a.example", Username: "u", Password: "p"})
		f.Update(&Entry{Name: "b", URL: "https://b.example", PassCredentialsAll: true})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(p), "repositories.lock")); err != nil {
		t.Errorf("no lock file beside it: %v", err)
	}
	b, _ := os.ReadFile(p)
	// What Helm's repo add writes into a new file (it starts from an empty
	// File: no apiVersion, zero time).
	want := `apiVersion: ""
generated: "0001-01-01T00:00:00Z"
repositories:
- caFile: ""
  certFile: ""
  insecure_skip_tls_verify: false
  keyFile: ""
  name: a
  pass_credentials_all: false
  password: p
  url: https://a.example
  username: u
- caFile: ""
  certFile: ""
  insecure_skip_tls_verify: false
  keyFile: ""
  name: b
  pass_credentials_all: true
  password: ""
  url: https://b.example
  username: ""
`
	if diff := cmp.Diff(want, string(b)); diff != "" {
		t.Errorf("repositories.yaml (-want +got):\n%s", diff)
	}
	// A second process waits for the lock.
	unlock, err := lockFile(t.Context(), LockPath(p), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	if err := EditFile(ctx, p, func(*File) error { t.Error("edited under another's lock"); return nil }); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("locked edit: %v", err)
	}
	unlock()
}

func TestIndexCache(t *testing.T) {
	dir := t.TempDir()
	c := IndexCache{Dir: filepath.Join(dir, "cache")}
	p := filepath.Join(dir, "stable-index.yaml")
	if err := os.WriteFile(p, []byte(sampleIndex), 0o644); err != nil {
		t.Fatal(err)
	}
	x, err := c.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := x.Get("nginx", ""); err != nil || v.Version != "1.10.0" {
		t.Fatalf("get: %v %v", v, err)
	}
	blobs, _ := filepath.Glob(filepath.Join(c.Dir, "*.gob"))
	stamps, _ := filepath.Glob(filepath.Join(c.Dir, "stamps", "*.json"))
	if len(blobs) != 1 || len(stamps) != 1 {
		t.Fatalf("cache holds %v and %v", blobs, stamps)
	}
	// The second load comes from the compact form: prove it by corrupting
	// nothing but the gob's content while the YAML stays the same.
	again, err := c.Load(p)
	if err != nil || again.Digest != x.Digest {
		t.Fatalf("second load: %v", err)
	}
	// An index rewritten (as helm repo update does, by rename) is parsed
	// again.
	changed := strings.Replace(sampleIndex, "version: 1.10.0", "version: 1.11.0", 1)
	tmp := p + ".tmp"
	os.WriteFile(tmp, []byte(changed), 0o644)
	os.Rename(tmp, p)
	y, err := c.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := y.Get("nginx", ""); v == nil || v.Version != "1.11.0" {
		t.Errorf("after a rewrite: %+v", v)
	}
}
