package cmd

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-chart/kubectl-chart/internal/releaseview"
	"github.com/kubectl-chart/kubectl-chart/pkg/chart/dependency"
	"github.com/kubectl-chart/kubectl-chart/pkg/provenance"
)

const dependencyLong = `Manage the dependencies of a chart, as "helm dependency" does.

Charts keep their dependencies in charts/. Chart.yaml declares them:

    dependencies:
    - name: nginx
      version: "1.2.3"
      repository: "https://example.com/charts"
    - name: memcached
      version: "3.2.1"
      repository: "oci://registry.example.com/charts"
    - name: common
      version: "^2"
      repository: "file://../common"

'name' is the chart's name (as in its Chart.yaml), 'version' a semantic
version or a range. 'repository' is the URL of a chart repository (added with
"kubectl chart repo add" or not), "@NAME" or "alias:NAME" for an added
repository, oci://HOST/PATH for a registry, or file://PATH for a chart folder
(relative to the chart). Repositories added by Helm are used as they are.

"update" resolves the versions, writes Chart.lock and saves the charts into
charts/; "build" saves the versions of Chart.lock; "list" tells what charts/
holds.`

const dependencyListLong = `List the dependencies declared in a chart and their status in charts/, as
"helm dependency list" does. The chart may be a folder or an archive; nothing
is changed.`

const dependencyUpdateLong = `Update charts/ from Chart.yaml, as "helm dependency update" does.

Each dependency is resolved to the newest version its constraint admits,
the archives are saved into charts/ (file:// folders packaged), archives of
charts/ that were not saved are deleted, and Chart.lock records the versions
(it is left alone when nothing changed). Unless --skip-refresh is given, the
index of every added repository is downloaded first.`

const dependencyBuildLong = `Rebuild charts/ from Chart.lock, as "helm dependency build" does: the locked
versions are saved, nothing is resolved again. A lock that does not match
Chart.yaml is refused; without a lock, build acts as update.`

const dependencyExample = `  # Resolve, lock and download the dependencies of ./mychart
  kubectl chart dependency update ./mychart

  # Download the locked versions (in CI)
  kubectl chart dep build ./mychart --skip-refresh

  # What charts/ holds
  kubectl chart dependency list ./mychart`

// NewCmdDependency builds `kubectl chart dependency`.
func NewCmdDependency(streams genericiooptions.IOStreams) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "dependency update|build|list",
		Aliases: []string{"dep", "dependencies"},
		Short:   "Manage a chart's dependencies, as helm dependency does",
		Long:    dependencyLong,
		Example: dependencyExample,
		Args:    noArgs,
	}
	cmd.AddCommand(
		NewCmdDependencyList(streams),
		NewCmdDependencyUpdate(streams, false),
		NewCmdDependencyUpdate(streams, true),
	)
	return cmd
}

// DependencyListOptions are the options of `dependency list`.
type DependencyListOptions struct {
	// ChartPath is the chart folder or archive ("." by default).
	ChartPath string
	// MaxColWidth bounds the width of the table's columns.
	MaxColWidth uint

	genericiooptions.IOStreams
}

// NewCmdDependencyList builds `kubectl chart dependency list`.
func NewCmdDependencyList(streams genericiooptions.IOStreams) *cobra.Command {
	o := &DependencyListOptions{IOStreams: streams}
	cmd := &cobra.Command{
		Use:               "list CHART",
		Aliases:           []string{"ls"},
		Short:             "List the dependencies of a chart",
		Long:              dependencyListLong,
		Args:              maximumNArgs(1),
		ValidArgsFunction: completeChartPaths,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Complete(args)
			return o.Run(cmd.Context())
		},
	}
	cmd.Flags().UintVar(&o.MaxColWidth, "max-col-width", 80, "maximum column width for output table")
	return cmd
}

// Complete reads the chart argument.
func (o *DependencyListOptions) Complete(args []string) {
	o.ChartPath = chartPathArg(args)
}

// Run prints Helm's table and warnings.
func (o *DependencyListOptions) Run(_ context.Context) error {
	l, err := dependency.List(o.ChartPath)
	if err != nil {
		return err
	}
	if l.NoDependencies {
		fmt.Fprintf(o.Out, "WARNING: no dependencies at %s\n", filepath.Join(o.ChartPath, "charts"))
		return nil
	}
	rows := [][]string{{"NAME", "VERSION", "REPOSITORY", "STATUS"}}
	for _, d := range l.Dependencies {
		rows = append(rows, []string{d.Name, d.Version, d.Repository, d.Status})
	}
	fmt.Fprintln(o.Out, releaseview.Table(truncateCells(rows, o.MaxColWidth)))
	for _, w := range l.Warnings {
		fmt.Fprintln(o.Out, w)
	}
	return nil
}

// DependencyUpdateOptions are the options of `dependency update` and
// `dependency build`.
type DependencyUpdateOptions struct {
	// Build rebuilds from Chart.lock instead of resolving again.
	Build bool
	// ChartPath is the chart folder ("." by default).
	ChartPath string
	// SkipRefresh does not download repository indexes first.
	SkipRefresh bool
	// Verify checks provenance against Keyring.
	Verify  bool
	Keyring string
	// Username, Password, TLS files and PlainHTTP reach OCI registries
	// (as in Helm, not chart repositories, whose own are in
	// repositories.yaml).
	Username, Password        string
	CertFile, KeyFile, CAFile string
	InsecureSkipTLSVerify     bool
	PlainHTTP                 bool

	manager *dependency.Manager
	genericiooptions.IOStreams
}

// NewCmdDependencyUpdate builds `kubectl chart dependency update`, or
// `dependency build` when build is true.
func NewCmdDependencyUpdate(streams genericiooptions.IOStreams, build bool) *cobra.Command {
	o := &DependencyUpdateOptions{IOStreams: streams, Build: build}
	cmd := &cobra.Command{
		Use:               "update CHART",
		Aliases:           []string{"up"},
		Short:             "Update charts/ from Chart.yaml and write Chart.lock",
		Long:              dependencyUpdateLong,
		Args:              maximumNArgs(1),
		ValidArgsFunction: completeChartDirs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Complete(args); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	if build {
		cmd.Use, cmd.Aliases = "build CHART", nil
		cmd.Short = "Rebuild charts/ from Chart.lock"
		cmd.Long = dependencyBuildLong
	}
	f := cmd.Flags()
	f.BoolVar(&o.Verify, "verify", false, "verify the packages against signatures")
	f.StringVar(&o.Keyring, "keyring", provenance.DefaultKeyring(), "keyring containing public keys")
	f.BoolVar(&o.SkipRefresh, "skip-refresh", false, "do not refresh the local repository cache")
	f.StringVar(&o.Username, "username", "", "chart repository username where to locate the requested chart")
	f.StringVar(&o.Password, "password", "", "chart repository password where to locate the requested chart")
	f.StringVar(&o.CertFile, "cert-file", "", "identify HTTPS client using this SSL certificate file")
	f.StringVar(&o.KeyFile, "key-file", "", "identify HTTPS client using this SSL key file")
	f.BoolVar(&o.InsecureSkipTLSVerify, "insecure-skip-tls-verify", false, "skip tls certificate checks for the chart download")
	f.BoolVar(&o.PlainHTTP, "plain-http", false, "use insecure HTTP connections for the chart download")
	f.StringVar(&o.CAFile, "ca-file", "", "verify certificates of HTTPS-enabled servers using this CA bundle")
	return cmd
}

// Complete builds the engine from the flags and the environment.
func (o *DependencyUpdateOptions) Complete(args []string) error {
	o.ChartPath = chartPathArg(args)
	epoch, err := sourceDateEpochFromEnv()
	if err != nil {
		return err
	}
	creds := chartRefFlags{
		Username: o.Username, Password: o.Password, CAFile: o.CAFile, CertFile: o.CertFile, KeyFile: o.KeyFile,
		InsecureSkipTLS: o.InsecureSkipTLSVerify, PlainHTTP: o.PlainHTTP, Keyring: o.Keyring,
	}
	o.manager = (&dependencyUpdate{out: o.Out}).manager(&creds, epoch)
	o.manager.SkipRefresh, o.manager.Verify = o.SkipRefresh, o.Verify
	return nil
}

// Run updates or builds, printing Helm's messages as the engine goes.
func (o *DependencyUpdateOptions) Run(ctx context.Context) error {
	if !o.Build {
		_, err := o.manager.Update(ctx, o.ChartPath)
		return err
	}
	_, err := o.manager.Build(ctx, o.ChartPath)
	var nf *dependency.RepoNotFoundError
	if errors.As(err, &nf) {
		return fmt.Errorf("%s. Please add the missing repos via 'kubectl chart repo add'", nf.Error())
	}
	return err
}

// chartPathArg is the chart argument, "." without one, as Helm reads it.
func chartPathArg(args []string) string {
	if len(args) > 0 {
		return filepath.Clean(args[0])
	}
	return "."
}
