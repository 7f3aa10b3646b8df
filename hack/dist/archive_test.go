package main

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// listed is an archive entry as read back.
type listed struct {
	Name         string
	Mode         fs.FileMode
	ModTime      time.Time
	Uid, Gid     int
	Uname, Gname string
	Content      string
}

func readTarGz(t *testing.T, b []byte) []listed {
	t.Helper()
	gz, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if gz.Name != "" || !gz.ModTime.IsZero() {
		t.Errorf("gzip header has name %q and time %s, want neither", gz.Name, gz.ModTime)
	}
	tr := tar.NewReader(gz)
	var out []listed
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag != tar.TypeReg {
			t.Errorf("%s: type %c, want a regular file", h.Name, h.Typeflag)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, listed{Name: h.Name, Mode: fs.FileMode(h.Mode), ModTime: h.ModTime.UTC(), Uid: h.Uid, Gid: h.Gid,
			Uname: h.Uname, Gname: h.Gname, Content: string(data)})
	}
}

func readZip(t *testing.T, b []byte) []listed {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	var out []listed
	for _, f := range zr.File {
		r, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(r)
		r.Close()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, listed{Name: f.Name, Mode: f.Mode(), ModTime: f.Modified.UTC(), Content: string(data)})
	}
	return out
}

// TestArchives writes the same entries twice, the second time in another
// order, from files on disk with other permissions and modification times,
// with the time in another zone: both archives must be byte for byte the
// same, and read back as sorted entries owned by 0:0 at the given time.
func TestArchives(t *testing.T) {
	epoch := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	dir := t.TempDir()
	binPath := filepath.Join(dir, "bin")
	if err := os.WriteFile(binPath, []byte("\x7fELF binary"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(binPath, time.Now(), time.Now()); err != nil {
		t.Fatal(err)
	}
	licensePath := filepath.Join(dir, "LICENSE.txt")
	if err := os.WriteFile(licensePath, []byte("Apache License"), 0o666); err != nil {
		t.Fatal(err)
	}
	first := []entry{
		{Name: "kubectl_complete-chart", Mode: 0o755, Data: []byte("#!/bin/sh\n")},
		{Name: "kubectl-chart", Mode: 0o755, Data: []byte("\x7fELF binary")},
		{Name: "LICENSE", Mode: 0o644, Data: []byte("Apache License")},
	}
	second := []entry{
		{Name: "LICENSE", Mode: 0o644, Path: licensePath},
		{Name: "kubectl-chart", Mode: 0o755, Path: binPath},
		{Name: "kubectl_complete-chart", Mode: 0o755, Data: []byte("#!/bin/sh\n")},
	}
	want := []listed{
		{Name: "LICENSE", Mode: 0o644, ModTime: epoch, Content: "Apache License"},
		{Name: "kubectl-chart", Mode: 0o755, ModTime: epoch, Content: "\x7fELF binary"},
		{Name: "kubectl_complete-chart", Mode: 0o755, ModTime: epoch, Content: "#!/bin/sh\n"},
	}
	tests := []struct {
		name  string
		write func(io.Writer, []entry, time.Time) error
		read  func(*testing.T, []byte) []listed
	}{
		{name: "tar.gz", write: writeTarGz, read: readTarGz},
		{name: "zip", write: writeZip, read: readZip},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var a, b bytes.Buffer
			if err := tc.write(&a, first, epoch); err != nil {
				t.Fatal(err)
			}
			if err := tc.write(&b, second, epoch.In(time.FixedZone("UTC+9", 9*3600))); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(a.Bytes(), b.Bytes()) {
				t.Errorf("two archives of the same entries differ (%d and %d bytes)", a.Len(), b.Len())
			}
			if diff := cmp.Diff(want, tc.read(t, a.Bytes())); diff != "" {
				t.Errorf("entries (-want +got):\n%s", diff)
			}
			var c bytes.Buffer
			if err := tc.write(&c, first, epoch.Add(time.Second)); err != nil {
				t.Fatal(err)
			}
			if bytes.Equal(a.Bytes(), c.Bytes()) {
				t.Error("the entry time does not reach the archive")
			}
		})
	}
}

func TestArchiveErrors(t *testing.T) {
	tests := []struct {
		name    string
		entries []entry
		want    string
	}{
		{name: "duplicate", entries: []entry{{Name: "a", Data: []byte{}}, {Name: "a", Data: []byte{}}}, want: "archive entry a appears twice"},
		{name: "missing file", entries: []entry{{Name: "a", Path: filepath.Join(t.TempDir(), "nope")}}, want: "no such file"},
	}
	for _, tc := range tests {
		for _, write := range []func(io.Writer, []entry, time.Time) error{writeTarGz, writeZip} {
			err := write(io.Discard, tc.entries, time.Unix(0, 0))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
			}
		}
	}
}

// TestWriteArchive checks the format chosen by the file name and the
// returned sum.
func TestWriteArchive(t *testing.T) {
	dir := t.TempDir()
	entries := []entry{{Name: "LICENSE", Mode: 0o644, Data: []byte("x")}}
	for _, name := range []string{"a.tar.gz", "a.zip"} {
		path := filepath.Join(dir, name)
		sum, err := writeArchive(path, entries, time.Unix(1, 0))
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := sha256Hex(b); got != sum {
			t.Errorf("%s: sum %s, file's %s", name, sum, got)
		}
		isZip := bytes.HasPrefix(b, []byte("PK\x03\x04"))
		if isZip != strings.HasSuffix(name, ".zip") || (!isZip && !bytes.HasPrefix(b, []byte{0x1f, 0x8b})) {
			t.Errorf("%s: starts with %q", name, b[:4])
		}
	}
}
