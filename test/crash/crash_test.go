package crash

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"text/tabwriter"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/kubectl-chart/kubectl-chart/pkg/ownership"
	"github.com/kubectl-chart/kubectl-chart/pkg/release"
)

// TestKilledUpgradeRecovers kills `kubectl-chart upgrade --install --wait`
// with SIGKILL at 20 points of an upgrade and checks each time that the
// next `upgrade --install` (with other values) succeeds once the dead
// client's lock has expired (within the TTL), that the history is
// consistent and that no owned object is orphaned (see checkConsistent).
//
// Two kills are timers during start-up; the other 18 are set off by what
// the test sees the process write, through watches on the namespace: the
// lock taken, the revision record created, the head's union inventory, the
// 1st, 4th, … 32nd object written, a Deployment rolled out, the first
// object pruned, the record marked deployed, the previous one superseded,
// the head naming the new revision, the lock released. A kill lands a few
// milliseconds after what set it off, so after each one the test reads the
// cluster to say where the process really was. The first kill interrupts
// the release's first install (Helm #5595), the others upgrades.
func TestKilledUpgradeRecovers(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: 40 upgrades with --wait and 20 lock expiries take minutes")
	}
	ctx := context.Background()
	r := newRunner(t)
	ts := triggers()
	first := slices.IndexFunc(ts, func(tr trigger) bool { return tr.name == "12 objects written" })
	var outcomes []outcome
	gen := 0
	for n := range ts {
		tr := ts[(first+n)%len(ts)]
		gen++
		o := killAndRecover(ctx, r, n+1, tr, gen)
		gen++ // the recovering upgrade's values
		outcomes = append(outcomes, o)
		if o.err != nil {
			t.Errorf("kill %d (%s; %s): %v", n+1, tr.name, o.where, o.err)
		}
		if o.fatal {
			break
		}
	}
	logOutcomes(t, outcomes)
}

// trigger says when to kill the command: after a delay, or once what the
// watches saw it write satisfies when.
type trigger struct {
	name  string
	after time.Duration
	when  func(p *progress) bool
}

// triggers are the 20 kill points.
func triggers() []trigger {
	ts := []trigger{
		{name: "10ms after start", after: 10 * time.Millisecond},
		{name: "40ms after start", after: 40 * time.Millisecond},
		{name: "lock taken", when: func(p *progress) bool { return p.locked }},
		{name: "record created", when: func(p *progress) bool { return p.recorded }},
		{name: "union inventory written", when: func(p *progress) bool { return p.headRevision >= p.rev }},
	}
	for _, n := range []int{1, 4, 8, 12, 16, 20, 24, 28, objectsPerGen} {
		ts = append(ts, trigger{name: fmt.Sprintf("%d objects written", n), when: func(p *progress) bool { return len(p.written) >= n }})
	}
	return append(ts,
		trigger{name: "a Deployment rolled out", when: func(p *progress) bool { return len(p.rolledOut) >= 1 }},
		trigger{name: "an object pruned", when: func(p *progress) bool { return p.pruned >= 1 }},
		trigger{name: "record marked deployed", when: func(p *progress) bool { return p.recordDeployed }},
		trigger{name: "previous record superseded", when: func(p *progress) bool { return p.prevSuperseded }},
		trigger{name: "head names it deployed", when: func(p *progress) bool { return p.headDeployed >= p.rev }},
		trigger{name: "lock released", when: func(p *progress) bool { return p.locked && p.unlocked }},
	)
}

// progress is what the watches have seen the command (pid, writing revision
// rev with values gen) do so far.
type progress struct {
	pid, rev int
	gen      string

	locked, unlocked           bool
	recorded, recordDeployed   bool
	prevSuperseded             bool
	headRevision, headDeployed int
	written, rolledOut         map[string]bool
	pruned                     int

	// imp is what an import-helm did (TestKilledImportHelmRecovers).
	imp *importProgress
}

// observe takes one watch event into account.
func (p *progress) observe(ev watch.Event) {
	obj, err := meta.Accessor(ev.Object)
	if err != nil || ev.Type == watch.Error {
		return
	}
	labels := obj.GetLabels()
	switch o := ev.Object.(type) {
	case *corev1.ConfigMap:
		if o.Name == ownership.HeadName(rel) {
			lock := o.Data[release.HeadKeyLock]
			if strings.Contains(lock, fmt.Sprintf("(pid %d)", p.pid)) {
				p.locked = true
			} else if p.locked && lock == "" {
				p.unlocked = true
			}
			if p.locked {
				p.headRevision, _ = strconv.Atoi(o.Data[release.HeadKeyRevision])
				p.headDeployed, _ = strconv.Atoi(o.Data[release.HeadKeyDeployed])
			}
			return
		}
		if ev.Type == watch.Deleted && strings.HasPrefix(o.Name, "gen-") {
			p.pruned++
		}
	case *corev1.Secret:
		if labels[ownership.LabelRecord] == ownership.RecordRevision {
			rev, _ := strconv.Atoi(labels[ownership.LabelRevision])
			status := release.Status(labels[ownership.LabelStatus])
			switch {
			case rev == p.rev:
				p.recorded = true
				p.recordDeployed = p.recordDeployed || status == release.StatusDeployed
			case rev < p.rev && status == release.StatusSuperseded && ev.Type == watch.Modified:
				p.prevSuperseded = true
			}
			return
		}
	case *appsv1.Deployment:
		if o.Annotations[genAnnotation] == p.gen && o.Status.ObservedGeneration >= o.Generation &&
			o.Status.UpdatedReplicas == 1 && o.Status.AvailableReplicas == 1 && o.Status.Replicas == 1 {
			p.rolledOut[o.Name] = true
		}
	}
	if ev.Type != watch.Deleted && obj.GetAnnotations()[genAnnotation] == p.gen {
		p.written[fmt.Sprintf("%T/%s", ev.Object, obj.GetName())] = true
	}
}

// watchNamespace watches the objects the command writes in ns, from now on.
func watchNamespace(ctx context.Context, ns string) ([]watch.Interface, error) {
	cs := env.Clientset()
	list, err := cs.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{Limit: 1})
	if err != nil {
		return nil, err
	}
	from := metav1.ListOptions{ResourceVersion: list.ResourceVersion}
	var ws []watch.Interface
	for _, start := range []func() (watch.Interface, error){
		func() (watch.Interface, error) { return cs.CoreV1().ConfigMaps(ns).Watch(ctx, from) },
		func() (watch.Interface, error) { return cs.CoreV1().Secrets(ns).Watch(ctx, from) },
		func() (watch.Interface, error) { return cs.CoreV1().Services(ns).Watch(ctx, from) },
		func() (watch.Interface, error) { return cs.AppsV1().Deployments(ns).Watch(ctx, from) },
	} {
		w, err := start()
		if err != nil {
			for _, w := range ws {
				w.Stop()
			}
			return nil, err
		}
		ws = append(ws, w)
	}
	return ws, nil
}

// outcome is what one kill did and what the next command found.
type outcome struct {
	n       int
	trigger string
	// at is when the kill was sent, from the start.
	at time.Duration
	// killed is false when the process ended before the timer fired.
	killed bool
	// where the process was, as read from the cluster after the kill.
	where string
	// refused is how many times the next command met the dead client's
	// lock; blocked is the time from the kill until the start of the
	// command that succeeded; total until it ended.
	refused        int
	blocked, total time.Duration
	applied        string
	err            error
	fatal          bool
}

// killAndRecover runs upgrade --install with values gen, kills it at tr,
// then runs upgrade --install with gen+1 until it is no longer refused
// because of the lock, and checks the release.
func killAndRecover(ctx context.Context, r runner, n int, tr trigger, gen int) outcome {
	o := outcome{n: n, trigger: tr.name}
	s := store()
	prevRev := 0
	if h, err := s.Head(ctx, r.ns, rel); err == nil {
		prevRev = h.Revision
	}

	wctx, stopWatching := context.WithCancel(ctx)
	defer stopWatching()
	watches, err := watchNamespace(wctx, r.ns)
	if err != nil {
		o.err, o.fatal = err, true
		return o
	}
	cmd, out := r.upgrade(ctx, gen)
	if err := cmd.Start(); err != nil {
		o.err, o.fatal = err, true
		return o
	}
	start := time.Now()
	var once sync.Once
	kill := func() { once.Do(func() { o.at = time.Since(start); _ = cmd.Process.Kill() }) }
	if tr.after > 0 {
		timer := time.AfterFunc(tr.after, kill)
		defer timer.Stop()
	}
	p := &progress{pid: cmd.Process.Pid, rev: prevRev + 1, gen: strconv.Itoa(gen), written: map[string]bool{}, rolledOut: map[string]bool{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, w := range watches {
		wg.Go(func() {
			for ev := range w.ResultChan() {
				mu.Lock()
				p.observe(ev)
				fire := tr.when != nil && tr.when(p)
				mu.Unlock()
				if fire {
					kill()
				}
			}
		})
	}
	waitErr := cmd.Wait()
	once.Do(func() {}) // a kill from now on is too late
	stopWatching()
	for _, w := range watches {
		w.Stop()
	}
	wg.Wait()
	killedAt := time.Now()
	o.killed = killedBySignal(cmd)
	if !o.killed && waitErr != nil {
		o.err = fmt.Errorf("the command failed before the kill: %v\n%s", waitErr, out)
		return o
	}
	o.where = where(ctx, r.ns, cmd, prevRev+1, gen, o.killed)

	// The next command, with other values: refused while the dead client's
	// lock lives, then it must succeed.
	deadline := killedAt.Add(lockTTL + 30*time.Second)
	for {
		began := time.Now()
		next, out := r.upgrade(ctx, gen+1)
		err := next.Run()
		if err == nil {
			o.blocked, o.total = began.Sub(killedAt), time.Since(killedAt)
			o.applied = appliedLine(out.String())
			break
		}
		if !strings.Contains(out.String(), "is locked by") {
			o.err, o.fatal = fmt.Errorf("the next upgrade failed: %v\n%s", err, out), true
			return o
		}
		if time.Now().After(deadline) {
			o.err, o.fatal = fmt.Errorf("the next upgrade was still refused %s after the kill: %s", time.Since(killedAt).Round(time.Millisecond), out), true
			return o
		}
		o.refused++
		time.Sleep(200 * time.Millisecond)
	}
	var errs []error
	// The lock expires at most one TTL after the kill; allow for one refused
	// attempt in flight and the pause between attempts.
	if limit := lockTTL + 2*time.Second; o.blocked > limit {
		errs = append(errs, fmt.Errorf("the next upgrade started only %s after the kill, want < TTL + 2s = %s", o.blocked.Round(time.Millisecond), limit))
	}
	if err := checkConsistent(ctx, r.ns, gen+1); err != nil {
		errs = append(errs, err)
	}
	o.err = errors.Join(errs...)
	return o
}

// where says where the killed command was, from the cluster: its lock, its
// revision record (revision rev) and which objects it had written.
func where(ctx context.Context, ns string, cmd *exec.Cmd, rev, gen int, killed bool) string {
	s := store()
	head, err := s.Head(ctx, ns, rel)
	if errors.Is(err, release.ErrNotFound) {
		return "before the lock (no release yet)"
	}
	if err != nil {
		return "unknown: " + err.Error()
	}
	mine := head.Lock != nil && strings.Contains(head.Lock.Holder, fmt.Sprintf("(pid %d)", cmd.Process.Pid))
	record, err := s.Revision(ctx, ns, rel, rev)
	if err != nil && !errors.Is(err, release.ErrNotFound) {
		return "unknown: " + err.Error()
	}
	live, err := ownedObjects(ctx, ns)
	if err != nil {
		return "unknown: " + err.Error()
	}
	written, leftovers := 0, 0
	for _, o := range live {
		switch {
		case o.gen == strconv.Itoa(gen):
			written++
		case strings.HasPrefix(o.key, "ConfigMap/gen-"):
			leftovers++ // ConfigMaps of earlier gens: pruned at the end
		}
	}
	objects := fmt.Sprintf("%d/%d written", written, objectsPerGen)
	switch {
	case !killed:
		return "ended before the kill"
	case record == nil && !mine:
		return "before the lock"
	case record == nil:
		return "locked, before the revision record"
	case head.Revision < rev:
		return "record written, before the union inventory"
	case record.Status.IsPending() && written == 0:
		return "union inventory written, before the first apply"
	case record.Status.IsPending() && written < objectsPerGen:
		return "applying (" + objects + ")"
	case record.Status.IsPending() && leftovers > 0:
		return fmt.Sprintf("applied, waiting for the rollout or pruning (%d to prune)", leftovers)
	case record.Status.IsPending():
		return "pruned, before recording deployed"
	case head.Deployed < rev && head.Deployed > 0:
		if prev, err := s.Revision(ctx, ns, rel, head.Deployed); err == nil && prev.Status == release.StatusDeployed {
			return fmt.Sprintf("record %s, previous not yet superseded", record.Status)
		}
		return fmt.Sprintf("record %s, previous superseded, before the head", record.Status)
	case head.Deployed < rev:
		return fmt.Sprintf("record %s, before the head", record.Status)
	case mine:
		return "finished, before the unlock"
	default:
		return "unlocked, before exiting"
	}
}

func appliedLine(out string) string {
	for line := range strings.SplitSeq(out, "\n") {
		if rest, ok := strings.CutPrefix(line, "APPLIED: "); ok {
			return rest
		}
	}
	return "-"
}

func logOutcomes(t *testing.T, outcomes []outcome) {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "KILL\tON\tAT\tWHERE IT WAS\tREFUSED\tNEXT STARTED\tNEXT DONE\tNEXT APPLIED\tCHECK")
	byWhere := map[string]int{}
	for _, o := range outcomes {
		check := "ok"
		if o.err != nil {
			check = "FAILED"
		}
		kind, _, _ := strings.Cut(o.where, " (")
		byWhere[kind]++
		at := "-"
		if o.killed {
			at = o.at.Round(time.Millisecond).String()
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t+%s\t+%s\t%s\t%s\n", o.n, o.trigger, at, o.where, o.refused,
			o.blocked.Round(100*time.Millisecond), o.total.Round(100*time.Millisecond), o.applied, check)
	}
	tw.Flush()
	t.Logf("kill points (lock TTL %s):\n%s", lockTTL, b.String())
	keys := make([]string, 0, len(byWhere))
	for k := range byWhere {
		keys = append(keys, fmt.Sprintf("%s: %d", k, byWhere[k]))
	}
	slices.Sort(keys)
	t.Logf("where the kills landed: %s", strings.Join(keys, "; "))
}
