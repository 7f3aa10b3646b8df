package main

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"
	"time"
)

// entry is one file of a release archive. Its content is Data, or the file
// at Path when Data is nil.
type entry struct {
	// Name is the path inside the archive (slash-separated).
	Name string
	// Mode holds the permission bits written to the archive (0o755 for
	// executables); the mode of Path on disk is ignored.
	Mode fs.FileMode
	Path string
	Data []byte
}

func (e entry) open() (io.ReadCloser, int64, error) {
	if e.Data != nil {
		return io.NopCloser(bytes.NewReader(e.Data)), int64(len(e.Data)), nil
	}
	f, err := os.Open(e.Path)
	if err != nil {
		return nil, 0, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, st.Size(), nil
}

// sortedEntries is entries sorted by name, with duplicate names refused.
func sortedEntries(entries []entry) ([]entry, error) {
	sorted := slices.Clone(entries)
	slices.SortFunc(sorted, func(a, b entry) int { return strings.Compare(a.Name, b.Name) })
	for i := 1; i < len(sorted); i++ {
		if sorted[i].Name == sorted[i-1].Name {
			return nil, fmt.Errorf("archive entry %s appears twice", sorted[i].Name)
		}
	}
	return sorted, nil
}

// writeTarGz writes entries as a gzip-compressed tar whose bytes depend on
// nothing but the entries and mtime: entries sorted by name, every
// modification time mtime (whole seconds, UTC), owner and group 0 without
// names, USTAR headers, and a gzip header without name or time.
func writeTarGz(w io.Writer, entries []entry, mtime time.Time) error {
	sorted, err := sortedEntries(entries)
	if err != nil {
		return err
	}
	gz, err := gzip.NewWriterLevel(w, gzip.DefaultCompression)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(gz)
	for _, e := range sorted {
		r, size, err := e.open()
		if err != nil {
			return err
		}
		hdr := &tar.Header{
			Typeflag: tar.TypeReg,
			Name:     e.Name,
			Mode:     int64(e.Mode.Perm()),
			Size:     size,
			ModTime:  mtime.UTC().Truncate(time.Second),
			Format:   tar.FormatUSTAR,
		}
		err = tw.WriteHeader(hdr)
		if err == nil {
			_, err = io.Copy(tw, r)
		}
		r.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", e.Name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return gz.Close()
}

// writeZip writes entries as a zip archive whose bytes depend on nothing but
// the entries and mtime: entries sorted by name, deflated, every
// modification time mtime (UTC), Unix permission bits.
func writeZip(w io.Writer, entries []entry, mtime time.Time) error {
	sorted, err := sortedEntries(entries)
	if err != nil {
		return err
	}
	zw := zip.NewWriter(w)
	for _, e := range sorted {
		r, _, err := e.open()
		if err != nil {
			return err
		}
		hdr := &zip.FileHeader{Name: e.Name, Method: zip.Deflate, Modified: mtime.UTC().Truncate(time.Second)}
		hdr.SetMode(e.Mode.Perm())
		fw, err := zw.CreateHeader(hdr)
		if err == nil {
			_, err = io.Copy(fw, r)
		}
		r.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", e.Name, err)
		}
	}
	return zw.Close()
}

// writeArchive writes entries to path, as a zip when path ends in .zip and
// a tar.gz otherwise, and returns the file's sha256 (hex).
func writeArchive(path string, entries []entry, mtime time.Time) (string, error) {
	f, err := os.Create(path)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	w := io.MultiWriter(f, h)
	if strings.HasSuffix(path, ".zip") {
		err = writeZip(w, entries, mtime)
	} else {
		err = writeTarGz(w, entries, mtime)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
