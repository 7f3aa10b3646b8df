package cmd

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-chart/kubectl-chart/internal/version"
	"github.com/kubectl-chart/kubectl-chart/pkg/render"
)

// VersionOptions are the options of `kubectl chart version`.
type VersionOptions struct {
	// Output is "" (text), "json" or "short".
	Output string
	genericiooptions.IOStreams
}

// NewCmdVersion builds `kubectl chart version`.
func NewCmdVersion(streams genericiooptions.IOStreams) *cobra.Command {
	o := &VersionOptions{IOStreams: streams}
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version of kubectl-chart",
		Long:  "Print the version of kubectl-chart, the git commit and Go version it was built with, and the Helm release whose rendering it follows.",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run()
		},
	}
	cmd.Flags().StringVarP(&o.Output, "output", "o", "", "output format: json or short")
	return cmd
}

// Validate checks the output format.
func (o *VersionOptions) Validate() error {
	switch o.Output {
	case "", "json", "short":
		return nil
	}
	return fmt.Errorf("--output must be json or short, not %q", o.Output)
}

// Run prints the version.
func (o *VersionOptions) Run() error {
	info := version.Get(render.HelmCompatVersion)
	switch o.Output {
	case "short":
		_, err := fmt.Fprintln(o.Out, info.Version)
		return err
	case "json":
		b, err := json.MarshalIndent(info, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(o.Out, string(b))
		return err
	}
	_, err := fmt.Fprintf(o.Out, "kubectl-chart %s (commit %s, %s, %s; renders as Helm %s)\n", info.Version, info.Commit, info.GoVersion, info.Platform, info.HelmCompat)
	return err
}
