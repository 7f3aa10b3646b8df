package loader

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/kubectl-chart/kubectl-chart/pkg/chart"
	"github.com/kubectl-chart/kubectl-chart/pkg/chart/ignore"
)

// LoadDir loads a chart directory. Files matched by the chart's .helmignore
// (and dotfiles under templates/) are skipped. Symbolic links are followed
// while they stay inside the chart root.
func (l *Loader) LoadDir(dir string) (*chart.Chart, error) {
	topdir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	// Returned with walk errors, as Helm does.
	c := &chart.Chart{}

	rules := ignore.Empty()
	ifile := filepath.Join(topdir, ignore.HelmIgnore)
	if _, err := os.Stat(ifile); err == nil {
		r, err := ignore.ParseFile(ifile)
		if err != nil {
			return c, err
		}
		rules = r
	}
	rules.AddDefaults()

	w := &dirWalker{rules: rules, budget: l.newBudget()}
	if err := w.walkRoot(topdir); err != nil {
		return c, err
	}
	if err := w.readQueued(); err != nil {
		return c, err
	}
	return l.loadFiles(w.files, w.budget)
}

// dirWalker reads a chart directory the way Helm's sympath.Walk and loadDir
// do: names in lexical order, symbolic links resolved before the ignore rules
// see them, ignored directories skipped whole.
type dirWalker struct {
	rules  *ignore.Rules
	budget *budget
	// root is the chart directory with every symbolic link resolved.
	root  string
	files []*BufferedFile
	// queue holds the files to read, in walk order; queuedBytes their sizes.
	queue       []queued
	queuedBytes int64
}

func (w *dirWalker) walkRoot(topdir string) error {
	fi, err := os.Lstat(topdir)
	if err != nil {
		// Helm's walk drops an error on the root: the chart then has no
		// Chart.yaml, and that is what gets reported.
		return nil
	}
	real := topdir
	if fi.Mode()&fs.ModeSymlink != 0 {
		if real, err = filepath.EvalSymlinks(topdir); err != nil {
			return fmt.Errorf("error evaluating symlink %s: %w", topdir, err)
		}
		if fi, err = os.Lstat(real); err != nil {
			return err
		}
	} else if real, err = filepath.EvalSymlinks(topdir); err != nil {
		// A parent of the chart directory is a dangling link.
		return err
	}
	if !fi.IsDir() {
		return nil
	}
	w.root = real
	return w.walkDir(topdir, "", []string{real})
}

// walkDir walks the directory at abs, named rel within the chart ("" for
// the root). reals are the resolved locations of the directories being
// walked, abs last.
func (w *dirWalker) walkDir(abs, rel string, reals []string) error {
	real := reals[len(reals)-1]
	entries, err := os.ReadDir(abs)
	if err != nil {
		return err
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	slices.Sort(names)

	for _, name := range names {
		p := filepath.Join(abs, name)
		n := path.Join(rel, name)
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		childReal := filepath.Join(real, name)
		if fi.Mode()&fs.ModeSymlink != 0 {
			resolved, err := filepath.EvalSymlinks(p)
			if err != nil {
				return fmt.Errorf("error evaluating symlink %s: %w", p, err)
			}
			if fi, err = os.Lstat(resolved); err != nil {
				return err
			}
			if w.rules.Ignore(n, fi) {
				continue
			}
			if !within(w.root, resolved) {
				return fmt.Errorf("symlink %s points outside the chart: %s", n, resolved)
			}
			// A link to a directory that holds one being walked would
			// be walked again and again.
			if fi.IsDir() && slices.ContainsFunc(reals, func(r string) bool { return within(resolved, r) }) {
				return fmt.Errorf("symlink %s forms a loop: %s", n, resolved)
			}
			childReal = resolved
		}

		if fi.IsDir() {
			if w.rules.Ignore(n, fi) {
				continue
			}
			if err := w.walkDir(p, n, append(reals[:len(reals):len(reals)], childReal)); err != nil {
				return err
			}
			continue
		}
		if err := w.readFile(p, n, fi); err != nil {
			return err
		}
	}
	return nil
}

// readFile queues the file at p, named n within the chart, unless ignored.
// Files are read by readQueued once the walk is over.
func (w *dirWalker) readFile(p, n string, fi fs.FileInfo) error {
	if w.rules.Ignore(n, fi) {
		return nil
	}
	// Devices, sockets, pipes.
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("cannot load irregular file %s as it has file mode type bits set", p)
	}
	// The count and sizes seen so far must fit the budget before anything
	// is read.
	if len(w.queue) >= w.budget.opts.MaxFiles {
		return fmt.Errorf("error reading %s: chart has more than %d files", n, w.budget.opts.MaxFiles)
	}
	w.queuedBytes += fi.Size()
	if err := w.budget.check(w.queuedBytes); err != nil {
		return fmt.Errorf("error reading %s: %w", n, err)
	}
	if err := w.budget.check(fi.Size()); err != nil {
		return fmt.Errorf("error reading %s: %w", n, err)
	}
	w.queue = append(w.queue, queued{path: p, name: n, info: fi})
	return nil
}

type queued struct {
	path, name string
	info       fs.FileInfo
}

// readQueued reads the queued files in parallel (a chart has hundreds of
// small files: the system calls dominate), then charges them to the budget
// and reports the first error in walk order.
func (w *dirWalker) readQueued() error {
	datas := make([][]byte, len(w.queue))
	errs := make([]error, len(w.queue))
	// Each read is bounded by what the budget has left: the file may have
	// grown since it was listed; growth past the bound is seen below.
	limit := w.budget.left() + 1
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(4, len(w.queue)) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(w.queue) {
					return
				}
				datas[i], errs[i] = readFileLimited(w.queue[i].path, w.queue[i].info.Size(), limit)
			}
		})
	}
	wg.Wait()
	for i, q := range w.queue {
		if errs[i] != nil {
			return fmt.Errorf("error reading %s: %w", q.name, errs[i])
		}
		if err := w.budget.charge(int64(len(datas[i]))); err != nil {
			return fmt.Errorf("error reading %s: %w", q.name, err)
		}
		w.files = append(w.files, &BufferedFile{Name: q.name, ModTime: q.info.ModTime(), Data: bytes.TrimPrefix(datas[i], utf8bom)})
	}
	return nil
}

func readFileLimited(p string, size, limit int64) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readSized(io.LimitReader(f, limit), size)
}

// readSized reads r to the end into a buffer sized for the expected size
// (io.ReadAll would grow it step by step: costly for big charts).
func readSized(r io.Reader, size int64) ([]byte, error) {
	buf := bytes.NewBuffer(make([]byte, 0, size+bytes.MinRead))
	_, err := buf.ReadFrom(r)
	return buf.Bytes(), err
}

// within tells whether target is dir or inside it; both are resolved paths.
func within(dir, target string) bool {
	rel, err := filepath.Rel(dir, target)
	if err != nil {
		return false
	}
	return rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}
