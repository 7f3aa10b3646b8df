package cmd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-chart/kubectl-chart/internal/atomicfile"
	"github.com/kubectl-chart/kubectl-chart/internal/chartsource"
	"github.com/kubectl-chart/kubectl-chart/pkg/chart"
	"github.com/kubectl-chart/kubectl-chart/pkg/chart/loader"
	"github.com/kubectl-chart/kubectl-chart/pkg/repo"
)

const pullLong = `Download a chart from a repository, an OCI registry or a URL and (optionally)
unpack it in a local folder, as "helm pull" does.

The chart is REPO/CHART (a repository added with "repo add", by kubectl chart
or by Helm), a chart name with --repo URL, oci://HOST/PATH/CHART (with
--version, :TAG or @sha256:DIGEST) or the https:// URL of a packaged chart.
Archives are kept in a cache by digest: pulling a version that is cached
downloads nothing. With --verify the chart's provenance file must verify
against --keyring, or nothing is written.`

const pullExample = `  # The latest stable version from an added repository
  kubectl chart pull bitnami/nginx

  # A version range from a repository that was not added, unpacked into ./charts
  kubectl chart pull nginx --repo https://charts.example.com --version '^15.0.0' --untar --untardir charts

  # From an OCI registry, by version or by digest
  kubectl chart pull oci://registry.example.com/charts/redis --version 21.1.0
  kubectl chart pull oci://registry.example.com/charts/redis@sha256:0123…

  # Verified against a keyring, with its provenance file saved beside it
  kubectl chart pull bitnami/nginx --verify --keyring ~/.gnupg/pubring.gpg --prov`

// PullOptions are the options of `kubectl chart pull`.
type PullOptions struct {
	chartRef chartRefFlags

	// Charts are the references to pull.
	Charts []string
	// DestDir is where archives (and .prov files) are written.
	DestDir string
	// Prov also writes the provenance file.
	Prov bool
	// Untar unpacks the chart into UntarDir (relative to DestDir).
	Untar    bool
	UntarDir string

	genericiooptions.IOStreams
}

// NewCmdPull builds `kubectl chart pull`.
func NewCmdPull(streams genericiooptions.IOStreams) *cobra.Command {
	o := &PullOptions{IOStreams: streams}
	cmd := &cobra.Command{
		Use:               "pull [chart URL | repo/chartname] [...]",
		Aliases:           []string{"fetch"},
		Short:             "Download a chart from a repository, an OCI registry or a URL",
		Long:              pullLong,
		Example:           pullExample,
		Args:              minimumNArgs(1),
		ValidArgsFunction: completeArgs(completeChartRefs(false)),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Charts = args
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	o.chartRef.addFlags(cmd)
	registerVersionCompletion(cmd, argAt(0))
	o.chartRef.addTimeoutFlag(cmd, "time allowed for each download of an index, chart or provenance file")
	fs := cmd.Flags()
	fs.StringVarP(&o.DestDir, "destination", "d", ".", "location to write the chart. If this and untardir are specified, untardir is appended to this")
	fs.BoolVar(&o.Prov, "prov", false, "fetch the provenance file, but don't perform verification")
	fs.BoolVar(&o.Untar, "untar", false, "if set to true, will untar the chart after downloading it")
	fs.StringVar(&o.UntarDir, "untardir", ".", "if untar is specified, this flag specifies the name of the directory into which the chart is expanded")
	return cmd
}

// Validate checks the flags.
func (o *PullOptions) Validate() error {
	if o.Untar && o.UntarDir == "" {
		return errors.New("--untardir must not be empty")
	}
	return nil
}

// Run pulls each chart in turn.
func (o *PullOptions) Run(ctx context.Context) error {
	r := newChartResolver()
	for _, ref := range o.Charts {
		req := o.chartRef.request(ref)
		if chartsource.Classify(req) == chartsource.KindLocal {
			return fmt.Errorf("%s: a local chart; pull takes REPO/CHART, --repo URL CHART, oci://… or an http(s) URL", ref)
		}
		req.WantProv = o.Prov
		src, err := r.Resolve(ctx, req)
		if err != nil {
			return err
		}
		if o.Prov && src.ProvPath == "" {
			fmt.Fprintf(o.ErrOut, "WARNING: Verification not found for %s\n", ref)
		}
		if err := o.write(ref, src); err != nil {
			return err
		}
		if src.Kind == chartsource.KindOCI {
			fmt.Fprintf(o.Out, "Pulled: %s\nDigest: %s\n", src.Origin.Source, src.Origin.Digest)
		}
		if v := src.Verification; v != nil {
			printVerification(o.Out, v)
		}
	}
	return nil
}

// write copies the pulled archive (and its .prov) to DestDir, or unpacks it.
func (o *PullOptions) write(ref string, src *chartsource.Chart) error {
	raw, err := os.ReadFile(src.Path)
	if err != nil {
		return err
	}
	files, err := loader.ReadArchiveFiles(bytes.NewReader(raw))
	if err != nil {
		return fmt.Errorf("%s: %w", ref, err)
	}
	md, err := archiveMetadata(files)
	if err != nil {
		return fmt.Errorf("%s: %w", ref, err)
	}
	if o.Untar {
		ud := o.UntarDir
		if !filepath.IsAbs(ud) {
			ud = filepath.Join(o.DestDir, ud)
		}
		return expandFiles(ud, md.Name, files)
	}
	if err := os.MkdirAll(o.DestDir, 0o755); err != nil {
		return err
	}
	name := archiveName(src, md)
	if err := atomicfile.WriteFile(filepath.Join(o.DestDir, name), raw, 0o644); err != nil {
		return err
	}
	if o.Prov && src.ProvPath != "" {
		prov, err := os.ReadFile(src.ProvPath)
		if err != nil {
			return err
		}
		return atomicfile.WriteFile(filepath.Join(o.DestDir, name+".prov"), prov, 0o644)
	}
	return nil
}

// archiveName is the file name Helm gives a pulled archive: the last element
// of its URL for repositories and URLs, <name>-<version>.tgz for OCI.
func archiveName(src *chartsource.Chart, md *chart.Metadata) string {
	if src.Kind != chartsource.KindOCI && src.Origin.Source != "" {
		if base := repo.ArchiveFileName(src.Origin.Source); strings.HasSuffix(base, ".tgz") || strings.HasSuffix(base, ".tar.gz") {
			return base
		}
	}
	return md.Name + "-" + md.Version + ".tgz"
}

func archiveMetadata(files []*loader.BufferedFile) (*chart.Metadata, error) {
	for _, f := range files {
		if f.Name == "Chart.yaml" {
			md := new(chart.Metadata)
			if err := yaml.Unmarshal(f.Data, md); err != nil {
				return nil, fmt.Errorf("cannot load Chart.yaml: %w", err)
			}
			if md.Name == "" || strings.ContainsAny(md.Name, `/\`) || md.Name == "." || md.Name == ".." {
				return nil, fmt.Errorf("chart name %q is not valid", md.Name)
			}
			return md, nil
		}
	}
	return nil, errors.New("Chart.yaml file is missing") //nolint:staticcheck // Helm's message
}

// expandFiles writes an archive's files under dir/<chart name>, as Helm's
// chartutil.ExpandFile does; names were checked by the archive reader.
func expandFiles(dir, chartName string, files []*loader.BufferedFile) error {
	root := filepath.Join(dir, chartName)
	if _, err := os.Stat(root); err == nil {
		return fmt.Errorf("failed to untar: a file or directory with the name %s already exists", root)
	}
	for _, f := range files {
		p := filepath.Join(root, filepath.FromSlash(f.Name))
		if !strings.HasPrefix(p, root+string(filepath.Separator)) {
			return fmt.Errorf("failed to untar: %q leaves the chart", f.Name)
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, f.Data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

func printVerification(w io.Writer, v *chartsource.Verification) {
	for _, s := range v.SignedBy {
		fmt.Fprintf(w, "Signed by: %s\n", s)
	}
	fmt.Fprintf(w, "Using Key With Fingerprint: %s\nChart Hash Verified: %s\n", v.Fingerprint, v.FileHash)
}
