package cmd

import (
	"context"

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
}

func newRepoLocator(paths helmpath.Paths) chartsource.RepoLocator {
	return repoLocator{paths: paths}
}

func (l repoLocator) Locate(ctx context.Context, req chartsource.RepoRequest) (*chartsource.Located, error) {
	return located(l.resolver(req).Locate(ctx, locateOptions(req)))
}

func (l repoLocator) FetchURL(ctx context.Context, href string, req chartsource.RepoRequest) (*chartsource.Located, error) {
	return located(l.resolver(req).FetchURL(ctx, href, locateOptions(req)))
}

func (l repoLocator) resolver(req chartsource.RepoRequest) *repo.Resolver {
	r := repo.NewResolver(l.paths)
	r.Timeout = req.Timeout
	return r
}

func locateOptions(req chartsource.RepoRequest) repo.LocateOptions {
	return repo.LocateOptions{
		RepoName: req.RepoName, RepoURL: req.RepoURL, Chart: req.Chart, Version: req.Version, Devel: req.Devel,
		Username: req.Username, Password: req.Password, PassCredentials: req.PassCredentials, TLS: req.TLS,
		WantProv: req.WantProv,
	}
}

func located(loc *repo.Located, err error) (*chartsource.Located, error) {
	if err != nil {
		return nil, err
	}
	return &chartsource.Located{
		ArchivePath: loc.ArchivePath, Version: loc.Version, Digest: loc.Digest, URL: loc.URL,
		ProvPath: loc.ProvPath, FileName: repo.ArchiveFileName(loc.URL),
	}, nil
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
	v, err := provenance.VerifyFileAs(ctx, archivePath, fileName, provPath, keyring)
	if err != nil {
		return nil, err
	}
	return &chartsource.Verification{SignedBy: v.SignedBy, Fingerprint: v.Fingerprint, FileHash: v.FileHash}, nil
}
