package action

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/kubectl-chart/kubectl-chart/pkg/release"
)

// TestWhileLockedStopsWhenTheLockIsLost: an operation whose lock is lost
// is cancelled at once and fails with the reason, not "context canceled".
func TestWhileLockedStopsWhenTheLockIsLost(t *testing.T) {
	lostErr := errors.New("release ns/web: lock lost: now held by bob@ci (pid 7) running upgrade")
	c := &Config{KeepAlive: func(ctx context.Context, h *release.Head, lost func(error)) func() error {
		go lost(lostErr)
		return func() error { return lostErr }
	}}
	_, err := whileLocked(t.Context(), c, &release.Head{}, func(ctx context.Context) (*Result, error) {
		<-ctx.Done() // an apply or a hook wait, cut short
		return nil, ctx.Err()
	})
	if !errors.Is(err, lostErr) || !strings.Contains(err.Error(), "the operation was stopped") {
		t.Fatalf("got %v, want the lost lock's reason", err)
	}

	// An operation that finished before noticing keeps its own result.
	c.KeepAlive = func(ctx context.Context, h *release.Head, lost func(error)) func() error {
		return func() error { lost(lostErr); return lostErr }
	}
	res, err := whileLocked(t.Context(), c, &release.Head{}, func(ctx context.Context) (*Result, error) {
		return &Result{}, nil
	})
	if err != nil || res == nil {
		t.Fatalf("a finished operation: %v, %v", res, err)
	}
}
