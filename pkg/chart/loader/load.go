package loader

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/kubectl-chart/kubectl-chart/pkg/chart"
	"github.com/kubectl-chart/kubectl-chart/pkg/values"
)

// Bounds on what a chart may hold once decompressed. A chart is untrusted
// input: a small .tgz can expand to gigabytes, and a chart tree can hold
// millions of files; these bounds keep loading within memory.
const (
	// MaxDecompressedChartSize bounds the bytes of all files of a chart tree,
	// subcharts included, 100 MiB as Helm's MaxDecompressedChartSize. Helm
	// applies it to each archive and each directory on its own; here it
	// covers the whole tree, nested .tgz subcharts counted by their content.
	MaxDecompressedChartSize int64 = 100 * 1024 * 1024

	// MaxDecompressedFileSize is Helm's former bound on each file, 5 MiB.
	// Helm v4.3.1 keeps the variable but no longer enforces it (only the
	// chart size is bounded), so DefaultOptions leaves the per-file bound
	// off to load every chart Helm loads; set Options.MaxFileSize to it to
	// refuse larger files.
	MaxDecompressedFileSize int64 = 5 * 1024 * 1024

	// MaxFiles bounds the number of files of a chart tree, subcharts
	// included. Helm has no such bound; the largest public charts hold a
	// few hundred files.
	MaxFiles = 10000
)

// Options bound what a Loader accepts.
type Options struct {
	// MaxChartSize is the most bytes all files of a chart tree may hold;
	// 0 means MaxDecompressedChartSize.
	MaxChartSize int64
	// MaxFileSize is the most bytes one file may hold; 0 means no bound
	// other than MaxChartSize.
	MaxFileSize int64
	// MaxFiles is the most files a chart tree may hold; 0 means MaxFiles.
	MaxFiles int
}

// DefaultOptions are the bounds used by the package-level functions:
// MaxDecompressedChartSize, no per-file bound (as Helm v4.3.1) and MaxFiles.
func DefaultOptions() Options {
	return Options{MaxChartSize: MaxDecompressedChartSize, MaxFiles: MaxFiles}
}

// Loader loads charts within its bounds.
type Loader struct {
	opts Options
}

// New returns a Loader with the given bounds.
func New(opts Options) *Loader {
	if opts.MaxChartSize <= 0 {
		opts.MaxChartSize = MaxDecompressedChartSize
	}
	if opts.MaxFiles <= 0 {
		opts.MaxFiles = MaxFiles
	}
	return &Loader{opts: opts}
}

// BufferedFile is a chart file read into memory, named by its slash-separated
// path relative to the chart root.
type BufferedFile struct {
	Name    string
	ModTime time.Time
	Data    []byte
}

var utf8bom = []byte{0xEF, 0xBB, 0xBF}

// Load loads a chart from a directory or a .tgz archive, within the default
// bounds.
func Load(path string) (*chart.Chart, error) { return New(DefaultOptions()).Load(path) }

// LoadDir loads a chart directory, honouring its .helmignore, within the
// default bounds.
func LoadDir(dir string) (*chart.Chart, error) { return New(DefaultOptions()).LoadDir(dir) }

// LoadFile loads a chart archive file (.tgz) within the default bounds.
func LoadFile(name string) (*chart.Chart, error) { return New(DefaultOptions()).LoadFile(name) }

// LoadFiles builds a chart from files in memory within the default bounds.
func LoadFiles(files []*BufferedFile) (*chart.Chart, error) {
	return New(DefaultOptions()).LoadFiles(files)
}

// Load loads a chart from a directory or a .tgz archive.
func (l *Loader) Load(path string) (*chart.Chart, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if fi.IsDir() {
		// Helm v4 reads the chart's API version first, which gives its
		// message for a folder without Chart.yaml.
		abs, err := filepath.Abs(path)
		if err != nil {
			return nil, err
		}
		name := filepath.Join(abs, "Chart.yaml")
		data, err := os.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("unable to detect chart at %s: %w", name, err)
		}
		if err := checkAPIVersion(data); err != nil {
			return nil, err
		}
		return l.LoadDir(path)
	}
	return l.LoadFile(path)
}

// checkAPIVersion refuses chart API versions other than v1 and v2 (Helm v4's
// experimental v3 charts are not supported), with Helm's messages.
func checkAPIVersion(chartYAML []byte) error {
	var base struct {
		APIVersion string `json:"apiVersion,omitempty"`
	}
	if err := yaml.Unmarshal(chartYAML, &base); err != nil {
		return fmt.Errorf("cannot load Chart.yaml: %w", err)
	}
	switch base.APIVersion {
	case chart.APIVersionV1, chart.APIVersionV2, "":
		return nil
	}
	return fmt.Errorf("unsupported chart version %q", base.APIVersion)
}

// LoadFiles builds a chart from files in memory, as read from a chart
// directory or archive: names are relative to the chart root. The files are
// not changed. On error the chart loaded so far is returned with it.
func (l *Loader) LoadFiles(files []*BufferedFile) (*chart.Chart, error) {
	b := l.newBudget()
	for _, f := range files {
		if err := b.charge(int64(len(f.Data))); err != nil {
			return nil, fmt.Errorf("%s: %w", f.Name, err)
		}
	}
	return l.loadFiles(files, b)
}

// budget is what is left of the bounds while a chart tree is loaded.
type budget struct {
	mu    sync.Mutex // subcharts load in parallel
	opts  Options
	bytes int64
	files int
}

func (l *Loader) newBudget() *budget {
	return &budget{opts: l.opts, bytes: l.opts.MaxChartSize, files: l.opts.MaxFiles}
}

// check tells whether one more file of n bytes fits, with the messages of
// Helm's directory loader.
func (b *budget) check(n int64) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.checkLocked(n)
}

func (b *budget) checkLocked(n int64) error {
	if b.files <= 0 {
		return fmt.Errorf("chart has more than %d files", b.opts.MaxFiles)
	}
	if b.opts.MaxFileSize > 0 && n > b.opts.MaxFileSize {
		return fmt.Errorf("chart file is larger than the maximum file size %d", b.opts.MaxFileSize)
	}
	if n > b.bytes {
		return fmt.Errorf("chart exceeds maximum decompressed size of %d bytes", b.opts.MaxChartSize)
	}
	return nil
}

// charge takes one file of n bytes from the budget.
func (b *budget) charge(n int64) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.checkLocked(n); err != nil {
		return err
	}
	b.files--
	b.bytes -= n
	return nil
}

// left is the number of bytes still allowed.
func (b *budget) left() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.bytes
}

// refund gives back one file of n bytes: a .tgz subchart, whose content is
// charged instead when it is expanded.
func (b *budget) refund(n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.files++
	b.bytes += n
}

// loadFiles is Helm's LoadFiles; nested archives draw on b.
func (l *Loader) loadFiles(files []*BufferedFile, b *budget) (*chart.Chart, error) {
	c := new(chart.Chart)
	subcharts := map[string][]*BufferedFile{}
	var (
		valuesData   []byte
		valuesDone   chan struct{}
		valuesParsed map[string]any
		valuesErr    error
	)
	// waitValues collects the values parse, whatever path returns.
	waitValues := func() error {
		if valuesDone == nil {
			return nil
		}
		<-valuesDone
		valuesDone = nil
		if valuesErr != nil {
			return fmt.Errorf("cannot load values.yaml: %w", valuesErr)
		}
		c.Values = valuesParsed
		return nil
	}
	defer func() { _ = waitValues() }()

	// Chart.yaml first, wherever it is in the list: the other files depend
	// on its apiVersion.
	for _, f := range files {
		c.Raw = append(c.Raw, newFile(f))
		if f.Name == "Chart.yaml" {
			if c.Metadata == nil {
				c.Metadata = new(chart.Metadata)
			}
			if err := yaml.Unmarshal(f.Data, c.Metadata); err != nil {
				return c, fmt.Errorf("cannot load Chart.yaml: %w", err)
			}
			// Helm 2 accepted charts without an apiVersion: they are v1.
			if c.Metadata.APIVersion == "" {
				c.Metadata.APIVersion = chart.APIVersionV1
			}
		}
	}

	for _, f := range files {
		switch {
		case f.Name == "Chart.yaml":
		case f.Name == "Chart.lock":
			c.Lock = new(chart.Lock)
			if err := yaml.Unmarshal(f.Data, &c.Lock); err != nil {
				return c, fmt.Errorf("cannot load Chart.lock: %w", err)
			}
		case f.Name == "values.yaml":
			// Parsed while the rest of the chart loads: for big charts
			// it is the costliest file.
			valuesData = f.Data
			valuesDone = make(chan struct{})
			go func() {
				defer close(valuesDone)
				valuesParsed, valuesErr = values.Load(valuesData)
			}()
		case f.Name == "values.schema.json":
			c.Schema = f.Data
		case f.Name == "requirements.yaml":
			// Dependencies of API v1 charts. Helm warns when a v2 chart
			// has the file, and still reads it.
			if c.Metadata == nil {
				c.Metadata = new(chart.Metadata)
			}
			if err := yaml.Unmarshal(f.Data, c.Metadata); err != nil {
				return c, fmt.Errorf("cannot load requirements.yaml: %w", err)
			}
			if c.Metadata.APIVersion == chart.APIVersionV1 {
				c.Files = append(c.Files, newFile(f))
			}
		case f.Name == "requirements.lock":
			c.Lock = new(chart.Lock)
			if err := yaml.Unmarshal(f.Data, &c.Lock); err != nil {
				return c, fmt.Errorf("cannot load requirements.lock: %w", err)
			}
			if c.Metadata == nil {
				c.Metadata = new(chart.Metadata)
			}
			if c.Metadata.APIVersion == chart.APIVersionV1 {
				c.Files = append(c.Files, newFile(f))
			}
		case strings.HasPrefix(f.Name, "templates/"):
			c.Templates = append(c.Templates, newFile(f))
		case strings.HasPrefix(f.Name, "charts/"):
			if filepath.Ext(f.Name) == ".prov" {
				c.Files = append(c.Files, newFile(f))
				continue
			}
			fname := strings.TrimPrefix(f.Name, "charts/")
			cname, _, _ := strings.Cut(fname, "/")
			subcharts[cname] = append(subcharts[cname], &BufferedFile{Name: fname, ModTime: f.ModTime, Data: f.Data})
		default:
			c.Files = append(c.Files, newFile(f))
		}
	}

	if err := waitValues(); err != nil {
		return c, err
	}
	if c.Metadata == nil {
		return c, errors.New("Chart.yaml file is missing") //nolint:staticcheck // Helm's message.
	}
	if err := c.Validate(); err != nil {
		return c, err
	}

	names := make([]string, 0, len(subcharts))
	for n := range subcharts {
		if strings.IndexAny(n, "_.") != 0 {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	// Folder subcharts load in parallel; they are added, and the first error
	// is reported, in name order. Archives anywhere below draw on the shared
	// budget as they expand, so then loading stays sequential and which
	// archive exceeds the budget stays deterministic.
	subs := make([]*chart.Chart, len(names))
	errs := make([]error, len(names))
	if hasArchive(subcharts) {
		for i, n := range names {
			subs[i], errs[i] = l.loadSubchart(c, n, subcharts[n], b)
			if errs[i] != nil {
				break
			}
		}
	} else {
		var wg sync.WaitGroup
		for i, n := range names {
			wg.Go(func() { subs[i], errs[i] = l.loadSubchart(c, n, subcharts[n], b) })
		}
		wg.Wait()
	}
	for i := range names {
		if errs[i] != nil {
			return c, errs[i]
		}
		c.AddDependency(subs[i])
	}
	return c, nil
}

// hasArchive tells whether any subchart file is a packaged chart.
func hasArchive(subcharts map[string][]*BufferedFile) bool {
	for _, files := range subcharts {
		for _, f := range files {
			if strings.HasSuffix(f.Name, ".tgz") {
				return true
			}
		}
	}
	return false
}

// loadSubchart loads the subchart folder or archive n of charts/.
func (l *Loader) loadSubchart(c *chart.Chart, n string, files []*BufferedFile, b *budget) (*chart.Chart, error) {
	var sc *chart.Chart
	var err error
	if filepath.Ext(n) == ".tgz" {
		file := files[0]
		if file.Name != n {
			return nil, fmt.Errorf("error unpacking subchart tar in %s: expected %s, got %s", c.Name(), n, file.Name)
		}
		b.refund(int64(len(file.Data)))
		sc, err = l.loadArchive(bytes.NewReader(file.Data), b)
	} else {
		// Trim the folder off every name; a file right under charts/
		// is not part of a chart.
		buff := make([]*BufferedFile, 0, len(files))
		for _, f := range files {
			_, rest, ok := strings.Cut(f.Name, "/")
			if !ok {
				continue
			}
			f.Name = rest
			buff = append(buff, f)
		}
		sc, err = l.loadFiles(buff, b)
	}
	if err != nil {
		return nil, fmt.Errorf("error unpacking subchart %s in %s: %w", n, c.Name(), err)
	}
	return sc, nil
}

func newFile(f *BufferedFile) *chart.File {
	return &chart.File{Name: f.Name, ModTime: f.ModTime, Data: f.Data}
}
