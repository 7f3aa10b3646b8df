package dependency

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/kubectl-chart/kubectl-chart/internal/helmpath"
	"github.com/kubectl-chart/kubectl-chart/pkg/chart"
	"github.com/kubectl-chart/kubectl-chart/pkg/chart/loader"
	"github.com/kubectl-chart/kubectl-chart/pkg/registry"
	"github.com/kubectl-chart/kubectl-chart/pkg/repo"
)

// verifyMode is how Verify applies: update fails on a chart without a
// provenance file, build warns about it (Helm's VerifyAlways and
// VerifyIfPossible).
type verifyMode int

const (
	verifyIfPossible verifyMode = iota + 1
	verifyAlways
)

// Manager updates and builds the charts/ folder of a chart directory.
type Manager struct {
	// Paths locate repositories.yaml, the repository cache and the content
	// cache.
	Paths helmpath.Paths
	// SkipRefresh does not download repository indexes first
	// (--skip-refresh).
	SkipRefresh bool
	// Verify checks each downloaded chart against its provenance file and
	// Keyring (--verify, --keyring): update fails on a chart without one,
	// build warns about it, as Helm does.
	Verify  bool
	Keyring string
	// Registry says how to reach OCI registries (--username, --password,
	// TLS flags, --plain-http: Helm gives these flags to its registry
	// client only).
	Registry registry.Options
	// SourceDateEpoch, when set, stamps the files of packaged file://
	// dependencies ($SOURCE_DATE_EPOCH).
	SourceDateEpoch *time.Time
	// Progress receives each step (nil: none).
	Progress func(Event)
	// Now stamps Chart.lock's generated field (nil: time.Now).
	Now func() time.Time
}

// DefaultManager is a Manager over Helm's paths.
func DefaultManager() *Manager {
	p := helmpath.New()
	return &Manager{Paths: p, Registry: registry.Options{RegistryConfig: p.RegistryConfig()}}
}

// Result is what an update or a build did.
type Result struct {
	// Lock is the lock the charts were saved from.
	Lock *chart.Lock
	// LockPath is Chart.lock (requirements.lock for apiVersion v1);
	// LockWritten tells whether it was written (an update whose digest did
	// not change keeps the file).
	LockPath    string
	LockWritten bool
	// Saved are the file names saved into charts/, Deleted those removed.
	Saved, Deleted []string
}

// RepoNotFoundError lists repositories of a lock that are not in
// repositories.yaml (build only: update reads such repositories by URL).
type RepoNotFoundError struct{ Repos []string }

func (e *RepoNotFoundError) Error() string {
	return "no repository definition for " + strings.Join(e.Repos, ", ")
}

// ErrLockOutOfSync is wrapped when Chart.lock does not lock Chart.yaml's
// dependencies.
var ErrLockOutOfSync = errors.New("the lock file is out of sync with the dependencies file")

type outOfSyncError struct{ msg string }

func (e *outOfSyncError) Error() string { return e.msg }
func (e *outOfSyncError) Unwrap() error { return ErrLockOutOfSync }

// managerKeyPrefix names the cached indexes of repositories that are not in
// repositories.yaml, as Helm names them.
const managerKeyPrefix = "helm-manager-"

func (m *Manager) emit(e Event) {
	if m.Progress != nil {
		m.Progress(e)
	}
}

func (m *Manager) resolver() *repo.Resolver { return repo.NewResolver(m.Paths) }

// loadChartDir loads the chart directory, as Helm's Manager does.
func loadChartDir(chartPath string) (*chart.Chart, error) {
	if fi, err := os.Stat(chartPath); err != nil {
		return nil, fmt.Errorf("could not find %s: %w", chartPath, err)
	} else if !fi.IsDir() {
		return nil, errors.New("only unpacked charts can be updated")
	}
	return loader.LoadDir(chartPath)
}

func lockFileName(ch *chart.Chart) string {
	if ch.Metadata.APIVersion == chart.APIVersionV1 {
		return "requirements.lock"
	}
	return "Chart.lock"
}

// Update resolves Chart.yaml's dependencies to versions, saves them into
// charts/ and writes the lock, as `helm dependency update` does.
func (m *Manager) Update(ctx context.Context, chartPath string) (*Result, error) {
	ch, err := loadChartDir(chartPath)
	if err != nil {
		return nil, err
	}
	return m.update(ctx, chartPath, ch)
}

func (m *Manager) update(ctx context.Context, chartPath string, ch *chart.Chart) (*Result, error) {
	res := &Result{LockPath: filepath.Join(chartPath, lockFileName(ch))}
	req := ch.Metadata.Dependencies
	if req == nil {
		return res, nil
	}
	rf, err := m.loadRepoFile()
	if err != nil {
		return nil, err
	}
	repoNames, err := m.resolveRepoNames(chartPath, rf, req)
	if err != nil {
		return nil, err
	}
	if err := m.ensureMissingRepos(ctx, repoNames, req); err != nil {
		return nil, err
	}
	if !m.SkipRefresh {
		m.refresh(ctx, rf)
	}
	lock, err := m.resolve(ctx, chartPath, req, repoNames)
	if err != nil {
		return nil, err
	}
	res.Lock = lock
	if err := m.downloadAll(ctx, chartPath, rf, lock.Dependencies, verifyAlways, res); err != nil {
		return res, err
	}
	// Saving a file:// dependency may change its locked version.
	if lock.Digest, err = HashReq(req, lock.Dependencies); err != nil {
		return res, err
	}
	if ch.Lock != nil && ch.Lock.Digest == lock.Digest {
		return res, nil
	}
	if err := writeLock(res.LockPath, lock); err != nil {
		return res, err
	}
	res.LockWritten = true
	return res, nil
}

// Build saves the versions of the lock into charts/, as `helm dependency
// build` does; without a lock it updates. A lock that does not lock
// Chart.yaml's dependencies is refused.
func (m *Manager) Build(ctx context.Context, chartPath string) (*Result, error) {
	ch, err := loadChartDir(chartPath)
	if err != nil {
		return nil, err
	}
	lock := ch.Lock
	if lock == nil {
		return m.update(ctx, chartPath, ch)
	}
	res := &Result{LockPath: filepath.Join(chartPath, lockFileName(ch)), Lock: lock}
	req := ch.Metadata.Dependencies
	v1 := ch.Metadata.APIVersion == chart.APIVersionV1
	v1Msg := "the lock file (requirements.lock) is out of sync with the dependencies file (requirements.yaml). Please update the dependencies"
	// Helm 2 hashed the dependencies before @name repositories were
	// replaced by URLs.
	var v2Sum string
	if v1 {
		if v2Sum, err = HashV2Req(req); err != nil {
			return nil, &outOfSyncError{v1Msg}
		}
	}
	rf, err := m.loadRepoFile()
	if err != nil {
		return nil, err
	}
	if _, err := m.resolveRepoNames(chartPath, rf, req); err != nil {
		return nil, err
	}
	if sum, err := HashReq(req, lock.Dependencies); err != nil || sum != lock.Digest {
		if !v1 {
			return nil, &outOfSyncError{"the lock file (Chart.lock) is out of sync with the dependencies file (Chart.yaml). Please update the dependencies with 'kubectl chart dependency update'"}
		}
		if v2Sum != lock.Digest {
			return nil, &outOfSyncError{v1Msg}
		}
	}
	if err := hasAllRepos(rf, lock.Dependencies); err != nil {
		return nil, err
	}
	if !m.SkipRefresh {
		m.refresh(ctx, rf)
	}
	return res, m.downloadAll(ctx, chartPath, rf, lock.Dependencies, verifyIfPossible, res)
}

// loadRepoFile reads repositories.yaml; a missing file has no repository
// (Helm's loadRepoConfig).
func (m *Manager) loadRepoFile() (*repo.File, error) {
	rf, err := repo.LoadFile(m.Paths.RepositoryConfig())
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	return rf, nil
}

// urlEqual is Helm's urlutil.Equal: URLs equal once their paths are
// cleaned (a trailing slash does not matter).
func urlEqual(a, b string) bool {
	au, err := url.Parse(a)
	if err != nil {
		return filepath.Clean(a) == filepath.Clean(b)
	}
	bu, err := url.Parse(b)
	if err != nil {
		return false
	}
	for _, u := range []*url.URL{au, bu} {
		if u.Path == "" {
			u.Path = "/"
		}
		u.Path = filepath.Clean(u.Path)
	}
	return au.String() == bu.String()
}

// localPath is Helm's GetLocalPath: the folder of a file:// repository,
// relative to the chart unless absolute.
func localPath(repository, chartPath string) (string, error) {
	p := strings.TrimPrefix(repository, "file://")
	var dep string
	if strings.HasPrefix(p, "/") {
		var err error
		if dep, err = filepath.Abs(p); err != nil {
			return "", err
		}
	} else {
		dep = filepath.Join(chartPath, p)
	}
	if _, err := os.Stat(dep); errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("directory %s not found", dep)
	} else if err != nil {
		return "", err
	}
	return dep, nil
}

// resolveRepoNames maps dependency names to the repository names whose
// cached index resolves them, and replaces @name and alias:name
// repositories by their URLs in deps, as Helm's resolveRepoNames does.
func (m *Manager) resolveRepoNames(chartPath string, rf *repo.File, deps []*chart.Dependency) (map[string]string, error) {
	names := map[string]string{}
	var missing []string
	for _, d := range deps {
		if d == nil || d.Repository == "" {
			continue
		}
		if strings.HasPrefix(d.Repository, "file://") {
			if _, err := localPath(d.Repository, chartPath); err != nil {
				return nil, err
			}
			names[d.Name] = d.Repository
			continue
		}
		if registry.IsOCI(d.Repository) {
			names[d.Name] = d.Repository
			continue
		}
		found := false
		for _, e := range rf.Repositories {
			if e == nil {
				continue
			}
			if (strings.HasPrefix(d.Repository, "@") && strings.TrimPrefix(d.Repository, "@") == e.Name) ||
				(strings.HasPrefix(d.Repository, "alias:") && strings.TrimPrefix(d.Repository, "alias:") == e.Name) {
				found = true
				d.Repository = e.URL
				names[d.Name] = e.Name
				break
			} else if urlEqual(e.URL, d.Repository) {
				found = true
				names[d.Name] = e.Name
				break
			}
		}
		if !found {
			// Helm keys a URL that is not added by itself, not by the
			// dependency: ensureMissingRepos then gives it a name.
			if _, err := url.ParseRequestURI(d.Repository); err == nil {
				names[d.Repository] = d.Repository
				continue
			}
			missing = append(missing, d.Repository)
		}
	}
	if len(missing) > 0 {
		msg := fmt.Sprintf("no repository definition for %s. Please add them via 'kubectl chart repo add'", strings.Join(missing, ", "))
		for _, r := range missing {
			if !strings.Contains(r, "//") && !strings.HasPrefix(r, "@") && !strings.HasPrefix(r, "alias:") {
				msg += `
Note that repositories must be URLs or aliases. For example, to refer to the "example"
repository, use "https://charts.example.com/" or "@example" instead of
"example". Don't forget to add the repo, too ('kubectl chart repo add').`
				break
			}
		}
		return nil, errors.New(msg)
	}
	return names, nil
}

// managedName is the name Helm caches the index of a repository that is
// not in repositories.yaml under.
func managedName(u string) string {
	sum := sha256.Sum256([]byte(u))
	return managerKeyPrefix + hex.EncodeToString(sum[:])
}

// ensureMissingRepos names the repositories of deps that are not added and
// downloads their indexes into the repository cache (unless SkipRefresh).
func (m *Manager) ensureMissingRepos(ctx context.Context, names map[string]string, deps []*chart.Dependency) error {
	var entries []*repo.Entry
	for _, d := range deps {
		if d == nil || d.Repository == "" {
			continue
		}
		if _, ok := names[d.Name]; ok {
			continue
		}
		rn := managedName(d.Repository)
		names[d.Name] = rn
		entries = append(entries, &repo.Entry{Name: rn, URL: d.Repository})
	}
	if !m.SkipRefresh && len(entries) > 0 {
		m.emit(Event{Kind: EventUnmanagedRefresh})
		m.updateRepos(ctx, entries)
	}
	return nil
}

// refresh downloads the index of every repository of repositories.yaml,
// as Helm's UpdateRepositories; failures are reported, not returned.
func (m *Manager) refresh(ctx context.Context, rf *repo.File) {
	if rf == nil || len(rf.Repositories) == 0 {
		return
	}
	m.emit(Event{Kind: EventRefreshStart})
	m.updateRepos(ctx, rf.Repositories)
	m.emit(Event{Kind: EventRefreshDone})
}

// updateRepos downloads indexes, one per URL (the last entry of a URL wins,
// as in Helm's dedupeRepos), and reports each.
func (m *Manager) updateRepos(ctx context.Context, entries []*repo.Entry) {
	byURL := map[string]int{}
	var unique []*repo.Entry
	for _, e := range entries {
		if e == nil {
			continue
		}
		k := strings.TrimSuffix(e.URL, "/")
		if i, ok := byURL[k]; ok {
			unique[i] = e
			continue
		}
		byURL[k] = len(unique)
		unique = append(unique, e)
	}
	for _, r := range m.resolver().Update(ctx, unique) {
		ev := Event{Kind: EventRepoUpdated, Name: r.Entry.Name, URL: r.Entry.URL, Err: r.Err}
		if strings.HasPrefix(ev.Name, managerKeyPrefix) {
			ev.Name = ""
		}
		if r.Err != nil {
			ev.Kind = EventRepoUpdateFailed
		}
		m.emit(ev)
	}
}

// hasAllRepos checks that every repository of the lock is added.
func hasAllRepos(rf *repo.File, deps []*chart.Dependency) error {
	var missing []string
outer:
	for _, d := range deps {
		if strings.HasPrefix(d.Repository, "file://") || registry.IsOCI(d.Repository) || d.Repository == "" {
			continue
		}
		if rf != nil {
			for _, e := range rf.Repositories {
				if e != nil && urlEqual(e.URL, strings.TrimSuffix(d.Repository, "/")) {
					continue outer
				}
			}
		}
		missing = append(missing, d.Repository)
	}
	if len(missing) > 0 {
		return &RepoNotFoundError{Repos: missing}
	}
	return nil
}

// writeLock writes the lock as Helm does, refusing to write through a
// symbolic link.
func writeLock(dest string, lock *chart.Lock) error {
	data, err := yaml.Marshal(lock)
	if err != nil {
		return err
	}
	name := filepath.Base(dest)
	info, err := os.Lstat(dest)
	if err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("error getting info for %q: %w", dest, err)
	} else if err == nil && info.Mode()&os.ModeSymlink != 0 {
		link, err := os.Readlink(dest)
		if err != nil {
			return fmt.Errorf("error reading symlink for %q: %w", dest, err)
		}
		return fmt.Errorf("the %s file is a symlink to %q", name, link)
	}
	return os.WriteFile(dest, data, 0o644)
}
