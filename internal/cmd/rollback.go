package cmd

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-chart/kubectl-chart/internal/action"
)

// RollbackOptions are the options of `kubectl chart rollback`.
type RollbackOptions struct {
	configFlags *genericclioptions.ConfigFlags
	action      action.RollbackOptions
	DryRun      bool
	genericiooptions.IOStreams
}

// NewCmdRollback builds `kubectl chart rollback`.
func NewCmdRollback(f *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &RollbackOptions{configFlags: f, IOStreams: streams, action: action.DefaultRollbackOptions()}
	cmd := &cobra.Command{
		Use:   "rollback <RELEASE> [REVISION]",
		Short: "Roll a release back to an earlier revision",
		Long: `Roll a release back to an earlier revision: its recorded manifest is applied
again as a new revision, and objects it does not have are pruned. Without
REVISION, the revision before the deployed one is used.

As with upgrade, fields that the deployed revision applied and that another
field manager has changed since are taken back and reported; other fields
of other managers are a conflict unless --force-conflicts.`,
		Example: "  kubectl chart rollback my-app 3",
		Args:    rangeArgs(1, 2),

		ValidArgsFunction: completeArgs(completeReleases(f), completeRevisions(f)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Complete(args); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	fs := cmd.Flags()
	addServerSideFlags(cmd, true)
	fs.BoolVar(&o.action.CleanupOnFail, "cleanup-on-fail", false, "allow deletion of new resources created in this rollback when rollback fails")
	a := &o.action
	fs.BoolVar(&o.DryRun, "dry-run", false, "show the revision that would be created, change nothing")
	fs.BoolVar(&a.Wait, "wait", false, "wait until every object is ready (kstatus)")
	fs.BoolVar(&a.WaitForJobs, "wait-for-jobs", false, "with --wait, also wait until Jobs complete")
	fs.DurationVar(&a.Timeout, "timeout", 5*time.Minute, "time to wait for any individual Kubernetes operation")
	fs.BoolVar(&a.ForceConflicts, "force-conflicts", false, "take fields owned by other field managers")
	fs.BoolVar(&a.TakeOwnership, "take-ownership", false, "adopt objects owned by another release or tool")
	fs.IntVar(&a.HistoryMax, "history-max", 10, "number of revisions kept (0: no limit)")
	fs.BoolVar(&a.ForceUnlock, "force-unlock", false, "take the release lock even if another operation holds it")
	fs.BoolVar(&a.NoHooks, "no-hooks", false, "do not run hooks")
	fs.StringVar(&a.Description, "description", "", "a custom description for the revision")
	return cmd
}

// Complete reads the arguments.
func (o *RollbackOptions) Complete(args []string) error {
	o.action.Name = args[0]
	if len(args) == 2 {
		n, err := strconv.Atoi(args[1])
		if err != nil || n < 0 {
			return fmt.Errorf("revision must be a positive number, not %q", args[1])
		}
		o.action.Revision = n
	}
	if o.DryRun {
		o.action.DryRun = action.DryRunClient
	}
	ns, _, err := o.configFlags.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return err
	}
	o.action.Namespace = ns
	return nil
}

// Run rolls back.
func (o *RollbackOptions) Run(ctx context.Context) error {
	_, cfg, err := connect(ctx, o.configFlags)
	if err != nil {
		return err
	}
	res, err := cfg.Rollback(ctx, o.action)
	if err != nil {
		return err
	}
	fmt.Fprintf(o.Out, "Rollback was a success! %s is at revision %d (%s).\n", res.Revision.Name, res.Revision.Revision, res.Revision.Description)
	if len(res.Changes) > 0 {
		fmt.Fprintf(o.Out, "APPLIED: %s\n", summarizeChanges(res.Changes))
	}
	printTakeovers(o.Out, res.Takeovers(), time.Now(), false)
	return nil
}
