package cmd

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-chart/kubectl-chart/pkg/lint"
)

const lintLong = `Examine charts for possible issues, as "helm lint" does.

If the linter finds things that will make the chart fail to install, it
reports [ERROR] messages; things that break with convention or
recommendation are [WARNING] messages. A chart fails when it has an
[ERROR], or with --strict a [WARNING].

Every template is rendered with the chart's values and those given with
-f/--set (fail and required only warn); every document it renders must be
YAML with apiVersion and kind, and should have a valid metadata.name.

CHART is a chart directory or a packaged chart (.tgz).`

const lintExample = `  # Lint a chart
  kubectl chart lint ./mychart

  # Lint with production values, failing on warnings too
  kubectl chart lint ./mychart -f prod.yaml --strict

  # Lint a chart and the charts under its charts/ folder
  kubectl chart lint ./mychart --with-subcharts`

// LintOptions are the options of `kubectl chart lint`.
type LintOptions struct {
	configFlags *genericclioptions.ConfigFlags
	render      renderFlags

	// Paths are the charts to lint, the subcharts found with
	// WithSubcharts appended.
	Paths []string
	// Strict fails a chart on warnings too.
	Strict bool
	// Quiet prints only warnings and errors, and nothing for clean charts.
	Quiet bool
	// WithSubcharts lints the charts found under each chart's charts/.
	WithSubcharts bool

	lint lint.Options

	genericiooptions.IOStreams
}

// NewCmdLint builds `kubectl chart lint`.
func NewCmdLint(f *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &LintOptions{configFlags: f, IOStreams: streams}
	cmd := &cobra.Command{
		Use:     "lint PATH",
		Short:   "Examine charts for possible issues, as helm lint does",
		Long:    lintLong,
		Example: lintExample,
		Args:    minimumNArgs(1),

		ValidArgsFunction: completeChartPaths,
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
	o.render.addFlags(cmd)
	fs := cmd.Flags()
	fs.StringVar(&o.render.KubeVersion, "kube-version", "", "Kubernetes version used for capabilities and deprecation checks")
	fs.BoolVar(&o.Strict, "strict", false, "fail on lint warnings")
	fs.BoolVar(&o.Quiet, "quiet", false, "print only warnings and errors")
	fs.BoolVar(&o.WithSubcharts, "with-subcharts", false, "lint dependent charts")
	return cmd
}

// Complete reads the charts, the namespace, the values and the Kubernetes
// version.
func (o *LintOptions) Complete(args []string) error {
	o.Paths = append([]string(nil), args...)
	if o.WithSubcharts {
		for _, p := range args {
			o.Paths = append(o.Paths, findSubcharts(p)...)
		}
	}
	ns, _, err := o.configFlags.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return err
	}
	vals, err := o.render.Values.MergeValues(o.In)
	if err != nil {
		return err
	}
	caps, err := o.render.capabilities()
	if err != nil {
		return err
	}
	o.lint = lint.Options{
		Values:               vals,
		Namespace:            ns,
		KubeVersion:          &caps.KubeVersion,
		SkipSchemaValidation: o.render.SkipSchemaValidation,
	}
	return nil
}

// findSubcharts lists, as Helm does, every folder holding a Chart.yaml and
// every packaged chart under dir/charts, at any depth.
func findSubcharts(dir string) []string {
	var found []string
	_ = filepath.WalkDir(filepath.Join(dir, "charts"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d == nil {
			return nil //nolint:nilerr // An unreadable folder has no subcharts to lint.
		}
		if d.Name() == "Chart.yaml" {
			found = append(found, filepath.Dir(p))
		} else if strings.HasSuffix(p, ".tgz") || strings.HasSuffix(p, ".tar.gz") {
			found = append(found, p)
		}
		return nil
	})
	return found
}

// Validate has nothing to check: every path is linted, and a path that is
// not a chart is reported as a failed chart.
func (o *LintOptions) Validate() error { return nil }

// Run lints each chart and prints the messages as Helm does; it fails when
// any chart failed.
func (o *LintOptions) Run(ctx context.Context) error {
	var out strings.Builder
	failed, withFindings := 0, 0
	for _, p := range o.Paths {
		res, err := lint.Lint(ctx, p, o.lint)
		if ctxErr := ctx.Err(); ctxErr != nil {
			return ctxErr
		}
		if res != nil {
			printWarnings(o.ErrOut, res.Warnings)
		}
		chartFailed := err != nil || res.Failed(o.Strict)
		findings := err != nil || res.HasWarningsOrErrors() || chartFailed
		if findings {
			withFindings++
		}
		if chartFailed {
			failed++
		}
		if o.Quiet && !findings {
			continue
		}
		fmt.Fprintf(&out, "==> Linting %s\n", p)
		if err != nil {
			fmt.Fprintf(&out, "Error %s\n", err)
		} else {
			for _, m := range res.Messages {
				if !o.Quiet || m.Severity > lint.SeverityInfo {
					fmt.Fprintf(&out, "%s\n", m)
				}
			}
		}
		out.WriteString("\n")
	}
	if _, err := fmt.Fprint(o.Out, out.String()); err != nil {
		return err
	}

	summary := fmt.Sprintf("%d chart(s) linted, %d chart(s) failed", len(o.Paths), failed)
	if failed > 0 {
		return errors.New(summary)
	}
	if !o.Quiet || withFindings > 0 {
		_, err := fmt.Fprintln(o.Out, summary)
		return err
	}
	return nil
}
