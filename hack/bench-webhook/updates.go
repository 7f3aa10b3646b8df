package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kubectl-chart/kubectl-chart/internal/webhook"
	"github.com/kubectl-chart/kubectl-chart/pkg/ownership"
)

// series is what one kind of request gave over one or more phases.
type series struct {
	lat []time.Duration
	// sent counts the requests, failed those without the expected answer (err is the first), delayed those
	// that waited for a free slot (their latency counts from when they were due).
	sent, failed, delayed int
	err                   error
	// calls is the requests the webhook answered meanwhile; cpu the CPU time of the webhook and of the
	// control plane meanwhile.
	calls float64
	// conns is the connections the webhook accepted meanwhile (TLS handshakes), where known.
	conns                float64
	webhookCPU, planeCPU time.Duration
	// hist is the increase of the webhook's cumulative request duration buckets meanwhile (upper bound →
	// count), reasons the increase of its decisions by reason.
	hist, reasons map[string]float64
}

func (s *series) merge(o series) {
	s.lat = append(s.lat, o.lat...)
	s.sent += o.sent
	s.failed += o.failed
	s.delayed += o.delayed
	if s.err == nil {
		s.err = o.err
	}
	s.calls += o.calls
	s.conns += o.conns
	s.webhookCPU += o.webhookCPU
	s.planeCPU += o.planeCPU
	s.hist = addCounts(s.hist, o.hist)
	s.reasons = addCounts(s.reasons, o.reasons)
}

// reached is the share of the requests that reached the webhook, in percent ("-" without requests).
func (s series) reached() string {
	if s.sent == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", 100*s.calls/float64(s.sent))
}

// handlerQuantile is the upper bound of the webhook's duration bucket holding quantile q of the handler's
// times counted in s (the increases of cumulative buckets add up to cumulative buckets).
func (s series) handlerQuantile(q float64) float64 {
	var bs []bucket
	for k, n := range s.hist {
		if le, err := strconv.ParseFloat(k, 64); err == nil {
			bs = append(bs, bucket{le: le, count: n})
		}
	}
	slices.SortFunc(bs, func(a, b bucket) int { return cmp.Compare(a.le, b.le) })
	return histogramQuantile(q, nil, bs)
}

// decisions lists the reasons of the webhook's decisions counted in s, most frequent first.
func (s series) decisions() string {
	var out []string
	for _, r := range slices.SortedFunc(maps.Keys(s.reasons), func(a, b string) int {
		return cmp.Or(cmp.Compare(s.reasons[b], s.reasons[a]), cmp.Compare(a, b))
	}) {
		if s.reasons[r] > 0 {
			out = append(out, fmt.Sprintf("%s %.0f", r, s.reasons[r]))
		}
	}
	if len(out) == 0 {
		return "none"
	}
	return strings.Join(out, ", ")
}

// addCounts adds the counts of b to a (made when nil).
func addCounts(a, b map[string]float64) map[string]float64 {
	if a == nil && len(b) > 0 {
		a = map[string]float64{}
	}
	for k, v := range b {
		a[k] += v
	}
	return a
}

// openLoop sends requests at rate per second for d, open loop: each is due at its time whatever the others
// do, with at most inFlight outstanding. do(ctx, i) sends request i and returns nil when the answer is the
// expected one. Latency counts from the send, or from when the request was due if it had to wait for a slot.
func openLoop(ctx context.Context, rate float64, d time.Duration, inFlight int, do func(ctx context.Context, i int) error) series {
	n := int(rate * d.Seconds())
	period := time.Duration(float64(time.Second) / rate)
	sem := make(chan struct{}, inFlight)
	var (
		mu sync.Mutex
		wg sync.WaitGroup
		s  = series{lat: make([]time.Duration, 0, n)}
	)
	start := time.Now()
	for i := 0; i < n && ctx.Err() == nil; i++ {
		due := start.Add(time.Duration(i) * period)
		if wait := time.Until(due); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				continue
			case <-t.C:
			}
		}
		begin := time.Now()
		select {
		case sem <- struct{}{}:
		default:
			begin = due
			mu.Lock()
			s.delayed++
			mu.Unlock()
			sem <- struct{}{}
		}
		wg.Add(1)
		go func(i int, begin time.Time) {
			defer wg.Done()
			err := do(ctx, i)
			took := time.Since(begin)
			<-sem
			mu.Lock()
			defer mu.Unlock()
			s.sent++
			if err != nil {
				s.failed++
				if s.err == nil {
					s.err = err
				}
				return
			}
			s.lat = append(s.lat, took)
		}(i, begin)
	}
	wg.Wait()
	return s
}

// updateLoad is the owned objects updated in turn and the webhook configuration switched on and off.
type updateLoad struct {
	c         *cluster
	wh        *webhookProcess
	ns        string
	release   string
	pool      []string
	probe     string
	seq       atomic.Int64
	hookOn    bool
	planePIDs []int

	// annotated is the annotations newAnnotation added since the last tidy, by object.
	mu        sync.Mutex
	annotated map[string][]string

	// profileDir (-apiserver-profile), if set, receives CPU profiles of the API server (profiles lists the ones
	// written); profileNext, when set, is the file of one to take during the next phase.
	profileDir  string
	profileNext string
	profiles    []apiserverProfile
}

// profileFor is the file of the API server's profile to take during a phase of w (with the webhook when on):
// the first such phase of each, when -apiserver-profile is set; "" otherwise.
func (l *updateLoad) profileFor(w *workload, on bool) string {
	if l.profileDir == "" {
		return ""
	}
	path := filepath.Join(l.profileDir, strings.ReplaceAll(w.name, " ", "-")+"-"+withWithout(on)+".pprof")
	if slices.ContainsFunc(l.profiles, func(p apiserverProfile) bool { return p.path == path }) {
		return ""
	}
	return path
}

// apiserverProfile is a CPU profile of the API server written during one phase.
type apiserverProfile struct {
	path    string
	seconds int
	sent    int
	calls   float64
}

// startProfile starts a CPU profile of the API server of secs seconds, written to path; wait returns once
// it is written.
func (l *updateLoad) startProfile(ctx context.Context, path string, secs int) (wait func() error) {
	done := make(chan error, 1)
	go func() {
		b, err := l.c.admin.cs.CoreV1().RESTClient().Get().AbsPath("/debug/pprof/profile").
			Param("seconds", strconv.Itoa(secs)).DoRaw(ctx)
		if err == nil {
			err = os.WriteFile(path, b, 0o644)
		}
		if err != nil {
			err = fmt.Errorf("profile of the API server: %w", err)
		}
		done <- err
	}()
	return func() error { return <-done }
}

// annotationPrefix starts the keys of the annotations newAnnotation adds.
const annotationPrefix = "bench.kubectl-chart.io/new-"

// newAnnotation is a merge patch by alice that adds an annotation of a key the object has never had (a new
// key each time) to an owned ConfigMap and changes nothing else: a write that the validating webhook's
// matchConditions may let the API server answer without calling the webhook. When it is called, the webhook
// decodes it, reads the release's head from its cache, reads the fields kubectl-chart owns from managedFields,
// finds none changed and allows it (NotOwned). tidyAnnotations removes the keys after each phase, so that the
// objects do not grow from phase to phase.
func (l *updateLoad) newAnnotation(ctx context.Context, i int) error {
	name := l.pool[i%len(l.pool)]
	key := fmt.Sprintf("%s%d", annotationPrefix, l.seq.Add(1))
	l.mu.Lock()
	if l.annotated == nil {
		l.annotated = map[string][]string{}
	}
	l.annotated[name] = append(l.annotated[name], key)
	l.mu.Unlock()
	p := fmt.Appendf(nil, `{"metadata":{"annotations":{%q:"x"}}}`, key)
	_, err := l.c.alice.cs.CoreV1().ConfigMaps(l.ns).Patch(ctx, name, types.MergePatchType, p, metav1.PatchOptions{FieldManager: "bench"})
	if err != nil {
		return fmt.Errorf("ConfigMap/%s/%s: annotate: %w", l.ns, name, err)
	}
	return nil
}

// tidyAnnotations removes the annotations newAnnotation added, one merge patch per object (untimed, between
// phases).
func (l *updateLoad) tidyAnnotations(ctx context.Context) error {
	l.mu.Lock()
	added := l.annotated
	l.annotated = nil
	l.mu.Unlock()
	for _, name := range slices.Sorted(maps.Keys(added)) {
		remove := map[string]any{}
		for _, k := range added[name] {
			remove[k] = nil
		}
		p, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": remove}})
		if err != nil {
			return err
		}
		if _, err := l.c.alice.cs.CoreV1().ConfigMaps(l.ns).Patch(ctx, name, types.MergePatchType, p, metav1.PatchOptions{FieldManager: "bench"}); err != nil {
			return fmt.Errorf("ConfigMap/%s/%s: remove the benchmark's annotations: %w", l.ns, name, err)
		}
	}
	return nil
}

// unownedDataKey is a merge patch by alice of a data key that the release's manifest does not hold
// (data.bench-extra) on an owned ConfigMap: not only labels or annotations, so the API server calls the
// webhook, which finds no field kubectl-chart owns changed and allows it (NotOwned).
func (l *updateLoad) unownedDataKey(ctx context.Context, i int) error {
	name := l.pool[i%len(l.pool)]
	p := fmt.Appendf(nil, `{"data":{"bench-extra":"%d"}}`, l.seq.Add(1))
	_, err := l.c.alice.cs.CoreV1().ConfigMaps(l.ns).Patch(ctx, name, types.MergePatchType, p, metav1.PatchOptions{FieldManager: "bench"})
	if err != nil {
		return fmt.Errorf("ConfigMap/%s/%s: set data.bench-extra: %w", l.ns, name, err)
	}
	return nil
}

// deniedUpdate is alice changing a field the release owns (data.k): the webhook denies it, after reading the
// head once more from the API server, and records an Event on the head.
func (l *updateLoad) deniedUpdate(ctx context.Context, i int) error {
	name := l.pool[i%len(l.pool)]
	p := fmt.Appendf(nil, `{"data":{"k":"edited-%d"}}`, l.seq.Add(1))
	_, err := l.c.alice.cs.CoreV1().ConfigMaps(l.ns).Patch(ctx, name, types.MergePatchType, p, metav1.PatchOptions{FieldManager: "kubectl-edit"})
	switch {
	case err == nil:
		return fmt.Errorf("ConfigMap/%s/%s: a change of an owned field was allowed: %w", l.ns, name, errUnexpected)
	case !apierrors.IsForbidden(err):
		return fmt.Errorf("ConfigMap/%s/%s: edit: %w", l.ns, name, err)
	}
	return nil
}

// setHook installs (on) or deletes both webhook configurations and waits until the API server acts on them:
// an update of the probe object reaches the validating webhook and a dry-run update of the release's head the
// mutating one (on), or neither does (off). The probes change a data key (not only labels or annotations,
// which matchConditions may keep from the webhook).
func (l *updateLoad) setHook(ctx context.Context, on bool) error {
	admission := l.c.admin.cs.AdmissionregistrationV1()
	mutating, validating := admission.MutatingWebhookConfigurations(), admission.ValidatingWebhookConfigurations()
	if on != l.hookOn {
		hooks := cleanHooks(l.c.hooks)
		var errs []error
		if on {
			_, err := mutating.Create(ctx, hooks.mutating, metav1.CreateOptions{})
			errs = append(errs, err)
			_, err = validating.Create(ctx, hooks.validating, metav1.CreateOptions{})
			errs = append(errs, err)
		} else {
			errs = append(errs, validating.Delete(ctx, hooks.validating.Name, metav1.DeleteOptions{}),
				mutating.Delete(ctx, hooks.mutating.Name, metav1.DeleteOptions{}))
		}
		if err := errors.Join(errs...); err != nil {
			return fmt.Errorf("webhook configurations %s: %w", hooks.mutating.Name, err)
		}
		l.hookOn = on
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		before, err := l.wh.scrape(ctx)
		if err != nil {
			return err
		}
		p := fmt.Appendf(nil, `{"data":{"bench-probe":"%d"}}`, l.seq.Add(1))
		if _, err := l.c.alice.cs.CoreV1().ConfigMaps(l.ns).Patch(ctx, l.probe, types.MergePatchType, p, metav1.PatchOptions{FieldManager: "bench"}); err != nil {
			return fmt.Errorf("probe: %w", err)
		}
		// The head carries the record label: the mutating webhook is called for it. A dry run changes nothing
		// (the validating webhook denies it: alice does not run the release's operation).
		_, err = l.c.alice.cs.CoreV1().ConfigMaps(l.ns).Patch(ctx, ownership.HeadName(l.release), types.MergePatchType, p,
			metav1.PatchOptions{FieldManager: "bench", DryRun: []string{metav1.DryRunAll}})
		if err != nil && !apierrors.IsForbidden(err) {
			return fmt.Errorf("probe of the head: %w", err)
		}
		after, err := l.wh.scrape(ctx)
		if err != nil {
			return err
		}
		validated := after.sum(webhook.MetricRequests) > before.sum(webhook.MetricRequests)
		stamped := after.webhookRequests(webhook.PathMutate) > before.webhookRequests(webhook.PathMutate)
		if validated == on && stamped == on {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the API server did not act on the webhook configurations being %s within 30 s (validating webhook called: %v, mutating: %v)",
				onOff(on), validated, stamped)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// phase sends requests (do) at rate for d with the webhook on or off and counts the webhook's calls, its
// handler's times and decisions, and the CPU time meanwhile. The webhook's metrics are scraped outside the
// interval whose CPU time is counted (CPU times read after the scrape before the load, and after the load
// before the scrape): serving /metrics costs the webhook CPU too, and is no part of the calls it answers.
func (l *updateLoad) phase(ctx context.Context, opts options, on bool, rate float64, d time.Duration, do func(context.Context, int) error) (series, error) {
	if err := l.setHook(ctx, on); err != nil {
		return series{}, err
	}
	before, err := l.wh.scrape(ctx)
	if err != nil {
		return series{}, err
	}
	var waitProfile func() error
	var profile apiserverProfile
	if l.profileNext != "" {
		profile = apiserverProfile{path: l.profileNext, seconds: max(1, int((d-time.Second)/time.Second))}
		l.profileNext = ""
		waitProfile = l.startProfile(ctx, profile.path, profile.seconds)
	}
	wcpu, pcpu := cpuTime(l.wh.pid()), cpuTime(l.planePIDs...)
	s := openLoop(ctx, rate, d, opts.inFlight, do)
	s.webhookCPU, s.planeCPU = cpuTime(l.wh.pid())-wcpu, cpuTime(l.planePIDs...)-pcpu
	if waitProfile != nil {
		if err := waitProfile(); err != nil {
			return series{}, err
		}
	}
	after, err := l.wh.scrape(ctx)
	if err != nil {
		return series{}, err
	}
	s.calls = after.sum(webhook.MetricRequests) - before.sum(webhook.MetricRequests)
	if waitProfile != nil {
		profile.sent, profile.calls = s.sent, s.calls
		l.profiles = append(l.profiles, profile)
	}
	s.hist = countsDelta(before.histogramCounts(webhook.MetricDuration), after.histogramCounts(webhook.MetricDuration))
	s.reasons = countsDelta(before.decisionReasons(), after.decisionReasons())
	return s, ctx.Err()
}

// workload is one kind of allowed update of section 2, with what its phases gave.
type workload struct {
	name string
	do   func(context.Context, int) error
	// reaches: the API server calls the webhook for every update of a with phase (fewer calls are reported
	// as a fault); otherwise it may skip them (matchConditions), and the share that reached it is reported.
	reaches bool
	// tidy, if set, undoes what a phase's updates added, after the phase (untimed).
	tidy func(context.Context) error

	with, without series
	// pairs is the added p99 (with − without) of each pair of adjacent phases of the workload, one each
	// way; open the p99 of the phase of a pair under way.
	pairs []time.Duration
	open  *pairHalf
	// leaks are the phases whose webhook calls did not match the updates.
	leaks []string
}

type pairHalf struct {
	on  bool
	p99 time.Duration
}

// fresh is a workload of the same updates with nothing measured yet.
func (w *workload) fresh() *workload {
	return &workload{name: w.name, do: w.do, reaches: w.reaches, tidy: w.tidy}
}

// record adds a phase's series; every second phase closes a pair.
func (w *workload) record(on bool, s series) {
	p99 := percentile(s.lat, 0.99)
	if on {
		w.with.merge(s)
	} else {
		w.without.merge(s)
	}
	switch {
	case w.open == nil:
		w.open = &pairHalf{on: on, p99: p99}
	case w.open.on != on:
		if on {
			w.pairs = append(w.pairs, p99-w.open.p99)
		} else {
			w.pairs = append(w.pairs, w.open.p99-p99)
		}
		w.open = nil
	default: // two phases the same way in a row: the schedule does not do that
		w.open = &pairHalf{on: on, p99: p99}
	}
}

// addedP99 is the p99 with the webhook minus the p99 without it over all phases, and the median of the
// per-pair figures (the figure the target is checked on: a burst of other work on the machine moves one
// pair, not the median).
func (w *workload) addedP99() (all, perPair time.Duration) {
	return percentile(w.with.lat, 0.99) - percentile(w.without.lat, 0.99), median(w.pairs)
}

// pairLevel is the level of the bootstrap interval printed beside each median per pair.
const pairLevel = 0.90

// addedP99Interval is the pairLevel bootstrap interval of the median per pair (medianInterval).
func (w *workload) addedP99Interval() (lo, hi time.Duration) {
	return medianInterval(w.pairs, pairLevel)
}

// medianInterval is a bootstrap interval of the median of ds at level (0.90: the 5th and 95th percentiles of
// the medians of 4,000 resamples of ds with replacement). It says how far the median per pair moves with
// other moments of the same machine: a target inside the interval is one the run cannot decide either way.
// The seed is fixed, so the interval of a run can be computed again from its printed pairs.
func medianInterval(ds []time.Duration, level float64) (lo, hi time.Duration) {
	if len(ds) == 0 {
		return 0, 0
	}
	const resamples = 4000
	r := rand.New(rand.NewPCG(1, 2))
	medians := make([]time.Duration, resamples)
	sample := make([]time.Duration, len(ds))
	for i := range medians {
		for j := range sample {
			sample[j] = ds[r.IntN(len(ds))]
		}
		medians[i] = median(sample)
	}
	slices.Sort(medians)
	at := func(q float64) time.Duration { return medians[min(resamples-1, int(q*resamples))] }
	return at((1 - level) / 2), at((1 + level) / 2)
}

// verdict says where the interval [lo, hi] lies against target: below it, above it, or across it.
func verdict(lo, hi, target time.Duration) string {
	switch {
	case hi < target:
		return "below the target beyond this run's noise"
	case lo >= target:
		return "above the target beyond this run's noise"
	default:
		return "the target lies within this run's noise"
	}
}

// intervalText is "[lo, hi]" in signed milliseconds.
func intervalText(lo, hi time.Duration) string { return "[" + signedMs(lo) + ", " + signedMs(hi) + "]" }

// step is one phase of a schedule: a workload with the webhook on or off.
type step struct {
	w  *workload
	on bool
}

// schedule is the order of the phases of blocks blocks. Each workload's with and without phases come in
// adjacent pairs, so that each per-pair check compares phases seconds apart; the order within a pair
// alternates from block to block (with, without | without, with: a steady drift of the machine's load
// cancels out of both series); and with two workloads (b not nil) each block runs a's pair and b's, which
// of them first alternating too:
//
//	a-with, a-without, b-without, b-with | b-with, b-without, a-without, a-with | …
//
// so that both see the same moments of the run alike. The webhook configurations change twice per block.
func schedule(a, b *workload, blocks int) []step {
	var out []step
	for j := range blocks {
		if b == nil {
			if j%2 == 0 {
				out = append(out, step{a, true}, step{a, false})
			} else {
				out = append(out, step{a, false}, step{a, true})
			}
			continue
		}
		if j%2 == 0 {
			out = append(out, step{a, true}, step{a, false}, step{b, false}, step{b, true})
		} else {
			out = append(out, step{b, true}, step{b, false}, step{a, false}, step{a, true})
		}
	}
	return out
}

// runSchedule runs the phases of steps, each of length d at opts.rate, and records them in their workloads.
func (l *updateLoad) runSchedule(ctx context.Context, opts options, steps []step, d time.Duration, label string, stderr io.Writer, sum *summary) error {
	for i, st := range steps {
		l.profileNext = l.profileFor(st.w, st.on)
		s, err := l.phase(ctx, opts, st.on, opts.rate, d, st.w.do)
		if err != nil {
			return err
		}
		sum.sawLoad()
		progress(stderr, "%s: phase %2d/%d %-16s %-7s the webhook: %d sent, p50 %s p99 %s, webhook calls %.0f; load %s", label, i+1, len(steps),
			st.w.name+",", withWithout(st.on), s.sent, ms(percentile(s.lat, 0.5)), ms(percentile(s.lat, 0.99)), s.calls, loadAverage())
		if want := float64(s.sent); st.on && st.w.reaches && s.calls < want || !st.on && s.calls != 0 {
			st.w.leaks = append(st.w.leaks, fmt.Sprintf("%s phase %d (%s, %s the webhook): %d updates, %.0f webhook calls",
				label, i+1, st.w.name, withWithout(st.on), s.sent, s.calls))
		}
		st.w.record(st.on, s)
		if st.w.tidy != nil {
			if err := st.w.tidy(ctx); err != nil {
				return err
			}
		}
	}
	return nil
}

// benchUpdates measures updates through the API server with and without the webhook, in alternating phases:
// two kinds of allowed update (a new annotation, which the API server may answer without the webhook, and an
// unowned data key, which reaches it), the denied updates for information, then the second again with the
// API server and etcd pinned to one CPU and the webhook to another, when the machine allows it.
func benchUpdates(ctx context.Context, opts options, c *cluster, wh *webhookProcess, stdout, stderr io.Writer, sum *summary) error {
	const ns, name = "bench-e2e", "e2e"
	progress(stderr, "updates: installing release %s with %d ConfigMaps in namespace %s …", name, opts.pool+1, ns)
	if err := namespace(ctx, c.admin.cs, ns); err != nil {
		return err
	}
	l := &updateLoad{c: c, wh: wh, ns: ns, release: name, probe: "probe", hookOn: true, planePIDs: c.env.PIDs(), profileDir: opts.apiserverProfile}
	if l.profileDir != "" {
		if err := os.MkdirAll(l.profileDir, 0o755); err != nil {
			return err
		}
	}
	objs := []object{configMap(l.probe, map[string]any{"k": "v"})}
	for i := range opts.pool {
		n := fmt.Sprintf("cm-%03d", i)
		l.pool = append(l.pool, n)
		objs = append(objs, configMap(n, map[string]any{"k": "v", "mode": "production"}))
	}
	if err := c.deployer.install(ctx, ns, name, objs); err != nil {
		return err
	}
	annotation := &workload{name: "new annotation", do: l.newAnnotation, tidy: l.tidyAnnotations}
	dataKey := &workload{name: "unowned data key", do: l.unownedDataKey, reaches: true}

	phases := int(math.Ceil(opts.duration.Seconds() / opts.phase.Seconds()))
	progress(stderr, "updates: %.0f/s open loop, for each of 2 workloads %d phases of %s with and %d without the webhook, interleaved, after a warm-up of each …",
		opts.rate, phases, opts.phase, phases)
	warm := min(opts.phase, 2*time.Second)
	for _, w := range []*workload{annotation, dataKey} {
		for _, on := range []bool{true, false} {
			s, err := l.phase(ctx, opts, on, opts.rate, warm, w.do)
			if err != nil {
				return err
			}
			if s.failed > 0 {
				return fmt.Errorf("warm-up (%s) %s the webhook: %d of %d updates failed: %w", w.name, withWithout(on), s.failed, s.sent, s.err)
			}
			if w.tidy != nil {
				if err := w.tidy(ctx); err != nil {
					return err
				}
			}
		}
	}
	if err := l.runSchedule(ctx, opts, schedule(annotation, dataKey, phases), opts.phase, "updates", stderr, sum); err != nil {
		return err
	}

	var denied series
	if opts.deniedRate > 0 {
		progress(stderr, "updates: %.0f/s denied updates for %s …", opts.deniedRate, opts.deniedDuration)
		var err error
		if denied, err = l.phase(ctx, opts, true, opts.deniedRate, opts.deniedDuration, l.deniedUpdate); err != nil {
			return err
		}
	}
	if err := l.setHook(ctx, true); err != nil {
		return err
	}

	fmt.Fprintf(stdout, "2. UPDATES THROUGH THE API SERVER, WITH AND WITHOUT THE WEBHOOK (merge patches by another user on %d owned\n"+
		"   ConfigMaps, two workloads: a NEW ANNOTATION, of a key the object never had, which the validating webhook's\n"+
		"   matchConditions may let the API server answer without calling the webhook, and an UNOWNED DATA KEY\n"+
		"   (data.bench-extra, not in the release's manifest), which reaches the webhook; it allows both (NotOwned).\n"+
		"   %.0f/s open loop, at most %d in flight, %s in all for each workload each way, in phases of %s interleaved\n"+
		"   a-with, a-without, b-without, b-with, then the reverse; both webhook configurations deleted for the phases\n"+
		"   without it)\n",
		opts.pool, opts.rate, opts.inFlight, time.Duration(phases)*opts.phase, opts.phase)
	var extra []labelled
	if denied.sent > 0 {
		extra = append(extra, labelled{fmt.Sprintf("denied (%.0f/s, %s; info)", opts.deniedRate, opts.deniedDuration), denied})
	}
	printUpdates(stdout, []*workload{annotation, dataKey}, "", extra...)
	fmt.Fprintln(stdout, "   (REACHED: webhook calls ÷ updates, from the webhook's request counter read around each phase; above 100% when")
	fmt.Fprintln(stdout, "   the API server retried patches that met a concurrent write to the same object, admitting them again. WEBHOOK")
	fmt.Fprintln(stdout, "   CPU/CALL: its process's CPU time over its calls, the scrapes of its /metrics left out; API SERVER+ETCD")
	fmt.Fprintln(stdout, "   CPU/UPDATE: theirs over the updates sent (matchConditions are evaluated there), both from /proc)")
	for _, p := range l.profiles {
		fmt.Fprintf(stdout, "   API server CPU profile %s: %ds of a phase of %d updates and %.0f webhook calls\n", p.path, p.seconds, p.sent, p.calls)
	}
	if len(l.profiles) > 0 {
		fmt.Fprintln(stdout, "   (go tool pprof -top -cum FILE; per update: a function's seconds over the updates of its phase)")
	}
	for _, w := range []*workload{annotation, dataKey} {
		_, perPair := w.addedP99()
		lo, hi := w.addedP99Interval()
		sum.add("added p99 of an update through the API server, "+w.name+" (median per pair; its 90% interval)", signedMs(perPair)+" "+intervalText(lo, hi), "< 5ms", perPair < targetAddedP99)
		sum.info("share of the "+w.name+" updates that reached the webhook", w.with.reached())
		if w.with.calls > 0 {
			cpu := perCallDuration(w.with.webhookCPU, w.with.calls)
			sum.add("webhook CPU per allowed call, "+w.name, us(cpu), "≤ 250µs", cpu <= targetCPUPerAllow)
		} else {
			sum.info("webhook CPU per allowed call, "+w.name, "- (no calls)")
		}
	}
	if denied.calls > 0 {
		cpu := perCallDuration(denied.webhookCPU, denied.calls)
		sum.add("webhook CPU per denial (its Event and log line included)", us(cpu), "≤ 500µs", cpu <= targetCPUPerDenial)
	}
	var failed []series
	for _, w := range []*workload{annotation, dataKey} {
		failed = append(failed, w.without, w.with)
	}
	failed = append(failed, denied)
	reportFaults(stdout, []*workload{annotation, dataKey}, failed, sum)
	fmt.Fprintln(stdout)
	if err := benchFloor(ctx, opts, l, dataKey, stdout, stderr, sum); err != nil {
		return err
	}
	return benchPinned(ctx, opts, l, dataKey, stdout, stderr, sum)
}

// reportFaults prints the leaks of the workloads and the failed requests of the series, and counts them in
// sum.
func reportFaults(stdout io.Writer, ws []*workload, ss []series, sum *summary) {
	for _, w := range ws {
		for _, leak := range w.leaks {
			fmt.Fprintf(stdout, "   ✗ %s\n", leak)
		}
		if len(w.leaks) > 0 {
			sum.failed++
		}
	}
	for _, s := range ss {
		if s.failed > 0 {
			fmt.Fprintf(stdout, "   ✗ %d requests failed, the first: %v\n", s.failed, s.err)
			sum.failed += s.failed
		}
	}
}

// labelled is a series with the label of its row.
type labelled struct {
	label string
	s     series
}

// updateRow prints a series as a row of an updates table.
func updateRow(tw *tabwriter.Writer, label string, s series) {
	fmt.Fprintf(tw, "   %s\t%d\t%s\t%s\t%s\t%s\t%d\t%d\t%.0f\t%s\t%s\t%s\n", label, s.sent,
		ms(percentile(s.lat, 0.5)), ms(percentile(s.lat, 0.9)), ms(percentile(s.lat, 0.99)), ms(percentile(s.lat, 1)),
		s.failed, s.delayed, s.calls, s.reached(), perCall(s.webhookCPU, s.calls), perCall(s.planeCPU, float64(s.sent)))
}

// printUpdates prints the rows of the workloads (without, with, added), then the extra rows, and under the
// table, for each workload, the per-pair check of its added p99 against the target, the share that reached the
// webhook, and the handler's own time and decisions in its with phases. prefix starts the labels.
func printUpdates(stdout io.Writer, ws []*workload, prefix string, extra ...labelled) {
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "   \tUPDATES\tp50\tp90\tp99\tmax\tFAILED\tDELAYED\tWEBHOOK CALLS\tREACHED\tWEBHOOK CPU/CALL\tAPI SERVER+ETCD CPU/UPDATE")
	for _, w := range ws {
		updateRow(tw, prefix+w.name+", without the webhook", w.without)
		updateRow(tw, prefix+w.name+", with the webhook", w.with)
		added := func(q float64) time.Duration { return percentile(w.with.lat, q) - percentile(w.without.lat, q) }
		fmt.Fprintf(tw, "   %s%s, added by the webhook\t\t%s\t%s\t%s\t\t\t\t\t\t\t\n", prefix, w.name, signedMs(added(0.5)), signedMs(added(0.9)), signedMs(added(0.99)))
	}
	for _, e := range extra {
		updateRow(tw, e.label, e.s)
	}
	tw.Flush()
	for _, w := range ws {
		all, perPairMedian := w.addedP99()
		var perPair []string
		for _, d := range w.pairs {
			perPair = append(perPair, signedMs(d))
		}
		fmt.Fprintf(stdout, "   %s%s: added p99 %s over all phases; per pair of adjacent phases (noise check): %s\n", prefix, w.name, signedMs(all), strings.Join(perPair, " "))
		lo, hi := w.addedP99Interval()
		fmt.Fprintf(stdout, "      target: median of the per-pair added p99 < 5ms: %s %s; %.0f%% bootstrap interval of that median over its %d pairs %s: %s\n",
			signedMs(perPairMedian), mark(perPairMedian < targetAddedP99), pairLevel*100, len(w.pairs), intervalText(lo, hi), verdict(lo, hi, targetAddedP99))
		fmt.Fprintf(stdout, "      reached the webhook: %s of the updates of the with phases (%.0f calls for %d updates)", w.with.reached(), w.with.calls, w.with.sent)
		if w.with.calls > 0 && len(w.with.hist) > 0 {
			fmt.Fprintf(stdout, "; its handler's own time (its %s buckets): p50 ≤ %s, p99 ≤ %s; decisions: %s",
				webhook.MetricDuration, bucketBound(w.with.handlerQuantile(0.5)), bucketBound(w.with.handlerQuantile(0.99)), w.with.decisions())
		}
		fmt.Fprintln(stdout)
	}
}

// percentiles returns the q-quantiles of ds (nearest rank); zero when ds is empty.
func percentiles(ds []time.Duration, qs ...float64) []time.Duration {
	out := make([]time.Duration, len(qs))
	if len(ds) == 0 {
		return out
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	for i, q := range qs {
		k := int(math.Ceil(q*float64(len(s)))) - 1
		out[i] = s[min(len(s)-1, max(0, k))]
	}
	return out
}

func percentile(ds []time.Duration, q float64) time.Duration { return percentiles(ds, q)[0] }

// median is the middle value of ds, the mean of the two middle ones when their number is even (zero when ds
// is empty).
func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(ds))
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func perCall(cpu time.Duration, n float64) string {
	if n <= 0 {
		return "-"
	}
	return us(time.Duration(float64(cpu) / n))
}

// bucketBound formats a histogram bucket's upper bound in seconds.
func bucketBound(le float64) string {
	if math.IsNaN(le) || math.IsInf(le, 0) {
		return fmt.Sprint(le)
	}
	return us(time.Duration(le * float64(time.Second)))
}

func withWithout(on bool) string {
	if on {
		return "with"
	}
	return "without"
}

func onOff(on bool) string {
	if on {
		return "installed"
	}
	return "deleted"
}
