package release

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/user"
	"sync"
	"time"
)

// DefaultLockTTL is how long a lock holds without being renewed: a killed
// client never blocks a release for longer.
const DefaultLockTTL = 2 * time.Minute

// DefaultHolder names this process in locks: user@host (pid N), the user
// from $USER or else the operating system.
func DefaultHolder() string {
	name := os.Getenv("USER")
	if name == "" {
		if u, err := user.Current(); err == nil {
			name = u.Username
		}
	}
	if name == "" {
		name = "unknown"
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown"
	}
	return fmt.Sprintf("%s@%s (pid %d)", name, host, os.Getpid())
}

// lockSettings are the settings both stores share.
type lockSettings struct {
	holder string
	ttl    time.Duration
	now    func() time.Time
}

func newLockSettings(holder string, ttl time.Duration, now func() time.Time) lockSettings {
	if holder == "" {
		holder = DefaultHolder()
	}
	if ttl <= 0 {
		ttl = DefaultLockTTL
	}
	if now == nil {
		now = time.Now
	}
	return lockSettings{holder: holder, ttl: ttl, now: now}
}

// take returns the lock for an operation that starts now, or *LockedError
// when cur is live and force is not set. Every Acquire gets a fresh ID, so
// locks are not re-entrant: a second operation of the same process waits
// its turn like any other.
func (s lockSettings) take(release string, cur *Lock, operation string, force bool) (*Lock, error) {
	now := s.now().UTC()
	live := cur != nil && !cur.Expired(now)
	if live && !force {
		return nil, &LockedError{Release: release, Lock: *cur}
	}
	return &Lock{
		Forced:    live,
		Holder:    s.holder,
		Operation: operation,
		Started:   now,
		Renewed:   now,
		Expires:   now.Add(s.ttl),
		ID:        newLockID(),
	}, nil
}

// renew extends l from now.
func (s lockSettings) renew(l *Lock) {
	now := s.now().UTC()
	l.Renewed = now
	l.Expires = now.Add(s.ttl)
}

func newLockID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return hex.EncodeToString(b[:])
}

// holds tells whether h holds the lock cur.
func holds(h *Head, cur *Lock) bool {
	return h != nil && h.Lock != nil && cur != nil && h.Lock.ID != "" && h.Lock.ID == cur.ID
}

// withoutLockID is h for a reader: the lock's ID is the holder's token,
// handed out by Acquire only, so that writing a head read with Head is
// optimistic concurrency, never a holder's write.
func (h *Head) withoutLockID() *Head {
	if h.Lock != nil {
		l := *h.Lock
		l.ID = ""
		h.Lock = &l
	}
	return h
}

// mayWrite tells whether h may write the head cur (as stored now): when h
// holds its lock, whatever happened since h read it (the only other writer
// then was h's own KeepAlive); otherwise, when no live lock is held and the
// head is still as h read it (optimistic concurrency).
func mayWrite(h, cur *Head, now time.Time) error {
	if holds(h, cur.Lock) {
		return nil
	}
	release := h.Namespace + "/" + h.Name
	switch {
	case h.Lock != nil && h.Lock.ID != "":
		return lockLost(release, cur.Lock)
	case !cur.Lock.Expired(now):
		return &LockedError{Release: release, Lock: *cur.Lock}
	case cur.ResourceVersion != h.ResourceVersion:
		return fmt.Errorf("release %s: the head changed since it was read: %w", release, ErrConflict)
	}
	return nil
}

// lockLost is the error of a lock operation by a holder whose lock is gone.
func lockLost(release string, cur *Lock) error {
	if cur == nil {
		return fmt.Errorf("release %s: lock lost: released by someone else: %w", release, ErrConflict)
	}
	return fmt.Errorf("release %s: lock lost: now held by %s running %s since %s: %w",
		release, cur.Holder, cur.Operation, cur.Started.Format(time.RFC3339), ErrConflict)
}

// Renewer is the part of a Store that KeepAlive needs.
type Renewer interface {
	Renew(ctx context.Context, h *Head) error
}

// KeepAlive renews the lock held by h every interval in a goroutine, until
// stop is called or ctx ends, so that a long operation keeps its lock while
// a killed one loses it within the TTL. It renews a copy of h: the caller
// goes on using h (UpdateHead, Release) meanwhile, since the stores accept
// writes from the lock's holder whatever renewals happened in between.
//
// stop ends the renewals and returns why the lock was lost (an error
// wrapping ErrConflict or ErrNotFound; renewals stop then), or the last
// renewal's error when it failed. It may be called more than once.
func KeepAlive(ctx context.Context, s Renewer, h *Head, interval time.Duration) (stop func() error) {
	return KeepAliveNotify(ctx, s, h, interval, nil)
}

// KeepAliveNotify is KeepAlive that also calls lost, from its goroutine, as
// soon as the lock is gone (taken over with --force-unlock, the head
// deleted), so that the caller can stop an operation that no longer holds
// its release instead of finding out at the end.
func KeepAliveNotify(ctx context.Context, s Renewer, h *Head, interval time.Duration, lost func(error)) (stop func() error) {
	if h == nil || h.Lock == nil {
		return func() error { return errors.New("release: keep-alive without a lock") }
	}
	own := *h
	lock := *h.Lock
	own.Lock = &lock
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	var last error
	go func() {
		defer close(done)
		wait := interval
		for {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			err := s.Renew(ctx, &own)
			if ctx.Err() != nil {
				return // stopped during the renewal: its error is no news
			}
			last = err
			var locked *LockedError
			if errors.Is(err, ErrConflict) || errors.Is(err, ErrNotFound) || errors.As(err, &locked) {
				if lost != nil {
					lost(err)
				}
				return // the lock is gone: renewing again cannot help
			}
			wait = interval
			if err != nil {
				// A transient failure: try again soon, well before expiry.
				wait = max(interval/4, 10*time.Millisecond)
			}
		}
	}()
	var once sync.Once
	return func() error {
		once.Do(func() {
			cancel()
			<-done
		})
		return last
	}
}
