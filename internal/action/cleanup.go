package action

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/kubectl-chart/kubectl-chart/internal/apply"
	"github.com/kubectl-chart/kubectl-chart/pkg/release"
)

// cleanupOnFail is Helm's --cleanup-on-fail of upgrade and rollback: after
// the failed revision is recorded, the objects this operation created (they
// did not exist before it) are deleted again and leave the head's
// inventory; what existed before stays as the failure left it. failErr is
// the operation's error, returned with the cleanup's own; res.CleanedUp
// lists what was deleted.
func (c *Config) cleanupOnFail(ctx context.Context, head *release.Head, timeout time.Duration, concurrency int, res *Result, failErr error) error {
	var created []release.ObjectRef
	for _, ch := range res.Changes {
		if ch.Action == apply.Created {
			created = append(created, ch.Ref)
		}
	}
	if len(created) == 0 {
		return failErr
	}
	// The failure may be the context's: the cleanup still runs, bounded.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	cs, err := c.Applier.Delete(ctx, created, apply.DeleteOptions{
		Release: head.Name, ReleaseNamespace: head.Namespace, Timeout: timeout, Concurrency: concurrency,
	})
	var gone []release.ObjectRef
	if cs != nil {
		for _, ch := range cs.Changes {
			if ch.Action == apply.Deleted {
				gone = append(gone, ch.Ref)
			}
		}
	}
	res.CleanedUp = gone
	head.Inventory = minus(head.Inventory, gone)
	if uerr := c.Store.UpdateHead(ctx, head); uerr != nil {
		err = errors.Join(err, fmt.Errorf("updating release head: %w", uerr))
	}
	if err != nil {
		return errors.Join(failErr, fmt.Errorf("--cleanup-on-fail: %w", err))
	}
	return fmt.Errorf("%w; deleted the %d object(s) it had created (--cleanup-on-fail)", failErr, len(gone))
}
