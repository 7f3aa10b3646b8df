package cmd

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/util/jsonpath"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-chart/kubectl-chart/pkg/chart"
)

// ShowFormat is what `show` prints of a chart.
type ShowFormat string

// Show formats, as helm show's subcommands.
const (
	ShowAll    ShowFormat = "all"
	ShowChart  ShowFormat = "chart"
	ShowValues ShowFormat = "values"
	ShowReadme ShowFormat = "readme"
	ShowCRDs   ShowFormat = "crds"
)

// readmeFileNames are the README names Helm looks for, in any case.
var readmeFileNames = []string{"readme.md", "readme.txt", "readme"}

// ShowOptions are the options of `kubectl chart show <format>`.
type ShowOptions struct {
	Format    ShowFormat
	ChartPath string
	// JSONPath filters `show values` through a JSONPath template.
	JSONPath string

	chartRef chartRefFlags

	genericiooptions.IOStreams
}

// NewCmdShow builds `kubectl chart show` and its subcommands.
func NewCmdShow(streams genericiooptions.IOStreams) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "show",
		Aliases: []string{"inspect"},
		Short:   "Show information of a chart, as helm show does",
		Long:    "Show a chart's Chart.yaml, values, README or CRDs, as \"helm show\" does.\n\n" + chartRefLong,
		Args:    noArgs,
		// Runnable, so that an unknown format is an error, not help.
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	subs := []struct {
		format      ShowFormat
		short, long string
	}{
		{ShowAll, "Show all information of the chart", "Show the chart's Chart.yaml, values.yaml, README and CRDs, separated by ---."},
		{ShowChart, "Show the chart's definition", "Show the chart's Chart.yaml, as loaded."},
		{ShowValues, "Show the chart's values", "Show the chart's values.yaml as written, or what --jsonpath selects of its values."},
		{ShowReadme, "Show the chart's README", "Show the chart's README file (README.md, README.txt or README, in any case)."},
		{ShowCRDs, "Show the chart's CRDs", "Show the files of the crds/ folders of the chart and its subcharts."},
	}
	for _, s := range subs {
		o := &ShowOptions{Format: s.format, IOStreams: streams}
		sub := &cobra.Command{
			Use:   string(s.format) + " [CHART]",
			Short: s.short,
			Long:  s.long + "\n\n" + chartRefLong,
			Args:  exactArgs(1),

			ValidArgsFunction: completeArgsNoMore(completeChartRefs(true)),
			RunE: func(cmd *cobra.Command, args []string) error {
				if err := o.Complete(args); err != nil {
					return err
				}
				if err := o.Validate(); err != nil {
					return err
				}
				return o.Run(cmd.Context())
			},
		}
		o.chartRef.addFlags(sub)
		registerVersionCompletion(sub, argAt(0))
		o.chartRef.addTimeoutFlag(sub, "time allowed for each chart download")
		if s.format == ShowValues {
			sub.Flags().StringVar(&o.JSONPath, "jsonpath", "", "supply a JSONPath expression to filter the output")
		}
		cmd.AddCommand(sub)
	}
	return cmd
}

// Complete reads the chart argument.
func (o *ShowOptions) Complete(args []string) error {
	o.ChartPath = args[0]
	return nil
}

// Validate checks the format and the JSONPath template.
func (o *ShowOptions) Validate() error {
	switch o.Format {
	case ShowAll, ShowChart, ShowValues, ShowReadme, ShowCRDs:
	default:
		return fmt.Errorf("unknown show format %q", o.Format)
	}
	if o.JSONPath != "" {
		if _, err := parseJSONPath(o.JSONPath); err != nil {
			return err
		}
	}
	return nil
}

// Run loads the chart and prints what was asked.
func (o *ShowOptions) Run(ctx context.Context) error {
	ch, _, err := o.chartRef.load(ctx, o.ChartPath)
	if err != nil {
		return err
	}
	text, err := showChart(ch, o.Format, o.JSONPath)
	if err != nil {
		return err
	}
	_, err = io.WriteString(o.Out, text)
	return err
}

func parseJSONPath(tmpl string) (*jsonpath.JSONPath, error) {
	j := jsonpath.New("out")
	if err := j.Parse(tmpl); err != nil {
		return nil, fmt.Errorf("error parsing jsonpath %s: %w", tmpl, err)
	}
	return j, nil
}

// showChart is Helm's Show.Run: Chart.yaml re-marshalled from the loaded
// metadata, values.yaml as written, the README, the CRD files each after a
// "---" unless it starts with one.
func showChart(ch *chart.Chart, format ShowFormat, jsonPath string) (string, error) {
	var out strings.Builder
	if format == ShowChart || format == ShowAll {
		cf, err := yaml.Marshal(ch.Metadata)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&out, "%s\n", cf)
	}

	if (format == ShowValues || format == ShowAll) && ch.Values != nil {
		if format == ShowAll {
			out.WriteString("---\n")
		}
		if jsonPath != "" {
			j, err := parseJSONPath(jsonPath)
			if err != nil {
				return "", err
			}
			// Missing keys print nothing, as in Helm (which ignores
			// every execution error).
			j.AllowMissingKeys(true)
			if err := j.Execute(&out, ch.Values); err != nil {
				return "", fmt.Errorf("error executing jsonpath %s: %w", jsonPath, err)
			}
		} else {
			for _, f := range ch.Raw {
				if f.Name == "values.yaml" {
					fmt.Fprintln(&out, string(f.Data))
				}
			}
		}
	}

	if format == ShowReadme || format == ShowAll {
		if readme := findReadme(ch.Files); readme != nil {
			if format == ShowAll {
				out.WriteString("---\n")
			}
			fmt.Fprintf(&out, "%s\n", readme.Data)
		}
	}

	if format == ShowCRDs || format == ShowAll {
		for _, crd := range ch.CRDObjects() {
			if !bytes.HasPrefix(crd.File.Data, []byte("---")) {
				out.WriteString("---\n")
			}
			fmt.Fprintf(&out, "%s\n", crd.File.Data)
		}
	}
	return out.String(), nil
}

// findReadme is the first of the chart's files named like a README.
func findReadme(files []*chart.File) *chart.File {
	for _, f := range files {
		if f == nil {
			continue
		}
		for _, n := range readmeFileNames {
			if strings.EqualFold(f.Name, n) {
				return f
			}
		}
	}
	return nil
}
