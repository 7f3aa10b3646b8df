package cmd

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"

	"github.com/kubectl-chart/kubectl-chart/internal/chartcache"
	"github.com/kubectl-chart/kubectl-chart/internal/chartsource"
	"github.com/kubectl-chart/kubectl-chart/internal/helmpath"
	"github.com/kubectl-chart/kubectl-chart/pkg/chart"
	"github.com/kubectl-chart/kubectl-chart/pkg/chart/loader"
	"github.com/kubectl-chart/kubectl-chart/pkg/provenance"
	"github.com/kubectl-chart/kubectl-chart/pkg/release"
)

// chartRefLong is the part of a command's help that says what CHART can be.
const chartRefLong = `CHART is a chart folder, a packaged chart (.tgz), REPO/CHART (a repository
added with "repo add", by kubectl chart or by Helm), a chart name with --repo
URL, oci://HOST/PATH/CHART (with --version, :TAG or @sha256:DIGEST), or the
https:// URL of a packaged chart. Downloaded archives are kept in a cache by
digest: a version downloaded once is not downloaded again.`

// chartRefFlags are Helm's ChartPathOptions flags: where a chart comes from
// and how to fetch it. Every command that takes a chart reference has them.
type chartRefFlags struct {
	Version         string
	Devel           bool
	RepoURL         string
	Username        string
	Password        string
	PassCredentials bool
	CAFile          string
	CertFile        string
	KeyFile         string
	InsecureSkipTLS bool
	PlainHTTP       bool
	Verify          bool
	Keyring         string
	// Timeout bounds each download; commands with Helm's --timeout share
	// it (install, upgrade, diff upgrade), the others get a --timeout of
	// their own (addTimeoutFlag).
	Timeout    *time.Duration
	ownTimeout time.Duration
	// depUpdate is --dependency-update, on the commands that have it.
	depUpdate *dependencyUpdate
	// debug logs what load does, as Helm's --debug does (nil: nothing).
	debug *slog.Logger
}

func (f *chartRefFlags) addFlags(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringVar(&f.Version, "version", "", "specify a version constraint for the chart version to use. This constraint can be a specific tag (e.g. 1.1.1) or it may reference a valid range (e.g. ^2.0.0). If this is not specified, the latest version is used")
	fs.BoolVar(&f.Devel, "devel", false, "use development versions, too. Equivalent to version '>0.0.0-0'. If --version is set, this is ignored")
	fs.StringVar(&f.RepoURL, "repo", "", "chart repository url where to locate the requested chart")
	fs.StringVar(&f.Username, "username", "", "chart repository username where to locate the requested chart")
	fs.StringVar(&f.Password, "password", "", "chart repository password where to locate the requested chart")
	fs.BoolVar(&f.PassCredentials, "pass-credentials", false, "pass credentials to all domains")
	fs.StringVar(&f.CAFile, "ca-file", "", "verify certificates of HTTPS-enabled servers using this CA bundle")
	fs.StringVar(&f.CertFile, "cert-file", "", "identify HTTPS client using this SSL certificate file")
	fs.StringVar(&f.KeyFile, "key-file", "", "identify HTTPS client using this SSL key file")
	// kubectl's global --insecure-skip-tls-verify is about the API server; on
	// a command that takes a chart, Helm's meaning (the chart download) wins
	// for this flag, and --kube-insecure-skip-tls-verify is the API server's.
	fs.BoolVar(&f.InsecureSkipTLS, "insecure-skip-tls-verify", false, "skip tls certificate checks for the chart download")
	fs.BoolVar(&f.PlainHTTP, "plain-http", false, "use insecure HTTP connections for the chart download")
	fs.BoolVar(&f.Verify, "verify", false, "verify the package before using it")
	fs.StringVar(&f.Keyring, "keyring", provenance.DefaultKeyring(), "location of public keys used for verification")
}

// addTimeoutFlag adds --timeout for commands that have no other: it bounds
// each download of an index, chart or provenance file.
func (f *chartRefFlags) addTimeoutFlag(cmd *cobra.Command, usage string) {
	cmd.Flags().DurationVar(&f.ownTimeout, "timeout", 5*time.Minute, usage)
	f.Timeout = &f.ownTimeout
}

func (f *chartRefFlags) timeout() time.Duration {
	if f.Timeout == nil {
		return 5 * time.Minute
	}
	return *f.Timeout
}

// addKubeInsecureFlag adds Helm's --kube-insecure-skip-tls-verify, the API
// server's flag on commands where --insecure-skip-tls-verify is the chart
// download's.
func addKubeInsecureFlag(cmd *cobra.Command, f *genericclioptions.ConfigFlags) {
	if f.Insecure == nil {
		f.Insecure = new(bool)
	}
	cmd.Flags().BoolVar(f.Insecure, "kube-insecure-skip-tls-verify", false, "if true, the Kubernetes API server's certificate will not be checked for validity")
}

func (f *chartRefFlags) request(ref string) chartsource.Request {
	version := f.Version
	if version == "" && f.Devel {
		version = ">0.0.0-0"
	}
	return chartsource.Request{
		Ref: ref, Version: version, Devel: f.Devel, RepoURL: f.RepoURL,
		Username: f.Username, Password: f.Password, PassCredentials: f.PassCredentials,
		PlainHTTP: f.PlainHTTP, Verify: f.Verify, Keyring: f.Keyring, Timeout: f.timeout(),
		TLS: tlsOptions(f.CAFile, f.CertFile, f.KeyFile, f.InsecureSkipTLS),
	}
}

// newChartResolver wires the engine to Helm's paths, the cache and the
// repository, registry and provenance implementations.
func newChartResolver() *chartsource.Resolver {
	paths := helmpath.New()
	cache := chartcache.New(paths.ContentCache())
	return &chartsource.Resolver{
		Repos:    newRepoLocator(paths),
		Registry: newOCIPuller(paths, cache),
		Verifier: newVerifier(),
	}
}

// resolve makes the chart ref names local.
func (f *chartRefFlags) resolve(ctx context.Context, ref string) (*chartsource.Chart, error) {
	return newChartResolver().Resolve(ctx, f.request(ref))
}

// load resolves ref and loads the chart, returning where it came from.
func (f *chartRefFlags) load(ctx context.Context, ref string) (*chart.Chart, release.ChartOrigin, error) {
	if f.debug != nil {
		f.debug.Debug("Original chart version", "version", f.Version)
	}
	src, err := f.resolve(ctx, ref)
	if err != nil {
		return nil, release.ChartOrigin{}, err
	}
	if f.debug != nil {
		f.debug.Debug("Chart path", "path", src.Path)
	}
	ch, err := loader.Load(src.Path)
	if err != nil {
		if src.Kind != chartsource.KindLocal {
			return nil, src.Origin, fmt.Errorf("%s: %w", ref, err)
		}
		return nil, src.Origin, err
	}
	if src.Kind == chartsource.KindLocal {
		if ch, err = f.depUpdate.ensure(ctx, f, src.Path, ch); err != nil {
			return nil, src.Origin, err
		}
	}
	if f.debug != nil {
		logDependencies(f.debug, ch)
	}
	return ch, src.Origin, nil
}

// logDependencies logs the number of subcharts of ch and of each subchart,
// parents first, as Helm's --debug does.
func logDependencies(log *slog.Logger, ch *chart.Chart) {
	log.Debug("number of dependencies in the chart", "chart", ch.Name(), "dependencies", len(ch.Dependencies()))
	for _, sub := range ch.Dependencies() {
		logDependencies(log, sub)
	}
}
