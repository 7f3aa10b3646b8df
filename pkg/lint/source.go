package lint

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/kubectl-chart/kubectl-chart/pkg/chart"
	"github.com/kubectl-chart/kubectl-chart/pkg/chart/loader"
)

// source is where a chart's files are read from: Helm's rules look at raw
// files (Chart.yaml, values.yaml, templates/) before loading the chart.
type source interface {
	// stat tells whether name (slash-separated, relative to the chart
	// root) is a directory; the error wraps fs.ErrNotExist when missing.
	stat(name string) (isDir bool, err error)
	readFile(name string) ([]byte, error)
	// load loads the chart anew (rendering changes it).
	load() (*chart.Chart, error)
}

func openSource(p string) (source, error) {
	if !isArchive(p) {
		return dirSource(p), nil
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("unable to open tarball: %w", err)
	}
	defer f.Close()
	files, err := readArchive(f)
	if err != nil {
		return nil, fmt.Errorf("unable to extract tarball: %w", err)
	}
	return memSource(files), nil
}

// dirSource is a chart directory, named as the user gave it.
type dirSource string

func (d dirSource) stat(name string) (bool, error) {
	fi, err := os.Stat(filepath.Join(string(d), filepath.FromSlash(name)))
	if err != nil {
		return false, err
	}
	return fi.IsDir(), nil
}

func (d dirSource) readFile(name string) ([]byte, error) {
	return os.ReadFile(filepath.Join(string(d), filepath.FromSlash(name)))
}

func (d dirSource) load() (*chart.Chart, error) { return loader.LoadDir(string(d)) }

// memSource is a packaged chart read into memory, names relative to the
// chart root.
type memSource []*loader.BufferedFile

func (m memSource) stat(name string) (bool, error) {
	for _, f := range m {
		if f.Name == name {
			return false, nil
		}
		if strings.HasPrefix(f.Name, name+"/") {
			return true, nil
		}
	}
	return false, &fs.PathError{Op: "stat", Path: name, Err: fs.ErrNotExist}
}

func (m memSource) readFile(name string) ([]byte, error) {
	isDir, err := m.stat(name)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	if isDir {
		return nil, &fs.PathError{Op: "read", Path: name, Err: errors.New("is a directory")}
	}
	for _, f := range m {
		if f.Name == name {
			return f.Data, nil
		}
	}
	return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
}

func (m memSource) load() (*chart.Chart, error) {
	files := make([]*loader.BufferedFile, len(m))
	for i, f := range m {
		cp := *f
		files[i] = &cp
	}
	return loader.LoadFiles(files)
}

// readArchive reads a packaged chart as Helm's chartutil.Expand does before
// linting it, with the loader's archive reader (its bounds and path checks);
// the chart must also have a Chart.yaml with a usable name.
func readArchive(in io.Reader) ([]*loader.BufferedFile, error) {
	files, err := loader.ReadArchiveFiles(in)
	if err != nil {
		return nil, err
	}
	return files, checkArchiveChartName(files)
}

// checkArchiveChartName is Expand's check of the chart's name, which names
// the folder Helm extracts to.
func checkArchiveChartName(files []*loader.BufferedFile) error {
	var name string
	for _, f := range files {
		if f.Name == "Chart.yaml" {
			md := &chart.Metadata{}
			if err := yaml.Unmarshal(f.Data, md); err != nil {
				return fmt.Errorf("cannot load Chart.yaml: %w", err)
			}
			name = md.Name
		}
	}
	switch {
	case name == "":
		return errors.New("chart name not specified")
	case name == "." || name == "..":
		return fmt.Errorf("chart name %q is not allowed", name)
	case name != filepath.Base(name) || strings.ContainsRune(name, '/'):
		return fmt.Errorf("chart name %q must not contain path separators", name)
	}
	return nil
}
