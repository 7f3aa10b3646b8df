package cmd

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-chart/kubectl-chart/internal/releaseview"
)

const historyLong = `Print the revisions of a release, oldest first, as helm history does, with
what kubectl chart adds after Helm's columns:

    $ kubectl chart history web
    REVISION  UPDATED                   STATUS      CHART      APP VERSION  DESCRIPTION       DURATION  APPLIED BY
    1         Mon Oct  5 10:15:13 2026  superseded  web-0.1.0  1.0          Install complete  -         alice
    2         Mon Oct  5 10:16:02 2026  deployed    web-0.1.1  1.0          Upgrade complete  12s       bob

DURATION is how long the revision's operation took, from its start to the
status it ended with (deployed or failed); "-" while it runs, and once a
later operation moved it on (superseded, uninstalled): the record keeps the
time of its last status move only.

APPLIED BY is the user the API server authenticated for the write of the
revision, as the ownership webhook (chart-webhook) stamps it; "-" when the
webhook is not installed.

A SOURCE column (where each revision's chart came from) comes last when a
revision recorded one. With -o json|yaml the rows carry duration and
applied_by (absent when unknown).

At most --max revisions are printed (the latest ones; 256 by default).`

const historyExample = `  # Revisions of release web
  kubectl chart history web

  # The last 3, as JSON
  kubectl chart history web --max 3 -o json`

// HistoryOptions are the options of `kubectl chart history`.
type HistoryOptions struct {
	configFlags *genericclioptions.ConfigFlags

	// Name is the release.
	Name string
	// Max is how many of the latest revisions to print.
	Max int
	// Output is table, json or yaml.
	Output releaseview.Format
	// Namespace is the release namespace; set by Complete.
	Namespace string

	genericiooptions.IOStreams
}

// NewCmdHistory builds `kubectl chart history`.
func NewCmdHistory(f *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &HistoryOptions{configFlags: f, IOStreams: streams, Output: releaseview.FormatTable}
	cmd := &cobra.Command{
		Use:     "history RELEASE_NAME",
		Aliases: []string{"hist"},
		Short:   "Fetch release history",
		Long:    historyLong,
		Example: historyExample,
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
	fs.IntVar(&o.Max, "max", releaseview.DefaultHistoryMax, "maximum number of revision to include in history")
	fs.VarP(&o.Output, "output", "o", releaseview.FormatUsage())
	return cmd
}

// Complete reads the release name and the namespace.
func (o *HistoryOptions) Complete(args []string) error {
	o.Name = args[0]
	ns, err := readNamespace(o.configFlags)
	o.Namespace = ns
	return err
}

// Validate checks the release name and --max.
func (o *HistoryOptions) Validate() error {
	if err := validateReleaseName(o.Name); err != nil {
		return err
	}
	if o.Max < 0 {
		return fmt.Errorf("invalid --max %d: must not be negative", o.Max)
	}
	return nil
}

// Run reads the revision records and prints them. Records that cannot be
// read are reported after the others.
func (o *HistoryOptions) Run(ctx context.Context) error {
	c, err := newReadClients(o.configFlags)
	if err != nil {
		return err
	}
	revs, histErr := c.store.History(ctx, o.Namespace, o.Name)
	if len(revs) == 0 {
		if histErr != nil {
			return histErr
		}
		return &releaseview.NotFoundError{Name: o.Name, Namespace: o.Namespace}
	}
	rows := releaseview.History(revs, o.Max)
	if err := writeFormatted(o.Out, o.Output, rows, releaseview.HistoryTable(rows, time.Local)); err != nil {
		return err
	}
	return histErr
}
