package cmd

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-chart/kubectl-chart/internal/action"
)

// UninstallOptions are the options of `kubectl chart uninstall`.
type UninstallOptions struct {
	configFlags *genericclioptions.ConfigFlags
	action      action.UninstallOptions
	names       []string
	cascade     string
	genericiooptions.IOStreams
}

// NewCmdUninstall builds `kubectl chart uninstall`.
func NewCmdUninstall(f *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &UninstallOptions{configFlags: f, IOStreams: streams}
	cmd := &cobra.Command{
		Use:     "uninstall RELEASE_NAME [...]",
		Aliases: []string{"delete", "un"},
		Short:   "Uninstall releases",
		Long: `Delete every object a release owns, in reverse install order (objects
annotated with a keep resource policy stay), run its delete hooks, and remove
its records (unless --keep-history).`,
		Example: "  kubectl chart uninstall my-app --keep-history",
		Args:    minimumNArgs(1),

		ValidArgsFunction: completeReleases(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.names = args
			ns, _, err := o.configFlags.ToRawKubeConfigLoader().Namespace()
			if err != nil {
				return err
			}
			o.action.Namespace = ns
			switch o.cascade {
			case "background":
				o.action.Cascade = metav1.DeletePropagationBackground
			case "orphan":
				o.action.Cascade = metav1.DeletePropagationOrphan
			case "foreground":
				o.action.Cascade = metav1.DeletePropagationForeground
			default:
				return fmt.Errorf("invalid cascade value (%s). Must be \"background\", \"orphan\", or \"foreground\"", o.cascade) // Helm's words
			}
			return o.Run(cmd.Context())
		},
	}
	fs := cmd.Flags()
	a := &o.action
	fs.BoolVar(&a.KeepHistory, "keep-history", false, "keep the release records (status uninstalled)")
	fs.BoolVar(&a.NoHooks, "no-hooks", false, "do not run hooks")
	fs.BoolVar(&a.DryRun, "dry-run", false, "simulate an uninstall")
	fs.BoolVar(&a.Wait, "wait", false, "wait until every object is gone")
	fs.DurationVar(&a.Timeout, "timeout", 5*time.Minute, "time to wait for any individual Kubernetes operation")
	fs.BoolVar(&a.ForceUnlock, "force-unlock", false, "take the release lock even if another operation holds it")
	fs.StringVar(&a.Description, "description", "", "add a custom description")
	fs.StringVar(&o.cascade, "cascade", "background", "Must be \"background\", \"orphan\", or \"foreground\". Selects the deletion cascading strategy for the dependents. Defaults to background.")
	fs.BoolVar(&a.IgnoreNotFound, "ignore-not-found", false, `Treat "release not found" as a successful uninstall`)
	return cmd
}

// Run uninstalls each release.
func (o *UninstallOptions) Run(ctx context.Context) error {
	_, cfg, err := connect(ctx, o.configFlags)
	if err != nil {
		return err
	}
	for _, name := range o.names {
		a := o.action
		a.Name = name
		res, err := cfg.Uninstall(ctx, a)
		if errors.Is(err, action.ErrReleaseNotFound) && a.IgnoreNotFound {
			fmt.Fprintf(o.Out, "release %q uninstalled\n", name) // as Helm says
			continue
		}
		if err != nil {
			return err
		}
		for _, k := range res.Kept {
			fmt.Fprintf(o.Out, "kept %s (resource policy keep)\n", k)
		}
		if res.HelmRecords > 0 {
			fmt.Fprintf(o.Out, "deleted Helm's %d record(s) of the release, which import-helm had kept\n", res.HelmRecords)
		}
		fmt.Fprintf(o.Out, "release %q uninstalled\n", name)
	}
	return nil
}
