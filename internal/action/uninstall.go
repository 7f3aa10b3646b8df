package action

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-chart/kubectl-chart/internal/apply"
	"github.com/kubectl-chart/kubectl-chart/pkg/helmrelease"
	"github.com/kubectl-chart/kubectl-chart/pkg/release"
)

// UninstallOptions shape an uninstall.
type UninstallOptions struct {
	Name        string
	Namespace   string
	KeepHistory bool
	NoHooks     bool
	DryRun      bool
	Wait        bool
	Timeout     time.Duration
	ForceUnlock bool
	Description string
	// Cascade is the propagation policy of the deletions (Helm's
	// --cascade): background (default), orphan or foreground.
	Cascade metav1.DeletionPropagation
	// IgnoreNotFound treats a missing release as uninstalled already.
	IgnoreNotFound bool
}

// UninstallResult is what an uninstall did.
type UninstallResult struct {
	Changes []apply.Change
	Hooks   []HookRun
	// Kept are objects left in place by their resource policy.
	Kept []release.ObjectRef
	// HelmRecords are Helm's records of an imported release that the
	// uninstall deleted with it (import-helm kept them): Helm would list a
	// release whose objects are gone.
	HelmRecords int
}

// Uninstall deletes a release's objects and (unless KeepHistory) records.
func (c *Config) Uninstall(ctx context.Context, o UninstallOptions) (*UninstallResult, error) {
	head, err := c.Store.Head(ctx, o.Namespace, o.Name)
	if errors.Is(err, release.ErrNotFound) {
		return nil, fmt.Errorf("release %q in namespace %q: %w", o.Name, o.Namespace, ErrReleaseNotFound)
	}
	if err != nil {
		return nil, err
	}
	if o.DryRun {
		return &UninstallResult{}, nil
	}
	head, err = c.Store.Acquire(ctx, o.Namespace, o.Name, "uninstall", o.ForceUnlock)
	if err != nil {
		return nil, err
	}
	res, opErr := whileLocked(ctx, c, head, func(ctx context.Context) (*UninstallResult, error) {
		return c.uninstallLocked(ctx, o, head)
	})
	if o.KeepHistory || opErr != nil {
		if relErr := c.Store.Release(context.WithoutCancel(ctx), head); relErr != nil && opErr == nil && !errors.Is(relErr, release.ErrNotFound) {
			opErr = fmt.Errorf("releasing the lock: %w", relErr)
		}
	}
	return res, opErr
}

// uninstallLocked runs with the lock held. Without KeepHistory it deletes
// the records and the head last (the lock goes with it).
func (c *Config) uninstallLocked(ctx context.Context, o UninstallOptions, head *release.Head) (*UninstallResult, error) {
	res := &UninstallResult{}
	var current *release.Revision
	if head.Revision > 0 {
		r, err := c.Store.Revision(ctx, head.Namespace, head.Name, head.Revision)
		if err != nil && !errors.Is(err, release.ErrNotFound) {
			return res, err
		}
		current = r
	}
	ho := hookOptions{Namespace: o.Namespace, Release: o.Name, Timeout: o.Timeout, Concurrency: apply.DefaultConcurrency}
	if current != nil && !o.NoHooks {
		runs, err := c.runHooks(ctx, current, "pre-delete", ho)
		res.Hooks = append(res.Hooks, runs...)
		if err != nil {
			return res, err
		}
	}
	head.Status = release.StatusUninstalling
	if err := c.Store.UpdateHead(ctx, head); err != nil {
		return res, fmt.Errorf("updating release head: %w", err)
	}
	refs, keptCRDs := deletable(head.Inventory)
	cs, err := c.Applier.Delete(ctx, refs, apply.DeleteOptions{Release: o.Name, ReleaseNamespace: o.Namespace, Wait: o.Wait, Timeout: o.Timeout, Propagation: o.Cascade})
	if cs != nil {
		res.Changes = append(keptCRDs, cs.Changes...)
		for _, ch := range res.Changes {
			if ch.Action == apply.Kept {
				res.Kept = append(res.Kept, ch.Ref)
			}
		}
	}
	if err != nil {
		head.Status = release.StatusFailed
		_ = c.Store.UpdateHead(context.WithoutCancel(ctx), head)
		return res, err
	}
	if current != nil && !o.NoHooks {
		runs, err := c.runHooks(ctx, current, "post-delete", ho)
		res.Hooks = append(res.Hooks, runs...)
		if err != nil {
			return res, err
		}
	}
	ctx = context.WithoutCancel(ctx)
	if o.KeepHistory {
		if current != nil {
			if err := c.Store.SetOutcome(ctx, head.Namespace, head.Name, current.Revision, release.Outcome{Status: release.StatusUninstalled, Description: describe(o.Description, "Uninstallation complete")}); err != nil {
				return res, err
			}
		}
		head.Status = release.StatusUninstalled
		head.Deployed = 0
		head.Inventory = nil
		return res, c.Store.UpdateHead(ctx, head)
	}
	hist, err := c.Store.History(ctx, head.Namespace, head.Name)
	if err != nil {
		return res, err
	}
	var errs []error
	imported := false
	for _, r := range hist {
		imported = imported || strings.HasSuffix(r.Description, importedSuffix)
		if err := c.Store.DeleteRevision(ctx, head.Namespace, head.Name, r.Revision); err != nil && !errors.Is(err, release.ErrNotFound) {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return res, errors.Join(errs...)
	}
	if err := c.Store.DeleteHead(ctx, head); err != nil && !errors.Is(err, release.ErrNotFound) {
		return res, err
	}
	if imported && c.Kube != nil {
		recs, err := helmrelease.Read(ctx, c.Kube, head.Namespace, head.Name)
		if err != nil && !errors.Is(err, helmrelease.ErrNotFound) {
			return res, fmt.Errorf("the release is uninstalled, but Helm's records of it could not be read: %w", err)
		}
		if err := c.deleteHelmRecords(ctx, recs); err != nil {
			return res, fmt.Errorf("the release is uninstalled, but Helm's records of it remain: %w", err)
		}
		res.HelmRecords = len(recs)
	}
	return res, nil
}
