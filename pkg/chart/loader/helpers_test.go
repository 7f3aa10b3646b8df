package loader

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/kubectl-chart/kubectl-chart/pkg/chart"
)

// summary is what the tests compare of a loaded chart: everything but
// modification times.
type summary struct {
	Name       string
	Version    string
	APIVersion string
	// Dependencies are the names (or aliases) of Chart.yaml's dependencies.
	Dependencies []string
	Lock         []string
	Templates    []string
	Files        []string
	Raw          []string
	Values       map[string]any
	Schema       string
	Subcharts    []summary
}

func summarize(c *chart.Chart) summary {
	s := summary{
		Name:       c.Metadata.Name,
		Version:    c.Metadata.Version,
		APIVersion: c.Metadata.APIVersion,
		Templates:  names(c.Templates),
		Files:      names(c.Files),
		Raw:        names(c.Raw),
		Values:     c.Values,
		Schema:     string(c.Schema),
	}
	for _, d := range c.Metadata.Dependencies {
		n := d.Name
		if d.Alias != "" {
			n += " as " + d.Alias
		}
		s.Dependencies = append(s.Dependencies, n)
	}
	if c.Lock != nil {
		s.Lock = append(s.Lock, c.Lock.Digest, c.Lock.Generated.UTC().Format(time.RFC3339))
		for _, d := range c.Lock.Dependencies {
			s.Lock = append(s.Lock, d.Name+"@"+d.Version)
		}
	}
	for _, sc := range c.Dependencies() {
		s.Subcharts = append(s.Subcharts, summarize(sc))
	}
	return s
}

func names(files []*chart.File) []string {
	out := []string{}
	for _, f := range files {
		out = append(out, f.Name)
	}
	return out
}

// entry is one member of a test archive.
type entry struct {
	name     string
	body     string
	typeflag byte
	linkname string
	// size, when set, is written in the header instead of len(body).
	size int64
}

// makeArchive builds a gzipped tar from entries, whatever they hold: no
// check of tar.Writer gets in the way of a malicious header.
func makeArchive(t testing.TB, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, e := range entries {
		if e.typeflag == tar.TypeXGlobalHeader {
			h := &tar.Header{Typeflag: e.typeflag, Name: e.name, PAXRecords: map[string]string{"comment": e.body}}
			if err := tw.WriteHeader(h); err != nil {
				t.Fatalf("header %q: %v", e.name, err)
			}
			continue
		}
		h := &tar.Header{
			Name:     e.name,
			Mode:     0o644,
			Size:     int64(len(e.body)),
			ModTime:  time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC),
			Typeflag: e.typeflag,
			Linkname: e.linkname,
		}
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Typeflag != tar.TypeReg {
			h.Size = 0
		}
		if e.size != 0 {
			h.Size = e.size
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatalf("header %q: %v", e.name, err)
		}
		if _, err := tw.Write([]byte(e.body)); err != nil {
			t.Fatalf("body %q: %v", e.name, err)
		}
	}
	// A header that announces more than was written leaves the archive
	// truncated, on purpose; Close reports it.
	_ = tw.Close()
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// archiveDir builds a gzipped tar of the chart directory dir, every file
// under prefix/, as a packaging tool that ignores .helmignore would.
func archiveDir(t testing.TB, dir, prefix string) []byte {
	t.Helper()
	var entries []entry
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		entries = append(entries, entry{name: prefix + "/" + filepath.ToSlash(rel), body: string(data)})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return makeArchive(t, entries...)
}

// writeTree writes files (slash-separated names) under a new directory.
func writeTree(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	keys := make([]string, 0, len(files))
	for k := range files {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, name := range keys {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(files[name]), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
