package crash

import (
	"bytes"
	"context"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBy is the lock error as the command prints it: it names the holder
// as user@host (pid N).
var lockedBy = regexp.MustCompile(`release \S+ is locked by (\S+@\S+ \(pid (\d+)\)) running upgrade`)

// TestConcurrentUpgradesEndToEnd starts two `kubectl-chart upgrade --wait`
// processes on one release at the same time: exactly one proceeds; the other
// fails fast (< 5 s, and before the first is done), naming the process that
// holds the lock.
func TestConcurrentUpgradesEndToEnd(t *testing.T) {
	ctx := context.Background()
	r := newRunner(t)
	r.mustUpgrade(t, 1)

	type run struct {
		gen  int
		cmd  *exec.Cmd
		out  *bytes.Buffer
		err  error
		took time.Duration
	}
	runs := []*run{{gen: 2}, {gen: 3}}
	for _, x := range runs {
		x.cmd, x.out = r.upgrade(ctx, x.gen)
	}
	start := time.Now()
	for _, x := range runs {
		if err := x.cmd.Start(); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for _, x := range runs {
		wg.Go(func() {
			x.err = x.cmd.Wait()
			x.took = time.Since(start)
		})
	}
	wg.Wait()

	var won, lost []*run
	for _, x := range runs {
		if x.err == nil {
			won = append(won, x)
		} else {
			lost = append(lost, x)
		}
	}
	if len(won) != 1 || len(lost) != 1 {
		for _, x := range runs {
			t.Logf("gen %d: %v after %s\n%s", x.gen, x.err, x.took.Round(time.Millisecond), x.out)
		}
		t.Fatalf("%d upgrades succeeded and %d failed, want 1 and 1", len(won), len(lost))
	}
	w, l := won[0], lost[0]
	msg := strings.TrimSpace(l.out.String())
	t.Logf("winner (gen %d, pid %d) done after %s; loser (gen %d) refused after %s: %s",
		w.gen, w.cmd.Process.Pid, w.took.Round(time.Millisecond), l.gen, l.took.Round(time.Millisecond), msg)
	if l.took >= 5*time.Second || l.took >= w.took {
		t.Errorf("the refused upgrade took %s (the other %s), want < 5s and done first", l.took, w.took)
	}
	m := lockedBy.FindStringSubmatch(msg)
	switch {
	case m == nil:
		t.Errorf("the refused upgrade does not say who holds the lock (want %q):\n%s", lockedBy, msg)
	case m[2] != strconv.Itoa(w.cmd.Process.Pid):
		t.Errorf("the refusal names %s, want the other upgrade (pid %d)", m[1], w.cmd.Process.Pid)
	}
	if err := checkConsistent(ctx, r.ns, w.gen); err != nil {
		t.Error(err)
	}
}
