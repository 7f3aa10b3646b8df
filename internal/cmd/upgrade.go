package cmd

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/util/duration"
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
	// reuseChart takes the chart of the deployed revision (upgrade NAME
	// --reuse-values, no CHART).
	reuseChart bool
	// names: install's -g/--generate-name and --name-template.
	names nameFlags
	// hideNotes leaves the chart's notes out of the output (--hide-notes).
	hideNotes bool

	genericiooptions.IOStreams
}

const installLong = `Install a chart as a release, with server-side apply.

Objects are applied in Helm's install order, CRDs first (and waited for), the
objects of one kind in parallel. Every object gets the release's ownership
labels; an object owned by another release or created by another tool is
refused unless --take-ownership, and a field that another field manager
owns unless --force-conflicts. The release is recorded in a head ConfigMap
and an immutable revision Secret in the release namespace.`

const upgradeLong = `Upgrade a release to a new chart or new values, with server-side apply.

Objects whose desired state is unchanged are not written; objects the release
no longer renders are pruned (unless annotated with
kubectl-chart.io/resource-policy: keep or helm.sh/resource-policy: keep);
CRDs are upgraded too.

Fields that the deployed revision applied and that another field manager
has changed since (kubectl scale, kubectl edit) are taken back, as Helm
restores what the chart renders, and each is reported: "reclaimed
.spec.replicas of Deployment.apps/ns/web from kubectl (through /scale)".
Fields the release never applied that another manager owns are a
conflict, unless --force-conflicts takes them (each reported too).

With --install, a missing release is installed, and a release whose first
install failed is installed again.`

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
		Use:     "upgrade [RELEASE] [CHART]",
		Short:   "Upgrade a release",
		Long:    upgradeLong,
		Example: upgradeExample,
		Args:    upgradeArgs(install),

		ValidArgsFunction: completeArgsNoMore(completeReleases(f), completeChartRefs(true)),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.chartRef.debug = debugLogger(cmd, o.ErrOut)
			if err := o.Complete(cmd, args); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	if install {
		cmd.Use, cmd.Short, cmd.Long = "install [NAME] [CHART]", "Install a chart as a release", installLong
		cmd.Example = "  kubectl chart install my-app ./my-app --set image.tag=1.2.3 --create-namespace -n apps"
		cmd.ValidArgsFunction = completeInstallArgs(&o.names)
	}
	o.render.addFlags(cmd)
	o.render.postRender.addFlags(cmd)
	o.chartRef.addFlags(cmd)
	if install {
		o.names.addFlags(cmd)
	}
	registerVersionCompletion(cmd, installChartArg(&o.names)) // upgrade has no -g: its CHART is the second argument
	addServerSideFlags(cmd, !install)
	cmd.Flags().BoolVar(&o.hideNotes, "hide-notes", false, "if set, do not show notes in install output. Does not affect presence in chart metadata")
	cmd.Flags().BoolVar(&o.action.EnableDNS, "enable-dns", false, "enable DNS lookups when rendering templates")
	if !install {
		cmd.Flags().BoolVar(&o.action.CleanupOnFail, "cleanup-on-fail", false, "allow deletion of new resources created in this upgrade when upgrade fails")
	}
	cmd.Flags().BoolVar(&o.action.SubNotes, "render-subchart-notes", false, "if set, render subchart notes along with the parent")
	o.chartRef.depUpdate = &dependencyUpdate{}
	o.chartRef.depUpdate.addFlag(cmd, "update dependencies if they are missing before installing the chart", streams.Out)
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
	fs.DurationVar(&a.Timeout, "timeout", 5*time.Minute, "time to wait for any individual Kubernetes operation (hooks, --wait) and for each chart download")
	o.chartRef.Timeout = &a.Timeout
	fs.BoolVar(&o.Atomic, "atomic", false, "if the operation fails, undo it: uninstall a failed install, roll back a failed upgrade")
	fs.BoolVar(&o.Atomic, "rollback-on-failure", false, "alias of --atomic")
	fs.BoolVar(&a.ForceConflicts, "force-conflicts", false, "take fields owned by other field managers (server-side apply force)")
	fs.BoolVar(&a.TakeOwnership, "take-ownership", false, "adopt objects owned by another release or created by another tool")
	fs.IntVar(&a.HistoryMax, "history-max", 10, "number of revisions kept (0: no limit)")
	fs.BoolVar(&a.ForceUnlock, "force-unlock", false, "take the release lock even if another operation holds it")
	fs.BoolVar(&a.NoHooks, "no-hooks", false, "do not run hooks")
	skipCRDsUsage := "if set, no CRDs will be installed. By default, CRDs are installed if not already present"
	if !install {
		skipCRDsUsage = "if set, the chart's CRDs are neither installed nor upgraded (upgrade applies them by default, Helm's upgrade only with --install)"
	}
	fs.BoolVar(&a.SkipCRDs, "skip-crds", false, skipCRDsUsage)
	fs.StringVar(&a.Description, "description", "", "a custom description for the revision")
	labelsUsage := "Labels that would be added to release metadata. Should be divided by comma."
	if !install {
		labelsUsage = "Labels that would be added to release metadata. Should be separated by comma. Original release labels will be merged with upgrade labels. You can unset label using null."
	}
	fs.StringToStringVarP(&a.Labels, "labels", "l", nil, labelsUsage)
	fs.IntVar(&a.Concurrency, "concurrency", apply.DefaultConcurrency, "objects of one stage applied at the same time")
	return cmd
}

// Complete reads arguments, flags, values and the chart.
func (o *UpgradeOptions) Complete(cmd *cobra.Command, args []string) error {
	if o.install {
		name, chart, err := o.names.nameAndChart(args, "")
		if err != nil {
			return fmt.Errorf("INSTALLATION FAILED: %w", err) // Helm's words
		}
		args = []string{name, chart}
	}
	o.action.Name = args[0]
	if len(args) == 1 {
		if !o.action.ReuseValues && !o.action.ResetThenReuseValues {
			return fmt.Errorf("%q requires 2 arguments: NAME and CHART (CHART may be left out with --reuse-values or --reset-then-reuse-values: the deployed revision's chart is used)\n\nUsage:  %s", cmd.CommandPath(), cmd.UseLine())
		}
		o.reuseChart = true
	}
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
	if err := o.render.postRender.complete(o.ErrOut); err != nil {
		return err
	}
	o.action.PostRenderer = o.render.postRender.renderer
	if o.reuseChart {
		// The chart comes from the deployed revision, read in Run.
		return completeRelease(cmd.Context(), &o.action, o.configFlags, &o.render, nil, o.In, "")
	}
	return completeRelease(cmd.Context(), &o.action, o.configFlags, &o.render, &o.chartRef, o.In, args[1])
}

// upgradeArgs is [NAME] CHART for install (the name may come from
// --generate-name or --name-template; nameAndChart checks the rest), NAME
// [CHART] for upgrade; in Helm's words otherwise.
func upgradeArgs(install bool) cobra.PositionalArgs {
	if install {
		return minimumNArgs(1)
	}
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < 1 || len(args) > 2 {
			return exactArgs(2)(cmd, args)
		}
		return nil
	}
}

const upgradeExample = `  # Upgrade, installing when the release does not exist
  kubectl chart upgrade --install my-app ./my-app -f prod.yaml --wait

  # From a repository or an OCI registry
  kubectl chart upgrade my-app bitnami/nginx --version '^15.0.0'
  kubectl chart upgrade my-app oci://registry.example.com/charts/my-app --version 1.4.2

  # The same chart (reference and version) as the deployed revision, with one value changed
  kubectl chart upgrade my-app --reuse-values --set replicaCount=3`

// loadDeployedChart resolves the chart of the release's deployed revision
// again: its reference at its version (--version overrides the version), and
// refuses an archive whose digest is not the one recorded.
func (o *UpgradeOptions) loadDeployedChart(ctx context.Context, c *clients) error {
	ns, name := o.action.Namespace, o.action.Name
	head, err := c.store.Head(ctx, ns, name)
	if err != nil {
		return err
	}
	if head == nil || head.Deployed == 0 {
		return fmt.Errorf("release %q has no deployed revision to take the chart from: give CHART", name)
	}
	prev, err := c.store.Revision(ctx, ns, name, head.Deployed)
	if err != nil {
		return err
	}
	origin := prev.Chart.ChartOrigin
	if origin.Reference == "" {
		return fmt.Errorf("revision %d of %q did not record where its chart came from: give CHART", prev.Revision, name)
	}
	ref := o.chartRef
	if ref.Version == "" && origin.Digest != "" {
		ref.Version = prev.Chart.Version
	}
	if ref.RepoURL == "" {
		ref.RepoURL = origin.RepoURL
	}
	ch, got, err := ref.load(ctx, origin.Reference)
	if err != nil {
		return fmt.Errorf("the chart of revision %d (%s): %w", prev.Revision, origin.Reference, err)
	}
	if o.chartRef.Version == "" && origin.Digest != "" && got.Digest != "" && got.Digest != origin.Digest {
		return fmt.Errorf("the chart of revision %d (%s %s) has changed: it was %s, it is now %s; give CHART to upgrade to it",
			prev.Revision, origin.Reference, prev.Chart.Version, origin.Digest, got.Digest)
	}
	o.action.Chart, o.action.ChartOrigin = ch, got
	return nil
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
	if o.reuseChart {
		if err := o.loadDeployedChart(ctx, c); err != nil {
			return err
		}
	}
	cfg, err := c.actionConfig(ctx)
	if err != nil {
		return err
	}
	res, err := cfg.Upgrade(ctx, o.action)
	if log := o.chartRef.debug; log != nil && res != nil {
		// --debug: each object and hook, as they went.
		for _, ch := range res.Changes {
			log.Debug("object", "ref", ch.Ref.String(), "action", string(ch.Action))
		}
		for _, h := range res.Hooks {
			log.Debug("hook", "event", h.Event, "name", h.Name, "status", h.Status, "took", h.Done.Sub(h.Started).Round(time.Millisecond).String())
		}
	}
	if res != nil && res.Revision != nil {
		if o.hideNotes {
			r := *res.Revision
			r.Notes = ""
			res.Revision = &r
		}
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
	printTakeovers(w, res.Takeovers(), time.Now(), dryRun != "")
	for _, h := range res.Hooks {
		fmt.Fprintf(w, "HOOK: %s %s %s (%s)\n", h.Event, h.Name, h.Status, h.Done.Sub(h.Started).Round(time.Millisecond))
	}
	for _, ref := range res.CleanedUp {
		fmt.Fprintf(w, "CLEANED UP: %s (created by the failed operation; --cleanup-on-fail)\n", ref)
	}
	if res.RolledBack != "" {
		fmt.Fprintf(w, "ATOMIC: %s\n", res.RolledBack)
	}
	// Notes tell how to use what was deployed: not after a failure.
	if strings.TrimSpace(r.Notes) != "" && dryRun == "" && r.Status == release.StatusDeployed {
		fmt.Fprintf(w, "NOTES:\n%s\n", strings.TrimRight(r.Notes, "\n"))
	}
}

// printTakeovers prints the fields an operation took from other field
// managers, one a line, with how long before now the manager had changed
// its fields: "reclaimed .spec.replicas of Deployment.apps/ns/web from
// kubectl-edit, changed 5m ago".
func printTakeovers(w io.Writer, takeovers []apply.Takeover, now time.Time, dryRun bool) {
	for _, t := range takeovers {
		when := "change time not recorded"
		if !t.Time.IsZero() {
			when = "changed " + duration.HumanDuration(now.Sub(t.Time)) + " ago"
		}
		prefix := ""
		if dryRun {
			prefix = "dry run: "
		}
		fmt.Fprintf(w, "%s%s, %s\n", prefix, t, when)
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
	if cr == nil {
		return nil
	}
	ch, origin, err := cr.load(ctx, chartRef)
	if err != nil {
		return err
	}
	a.Chart, a.ChartOrigin = ch, origin
	return nil
}
