package cmd

import (
	"context"
	"fmt"
	"os"
	"path"
	"strings"

	"github.com/kubectl-chart/kubectl-chart/internal/chartcache"
	"github.com/kubectl-chart/kubectl-chart/internal/chartsource"
	"github.com/kubectl-chart/kubectl-chart/internal/helmpath"
	"github.com/kubectl-chart/kubectl-chart/internal/transport"
	"github.com/kubectl-chart/kubectl-chart/pkg/provenance"
	"github.com/kubectl-chart/kubectl-chart/pkg/registry"
	"github.com/kubectl-chart/kubectl-chart/pkg/repo"
)

func tlsOptions(ca, cert, key string, insecure bool) transport.TLSOptions {
	return transport.TLSOptions{CAFile: ca, CertFile: cert, KeyFile: key, InsecureSkipVerify: insecure}
}

// repoLocator is pkg/repo behind chartsource.RepoLocator.
type repoLocator struct {
	paths helmpath.Paths
	cache *chartcache.Cache
}

func newRepoLocator(paths helmpath.Paths, cache *chartcache.Cache) chartsource.RepoLocator {
	return repoLocator{paths: paths, cache: cache}
}

func (l repoLocator) Locate(ctx context.Context, req chartsource.RepoRequest) (*chartsource.Located, error) {
	r := repo.NewResolver(l.paths)
	r.Timeout = req.Timeout
	loc, err := r.Locate(ctx, repo.LocateOptions{
		RepoName: req.RepoName, RepoURL: req.RepoURL, Chart: req.Chart, Version: req.Version, Devel: req.Devel,
		Username: req.Username, Password: req.Password, PassCredentials: req.PassCredentials, TLS: req.TLS,
		WantProv: req.WantProv,
	})
	if err != nil {
		return nil, err
	}
	return &chartsource.Located{
		ArchivePath: loc.ArchivePath, Version: loc.Version, Digest: loc.Digest, URL: loc.URL,
		ProvPath: loc.ProvPath, FileName: archiveBase(loc.URL),
	}, nil
}

// archiveBase is the last element of an archive URL, without its query.
func archiveBase(u string) string {
	if i := strings.IndexAny(u, "?#"); i >= 0 {
		u = u[:i]
	}
	return path.Base(u)
}

// ociPuller is pkg/registry behind chartsource.OCIPuller.
type ociPuller struct {
	paths helmpath.Paths
	cache *chartcache.Cache
}

func newOCIPuller(paths helmpath.Paths, cache *chartcache.Cache) chartsource.OCIPuller {
	return ociPuller{paths: paths, cache: cache}
}

func (p ociPuller) Pull(ctx context.Context, req chartsource.OCIRequest) (*chartsource.Located, error) {
	o := registry.PullOptions{
		Options: registry.Options{
			RegistryConfig: p.paths.RegistryConfig(), Username: req.Username, Password: req.Password,
			PlainHTTP: req.PlainHTTP, TLS: req.TLS, Timeout: req.Timeout,
		},
		Version: req.Version, Devel: req.Devel, Cache: p.cache,
	}
	res, err := registry.Pull(ctx, req.Ref, o)
	if err != nil {
		return nil, err
	}
	loc := &chartsource.Located{
		ArchivePath: res.ArchivePath, Version: res.Version, Digest: res.Digest, URL: res.Ref,
		FileName: res.Name + "-" + res.Version + ".tgz",
	}
	if req.WantProv && res.Prov != nil {
		_, provPath, err := p.cache.PutBytes(res.Prov, res.ProvDigest)
		if err != nil {
			return nil, err
		}
		loc.ProvPath = provPath
	}
	return loc, nil
}

// verifier is pkg/provenance behind chartsource.Verifier.
type verifier struct{}

func newVerifier() chartsource.Verifier { return verifier{} }

func (verifier) Verify(ctx context.Context, archivePath, fileName, provPath, keyring string) (*chartsource.Verification, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if keyring == "" {
		keyring = provenance.DefaultKeyring()
	}
	ring, err := provenance.LoadKeyring(keyring)
	if err != nil {
		return nil, fmt.Errorf("failed to load keyring: %w", err)
	}
	archive, err := os.ReadFile(archivePath)
	if err != nil {
		return nil, err
	}
	prov, err := os.ReadFile(provPath)
	if err != nil {
		return nil, err
	}
	v, err := provenance.Verify(archive, fileName, prov, ring)
	if err != nil {
		return nil, err
	}
	return &chartsource.Verification{SignedBy: v.SignedBy, Fingerprint: v.Fingerprint, FileHash: v.FileHash}, nil
}
