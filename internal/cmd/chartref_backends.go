package cmd

import (
	"github.com/kubectl-chart/kubectl-chart/internal/chartcache"
	"github.com/kubectl-chart/kubectl-chart/internal/chartsource"
	"github.com/kubectl-chart/kubectl-chart/internal/helmpath"
	"github.com/kubectl-chart/kubectl-chart/internal/transport"
)

func tlsOptions(ca, cert, key string, insecure bool) transport.TLSOptions {
	return transport.TLSOptions{CAFile: ca, CertFile: cert, KeyFile: key, InsecureSkipVerify: insecure}
}

// newRepoLocator is pkg/repo behind chartsource.RepoLocator.
func newRepoLocator(paths helmpath.Paths, cache *chartcache.Cache) chartsource.RepoLocator {
	return nil
}

// newOCIPuller is pkg/registry behind chartsource.OCIPuller.
func newOCIPuller(paths helmpath.Paths, cache *chartcache.Cache) chartsource.OCIPuller {
	return nil
}

// newVerifier is pkg/provenance behind chartsource.Verifier.
func newVerifier() chartsource.Verifier {
	return nil
}
