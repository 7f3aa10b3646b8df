package cmd

import (
	"context"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-chart/kubectl-chart/internal/action"
	"github.com/kubectl-chart/kubectl-chart/internal/releaseview"
)

const testLong = `Run the tests of a release, as helm test does.

The tests are the chart's test hooks (annotation helm.sh/hook: test, or
Helm 2's test-success) of the release's deployed revision. They run one after
the other, in Helm's order (hook weight, then name), each to completion (a
Pod until it succeeds, a Job until it completes); the first failure ends the
run. Each test's delete policy is honoured (before-hook-creation by default;
hook-succeeded and hook-failed once the run, and --logs, are done).

The run holds the release lock (operation "test"), and its result is recorded
on the revision: kubectl chart status shows it (TEST SUITE). Test objects are
not part of the release: they carry no ownership labels, as Helm's.

The exit status is 0 when every test succeeded, 1 otherwise.`

const testExample = `  # Run the tests of release web
  kubectl chart test web

  # Only the test named web-test-connection, then print the test pods' logs
  kubectl chart test web --filter name=web-test-connection --logs

  # Every test but web-test-slow
  kubectl chart test web --filter '!name=web-test-slow'`

// TestOptions are the options of `kubectl chart test`.
type TestOptions struct {
	configFlags *genericclioptions.ConfigFlags

	// Filters are the --filter values: name=X runs only the tests named,
	// !name=X skips those named.
	Filters []string

	action action.TestOptions
	genericiooptions.IOStreams
}

// NewCmdTest builds `kubectl chart test`.
func NewCmdTest(f *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &TestOptions{configFlags: f, IOStreams: streams, action: action.DefaultTestOptions()}
	cmd := &cobra.Command{
		Use:     "test [RELEASE]",
		Short:   "Run tests for a release",
		Long:    testLong,
		Example: testExample,
		Args:    exactArgs(1),

		ValidArgsFunction: completeArgs(completeReleases(f)),
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
	fs := cmd.Flags()
	fs.DurationVar(&o.action.Timeout, "timeout", o.action.Timeout, "time to wait for any individual Kubernetes operation (like Jobs for hooks)")
	fs.BoolVar(&o.action.Logs, "logs", false, "dump the logs from test pods (this runs after all tests are complete, but before any cleanup)")
	fs.StringSliceVar(&o.Filters, "filter", nil, `specify tests by attribute (currently "name") using attribute=value syntax or '!attribute=value' to exclude a test (can specify multiple or separate values with commas: name=test1,name=test2)`)
	return cmd
}

// notName is Helm's pattern of an excluding filter ("!name=", "! name=").
var notName = regexp.MustCompile(`^!\s?name=`)

// Complete reads the release name, the namespace and the filters.
func (o *TestOptions) Complete(args []string) error {
	o.action.Name = args[0]
	ns, err := readNamespace(o.configFlags)
	if err != nil {
		return err
	}
	o.action.Namespace = ns
	for _, f := range o.Filters {
		switch {
		case strings.HasPrefix(f, "name="):
			o.action.Include = append(o.action.Include, strings.TrimPrefix(f, "name="))
		case notName.MatchString(f):
			o.action.Exclude = append(o.action.Exclude, notName.ReplaceAllLiteralString(f, ""))
		default:
			// Helm ignores it; a filter that silently selects every test
			// is worse than an error.
			return fmt.Errorf("invalid --filter %q: want name=NAME or !name=NAME", f)
		}
	}
	return nil
}

// Validate checks the release name and the timeout.
func (o *TestOptions) Validate() error {
	if err := validateReleaseName(o.action.Name); err != nil {
		return err
	}
	if o.action.Timeout <= 0 {
		return fmt.Errorf("invalid --timeout %s: must be positive", o.action.Timeout)
	}
	return nil
}

// Run runs the tests and prints the release with its test suite, then the
// pods' logs with --logs. A failed test is the error, after the output.
func (o *TestOptions) Run(ctx context.Context) error {
	_, cfg, err := connect(ctx, o.configFlags)
	if err != nil {
		return err
	}
	run, runErr := cfg.Test(ctx, o.action)
	if run == nil || run.Revision == nil {
		return runErr
	}
	if _, err := io.WriteString(o.Out, releaseview.TestText(run.Revision, time.Local)); err != nil {
		return err
	}
	if o.action.Logs {
		// Helm separates the logs from the status with an empty line.
		fmt.Fprintln(o.Out)
		for _, l := range run.Logs {
			fmt.Fprintf(o.Out, "POD LOGS: %s (%s)\n%s\n", l.Pod, l.Container, l.Text)
		}
	}
	return runErr
}
