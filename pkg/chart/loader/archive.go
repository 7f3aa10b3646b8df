package loader

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"regexp"
	"strings"

	"github.com/kubectl-chart/kubectl-chart/pkg/chart"
)

var drivePathPattern = regexp.MustCompile(`^[a-zA-Z]:/`)

// LoadArchive loads a chart from a gzipped tar stream, within the default
// bounds. .helmignore is not applied to archives.
func LoadArchive(in io.Reader) (*chart.Chart, error) { return New(DefaultOptions()).LoadArchive(in) }

// LoadFile loads a chart archive file (.tgz). A file that is not gzipped is
// refused up front with a hint, as Helm does: a values file given where a
// chart is expected is a common mistake.
func (l *Loader) LoadFile(name string) (*chart.Chart, error) {
	if fi, err := os.Stat(name); err != nil {
		return nil, err
	} else if fi.IsDir() {
		return nil, errors.New("cannot load a directory")
	}
	raw, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer raw.Close()

	if err := ensureArchive(name, raw); err != nil {
		return nil, err
	}
	c, err := l.LoadArchive(raw)
	if err != nil && errors.Is(err, gzip.ErrHeader) {
		return nil, fmt.Errorf("file '%s' does not appear to be a valid chart file (details: %w)", name, err)
	}
	return c, err
}

// LoadArchive loads a chart from a gzipped tar stream. Entries are named
// <chart>/<path>: the first path element is dropped, whatever it is.
func (l *Loader) LoadArchive(in io.Reader) (*chart.Chart, error) {
	return l.loadArchive(in, l.newBudget())
}

// ReadArchiveFiles reads the files of a chart archive (a gzipped tar stream)
// into memory within the default bounds, without loading the chart: names
// lose their first path element, and entries that could leave the chart
// when written out (absolute, "..", a drive, links) are refused. It is the
// one archive reader; pkg/lint reads packaged charts with it.
func ReadArchiveFiles(in io.Reader) ([]*BufferedFile, error) {
	return New(DefaultOptions()).ReadArchiveFiles(in)
}

// ReadArchiveFiles reads the files of a chart archive within the loader's
// bounds, as the package-level ReadArchiveFiles.
func (l *Loader) ReadArchiveFiles(in io.Reader) ([]*BufferedFile, error) {
	return archiveFiles(in, l.newBudget())
}

func (l *Loader) loadArchive(in io.Reader, b *budget) (*chart.Chart, error) {
	files, err := archiveFiles(in, b)
	if err != nil {
		return nil, err
	}
	return l.loadFiles(files, b)
}

// archiveFiles reads the files of a chart archive into memory, refusing
// entries that could escape the chart when written out and stopping at the
// bounds of b. It is Helm's archive.LoadArchiveFiles, stricter.
func archiveFiles(in io.Reader, b *budget) ([]*BufferedFile, error) {
	unzipped, err := gzip.NewReader(in)
	if err != nil {
		return nil, err
	}
	defer unzipped.Close()

	files := []*BufferedFile{}
	tr := tar.NewReader(unzipped)
	for {
		hd, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		if hd.FileInfo().IsDir() {
			continue
		}
		switch hd.Typeflag {
		case tar.TypeXGlobalHeader, tar.TypeXHeader:
			// GitHub's release archives start with a pax_global_header.
			continue
		}

		n, err := entryName(hd.Name)
		if err != nil {
			return nil, err
		}
		switch hd.Typeflag {
		case tar.TypeReg, tar.TypeCont, tar.TypeGNUSparse:
		case tar.TypeSymlink:
			return nil, fmt.Errorf("chart contains a symbolic link, which is not allowed: %q -> %q", hd.Name, hd.Linkname)
		case tar.TypeLink:
			return nil, fmt.Errorf("chart contains a hard link, which is not allowed: %q -> %q", hd.Name, hd.Linkname)
		default:
			return nil, fmt.Errorf("chart contains an entry of unsupported type %q: %q", hd.Typeflag, hd.Name)
		}

		b.mu.Lock()
		var limitErr error
		switch {
		case b.files <= 0:
			limitErr = fmt.Errorf("chart has more than %d files: %q", b.opts.MaxFiles, hd.Name)
		case b.opts.MaxFileSize > 0 && hd.Size > b.opts.MaxFileSize:
			limitErr = fmt.Errorf("chart file is larger than the maximum file size %d: %q", b.opts.MaxFileSize, hd.Name)
		case hd.Size > b.bytes:
			limitErr = fmt.Errorf("decompressed chart is larger than the maximum size %d: %q", b.opts.MaxChartSize, hd.Name)
		}
		left := b.bytes
		b.mu.Unlock()
		if limitErr != nil {
			return nil, limitErr
		}
		// Never trust the header for the allocation: read what is there,
		// up to what is left.
		data, err := io.ReadAll(io.LimitReader(tr, left))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", hd.Name, err)
		}
		b.mu.Lock()
		b.bytes -= int64(len(data))
		b.files--
		left = b.bytes
		b.mu.Unlock()
		// Fewer bytes than the header says means the limit stopped the
		// copy; like Helm, reaching the limit exactly is already too much.
		if int64(len(data)) < hd.Size || left <= 0 {
			return nil, fmt.Errorf("decompressed chart is larger than the maximum size %d: %q", b.opts.MaxChartSize, hd.Name)
		}

		data = bytes.TrimPrefix(data, utf8bom)
		files = append(files, &BufferedFile{Name: n, ModTime: hd.ModTime, Data: data})
	}

	if len(files) == 0 {
		return nil, errors.New("no files in chart archive")
	}
	return files, nil
}

// entryName is the path of an archive entry within its chart: the entry's
// name without its first element. Entries that are absolute, name a Windows
// drive or go through ".." are refused, whether Helm would have made them
// harmless by dropping the first element ("../x", "/x", "C:\x") or not.
func entryName(name string) (string, error) {
	slashed := strings.ReplaceAll(name, `\`, "/")
	if path.IsAbs(slashed) {
		return "", fmt.Errorf("chart illegally contains absolute paths: %q", name)
	}
	if len(slashed) >= 2 && slashed[1] == ':' && isASCIILetter(slashed[0]) {
		return "", fmt.Errorf("chart contains illegally named files: %q", name)
	}
	for _, part := range strings.Split(slashed, "/") {
		if part == ".." {
			return "", fmt.Errorf("chart illegally references parent directory: %q", name)
		}
	}

	// Helm's rules: an archive made on Windows may use \ throughout.
	delimiter := "/"
	if strings.ContainsRune(name, '\\') {
		delimiter = `\`
	}
	parts := strings.Split(name, delimiter)
	n := strings.Join(parts[1:], delimiter)
	n = strings.ReplaceAll(n, delimiter, "/")
	if path.IsAbs(n) {
		return "", fmt.Errorf("chart illegally contains absolute paths: %q", name)
	}
	n = path.Clean(n)
	if n == "." {
		// The entry is not inside a chart folder.
		return "", fmt.Errorf("chart illegally contains content outside the base directory: %q", name)
	}
	if strings.HasPrefix(n, "..") {
		return "", fmt.Errorf("chart illegally references parent directory: %q", name)
	}
	// Mixed / and \ can still produce c:/foo after the checks above.
	if drivePathPattern.MatchString(n) {
		return "", fmt.Errorf("chart contains illegally named files: %q", name)
	}
	if parts[0] == "Chart.yaml" {
		return "", fmt.Errorf("chart yaml not in base directory: %q", name)
	}
	return n, nil
}

func isASCIILetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

// ensureArchive tells apart a file that is not gzipped, with Helm's messages.
// It rewinds raw.
func ensureArchive(name string, raw *os.File) error {
	defer raw.Seek(0, io.SeekStart) //nolint:errcheck // A failed rewind fails the load.

	buffer := make([]byte, 512)
	if _, err := raw.Read(buffer); err != nil && err != io.EOF {
		return fmt.Errorf("file '%s' cannot be read: %w", name, err)
	}
	// Some gzip files are sniffed as application/vnd.ms-fontobject
	// (helm/helm#12261): the magic number decides.
	if contentType := http.DetectContentType(buffer); contentType != "application/x-gzip" && !bytes.HasPrefix(buffer, []byte("\x1F\x8B\x08")) {
		if strings.HasSuffix(name, ".yml") || strings.HasSuffix(name, ".yaml") {
			return fmt.Errorf("file '%s' seems to be a YAML file, but expected a gzipped archive", name)
		}
		return fmt.Errorf("file '%s' does not appear to be a gzipped archive; got '%s'", name, contentType)
	}
	return nil
}
