package release

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

// renewer fails every renewal with err, counting them.
type renewer struct {
	err   error
	calls atomic.Int32
}

func (r *renewer) Renew(context.Context, *Head) error {
	r.calls.Add(1)
	return r.err
}

func TestKeepAliveNotifyReportsALostLock(t *testing.T) {
	h := &Head{Name: "web", Namespace: "ns", Lock: &Lock{Holder: "a"}}
	for _, tc := range []struct {
		name     string
		err      error
		wantLost bool
	}{
		{"taken over", fmt.Errorf("release ns/web: lock lost: now held by b: %w", ErrConflict), true},
		{"head deleted", fmt.Errorf("gone: %w", ErrNotFound), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &renewer{err: tc.err}
			lost := make(chan error, 1)
			stop := KeepAliveNotify(t.Context(), r, h, time.Millisecond, func(err error) { lost <- err })
			select {
			case err := <-lost:
				if !errors.Is(err, tc.err) {
					t.Errorf("lost with %v, want %v", err, tc.err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("lost was never called")
			}
			if err := stop(); !errors.Is(err, tc.err) {
				t.Errorf("stop: %v", err)
			}
			if n := r.calls.Load(); n != 1 {
				t.Errorf("%d renewals after the lock was lost, want 1", n)
			}
		})
	}
}
