package chartsource

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	pathpkg "path"
	"path/filepath"
	"strings"
	"time"

	"github.com/kubectl-chart/kubectl-chart/internal/transport"
	"github.com/kubectl-chart/kubectl-chart/pkg/release"
)

// Kind says what a reference names.
type Kind string

// The kinds of reference.
const (
	KindLocal Kind = "local"
	KindRepo  Kind = "repo"
	KindOCI   Kind = "oci"
	KindURL   Kind = "url"
)

// Request is a chart reference and the flags Helm's ChartPathOptions has.
type Request struct {
	// Ref is what the user typed: a path, REPO/CHART, a chart name with
	// RepoURL, oci://…, or an http(s) URL.
	Ref string
	// Version is a semver constraint (or an exact version); empty means the
	// latest stable version, or any version with Devel.
	Version string
	// Devel admits pre-release versions when Version is empty.
	Devel bool
	// RepoURL is --repo: Ref is then a chart name in that repository.
	RepoURL string
	// Username, Password authenticate to repositories and chart URLs.
	Username, Password string
	// PassCredentials sends them to every host the download reaches.
	PassCredentials bool
	// TLS and PlainHTTP configure the connection.
	TLS       transport.TLSOptions
	PlainHTTP bool
	// Verify checks the chart's provenance file against Keyring.
	Verify  bool
	Keyring string
	// WantProv fetches the provenance file of a remote chart when there is
	// one, without verifying it (pull --prov).
	WantProv bool
	// Timeout bounds each download (0: the caller's context only).
	Timeout time.Duration
}

// Chart is a resolved reference.
type Chart struct {
	// Path is the chart folder or archive on local disk (absolute).
	Path string
	// Kind is the kind of reference it was.
	Kind Kind
	// Origin is what a revision record keeps of where the chart came from.
	Origin release.ChartOrigin
	// Version is the chart version resolved (empty for local charts until
	// loaded).
	Version string
	// ProvPath is the provenance file fetched beside a remote archive, if any.
	ProvPath string
	// Verification is the result of Verify.
	Verification *Verification

	// fileName is the archive's own name, which a provenance file signs.
	fileName string
}

// Located is what a repository or registry returns for a chart it made local.
type Located struct {
	// ArchivePath is the archive in the cache.
	ArchivePath string
	// Version is the chart version chosen.
	Version string
	// Digest is the archive's "sha256:<hex>" (for OCI, the manifest's).
	Digest string
	// URL is where the archive was (or would have been) downloaded from.
	URL string
	// ProvPath is its provenance file, when one was fetched.
	ProvPath string
	// FileName is the archive's own name (<name>-<version>.tgz), which its
	// provenance file signs.
	FileName string
}

// RepoLocator finds a chart in a chart repository (an added one by name, or
// one given by URL) and makes its archive local; FetchURL downloads an
// archive by its URL with the same client (req's credentials, TLS, timeout
// and WantProv apply).
type RepoLocator interface {
	Locate(ctx context.Context, req RepoRequest) (*Located, error)
	FetchURL(ctx context.Context, href string, req RepoRequest) (*Located, error)
}

// RepoRequest asks a repository for a chart.
type RepoRequest struct {
	// RepoName is an added repository; RepoURL one given with --repo.
	RepoName, RepoURL string
	Chart             string
	Version           string
	Devel             bool
	Username          string
	Password          string
	PassCredentials   bool
	TLS               transport.TLSOptions
	Timeout           time.Duration
	// WantProv fetches the provenance file too.
	WantProv bool
}

// OCIPuller pulls a chart from an OCI registry.
type OCIPuller interface {
	Pull(ctx context.Context, req OCIRequest) (*Located, error)
}

// OCIRequest asks a registry for a chart: Ref is oci://HOST/PATH/CHART with an
// optional :TAG or @DIGEST.
type OCIRequest struct {
	Ref       string
	Version   string
	Devel     bool
	PlainHTTP bool
	TLS       transport.TLSOptions
	Username  string
	Password  string
	Timeout   time.Duration
	WantProv  bool
}

// Verifier checks an archive against its provenance file. fileName is the
// name the archive is signed for (<name>-<version>.tgz): cached archives are
// stored under their digest.
type Verifier interface {
	Verify(ctx context.Context, archivePath, fileName, provPath, keyring string) (*Verification, error)
}

// Verification is what a successful Verify tells.
type Verification struct {
	SignedBy    []string
	Fingerprint string
	FileHash    string
}

// Resolver resolves references. Repos, Registry and Verifier may be nil: a
// reference that needs one fails with a clear error.
type Resolver struct {
	Repos    RepoLocator
	Registry OCIPuller
	Verifier Verifier
}

// ErrVerificationRequired is wrapped when Verify is asked of a chart that has
// no provenance file.
var ErrVerificationRequired = errors.New("no provenance file")

// Classify says what kind of reference req names, without any I/O but a stat.
func Classify(req Request) Kind {
	ref := strings.TrimSpace(req.Ref)
	if _, err := os.Stat(ref); err == nil {
		return KindLocal
	}
	switch {
	case filepath.IsAbs(ref) || strings.HasPrefix(ref, "."):
		return KindLocal
	case req.RepoURL != "":
		return KindRepo
	case strings.HasPrefix(ref, "oci://"):
		return KindOCI
	case strings.HasPrefix(ref, "https://") || strings.HasPrefix(ref, "http://"):
		return KindURL
	}
	return KindRepo
}

// Resolve makes the chart req names available on local disk.
func (r *Resolver) Resolve(ctx context.Context, req Request) (*Chart, error) {
	req.Ref = strings.TrimSpace(req.Ref)
	req.Version = strings.TrimSpace(req.Version)
	switch Classify(req) {
	case KindLocal:
		return r.local(ctx, req)
	case KindOCI:
		return r.oci(ctx, req)
	case KindURL:
		return r.url(ctx, req)
	}
	return r.repo(ctx, req)
}

func (r *Resolver) local(ctx context.Context, req Request) (*Chart, error) {
	if _, err := os.Stat(req.Ref); err != nil {
		return nil, fmt.Errorf("path %q not found", req.Ref)
	}
	abs, err := filepath.Abs(req.Ref)
	if err != nil {
		return nil, err
	}
	c := &Chart{Path: abs, Kind: KindLocal, Origin: release.ChartOrigin{Source: req.Ref, Reference: req.Ref}, fileName: filepath.Base(abs)}
	if req.Verify {
		fi, err := os.Stat(abs)
		if err != nil {
			return nil, err
		}
		if fi.IsDir() {
			return nil, fmt.Errorf("%s: cannot verify a chart folder, only a packaged chart (.tgz) with its .prov file", req.Ref)
		}
		if err := r.verify(ctx, c, abs+".prov", req.Keyring); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func (r *Resolver) repo(ctx context.Context, req Request) (*Chart, error) {
	rr := RepoRequest{
		RepoURL: req.RepoURL, Chart: req.Ref, Version: req.Version, Devel: req.Devel,
		Username: req.Username, Password: req.Password, PassCredentials: req.PassCredentials,
		TLS: req.TLS, Timeout: req.Timeout, WantProv: req.Verify || req.WantProv,
	}
	if req.RepoURL == "" {
		name, chartName, ok := strings.Cut(req.Ref, "/")
		if !ok || name == "" || chartName == "" {
			return nil, fmt.Errorf("non-absolute URLs should be in form of repo_name/path_to_chart, got: %s", req.Ref)
		}
		rr.RepoName, rr.Chart = name, chartName
	}
	if r.Repos == nil {
		return nil, fmt.Errorf("%s: chart repositories are not available", req.Ref)
	}
	loc, err := r.Repos.Locate(ctx, rr)
	if err != nil {
		return nil, err
	}
	c := &Chart{Path: loc.ArchivePath, Kind: KindRepo, Version: loc.Version, ProvPath: loc.ProvPath, fileName: loc.FileName,
		Origin: release.ChartOrigin{Source: loc.URL, Reference: req.Ref, RepoURL: req.RepoURL, Digest: loc.Digest}}
	if req.Verify {
		if err := r.verify(ctx, c, loc.ProvPath, req.Keyring); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func (r *Resolver) oci(ctx context.Context, req Request) (*Chart, error) {
	if r.Registry == nil {
		return nil, fmt.Errorf("%s: OCI registries are not available", req.Ref)
	}
	loc, err := r.Registry.Pull(ctx, OCIRequest{
		Ref: req.Ref, Version: req.Version, Devel: req.Devel, PlainHTTP: req.PlainHTTP, TLS: req.TLS,
		Username: req.Username, Password: req.Password, Timeout: req.Timeout, WantProv: req.Verify || req.WantProv,
	})
	if err != nil {
		return nil, err
	}
	c := &Chart{Path: loc.ArchivePath, Kind: KindOCI, Version: loc.Version, ProvPath: loc.ProvPath, fileName: loc.FileName,
		Origin: release.ChartOrigin{Source: loc.URL, Reference: req.Ref, Digest: loc.Digest}}
	if req.Verify {
		if err := r.verify(ctx, c, loc.ProvPath, req.Keyring); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// url downloads an archive from an http(s) URL into the cache, through the
// repository client (credentials, TLS, bounds and errors as for repositories).
func (r *Resolver) url(ctx context.Context, req Request) (*Chart, error) {
	u, err := url.Parse(req.Ref)
	if err != nil {
		return nil, fmt.Errorf("invalid chart URL %q: %w", req.Ref, err)
	}
	if r.Repos == nil {
		return nil, fmt.Errorf("%s: chart downloads are not available", req.Ref)
	}
	loc, err := r.Repos.FetchURL(ctx, req.Ref, RepoRequest{
		Username: req.Username, Password: req.Password, PassCredentials: req.PassCredentials,
		TLS: req.TLS, Timeout: req.Timeout, WantProv: req.Verify || req.WantProv,
	})
	if err != nil {
		return nil, err
	}
	c := &Chart{Path: loc.ArchivePath, Kind: KindURL, ProvPath: loc.ProvPath, fileName: pathpkg.Base(u.Path),
		Origin: release.ChartOrigin{Source: req.Ref, Reference: req.Ref, Digest: loc.Digest}}
	if req.Verify {
		if err := r.verify(ctx, c, c.ProvPath, req.Keyring); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func (r *Resolver) verify(ctx context.Context, c *Chart, provPath, keyring string) error {
	if provPath == "" {
		return fmt.Errorf("%w for %s: it cannot be verified", ErrVerificationRequired, c.Origin.Reference)
	}
	if _, err := os.Stat(provPath); err != nil {
		return fmt.Errorf("%w for %s: %s is missing", ErrVerificationRequired, c.Origin.Reference, filepath.Base(provPath))
	}
	if r.Verifier == nil {
		return errors.New("provenance verification is not available")
	}
	v, err := r.Verifier.Verify(ctx, c.Path, c.fileName, provPath, keyring)
	if err != nil {
		return err
	}
	c.Verification = v
	return nil
}
