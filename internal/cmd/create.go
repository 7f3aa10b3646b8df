package cmd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-chart/kubectl-chart/internal/helmpath"
	"github.com/kubectl-chart/kubectl-chart/pkg/chart"
	"github.com/kubectl-chart/kubectl-chart/pkg/chart/scaffold"
)

const createLong = `Create a chart directory along with the common files and directories used
in a chart: the same chart "helm create" writes.

For example, 'kubectl chart create foo' creates this structure:

    foo/
    ├── .helmignore   # Contains patterns to ignore when packaging Helm charts.
    ├── Chart.yaml    # Information about your chart
    ├── values.yaml   # The default values for your templates
    ├── charts/       # Charts that this chart depends on
    └── templates/    # The template files
        └── tests/    # The test files

NAME may be a path: the chart is created in its parent folder, which must
exist (with --starter it is made), and is named after its last element. If the chart's folder exists,
the chart's files in it are overwritten (with a warning) and other files are
left alone.

With --starter, the chart is made from a starter chart instead: a name is
looked up in Helm's starters folder ($HELM_DATA_HOME/starters, by default
~/.local/share/helm/starters), an absolute path is used as it is. The new
chart gets its own Chart.yaml, and <CHARTNAME> in the starter's templates and
values.yaml is replaced by the chart's name.`

const createExample = `  # Create the chart mychart in the current folder
  kubectl chart create mychart

  # Create it in charts/ from the starter "web" of Helm's starters folder
  kubectl chart create charts/mychart --starter web`

// CreateOptions are the options of `kubectl chart create`.
type CreateOptions struct {
	// Name is the chart's path; its last element is the chart's name.
	Name string
	// Starter is the starter chart to scaffold from: a name in
	// StartersDir, or an absolute path. Empty for Helm's default chart.
	Starter string
	// StartersDir is Helm's starters folder, $HELM_DATA_HOME/starters.
	StartersDir string
	// ChartAPIVersion is Helm's hidden --chart-api-version: "v2" (or
	// empty) is the only one written; Helm's experimental v3 is refused.
	ChartAPIVersion string

	genericiooptions.IOStreams
}

// NewCmdCreate builds `kubectl chart create`.
func NewCmdCreate(streams genericiooptions.IOStreams) *cobra.Command {
	o := &CreateOptions{IOStreams: streams}
	cmd := &cobra.Command{
		Use:     "create NAME",
		Short:   "Create a new chart with the given name, as helm create does",
		Long:    createLong,
		Example: createExample,
		Args:    exactArgs(1),

		ValidArgsFunction: func(_ *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
			if len(args) == 0 {
				// NAME may be a path.
				return nil, cobra.ShellCompDirectiveDefault
			}
			return nil, cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Complete(args)
			// Nothing to validate before Run: Helm says "Creating NAME"
			// before it checks the name, and so does Run.
			return o.Run(cmd.Context())
		},
	}
	fs := cmd.Flags()
	fs.StringVarP(&o.Starter, "starter", "p", "", "the name or absolute path to Helm starter scaffold")
	fs.StringVar(&o.ChartAPIVersion, "chart-api-version", chart.APIVersionV2, "chart API version to use (v2 or v3)")
	// Hidden in Helm too, unless its experimental chart v3 is enabled.
	_ = fs.MarkHidden("chart-api-version")
	return cmd
}

// Complete reads the argument and finds Helm's starters folder.
func (o *CreateOptions) Complete(args []string) {
	o.Name = args[0]
	o.StartersDir = filepath.Join(helmpath.New().DataHome(), "starters")
}

// Run creates the chart and prints what `helm create` prints: "Creating
// NAME", then a warning for each file it overwrote.
func (o *CreateOptions) Run(ctx context.Context) error {
	if _, err := fmt.Fprintf(o.Out, "Creating %s\n", o.Name); err != nil {
		return err
	}
	if err := checkChartAPIVersion(o.ChartAPIVersion); err != nil {
		return err
	}
	name, dir := filepath.Base(o.Name), filepath.Dir(o.Name)
	if o.Starter != "" {
		return scaffold.CreateFrom(ctx, name, dir, scaffold.StarterPath(o.StartersDir, o.Starter))
	}
	res, err := scaffold.Create(ctx, name, dir)
	if res != nil {
		for _, f := range res.Overwritten {
			if _, werr := fmt.Fprintf(o.Out, "WARNING: File %q already exists. Overwriting.\n", f); werr != nil {
				return werr
			}
		}
	}
	return err
}

// chartV3Gate is the variable that enables Helm's experimental chart API v3.
const chartV3Gate = "HELM_EXPERIMENTAL_CHART_V3"

// checkChartAPIVersion accepts --chart-api-version v2, and refuses others
// with Helm's messages; v3, which Helm writes when chartV3Gate is set, is
// not supported here.
func checkChartAPIVersion(v string) error {
	switch v {
	case chart.APIVersionV2, "":
		return nil
	case "v3":
		if os.Getenv(chartV3Gate) == "" {
			return fmt.Errorf("this feature has been marked as experimental and is not enabled by default. Please set %s=1 in your environment to use this feature", chartV3Gate)
		}
		return errors.New("chart API version v3 is not supported: kubectl chart writes charts of API version v2")
	}
	return fmt.Errorf("unsupported chart API version: %s (supported: v2, v3)", v)
}
