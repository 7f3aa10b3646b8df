package cmd

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-chart/kubectl-chart/pkg/render"
	"github.com/kubectl-chart/kubectl-chart/pkg/values"
)

const templateLong = `Render chart templates locally and print the output, exactly as
"helm template" does: same documents, same order, same "# Source:" lines.

Values that would be read from a cluster are faked: lookup returns nothing,
.Capabilities.KubeVersion is v1.37.0 unless --kube-version says otherwise, and
.Capabilities.APIVersions holds the built-in API versions plus --api-versions.

NAME defaults to "release-name".

` + chartRefLong

const templateExample = `  # Render a chart with its default values
  kubectl chart template my-release ./mychart

  # Override values from a file and the command line
  kubectl chart template my-release ./mychart -f prod.yaml --set image.tag=1.2.3

  # Only one template, CRDs included
  kubectl chart template my-release ./mychart -s templates/deployment.yaml --include-crds`

// renderFlags are the flags that shape a render, shared by template,
// install, upgrade and lint.
type renderFlags struct {
	Values               values.Options
	KubeVersion          string
	APIVersions          []string
	SkipSchemaValidation bool
	IsUpgrade            bool
	postRender           postRenderFlags
}

func (f *renderFlags) addFlags(cmd *cobra.Command) {
	fs := cmd.Flags()
	f.Values.AddFlags(fs)
	fs.BoolVar(&f.SkipSchemaValidation, "skip-schema-validation", false, "disable JSON schema validation of values")
}

func (f *renderFlags) addClientOnlyFlags(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringVar(&f.KubeVersion, "kube-version", "", "Kubernetes version used for Capabilities.KubeVersion")
	fs.StringSliceVarP(&f.APIVersions, "api-versions", "a", nil, "Kubernetes api versions used for Capabilities.APIVersions (multiple can be specified)")
	fs.BoolVar(&f.IsUpgrade, "is-upgrade", false, "set .Release.IsUpgrade instead of .Release.IsInstall")
}

// capabilities builds client-only capabilities from the flags.
func (f *renderFlags) capabilities() (*render.Capabilities, error) {
	caps := render.DefaultCapabilities()
	if f.KubeVersion != "" {
		kv, err := render.ParseKubeVersion(f.KubeVersion)
		if err != nil {
			return nil, fmt.Errorf("invalid kube version '%s': %w", f.KubeVersion, err)
		}
		caps.KubeVersion = *kv
	}
	caps.APIVersions = append(caps.APIVersions, f.APIVersions...)
	return caps, nil
}

// TemplateOptions are the options of `kubectl chart template`.
type TemplateOptions struct {
	configFlags *genericclioptions.ConfigFlags
	render      renderFlags
	chartRef    chartRefFlags

	ReleaseName string
	ChartPath   string
	Namespace   string
	names       nameFlags
	// debug (--debug) prints the rendered output of a chart whose output
	// is not valid YAML, as Helm does.
	debug bool
	// enableDNS lets getHostByName resolve (--enable-dns).
	enableDNS bool

	ShowOnly       []string
	OutputDir      string
	UseReleaseName bool
	IncludeCRDs    bool
	SkipTests      bool
	NoHooks        bool

	genericiooptions.IOStreams
}

// NewCmdTemplate builds `kubectl chart template`.
func NewCmdTemplate(f *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &TemplateOptions{configFlags: f, IOStreams: streams}
	cmd := &cobra.Command{
		Use:     "template [NAME] [CHART]",
		Short:   "Render chart templates locally, as helm template does",
		Long:    templateLong,
		Example: templateExample,
		Args:    minimumNArgs(1),

		ValidArgsFunction: completeInstallArgs(&o.names),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.debug = debugEnabled(cmd)
			o.chartRef.debug = debugLogger(cmd, o.ErrOut)
			if err := o.Complete(args); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	o.render.addFlags(cmd)
	o.render.addClientOnlyFlags(cmd)
	o.render.postRender.addFlags(cmd)
	o.chartRef.addFlags(cmd)
	o.chartRef.addTimeoutFlag(cmd, "time allowed for each chart download")
	o.names.addFlags(cmd)
	registerVersionCompletion(cmd, installChartArg(&o.names))
	addTemplateNoOpFlags(cmd)
	cmd.Flags().BoolVar(&o.enableDNS, "enable-dns", false, "enable DNS lookups when rendering templates")
	o.chartRef.depUpdate = &dependencyUpdate{}
	o.chartRef.depUpdate.addFlag(cmd, "update dependencies if they are missing before installing the chart", streams.Out)
	fs := cmd.Flags()
	fs.StringArrayVarP(&o.ShowOnly, "show-only", "s", nil, "only show manifests rendered from the given templates")
	fs.StringVar(&o.OutputDir, "output-dir", "", "writes the executed templates to files in output-dir instead of stdout")
	fs.BoolVar(&o.UseReleaseName, "release-name", false, "use release name in the output-dir path")
	fs.BoolVar(&o.IncludeCRDs, "include-crds", false, "include CRDs in the templated output")
	fs.Bool("skip-crds", false, "accepted as Helm does; no effect on the output (CRDs are printed only with --include-crds)")
	fs.BoolVar(&o.SkipTests, "skip-tests", false, "skip tests from templated output")
	fs.BoolVar(&o.NoHooks, "no-hooks", false, "prevent hooks from being rendered")
	return cmd
}

// Complete reads the arguments and the namespace.
func (o *TemplateOptions) Complete(args []string) error {
	// As helm template: NAME defaults to "release-name", even with
	// --generate-name; --name-template names it.
	name, chart, err := o.names.nameAndChart(args, "release-name")
	if err != nil {
		return err
	}
	o.ReleaseName, o.ChartPath = name, chart
	ns, _, err := o.configFlags.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return err
	}
	o.Namespace = ns
	return o.render.postRender.complete(o.ErrOut)
}

// Validate checks the release name.
func (o *TemplateOptions) Validate() error {
	if err := validateReleaseName(o.ReleaseName); err != nil {
		return fmt.Errorf("release name check failed: %w", err)
	}
	return nil
}

// validateReleaseName applies Helm's rule: DNS-1123 subdomain, ≤ 53 chars.
func validateReleaseName(name string) error {
	if name == "" {
		return errors.New("release name is required")
	}
	if len(name) > 53 {
		return fmt.Errorf("release name %q: release name exceeds max length of 53", name)
	}
	if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
		return fmt.Errorf("release name %q: invalid release name, must match regex ^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$ and the length must not be longer than 53", name)
	}
	return nil
}

// Run renders and prints.
func (o *TemplateOptions) Run(ctx context.Context) error {
	res, err := o.renderChart(ctx)
	if res != nil {
		printWarnings(o.ErrOut, res.Warnings)
	}
	if ye := (*render.YAMLError)(nil); errors.As(err, &ye) {
		// Helm's template: the invalid output, to see what is wrong.
		if !o.debug {
			return fmt.Errorf("%w\n\nUse --debug flag to render out invalid YAML", err)
		}
		fmt.Fprintln(o.Out, strings.TrimSpace(ye.Rendered))
		return err
	}
	if err != nil {
		return err
	}
	to := render.TemplateOptions{
		IncludeCRDs:    o.IncludeCRDs,
		SkipTests:      o.SkipTests,
		NoHooks:        o.NoHooks,
		OutputDir:      o.OutputDir,
		UseReleaseName: o.UseReleaseName,
		ReleaseName:    o.ReleaseName,
	}
	// Without a post-renderer the manifest is only printed, by Template
	// below (and is empty with --output-dir): not built twice.
	manifest := ""
	if pr := o.render.postRender.renderer; pr != nil {
		if manifest, err = res.PostRenderManifest(ctx, pr, to); err != nil {
			return err
		}
	}
	if o.OutputDir != "" {
		paths, err := res.WriteFiles(to)
		if err != nil {
			return err
		}
		return o.printWritten(paths, manifest)
	}
	if len(o.ShowOnly) == 0 {
		out := bufio.NewWriterSize(o.Out, 64<<10)
		if err := res.WriteTemplate(out, to); err != nil {
			return err
		}
		return out.Flush()
	}
	text, err := res.Template(to)
	if err != nil {
		return err
	}
	if text, err = render.ShowOnly(text, o.ShowOnly); err != nil {
		return err
	}
	_, err = io.WriteString(o.Out, text)
	return err
}

// printWritten lists the files written to --output-dir as Helm does: a
// "wrote <path>" line per document, then the manifest left to print: none,
// or what a Helm 3 post-renderer made of none.
func (o *TemplateOptions) printWritten(paths []string, manifest string) error {
	var b strings.Builder
	for _, p := range paths {
		fmt.Fprintf(&b, "wrote %s\n", p)
	}
	b.WriteString(strings.TrimSpace(manifest) + "\n")
	_, err := io.WriteString(o.Out, b.String())
	return err
}

func (o *TemplateOptions) renderChart(ctx context.Context) (*render.Result, error) {
	vals, err := o.render.Values.MergeValues(o.In)
	if err != nil {
		return nil, err
	}
	ch, _, err := o.chartRef.load(ctx, o.ChartPath)
	if err != nil {
		return nil, err
	}
	caps, err := o.render.capabilities()
	if err != nil {
		return nil, err
	}
	opts := render.DefaultOptions()
	opts.ReleaseName = o.ReleaseName
	opts.Namespace = o.Namespace
	opts.IsUpgrade = o.render.IsUpgrade
	opts.Capabilities = caps
	opts.SkipSchemaValidation = o.render.SkipSchemaValidation
	opts.PostRenderer = o.render.postRender.renderer
	opts.EnableDNS = o.enableDNS
	return render.Render(ctx, ch, vals, opts)
}

func printWarnings(w io.Writer, warnings []string) {
	for _, msg := range warnings {
		fmt.Fprintf(w, "level=INFO msg=%q\n", strings.TrimSpace(msg))
	}
}
