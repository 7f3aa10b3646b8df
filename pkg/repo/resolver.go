package repo

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/kubectl-chart/kubectl-chart/internal/atomicfile"
	"github.com/kubectl-chart/kubectl-chart/internal/chartcache"
	"github.com/kubectl-chart/kubectl-chart/internal/helmpath"
	"github.com/kubectl-chart/kubectl-chart/internal/transport"
	"github.com/kubectl-chart/kubectl-chart/pkg/chart"
	"github.com/kubectl-chart/kubectl-chart/pkg/chart/loader"
)

// DefaultTimeout bounds each request to a repository, as Helm's --timeout
// of repo add (2m).
const DefaultTimeout = 120 * time.Second

// ErrRepoNotFound is returned when a repository name is not in
// repositories.yaml.
var ErrRepoNotFound = errors.New("repo not found")

// repoNotFoundError says Helm's "repo NAME not found" and is ErrRepoNotFound.
type repoNotFoundError struct{ name string }

func (e *repoNotFoundError) Error() string        { return fmt.Sprintf("repo %s not found", e.name) }
func (e *repoNotFoundError) Is(target error) bool { return target == ErrRepoNotFound }

// Resolver downloads repository indexes and chart archives and resolves
// chart references against them. Its zero value is not usable: set Paths.
type Resolver struct {
	// Paths locate repositories.yaml, Helm's repository cache
	// (<name>-index.yaml) and kubectl chart's content cache.
	Paths helmpath.Paths
	// Timeout bounds each request (0: DefaultTimeout).
	Timeout time.Duration
	// MaxIndexSize bounds an index.yaml (0: DefaultMaxIndexSize).
	MaxIndexSize int64
	// MaxArchiveSize bounds a chart archive (0: loader's
	// MaxDecompressedChartSize, 100 MiB).
	MaxArchiveSize int64
}

// NewResolver is a Resolver over Helm's paths with the default bounds.
func NewResolver(paths helmpath.Paths) *Resolver { return &Resolver{Paths: paths} }

func (r *Resolver) timeout() time.Duration {
	if r.Timeout > 0 {
		return r.Timeout
	}
	return DefaultTimeout
}

func (r *Resolver) maxIndex() int64 {
	if r.MaxIndexSize > 0 {
		return r.MaxIndexSize
	}
	return DefaultMaxIndexSize
}

func (r *Resolver) maxArchive() int64 {
	if r.MaxArchiveSize > 0 {
		return r.MaxArchiveSize
	}
	return loader.MaxDecompressedChartSize
}

// Indexes is the cache of compact indexes.
func (r *Resolver) Indexes() IndexCache {
	return IndexCache{Dir: filepath.Join(r.Paths.ContentCache(), "index"), MaxIndexSize: r.maxIndex()}
}

// Archives is the content-addressed cache of chart archives.
func (r *Resolver) Archives() *chartcache.Cache { return chartcache.New(r.Paths.ContentCache()) }

// IndexPath is Helm's cached index of a named repository.
func (r *Resolver) IndexPath(name string) string {
	return filepath.Join(r.Paths.RepositoryCache(), name+"-index.yaml")
}

// ChartsPath is Helm's list of chart names of a named repository.
func (r *Resolver) ChartsPath(name string) string {
	return filepath.Join(r.Paths.RepositoryCache(), name+"-charts.txt")
}

func isTooLarge(err error) bool { return errors.Is(err, transport.ErrTooLarge) }

// label names a repository in errors: "name (url)" or the URL.
func label(e Entry) string {
	if e.Name == "" {
		return e.URL
	}
	return fmt.Sprintf("%q (%s)", e.Name, e.URL)
}

// DownloadIndex fetches a repository's index.yaml and checks that it is an
// index. With a named entry it then writes Helm's cache files
// (<name>-index.yaml, <name>-charts.txt, as `helm repo update`) and the
// compact form; nothing is written when the download or the check fails.
func (r *Resolver) DownloadIndex(ctx context.Context, e Entry) (*Index, error) {
	g, err := newGetter(e, label(e), r.timeout())
	if err != nil {
		return nil, err
	}
	data, err := g.fetchIndex(ctx, r.maxIndex())
	if err != nil {
		return nil, notARepo(e.URL, err)
	}
	x, err := r.Indexes().FromBytes(data)
	if err != nil {
		return nil, notARepo(e.URL, err)
	}
	if e.Name == "" {
		return x, nil
	}
	names := make([]string, len(x.Charts))
	for k := range x.Charts {
		names[k] = x.Charts[k].Name + "\n"
	}
	if err := atomicfile.WriteFile(r.ChartsPath(e.Name), []byte(strings.Join(names, "")), 0o644); err != nil {
		return nil, err
	}
	p := r.IndexPath(e.Name)
	if err := atomicfile.WriteFile(p, data, 0o644); err != nil {
		return nil, err
	}
	r.Indexes().remember(p, x.Digest)
	return x, nil
}

// notARepo is Helm's message for an index that cannot be had.
func notARepo(u string, err error) error {
	return fmt.Errorf("looks like %q is not a valid chart repository or cannot be reached: %w", u, err)
}

// LoadIndex is the cached index of a named repository, through the compact
// cache (an index written by `helm repo update` is parsed once).
func (r *Resolver) LoadIndex(name string) (*Index, error) {
	x, err := r.Indexes().Load(r.IndexPath(name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("repo %q: no cached index (try 'kubectl chart repo update %s'): %w", name, name, err)
	}
	return x, err
}

// UpdateResult is the outcome of updating one repository.
type UpdateResult struct {
	Entry *Entry
	Err   error
}

// Update downloads the indexes of entries, at most 8 at a time, and
// returns one result per entry in their order.
func (r *Resolver) Update(ctx context.Context, entries []*Entry) []UpdateResult {
	res := make([]UpdateResult, len(entries))
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for k, e := range entries {
		res[k].Entry = e
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			_, res[k].Err = r.DownloadIndex(ctx, *e)
		}()
	}
	wg.Wait()
	return res
}

// RemoveCache deletes Helm's cache files of a named repository.
func (r *Resolver) RemoveCache(name string) error {
	_ = os.Remove(r.ChartsPath(name))
	if err := os.Remove(r.IndexPath(name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("can't remove index file %s: %w", r.IndexPath(name), err)
	}
	return nil
}

// LocateOptions say which chart to locate: a chart of a repository of
// repositories.yaml (RepoName, as in "REPO/CHART"), or of a repository
// given by URL and not added (RepoURL, as --repo).
type LocateOptions struct {
	RepoName string
	RepoURL  string
	// Chart is the chart's name in the repository.
	Chart string
	// Version is a semver constraint or an exact version; empty means the
	// latest stable version, or any latest version with Devel.
	Version string
	Devel   bool
	// Username and Password are basic-auth credentials; with RepoName they
	// replace the repository's own when set.
	Username, Password string
	// PassCredentials sends the credentials to every host, not only the
	// repository's.
	PassCredentials bool
	// TLS files; with RepoName, each one set replaces the repository's.
	TLS transport.TLSOptions
	// WantProv also fetches the archive's provenance file (<url>.prov).
	WantProv bool
}

// Located is a chart archive found in a repository and present on disk.
type Located struct {
	// ArchivePath is the archive in the content cache; read it, never
	// change it.
	ArchivePath string
	// Version is the resolved chart version.
	Version string
	// Digest is the archive's "sha256:<hex>".
	Digest string
	// URL is the absolute URL of the archive.
	URL string
	// Metadata is the version's Chart.yaml as the index gives it (name,
	// version, appVersion, description, keywords, apiVersion, type,
	// kubeVersion, deprecated).
	Metadata *chart.Metadata
	// Repo names the repository in messages.
	Repo string
	// ProvPath is the provenance file in the content cache (WantProv), empty
	// when the repository has none.
	ProvPath string
	// Downloaded tells whether the archive was downloaded now (false: it
	// was already in the cache and no request was made for it).
	Downloaded bool
}

// Locate resolves a chart reference to a local archive: it reads the
// repository's index (the cached one of a named repository; downloaded
// each time for a URL, as Helm does, but parsed only when it changed),
// resolves the version as Helm does, and returns the archive from the
// content cache, downloading it there first when it is missing. A download
// is checked against the index's digest; a mismatch stores nothing.
func (r *Resolver) Locate(ctx context.Context, o LocateOptions) (*Located, error) {
	if (o.RepoName == "") == (o.RepoURL == "") {
		return nil, errors.New("locate: exactly one of a repository name and a repository URL is needed")
	}
	if o.Chart == "" {
		return nil, errors.New("locate: no chart name")
	}
	var (
		e     Entry
		x     *Index
		err   error
		hint  string
		repoL string
	)
	if o.RepoName != "" {
		f, err := LoadFile(r.Paths.RepositoryConfig())
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		found := f.Get(o.RepoName)
		if found == nil {
			return nil, &repoNotFoundError{name: o.RepoName}
		}
		e = *found
		if x, err = r.LoadIndex(o.RepoName); err != nil {
			return nil, err
		}
		repoL = o.RepoName
		hint = fmt.Sprintf("(try 'kubectl chart repo update %s')", o.RepoName)
	} else {
		e = Entry{URL: o.RepoURL}
		repoL = o.RepoURL
	}
	if o.Username != "" || o.Password != "" {
		e.Username, e.Password = o.Username, o.Password
	}
	e.PassCredentialsAll = e.PassCredentialsAll || o.PassCredentials
	if o.TLS.CAFile != "" {
		e.CAFile = o.TLS.CAFile
	}
	if o.TLS.CertFile != "" {
		e.CertFile = o.TLS.CertFile
	}
	if o.TLS.KeyFile != "" {
		e.KeyFile = o.TLS.KeyFile
	}
	e.InsecureSkipTLSVerify = e.InsecureSkipTLSVerify || o.TLS.InsecureSkipVerify
	if x == nil {
		if x, err = r.DownloadIndex(ctx, Entry{URL: e.URL, Username: e.Username, Password: e.Password,
			CertFile: e.CertFile, KeyFile: e.KeyFile, CAFile: e.CAFile,
			InsecureSkipTLSVerify: e.InsecureSkipTLSVerify, PassCredentialsAll: e.PassCredentialsAll}); err != nil {
			return nil, err
		}
	}

	constraint := o.Version
	if constraint == "" && o.Devel {
		constraint = DevelConstraint
	}
	v, err := x.Get(o.Chart, constraint)
	if err != nil {
		var nf *ChartNotFoundError
		if errors.As(err, &nf) {
			nf.Repo, nf.Hint = repoL, hint
		}
		return nil, err
	}
	if len(v.URLs) == 0 {
		return nil, fmt.Errorf("chart %q version %q in repo %s has no downloadable URLs", o.Chart, v.Version, repoL)
	}
	href, err := ResolveReferenceURL(e.URL, v.URLs[0])
	if err != nil {
		return nil, fmt.Errorf("failed to make chart URL absolute: %w", err)
	}
	loc := &Located{Version: v.Version, URL: href, Metadata: v.Metadata(o.Chart), Repo: repoL}

	cache := r.Archives()
	refKey := "repo-archive|" + href
	g, err := newGetter(e, label(Entry{Name: o.RepoName, URL: e.URL}), r.timeout())
	if err != nil {
		return nil, err
	}
	if v.Digest != "" {
		want := "sha256:" + strings.ToLower(strings.TrimPrefix(v.Digest, "sha256:"))
		if p, ok := cache.Lookup(want); ok {
			loc.ArchivePath, loc.Digest = p, want
			return loc, r.fetchProv(ctx, o, g, cache, loc)
		}
	} else if d, p, ok := cache.Ref(refKey); ok {
		loc.ArchivePath, loc.Digest = p, d
		return loc, r.fetchProv(ctx, o, g, cache, loc)
	}

	body, err := g.get(ctx, href)
	if err != nil {
		return nil, fmt.Errorf("chart %s-%s: %w", o.Chart, v.Version, err)
	}
	defer body.Close()
	want := ""
	if v.Digest != "" {
		want = "sha256:" + strings.TrimPrefix(v.Digest, "sha256:")
	}
	d, p, err := cache.Put(body, want, r.maxArchive())
	if err != nil {
		return nil, fmt.Errorf("chart %s-%s from %s: %w", o.Chart, v.Version, href, g.timedOut(ctx, err))
	}
	if v.Digest == "" {
		_ = cache.SetRef(refKey, d)
	}
	loc.ArchivePath, loc.Digest, loc.Downloaded = p, d, true
	return loc, r.fetchProv(ctx, o, g, cache, loc)
}

// FetchURL downloads the chart archive at href (`install NAME
// https://…/x.tgz`: no repository, no index) into the content cache with the
// credentials and TLS files of o (its repository, chart and version fields
// are not used), and its provenance file with o.WantProv. Credentials go to
// href's own host. The digest is not known beforehand, so the archive is
// downloaded each time (Helm does the same), and kept by its digest.
func (r *Resolver) FetchURL(ctx context.Context, href string, o LocateOptions) (*Located, error) {
	e := Entry{URL: href, Username: o.Username, Password: o.Password, PassCredentialsAll: o.PassCredentials,
		CAFile: o.TLS.CAFile, CertFile: o.TLS.CertFile, KeyFile: o.TLS.KeyFile, InsecureSkipTLSVerify: o.TLS.InsecureSkipVerify}
	g, err := newGetter(e, href, r.timeout())
	if err != nil {
		return nil, err
	}
	body, err := g.get(ctx, href)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	cache := r.Archives()
	d, p, err := cache.Put(body, "", r.maxArchive())
	if err != nil {
		return nil, fmt.Errorf("failed to fetch %s: %w", href, g.timedOut(ctx, err))
	}
	loc := &Located{ArchivePath: p, Digest: d, URL: href, Repo: href, Downloaded: true}
	return loc, r.fetchProv(ctx, o, g, cache, loc)
}

// maxProvSize bounds a provenance file (a signed Chart.yaml and one hash).
const maxProvSize = 1 << 20

// fetchProv fetches the archive's provenance file (<url>.prov) with
// WantProv, once per archive: it is cached by the archive's digest. A
// repository without one leaves ProvPath empty; the caller decides whether
// that is an error (--verify) or not (pull --prov).
func (r *Resolver) fetchProv(ctx context.Context, o LocateOptions, g *getter, cache *chartcache.Cache, loc *Located) error {
	if !o.WantProv {
		return nil
	}
	key := "repo-prov|" + loc.Digest
	if _, p, ok := cache.Ref(key); ok {
		loc.ProvPath = p
		return nil
	}
	body, err := g.get(ctx, loc.URL+".prov")
	if err != nil {
		var he *HTTPError
		if errors.As(err, &he) && he.StatusCode == http.StatusNotFound {
			return nil
		}
		return fmt.Errorf("provenance file of %s: %w", loc.URL, err)
	}
	defer body.Close()
	d, p, err := cache.Put(body, "", maxProvSize)
	if err != nil {
		return fmt.Errorf("provenance file of %s: %w", loc.URL, g.timedOut(ctx, err))
	}
	_ = cache.SetRef(key, d)
	loc.ProvPath = p
	return nil
}

// SplitChartRef splits "REPO/CHART" as Helm does (at the first slash).
func SplitChartRef(ref string) (repoName, chartName string, ok bool) {
	repoName, chartName, ok = strings.Cut(ref, "/")
	return repoName, chartName, ok && repoName != "" && chartName != "" && !strings.Contains(chartName, "/")
}
