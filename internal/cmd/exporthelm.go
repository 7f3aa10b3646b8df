package cmd

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-chart/kubectl-chart/internal/action"
	"github.com/kubectl-chart/kubectl-chart/internal/apply"
)

// ExportHelmOptions are the options of `kubectl chart export-helm`.
type ExportHelmOptions struct {
	configFlags *genericclioptions.ConfigFlags
	action      action.ExportHelmOptions
	genericiooptions.IOStreams
}

// NewCmdExportHelm builds `kubectl chart export-helm`.
func NewCmdExportHelm(f *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &ExportHelmOptions{configFlags: f, IOStreams: streams}
	cmd := &cobra.Command{
		Use:   "export-helm RELEASE",
		Short: "Hand a release back to Helm",
		Long: `Hand a release back to Helm, the way back from import-helm: helm history,
helm get values and helm upgrade work on it again, with no restart.

Every revision of the release's history becomes a Helm release record
(Secrets driver, as Helm 3 and Helm 4 read it); Helm's own records of an
imported release are kept, their statuses brought up to date. Every object of
the deployed revision loses kubectl chart's labels, and its fields pass from
kubectl chart's field manager to Helm's. No value changes, no workload rolls.

kubectl chart keeps its records, with the export as the last revision
(uninstalled), unless --delete-records. A killed export is finished by
running it again.`,
		Example: `  kubectl chart export-helm web -n apps --dry-run
  kubectl chart export-helm web -n apps
  helm upgrade web ./web -n apps --reuse-values`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Complete(args); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
		ValidArgsFunction: completeArgs(completeReleases(f)),
	}
	fs := cmd.Flags()
	fs.BoolVar(&o.action.DryRun, "dry-run", false, "print what would change and write nothing")
	fs.BoolVar(&o.action.DeleteRecords, "delete-records", false, "delete kubectl chart's records of the release once Helm has it")
	fs.BoolVar(&o.action.ForceUnlock, "force-unlock", false, "take the release lock even if another operation holds it")
	fs.IntVar(&o.action.Concurrency, "concurrency", apply.DefaultConcurrency, "objects handed over in parallel")
	return cmd
}

// Complete reads the arguments.
func (o *ExportHelmOptions) Complete(args []string) error {
	o.action.Name = args[0]
	ns, _, err := o.configFlags.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return err
	}
	o.action.Namespace = ns
	return nil
}

// Run exports.
func (o *ExportHelmOptions) Run(ctx context.Context) error {
	_, cfg, err := connect(ctx, o.configFlags)
	if err != nil {
		return err
	}
	res, err := cfg.ExportHelm(ctx, o.action)
	if res != nil {
		printExport(o.Out, o.action, res)
	}
	return err
}

func printExport(w io.Writer, o action.ExportHelmOptions, res *action.ExportHelmResult) {
	would := func(done, dry string) string {
		if o.DryRun {
			return dry
		}
		return done
	}
	fmt.Fprintf(w, "%s release %s in namespace %s to Helm (revision %d deployed).\n", would("Exported", "Would export"), o.Name, o.Namespace, res.Deployed)
	for _, h := range res.Helm {
		fmt.Fprintf(w, "  Helm revision %d\t%s\t%s\n", h.Version, h.Status, h.Action)
	}
	handed, foreign := 0, 0
	for _, d := range res.Objects {
		switch {
		case d.Foreign:
			foreign++
		case d.Err == nil && !d.Missing:
			handed++
		}
	}
	fmt.Fprintf(w, "%s %d objects to Helm's field manager", would("Handed", "Would hand"), handed)
	if foreign > 0 {
		fmt.Fprintf(w, " (%d handed over already)", foreign)
	}
	fmt.Fprintln(w, "; no value changed.")
	switch {
	case o.DryRun:
	case res.RecordsDeleted:
		fmt.Fprintln(w, "kubectl chart's records were deleted.")
	default:
		fmt.Fprintf(w, "kubectl chart keeps its history, the export recorded as revision %d (uninstalled).\n", res.Revision)
	}
}
