package dependency

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/Masterminds/semver/v3"

	"github.com/kubectl-chart/kubectl-chart/internal/chartcache"
	"github.com/kubectl-chart/kubectl-chart/pkg/chart"
	"github.com/kubectl-chart/kubectl-chart/pkg/chart/loader"
	"github.com/kubectl-chart/kubectl-chart/pkg/chart/packager"
	"github.com/kubectl-chart/kubectl-chart/pkg/provenance"
	"github.com/kubectl-chart/kubectl-chart/pkg/registry"
	"github.com/kubectl-chart/kubectl-chart/pkg/repo"
)

// downloadAll saves deps into charts/ through a temporary folder, then
// deletes the archives of charts/ that were not saved now, as Helm's
// downloadAll and safeMoveDeps do. Nothing is moved when one dependency
// fails.
func (m *Manager) downloadAll(ctx context.Context, chartPath string, rf *repo.File, deps []*chart.Dependency, mode verifyMode, res *Result) error {
	destPath := filepath.Join(chartPath, "charts")
	tmpPath := filepath.Join(chartPath, fmt.Sprintf("tmpcharts-%d", os.Getpid()))
	if fi, err := os.Stat(destPath); err == nil {
		if !fi.IsDir() {
			return fmt.Errorf("%q is not a directory", destPath)
		}
	} else if errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(destPath, 0o755); err != nil {
			return err
		}
	} else {
		return fmt.Errorf("unable to retrieve file info for '%s': %w", destPath, err)
	}
	if err := os.MkdirAll(tmpPath, 0o755); err != nil {
		return err
	}
	defer os.RemoveAll(tmpPath)

	m.emit(Event{Kind: EventSaving, Count: len(deps)})
	var saveErr error
	seen := map[string]bool{}
	for _, dep := range deps {
		if dep == nil {
			continue
		}
		if err := ctx.Err(); err != nil {
			saveErr = err
			break
		}
		if dep.Repository == "" {
			m.emit(Event{Kind: EventLocalDependency, Chart: dep.Name})
			if err := checkLocal(filepath.Join(destPath, dep.Name), dep); err != nil {
				var unsatisfied *unsatisfiedError
				if !errors.As(err, &unsatisfied) {
					return err
				}
				saveErr = err
				break
			}
			continue
		}
		if strings.HasPrefix(dep.Repository, "file://") {
			ver, err := m.tarFromLocalDir(chartPath, dep, tmpPath)
			if err != nil {
				saveErr = err
				break
			}
			dep.Version = ver
			continue
		}
		if err := m.fetch(ctx, rf, dep, tmpPath, mode, seen); err != nil {
			saveErr = err
			break
		}
	}
	if saveErr != nil {
		m.emit(Event{Kind: EventSaveError, Err: saveErr})
		return saveErr
	}
	return m.safeMoveDeps(deps, tmpPath, destPath, res)
}

// unsatisfiedError is a chart of charts/ at a version its constraint
// refuses: reported after "Save error occurred", as in Helm.
type unsatisfiedError struct{ msg string }

func (e *unsatisfiedError) Error() string { return e.msg }

// checkLocal checks a dependency without repository against the chart of
// charts/<name>.
func checkLocal(dir string, dep *chart.Dependency) error {
	ch, err := loader.LoadDir(dir)
	if err != nil {
		return fmt.Errorf("unable to load chart '%s': %w", dir, err)
	}
	constraint, err := semver.NewConstraint(dep.Version)
	if err != nil {
		return fmt.Errorf("dependency %s has an invalid version/constraint format: %w", dep.Name, err)
	}
	v, err := semver.NewVersion(ch.Metadata.Version)
	if err != nil {
		return fmt.Errorf("invalid version %s for dependency %s: %w", dep.Version, dep.Name, err)
	}
	if !constraint.Check(v) {
		return &unsatisfiedError{fmt.Sprintf("dependency %s at version %s does not satisfy the constraint %s", dep.Name, ch.Metadata.Version, dep.Version)}
	}
	return nil
}

// tarFromLocalDir packages the folder of a file:// dependency into dest,
// as `helm package` would, and returns its version.
func (m *Manager) tarFromLocalDir(chartPath string, dep *chart.Dependency, dest string) (string, error) {
	dir, err := localPath(dep.Repository, chartPath)
	if err != nil {
		return "", err
	}
	ch, err := loader.LoadDir(dir)
	if err != nil {
		return "", err
	}
	if m.SourceDateEpoch != nil {
		packager.StampModTimes(ch, *m.SourceDateEpoch)
	}
	constraint, err := semver.NewConstraint(dep.Version)
	if err != nil {
		return "", fmt.Errorf("dependency %s has an invalid version/constraint format: %w", dep.Name, err)
	}
	v, err := semver.NewVersion(ch.Metadata.Version)
	if err != nil {
		return "", err
	}
	if !constraint.Check(v) {
		return "", fmt.Errorf("can't get a valid version for dependency %s", dep.Name)
	}
	if _, err := packager.Save(ch, dest); err != nil {
		return "", err
	}
	return ch.Metadata.Version, nil
}

// fetch downloads one locked chart of a repository or a registry into dest.
func (m *Manager) fetch(ctx context.Context, rf *repo.File, dep *chart.Dependency, dest string, mode verifyMode, seen map[string]bool) error {
	if registry.IsOCI(dep.Repository) {
		return m.fetchOCI(ctx, dep, dest, mode, seen)
	}
	var entry *repo.Entry
	if rf != nil {
		for _, e := range rf.Repositories {
			if e != nil && urlEqual(dep.Repository, e.URL) {
				entry = e
				break
			}
		}
	}
	opts := repo.LocateOptions{Chart: dep.Name, Version: dep.Version, WantProv: m.Verify}
	if entry != nil {
		opts.RepoName = entry.Name
	} else {
		opts.RepoURL = dep.Repository
		entry = &repo.Entry{URL: dep.Repository}
	}
	loc, err := m.resolver().Locate(ctx, opts)
	if err != nil {
		if opts.RepoURL != "" {
			err = fmt.Errorf("chart %s not found in %s: %w", dep.Name, dep.Repository, err)
		}
		return fmt.Errorf("could not find %s-%s: %w", dep.Name, dep.Version, err)
	}
	if seen[loc.URL] {
		m.emit(Event{Kind: EventAlreadyDownloaded, Chart: dep.Name, Repo: dep.Repository})
		return nil
	}
	m.emit(Event{Kind: EventDownloading, Chart: dep.Name, Repo: dep.Repository})
	name := repo.ArchiveFileName(loc.URL)
	archive, err := os.ReadFile(loc.ArchivePath)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dest, name), archive, 0o644); err != nil {
		return err
	}
	if m.Verify {
		prov, err := readProv(loc.ProvPath)
		if err := m.verify(archive, name, prov, err, loc.URL, mode); err != nil {
			return err
		}
	}
	seen[loc.URL] = true
	return nil
}

// fetchOCI pulls one locked chart of an OCI registry into dest as
// <name>-<version>.tgz.
func (m *Manager) fetchOCI(ctx context.Context, dep *chart.Dependency, dest string, mode verifyMode, seen map[string]bool) error {
	ref := strings.TrimSuffix(dep.Repository, "/") + "/" + dep.Name
	churl := ref + ":" + dep.Version
	if seen[churl] {
		m.emit(Event{Kind: EventAlreadyDownloaded, Chart: dep.Name, Repo: dep.Repository})
		return nil
	}
	m.emit(Event{Kind: EventDownloading, Chart: dep.Name, Repo: dep.Repository})
	res, err := registry.Pull(ctx, ref, registry.PullOptions{
		Options: m.Registry, Version: dep.Version, Cache: chartcache.New(m.Paths.ContentCache()),
	})
	if err != nil {
		return fmt.Errorf("could not download %s: %w", churl, err)
	}
	name := dep.Name + "-" + dep.Version + ".tgz"
	archive, err := os.ReadFile(res.ArchivePath)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dest, name), archive, 0o644); err != nil {
		return err
	}
	if m.Verify {
		var provErr error
		if res.Prov == nil {
			provErr = errors.New("the manifest has no provenance layer")
		}
		if err := m.verify(archive, name, res.Prov, provErr, churl, mode); err != nil {
			return err
		}
	}
	seen[churl] = true
	return nil
}

// verify checks an archive against its provenance file, as Helm's
// ChartDownloader does: a missing file fails an update and warns on a build.
func (m *Manager) verify(archive []byte, name string, prov []byte, provErr error, ref string, mode verifyMode) error {
	if provErr != nil {
		if mode == verifyAlways {
			return fmt.Errorf("failed to fetch provenance %q", ref+".prov")
		}
		m.emit(Event{Kind: EventVerificationNotFound, URL: ref, Err: provErr})
		return nil
	}
	keyring := m.Keyring
	if keyring == "" {
		keyring = provenance.DefaultKeyring()
	}
	ring, err := provenance.LoadKeyring(keyring)
	if err != nil {
		return fmt.Errorf("failed to load keyring: %w", err)
	}
	_, err = provenance.Verify(archive, name, prov, ring)
	return err
}

// readProv reads the provenance file Locate fetched beside an archive.
func readProv(p string) ([]byte, error) {
	if p == "" {
		return nil, errors.New("the repository has no provenance file for it")
	}
	return os.ReadFile(p)
}

// safeMoveDeps moves the charts of source into dest and deletes the charts
// of dest that were not in source, but those of dependencies without
// repository, as Helm's safeMoveDeps does. Files that are not charts are
// reported and left alone.
func (m *Manager) safeMoveDeps(deps []*chart.Dependency, source, dest string, res *Result) error {
	sourceFiles, err := os.ReadDir(source)
	if err != nil {
		return err
	}
	destFiles, err := os.ReadDir(dest)
	if err != nil {
		return err
	}
	local := map[string]bool{}
	for _, d := range deps {
		if d != nil && d.Repository == "" {
			local[d.Name] = true
		}
	}
	inSource := map[string]bool{}
	for _, f := range sourceFiles {
		if f.IsDir() {
			continue
		}
		src, dst := filepath.Join(source, f.Name()), filepath.Join(dest, f.Name())
		inSource[f.Name()] = true
		if _, err := loader.LoadFile(src); err != nil {
			m.emit(Event{Kind: EventSkippedMove, Path: src, Err: err})
			continue
		}
		if err := renameWithFallback(src, dst); err != nil {
			m.emit(Event{Kind: EventSkippedMove, Path: src, Err: err})
			continue
		}
		res.Saved = append(res.Saved, f.Name())
	}
	m.emit(Event{Kind: EventDeletingOutdated})
	for _, f := range destFiles {
		if f.IsDir() || inSource[f.Name()] {
			continue
		}
		p := filepath.Join(dest, f.Name())
		ch, err := loader.LoadFile(p)
		if err != nil {
			m.emit(Event{Kind: EventSkippedDeletion, Path: p, Err: err})
			continue
		}
		if local[ch.Name()] {
			continue
		}
		if err := os.Remove(p); err != nil {
			m.emit(Event{Kind: EventSkippedDeletion, Path: p, Err: err})
			continue
		}
		res.Deleted = append(res.Deleted, f.Name())
	}
	return nil
}

// renameWithFallback renames, or copies and removes across file systems.
func renameWithFallback(src, dst string) error {
	if err := os.Rename(src, dst); err == nil {
		return nil
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Remove(src)
}
