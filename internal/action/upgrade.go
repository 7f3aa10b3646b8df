package action

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kubectl-chart/kubectl-chart/internal/apply"
	"github.com/kubectl-chart/kubectl-chart/pkg/chart"
	"github.com/kubectl-chart/kubectl-chart/pkg/release"
	"github.com/kubectl-chart/kubectl-chart/pkg/render"
	"github.com/kubectl-chart/kubectl-chart/pkg/values"
)

// Dry-run modes.
const (
	DryRunNone   = ""
	DryRunClient = "client"
	DryRunServer = "server"
)

// UpgradeOptions shape install and upgrade.
type UpgradeOptions struct {
	Name      string
	Namespace string
	// Chart is the loaded chart; ChartOrigin where it came from.
	Chart       *chart.Chart
	ChartOrigin release.ChartOrigin
	// Values are the user-supplied values (flags and files, merged).
	Values map[string]any
	// Install makes upgrade install a missing release (upgrade --install);
	// InstallOnly refuses a release that has a deployed revision (install).
	Install     bool
	InstallOnly bool

	ReuseValues          bool
	ResetValues          bool
	ResetThenReuseValues bool

	// DryRun is "", "client" or "server".
	DryRun      string
	Wait        bool
	WaitForJobs bool
	Timeout     time.Duration
	// Atomic undoes a failed operation: a failed install is uninstalled, a
	// failed upgrade rolled back.
	Atomic         bool
	ForceConflicts bool
	TakeOwnership  bool
	HistoryMax     int
	ForceUnlock    bool
	NoHooks        bool
	Description    string
	SkipSchema     bool
	Concurrency    int
	// PostRenderer rewrites what the chart renders before it is applied
	// and recorded (--post-renderer); nil for none.
	PostRenderer render.PostRenderer
	// Labels are the release labels given (--labels): an install records
	// them as they are, an upgrade merges them into the last revision's, a
	// value "null" removing one (revisionLabels). Helm's system label
	// names are refused.
	Labels map[string]string
	// SkipCRDs leaves the chart's CRDs (crds/) alone: neither applied nor
	// recorded in the revision.
	SkipCRDs bool
	// EnableDNS lets getHostByName resolve names (--enable-dns); SubNotes
	// renders the subcharts' notes too (--render-subchart-notes).
	EnableDNS, SubNotes bool
	// CleanupOnFail deletes, when the operation fails, the objects it
	// created (--cleanup-on-fail; --atomic does more).
	CleanupOnFail bool
}

// DefaultUpgradeOptions are Helm's defaults.
func DefaultUpgradeOptions() UpgradeOptions {
	return UpgradeOptions{Timeout: 5 * time.Minute, HistoryMax: 10, Concurrency: apply.DefaultConcurrency}
}

// Upgrade installs or upgrades a release.
func (c *Config) Upgrade(ctx context.Context, o UpgradeOptions) (*Result, error) {
	if err := validateName(o.Name); err != nil {
		return nil, err
	}
	if err := checkLabels(o.Labels); err != nil {
		return nil, err
	}
	head, err := c.Store.Head(ctx, o.Namespace, o.Name)
	switch {
	case errors.Is(err, release.ErrNotFound):
		if !o.Install && !o.InstallOnly {
			return nil, fmt.Errorf("release %q in namespace %q: %w; use install or upgrade --install", o.Name, o.Namespace, ErrReleaseNotFound)
		}
		head = nil
	case err != nil:
		return nil, err
	}
	if o.InstallOnly && head != nil && head.Deployed > 0 {
		return nil, fmt.Errorf("release %q in namespace %q: %w", o.Name, o.Namespace, ErrReleaseExists)
	}

	// Client dry-run: render only, no lock, no write.
	if o.DryRun == DryRunClient {
		return c.renderOnly(ctx, o, head)
	}

	op := "upgrade"
	if head == nil || head.Deployed == 0 {
		op = "install"
	}
	if o.DryRun == DryRunServer {
		return c.upgradeDryRunServer(ctx, o, head, op)
	}

	head, err = c.Store.Acquire(ctx, o.Namespace, o.Name, op, o.ForceUnlock)
	if err != nil {
		return nil, err
	}
	res, opErr := whileLocked(ctx, c, head, func(ctx context.Context) (*Result, error) {
		return c.upgradeLocked(ctx, o, head, op)
	})
	// After an --atomic uninstall the head (and its lock) is gone.
	if relErr := c.Store.Release(context.WithoutCancel(ctx), head); relErr != nil && opErr == nil && !errors.Is(relErr, release.ErrNotFound) {
		opErr = fmt.Errorf("releasing the lock: %w", relErr)
	}
	return res, opErr
}

// previous is the deployed revision, or nil.
func (c *Config) previous(ctx context.Context, head *release.Head) (*release.Revision, error) {
	if head == nil || head.Deployed == 0 {
		return nil, nil
	}
	return c.Store.Revision(ctx, head.Namespace, head.Name, head.Deployed)
}

// effectiveValues applies --reuse-values and friends.
func effectiveValues(o UpgradeOptions, prev *release.Revision) map[string]any {
	newVals := o.Values
	if newVals == nil {
		newVals = map[string]any{}
	}
	if prev == nil || o.ResetValues {
		return newVals
	}
	if o.ReuseValues || o.ResetThenReuseValues {
		// (--reuse-values also renders with the previous revision's
		// computed values as the chart's defaults: see chartFor.)
		return render.CoalesceTables(values.DeepCopy(newVals), values.DeepCopy(prev.Values), func(string, ...any) {})
	}
	if len(newVals) == 0 && len(prev.Values) > 0 {
		return values.DeepCopy(prev.Values)
	}
	return newVals
}

// rendered is a chart rendered for a revision.
type rendered struct {
	result   *render.Result
	objs     []*unstructured.Unstructured
	manifest string
	crds     string
	hooks    []release.Hook
	values   map[string]any
	computed map[string]any
}

// chartFor is the chart to render: with --reuse-values, as in Helm, the
// chart's defaults are replaced by the previous revision's computed values,
// so that what the last release used carries over, chart defaults included
// (--reset-then-reuse-values keeps the new chart's defaults). A previous
// record without computed values leaves the chart as it is.
func chartFor(o UpgradeOptions, prev *release.Revision) *chart.Chart {
	if !o.ReuseValues || o.ResetValues || prev == nil || prev.ComputedValues == nil || o.Chart == nil {
		return o.Chart
	}
	ch := *o.Chart
	ch.Values = values.DeepCopy(prev.ComputedValues)
	return &ch
}

func (c *Config) renderRevision(ctx context.Context, o UpgradeOptions, prev *release.Revision, revision int, op string) (*rendered, error) {
	vals := effectiveValues(o, prev)
	ro := render.DefaultOptions()
	ro.ReleaseName, ro.Namespace, ro.Revision = o.Name, o.Namespace, revision
	ro.IsUpgrade = op == "upgrade"
	ro.Capabilities = c.Capabilities
	ro.Lookup = c.Lookup
	ro.SkipSchemaValidation = o.SkipSchema
	ro.EnableDNS, ro.SubNotes = o.EnableDNS, o.SubNotes
	ro.PostRenderer = o.PostRenderer
	res, err := render.Render(ctx, chartFor(o, prev), values.DeepCopy(vals), ro)
	if err != nil {
		return nil, err
	}
	manifest, err := res.PostRenderManifest(ctx, o.PostRenderer, render.TemplateOptions{})
	if err != nil {
		return nil, err
	}
	crds := res.CRDText()
	if o.SkipCRDs {
		crds = ""
	}
	_, objs, err := c.decodeRevision(crds, manifest, o.Namespace)
	if err != nil {
		return nil, err
	}
	return &rendered{result: res, objs: objs, manifest: manifest, crds: crds, hooks: hooksOf(res.Hooks), values: vals, computed: res.Values}, nil
}

func (c *Config) renderOnly(ctx context.Context, o UpgradeOptions, head *release.Head) (*Result, error) {
	prev, err := c.previous(ctx, head)
	if err != nil {
		return nil, err
	}
	revision, op := 1, "install"
	if head != nil {
		revision = head.Revision + 1
		if head.Deployed > 0 {
			op = "upgrade"
		}
	}
	r, err := c.renderRevision(ctx, o, prev, revision, op)
	if err != nil {
		return nil, err
	}
	rev := c.newRevision(o, r, revision, op)
	rev.Labels = revisionLabels(o, head)
	return &Result{Revision: rev}, nil
}

func (c *Config) upgradeDryRunServer(ctx context.Context, o UpgradeOptions, head *release.Head, op string) (*Result, error) {
	res, err := c.renderOnly(ctx, o, head)
	if err != nil {
		return nil, err
	}
	prev, err := c.previous(ctx, head)
	if err != nil {
		return nil, err
	}
	changes, err := c.applyRevision(ctx, res.Revision, c.applyOptions(o, prev, true))
	res.Changes = changes
	return res, err
}

// applyRevision applies a revision's CRDs (shared: unlabelled, adopted,
// established before the rest), then its objects.
func (c *Config) applyRevision(ctx context.Context, rev *release.Revision, opts apply.Options) ([]apply.Change, error) {
	var changes []apply.Change
	crds, objs, err := c.decodeRevision(rev.CRDs, rev.Manifest, rev.Namespace)
	if err != nil {
		return nil, err
	}
	if len(crds) > 0 {
		shared := opts
		shared.Release, shared.ReleaseNamespace, shared.TakeOwnership = "", "", true
		cs, err := c.Applier.Apply(ctx, crds, shared)
		if cs != nil {
			changes = append(changes, cs.Changes...)
		}
		if err != nil {
			return changes, err
		}
		if opts.DryRun {
			var unchecked []apply.Change
			objs, unchecked = withoutNewKinds(objs, cs)
			changes = append(changes, unchecked...)
		}
	}
	cs, err := c.Applier.Apply(ctx, objs, opts)
	if cs != nil {
		changes = append(changes, cs.Changes...)
	}
	return changes, err
}

// withoutNewKinds takes out of objs the custom resources of the CRDs a dry
// run reported it would create: the server does not serve their kind yet,
// so it cannot check them (the apply engine does the same for CRDs applied
// with the objects). They are reported created without asking the server.
func withoutNewKinds(objs []*unstructured.Unstructured, crds *apply.ChangeSet) (rest []*unstructured.Unstructured, unchecked []apply.Change) {
	newKinds := map[schema.GroupKind]bool{}
	for _, ch := range crds.Changes {
		if ch.Action != apply.Created || ch.Object == nil {
			continue
		}
		group, _, _ := unstructured.NestedString(ch.Object.Object, "spec", "group")
		kind, _, _ := unstructured.NestedString(ch.Object.Object, "spec", "names", "kind")
		newKinds[schema.GroupKind{Group: group, Kind: kind}] = true
	}
	if len(newKinds) == 0 {
		return objs, nil
	}
	for _, o := range objs {
		if newKinds[o.GroupVersionKind().GroupKind()] {
			unchecked = append(unchecked, apply.Change{Ref: refOf(o), Action: apply.Created, Object: o})
			continue
		}
		rest = append(rest, o)
	}
	return rest, unchecked
}

// decodeRevision decodes a revision's CRDs and objects. They are decoded
// together so that custom resources of the chart's own CRDs resolve before
// those CRDs exist on the cluster. The objects are shared with the next
// call for the same revision: callers must not modify them (Apply does
// not).
func (c *Config) decodeRevision(crdText, manifest, namespace string) (crds, objs []*unstructured.Unstructured, err error) {
	c.decodedMu.Lock()
	last := c.decoded
	c.decodedMu.Unlock()
	if last != nil && last.crdText == crdText && last.manifest == manifest && last.namespace == namespace {
		return last.crds, last.objs, nil
	}
	crds, objs, err = c.decodeRevisionOnce(crdText, manifest, namespace)
	if err == nil {
		c.decodedMu.Lock()
		c.decoded = &decodedRevision{crdText: crdText, manifest: manifest, namespace: namespace, crds: crds, objs: objs}
		c.decodedMu.Unlock()
	}
	return crds, objs, err
}

func (c *Config) decodeRevisionOnce(crdText, manifest, namespace string) (crds, objs []*unstructured.Unstructured, err error) {
	if strings.TrimSpace(crdText) != "" {
		if crds, err = c.Applier.Decode(crdText, namespace); err != nil {
			return nil, nil, fmt.Errorf("crds: %w", err)
		}
	}
	all, err := c.Applier.Decode(crdText+manifest, namespace)
	if err != nil {
		return nil, nil, err
	}
	return crds, all[len(crds):], nil
}

// applyOptions are the apply options of an operation whose previous
// revision (the deployed one) is prev, nil when none.
func (c *Config) applyOptions(o UpgradeOptions, prev *release.Revision, dryRun bool) apply.Options {
	return apply.Options{
		Release:          o.Name,
		ReleaseNamespace: o.Namespace,
		Force:            o.ForceConflicts,
		Previous:         previousOf(prev),
		TakeOwnership:    o.TakeOwnership,
		Concurrency:      o.Concurrency,
		DryRun:           dryRun,
	}
}

func (c *Config) newRevision(o UpgradeOptions, r *rendered, revision int, op string) *release.Revision {
	status := release.StatusPendingUpgrade
	desc := "Upgrade complete"
	if op == "install" {
		status, desc = release.StatusPendingInstall, "Install complete"
	}
	return &release.Revision{
		Name:           o.Name,
		Namespace:      o.Namespace,
		Revision:       revision,
		Status:         status,
		Chart:          chartInfo(o.Chart, o.ChartOrigin),
		Values:         r.values,
		ComputedValues: r.computed,
		Manifest:       r.manifest,
		CRDs:           r.crds,
		Hooks:          r.hooks,
		Notes:          r.result.Notes,
		Inventory:      refsOf(r.objs),
		Description:    describe(o.Description, desc),
		Operation:      op,
		Started:        c.now(),
	}
}

// previousOf is what the release applied in revision prev, for the apply
// to take back the fields of it that other field managers took since (nil
// for nil).
func previousOf(prev *release.Revision) *apply.Previous {
	if prev == nil {
		return nil
	}
	return apply.NewPrevious(prev.CRDs+prev.Manifest, prev.Namespace)
}

func chartInfo(ch *chart.Chart, origin release.ChartOrigin) release.ChartInfo {
	if ch == nil || ch.Metadata == nil {
		return release.ChartInfo{ChartOrigin: origin}
	}
	md := ch.Metadata
	// The dependencies as rendering left them (this runs after it): what
	// Helm stores.
	return release.ChartInfo{Name: md.Name, Version: md.Version, AppVersion: md.AppVersion, ChartOrigin: origin,
		Annotations: maps.Clone(md.Annotations), Dependencies: md.Copy().Dependencies}
}

// upgradeLocked runs the operation with the lock held.
func (c *Config) upgradeLocked(ctx context.Context, o UpgradeOptions, head *release.Head, op string) (*Result, error) {
	if err := c.recoverStale(ctx, head); err != nil {
		return nil, err
	}
	prev, err := c.previous(ctx, head)
	if err != nil {
		return nil, err
	}
	revision := head.Revision + 1
	r, err := c.renderRevision(ctx, o, prev, revision, op)
	if err != nil {
		return nil, err
	}
	rev := c.newRevision(o, r, revision, op)
	rev.Labels = revisionLabels(o, head)
	res := &Result{Revision: rev}

	// The record first, then the union inventory: from here on, every object
	// written is named by the head.
	if err := c.Store.CreateRevision(ctx, rev); err != nil {
		return res, fmt.Errorf("recording revision %d: %w", revision, err)
	}
	owned := head.Inventory
	head.SetRevision(rev)
	head.Status = rev.Status
	head.Inventory = union(head.Inventory, rev.Inventory)
	if err := c.Store.UpdateHead(ctx, head); err != nil {
		return res, fmt.Errorf("updating release head: %w", err)
	}

	opErr := c.deploy(ctx, o, head, rev, prev, res)
	if opErr == nil {
		return res, c.finish(ctx, o, head, rev, prev, res.Takeovers())
	}

	// Failed: record it, then undo if asked.
	head.Inventory = union(owned, applied(rev.Inventory, res.Changes))
	failErr := c.fail(ctx, head, rev, opErr)
	if !o.Atomic {
		if o.CleanupOnFail {
			failErr = c.cleanupOnFail(ctx, head, o.Timeout, o.Concurrency, res, failErr)
		}
		return res, failErr
	}
	if op == "install" {
		_, uerr := c.uninstallLocked(ctx, UninstallOptions{Name: o.Name, Namespace: o.Namespace, Timeout: o.Timeout}, head)
		res.RolledBack = "uninstalled"
		if uerr != nil {
			return res, errors.Join(failErr, fmt.Errorf("--atomic uninstall failed: %w", uerr))
		}
		return res, fmt.Errorf("%w; the release was uninstalled (--atomic)", failErr)
	}
	rb, rerr := c.rollbackLocked(ctx, RollbackOptions{Name: o.Name, Namespace: o.Namespace, Revision: prev.Revision, Wait: o.Wait, WaitForJobs: o.WaitForJobs, Timeout: o.Timeout, ForceConflicts: true, HistoryMax: o.HistoryMax, Concurrency: o.Concurrency}, head)
	if rerr != nil {
		return res, errors.Join(failErr, fmt.Errorf("--atomic rollback failed: %w", rerr))
	}
	res.RolledBack = fmt.Sprintf("rolled back to revision %d (as revision %d)", prev.Revision, rb.Revision.Revision)
	return res, fmt.Errorf("%w; rolled back to revision %d (--atomic)", failErr, prev.Revision)
}

// deploy runs hooks, applies, waits and prunes. prev is the revision
// deployed before (nil when none): fields of it that other managers took
// since are taken back.
func (c *Config) deploy(ctx context.Context, o UpgradeOptions, head *release.Head, rev *release.Revision, prev *release.Revision, res *Result) error {
	// The revision's operation (install, upgrade, rollback) names its hooks.
	pre, post := "pre-"+rev.Operation, "post-"+rev.Operation
	timeout := o.Timeout
	if !o.NoHooks {
		runs, err := c.runHooks(ctx, rev, pre, hookOptions{Namespace: o.Namespace, Release: o.Name, Timeout: timeout, Concurrency: o.Concurrency})
		res.Hooks = append(res.Hooks, runs...)
		if err != nil {
			return err
		}
	}
	changes, err := c.applyRevision(ctx, rev, c.applyOptions(o, prev, false))
	res.Changes = append(res.Changes, changes...)
	if err != nil {
		return err
	}
	if o.Wait || o.WaitForJobs {
		if err := c.Applier.Wait(ctx, rev.Inventory, apply.WaitOptions{Timeout: timeout, WaitForJobs: o.WaitForJobs}); err != nil {
			return err
		}
	}
	if !o.NoHooks {
		runs, err := c.runHooks(ctx, rev, post, hookOptions{Namespace: o.Namespace, Release: o.Name, Timeout: timeout, Concurrency: o.Concurrency})
		res.Hooks = append(res.Hooks, runs...)
		if err != nil {
			return err
		}
	}
	// Prune what the release owned and no longer renders.
	stale, keptCRDs := deletable(minus(head.Inventory, rev.Inventory))
	res.Changes = append(res.Changes, keptCRDs...)
	if len(stale) > 0 {
		cs, err := c.Applier.Delete(ctx, stale, apply.DeleteOptions{Release: o.Name, ReleaseNamespace: o.Namespace})
		if cs != nil {
			res.Changes = append(res.Changes, cs.Changes...)
		}
		if err != nil {
			return fmt.Errorf("pruning: %w", err)
		}
	}
	return nil
}

// finish records success: statuses, head, history bound. The fields taken
// from other field managers are added to the revision's description.
func (c *Config) finish(ctx context.Context, o UpgradeOptions, head *release.Head, rev *release.Revision, prev *release.Revision, taken []apply.Takeover) error {
	ctx = context.WithoutCancel(ctx)
	outcome := ""
	if len(taken) > 0 {
		outcome = rev.Description + "; " + apply.TakeoverSummary(taken)
	}
	if err := c.Store.SetOutcome(ctx, head.Namespace, head.Name, rev.Revision, release.Outcome{Status: release.StatusDeployed, Description: outcome}); err != nil {
		return fmt.Errorf("recording revision %d deployed: %w", rev.Revision, err)
	}
	rev.Status = release.StatusDeployed
	if outcome != "" {
		rev.Description = outcome
	}
	if err := c.supersedeOthers(ctx, head, rev.Revision, prev); err != nil {
		return err
	}
	head.Deployed = rev.Revision
	head.Status = release.StatusDeployed
	head.Inventory = rev.Inventory
	if err := c.Store.UpdateHead(ctx, head); err != nil {
		return fmt.Errorf("updating release head: %w", err)
	}
	return c.pruneHistory(ctx, head, o.HistoryMax)
}

// applied is the part of inv that changes say the release wrote (or found
// as it wanted it). After a failed operation, the head's inventory keeps
// what the release owned before and these, and not the objects it never
// wrote: an object refused because another tool or release owns it, or
// one of a stage never reached, is not the release's to prune or
// uninstall later.
func applied(inv []release.ObjectRef, changes []apply.Change) []release.ObjectRef {
	done := make(map[string]bool, len(changes))
	for _, ch := range changes {
		switch ch.Action {
		case apply.Created, apply.Configured, apply.Unchanged:
			done[ch.Ref.Key()] = true
		}
	}
	var out []release.ObjectRef
	for _, r := range inv {
		if done[r.Key()] {
			out = append(out, r)
		}
	}
	return out
}

// fail records a failed revision; the head keeps the inventory the caller
// left in it (what the release owned before, and what it wrote since).
// failedDescription is a failed revision's description, in Helm's words.
func failedDescription(rev *release.Revision, opErr error) string {
	switch rev.Operation {
	case "install":
		return fmt.Sprintf("Release %q failed: %v", rev.Name, opErr)
	case "rollback":
		return fmt.Sprintf("Rollback %q failed: %v", rev.Name, opErr)
	}
	return fmt.Sprintf("Upgrade %q failed: %v", rev.Name, opErr)
}

func (c *Config) fail(ctx context.Context, head *release.Head, rev *release.Revision, opErr error) error {
	ctx = context.WithoutCancel(ctx)
	var errs []error
	errs = append(errs, opErr)
	desc := failedDescription(rev, opErr)
	if err := c.Store.SetOutcome(ctx, head.Namespace, head.Name, rev.Revision, release.Outcome{Status: release.StatusFailed, Description: desc, FailedHook: failedHook(opErr)}); err != nil {
		errs = append(errs, fmt.Errorf("recording revision %d failed: %w", rev.Revision, err))
	}
	rev.Status, rev.Description = release.StatusFailed, desc
	head.Status = release.StatusFailed
	if err := c.Store.UpdateHead(ctx, head); err != nil {
		errs = append(errs, fmt.Errorf("updating release head: %w", err))
	}
	return errors.Join(errs...)
}
