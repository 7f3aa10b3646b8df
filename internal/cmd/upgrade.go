package cmd

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-chart/kubectl-chart/internal/action"
	"github.com/kubectl-chart/kubectl-chart/internal/apply"
	"github.com/kubectl-chart/kubectl-chart/pkg/release"
)

// UpgradeOptions are the options of install and upgrade.
type UpgradeOptions struct {
	configFlags *genericclioptions.ConfigFlags
	render      renderFlags
	chartRef    chartRefFlags
	action      action.UpgradeOptions

	// install is true for `install`, false for `upgrade`.
	install         bool
	CreateNamespace bool
	DryRun          string
	Atomic          bool

	genericiooptions.IOStreams
}

const installLong = `Install a chart as a release, with server-side apply.

Objects are applied in Helm's install order, CRDs first (and waited for), the
objects of one kind in parallel. Every object gets the release's ownership
labels; an object owned by another release or created by another tool is
refused unless --take-ownership. The release is recorded in a head ConfigMap
and an immutable revision Secret in the release namespace.`

const upgradeLong = `Upgrade a release to a new chart or new values, with server-side apply.

Objects whose desired state is unchanged are not written; objects the release
no longer renders are pruned (unless annotated with
kubectl-chart.io/resource-policy: keep or helm.sh/resource-policy: keep);
CRDs are upgraded too. With --install, a missing release is installed, and a
release whose first install failed is installed again.`

// NewCmdInstall builds `kubectl chart install`.
func NewCmdInstall(f *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	return newCmdUpgrade(f, streams, true)
}

// NewCmdUpgrade builds `kubectl chart upgrade`.
func NewCmdUpgrade(f *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	return newCmdUpgrade(f, streams, false)
}

func newCmdUpgrade(f *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams, install bool) *cobra.Command {
	o := &UpgradeOptions{configFlags: f, IOStreams: streams, install: install, action: action.DefaultUpgradeOptions()}
	cmd := &cobra.Command{
		Use:     "upgrade NAME CHART",
		Short:   "Upgrade a release",
		Long:    upgradeLong,
		Example: "  kubectl chart upgrade --install my-app ./my-app -f prod.yaml --wait",
		Args:    cobra.ExactArgs(2),

		ValidArgsFunction: completeArgs(completeReleases(f), completeChartPaths),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Complete(cmd, args); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	if install {
		cmd.Use, cmd.Short, cmd.Long = "install NAME CHART", "Install a chart as a release", installLong
		cmd.Example = "  kubectl chart install my-app ./my-app --set image.tag=1.2.3 --create-namespace -n apps"
		cmd.ValidArgsFunction = completeArgs(cobra.NoFileCompletions, completeChartPaths)
	}
	o.render.addFlags(cmd)
	o.chartRef.addFlags(cmd)
	addKubeInsecureFlag(cmd, f)
	cmd.Long += "\n\n" + chartRefLong
	fs := cmd.Flags()
	a := &o.action
	if !install {
		fs.BoolVarP(&a.Install, "install", "i", false, "if the release does not exist, install it")
		fs.BoolVar(&a.ReuseValues, "reuse-values", false, "reuse the last release's values and merge in any overrides")
		fs.BoolVar(&a.ResetValues, "reset-values", false, "reset the values to the ones built into the chart")
		fs.BoolVar(&a.ResetThenReuseValues, "reset-then-reuse-values", false, "reset to the chart's values, then merge in the last release's values and any overrides")
	}
	fs.BoolVar(&o.CreateNamespace, "create-namespace", false, "create the release namespace if not present")
	fs.StringVar(&o.DryRun, "dry-run", "", `simulate: "client" renders only, "server" also validates every object with a server-side dry run`)
	fs.Lookup("dry-run").NoOptDefVal = "client"
	fs.BoolVar(&a.Wait, "wait", false, "wait until every object is ready (kstatus) before marking the release deployed")
	fs.BoolVar(&a.WaitForJobs, "wait-for-jobs", false, "with --wait, also wait until Jobs complete")
	fs.DurationVar(&a.Timeout, "timeout", 5*time.Minute, "time to wait for any individual Kubernetes operation (hooks, --wait)")
	fs.BoolVar(&o.Atomic, "atomic", false, "if the operation fails, undo it: uninstall a failed install, roll back a failed upgrade")
	fs.BoolVar(&o.Atomic, "rollback-on-failure", false, "alias of --atomic")
	fs.BoolVar(&a.ForceConflicts, "force-conflicts", false, "take fields owned by other field managers (server-side apply force)")
	fs.BoolVar(&a.TakeOwnership, "take-ownership", false, "adopt objects owned by another release or created by another tool")
	fs.IntVar(&a.HistoryMax, "history-max", 10, "number of revisions kept (0: no limit)")
	fs.BoolVar(&a.ForceUnlock, "force-unlock", false, "take the release lock even if another operation holds it")
	fs.BoolVar(&a.NoHooks, "no-hooks", false, "do not run hooks")
	fs.StringVar(&a.Description, "description", "", "a custom description for the revision")
	fs.IntVar(&a.Concurrency, "concurrency", apply.DefaultConcurrency, "objects of one stage applied at the same time")
	return cmd
}

// Complete reads arguments, flags, values and the chart.
func (o *UpgradeOptions) Complete(cmd *cobra.Command, args []string) error {
	o.action.Name = args[0]
	o.action.InstallOnly = o.install
	o.action.Atomic = o.Atomic
	switch o.DryRun {
	case "", "client", "server":
		o.action.DryRun = o.DryRun
	case "none", "false":
		o.action.DryRun = ""
	default:
		return fmt.Errorf(`--dry-run must be "client" or "server", not %q`, o.DryRun)
	}
	return completeRelease(cmd.Context(), &o.action, o.configFlags, &o.render, &o.chartRef, o.In, args[1])
}

// Run installs or upgrades.
func (o *UpgradeOptions) Run(ctx context.Context) error {
	c, err := newClients(o.configFlags)
	if err != nil {
		return err
	}
	if o.CreateNamespace && o.action.DryRun == "" {
		if err := c.ensureNamespace(ctx, o.action.Namespace); err != nil {
			return err
		}
	}
	cfg, err := c.actionConfig(ctx)
	if err != nil {
		return err
	}
	res, err := cfg.Upgrade(ctx, o.action)
	if res != nil && res.Revision != nil {
		printRevisionSummary(o.Out, res, o.action.DryRun)
	}
	return err
}

// printRevisionSummary prints what Helm prints after install/upgrade, plus
// what was applied.
func printRevisionSummary(w io.Writer, res *action.Result, dryRun string) {
	r := res.Revision
	fmt.Fprintf(w, "NAME: %s\n", r.Name)
	fmt.Fprintf(w, "LAST DEPLOYED: %s\n", r.Started.Format(time.ANSIC))
	fmt.Fprintf(w, "NAMESPACE: %s\n", r.Namespace)
	fmt.Fprintf(w, "STATUS: %s\n", r.Status)
	fmt.Fprintf(w, "REVISION: %d\n", r.Revision)
	if dryRun != "" {
		fmt.Fprintf(w, "DRY RUN: %s\n", dryRun)
		fmt.Fprintf(w, "MANIFEST:\n%s", r.Manifest)
		for _, h := range r.Hooks {
			fmt.Fprintf(w, "---\n# Source: %s\n%s\n", h.Path, h.Manifest)
		}
	}
	if len(res.Changes) > 0 {
		fmt.Fprintf(w, "APPLIED: %s\n", summarizeChanges(res.Changes))
	}
	for _, h := range res.Hooks {
		fmt.Fprintf(w, "HOOK: %s %s %s (%s)\n", h.Event, h.Name, h.Status, h.Done.Sub(h.Started).Round(time.Millisecond))
	}
	if res.RolledBack != "" {
		fmt.Fprintf(w, "ATOMIC: %s\n", res.RolledBack)
	}
	// Notes tell how to use what was deployed: not after a failure.
	if strings.TrimSpace(r.Notes) != "" && dryRun == "" && r.Status == release.StatusDeployed {
		fmt.Fprintf(w, "NOTES:\n%s\n", strings.TrimRight(r.Notes, "\n"))
	}
}

// summarizeChanges counts the changes by action: "3 created, 1 unchanged".
func summarizeChanges(changes []apply.Change) string {
	counts := map[apply.Action]int{}
	var order []apply.Action
	for _, c := range changes {
		if counts[c.Action] == 0 {
			order = append(order, c.Action)
		}
		counts[c.Action]++
	}
	parts := make([]string, 0, len(order))
	for _, a := range order {
		parts = append(parts, fmt.Sprintf("%d %s", counts[a], a))
	}
	return strings.Join(parts, ", ")
}

// completeRelease fills what install, upgrade and diff upgrade share: the
// namespace, the values of the flags and the loaded chart.
func completeRelease(ctx context.Context, a *action.UpgradeOptions, f *genericclioptions.ConfigFlags, r *renderFlags, cr *chartRefFlags, stdin io.Reader, chartRef string) error {
	a.SkipSchema = r.SkipSchemaValidation
	if err := validateReleaseName(a.Name); err != nil {
		return err
	}
	ns, _, err := f.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return err
	}
	a.Namespace = ns
	vals, err := r.Values.MergeValues(stdin)
	if err != nil {
		return err
	}
	a.Values = vals
	ch, origin, err := cr.load(ctx, chartRef)
	if err != nil {
		return err
	}
	a.Chart, a.ChartOrigin = ch, origin
	return nil
}
