package action

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/kubectl-chart/kubectl-chart/internal/apply"
	"github.com/kubectl-chart/kubectl-chart/pkg/release"
)

// RollbackOptions shape a rollback.
type RollbackOptions struct {
	Name      string
	Namespace string
	// Revision to roll back to; 0 means the one before the deployed one.
	Revision       int
	DryRun         string
	Wait           bool
	WaitForJobs    bool
	Timeout        time.Duration
	ForceConflicts bool
	TakeOwnership  bool
	HistoryMax     int
	ForceUnlock    bool
	NoHooks        bool
	Description    string
	Concurrency    int
	// CleanupOnFail deletes, when the rollback fails, the objects it
	// created (--cleanup-on-fail).
	CleanupOnFail bool
}

// DefaultRollbackOptions are Helm's defaults.
func DefaultRollbackOptions() RollbackOptions {
	return RollbackOptions{Timeout: 5 * time.Minute, HistoryMax: 10, Concurrency: apply.DefaultConcurrency}
}

// Rollback re-applies an earlier revision's manifest as a new revision.
func (c *Config) Rollback(ctx context.Context, o RollbackOptions) (*Result, error) {
	if _, err := c.Store.Head(ctx, o.Namespace, o.Name); err != nil {
		if errors.Is(err, release.ErrNotFound) {
			return nil, fmt.Errorf("release %q in namespace %q: %w", o.Name, o.Namespace, ErrReleaseNotFound)
		}
		return nil, err
	}
	if o.DryRun != DryRunNone {
		head, err := c.Store.Head(ctx, o.Namespace, o.Name)
		if err != nil {
			return nil, err
		}
		target, err := c.rollbackTarget(ctx, head, o.Revision)
		if err != nil {
			return nil, err
		}
		rev := rollbackRevision(target, head.Revision+1, o.Description, c.now())
		return &Result{Revision: rev}, nil
	}
	head, err := c.Store.Acquire(ctx, o.Namespace, o.Name, "rollback", o.ForceUnlock)
	if err != nil {
		return nil, err
	}
	res, opErr := whileLocked(ctx, c, head, func(ctx context.Context) (*Result, error) {
		return c.rollbackLocked(ctx, o, head)
	})
	if relErr := c.Store.Release(context.WithoutCancel(ctx), head); relErr != nil && opErr == nil {
		opErr = fmt.Errorf("releasing the lock: %w", relErr)
	}
	return res, opErr
}

func (c *Config) rollbackTarget(ctx context.Context, head *release.Head, revision int) (*release.Revision, error) {
	if revision == 0 {
		hist, err := c.Store.History(ctx, head.Namespace, head.Name)
		if err != nil {
			return nil, err
		}
		// The newest revision older than the deployed (or last) one.
		current := head.Deployed
		if current == 0 {
			current = head.Revision
		}
		for i := len(hist) - 1; i >= 0; i-- {
			if hist[i].Revision < current {
				return hist[i], nil
			}
		}
		return nil, fmt.Errorf("release %q has no revision to roll back to", head.Name)
	}
	rev, err := c.Store.Revision(ctx, head.Namespace, head.Name, revision)
	if errors.Is(err, release.ErrNotFound) {
		return nil, fmt.Errorf("release %q has no revision %d", head.Name, revision)
	}
	return rev, err
}

func rollbackRevision(target *release.Revision, revision int, description string, now time.Time) *release.Revision {
	return &release.Revision{
		Name:           target.Name,
		Namespace:      target.Namespace,
		Revision:       revision,
		Status:         release.StatusPendingRollback,
		Chart:          target.Chart,
		Labels:         target.Labels,
		Values:         target.Values,
		ComputedValues: target.ComputedValues,
		Manifest:       target.Manifest,
		CRDs:           target.CRDs,
		Hooks:          target.Hooks,
		Notes:          target.Notes,
		Inventory:      target.Inventory,
		Description:    describe(description, fmt.Sprintf("Rollback to %d", target.Revision)),
		Operation:      "rollback",
		Started:        now,
	}
}

func (c *Config) rollbackLocked(ctx context.Context, o RollbackOptions, head *release.Head) (*Result, error) {
	if err := c.recoverStale(ctx, head); err != nil {
		return nil, err
	}
	target, err := c.rollbackTarget(ctx, head, o.Revision)
	if err != nil {
		return nil, err
	}
	prev, err := c.previous(ctx, head)
	if err != nil {
		return nil, err
	}
	rev := rollbackRevision(target, head.Revision+1, o.Description, c.now())
	res := &Result{Revision: rev}
	if err := c.Store.CreateRevision(ctx, rev); err != nil {
		return res, fmt.Errorf("recording revision %d: %w", rev.Revision, err)
	}
	owned := head.Inventory
	head.SetRevision(rev)
	head.Status = rev.Status
	head.Inventory = union(head.Inventory, rev.Inventory)
	if err := c.Store.UpdateHead(ctx, head); err != nil {
		return res, fmt.Errorf("updating release head: %w", err)
	}
	uo := UpgradeOptions{
		Name: o.Name, Namespace: o.Namespace, Wait: o.Wait, WaitForJobs: o.WaitForJobs, Timeout: o.Timeout,
		ForceConflicts: o.ForceConflicts, TakeOwnership: o.TakeOwnership, HistoryMax: o.HistoryMax,
		NoHooks: o.NoHooks, Concurrency: o.Concurrency,
	}
	if err := c.deploy(ctx, uo, head, rev, prev, res); err != nil {
		head.Inventory = union(owned, applied(rev.Inventory, res.Changes))
		failErr := c.fail(ctx, head, rev, err)
		if o.CleanupOnFail {
			failErr = c.cleanupOnFail(ctx, head, o.Timeout, o.Concurrency, res, failErr)
		}
		return res, failErr
	}
	return res, c.finish(ctx, uo, head, rev, prev, res.Takeovers())
}
