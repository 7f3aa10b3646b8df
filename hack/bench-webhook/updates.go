package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
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
	calls                float64
	webhookCPU, planeCPU time.Duration
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
	s.webhookCPU += o.webhookCPU
	s.planeCPU += o.planeCPU
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
}

// allowedUpdate is a merge patch by alice of a new annotation on an owned ConfigMap: the webhook decodes it,
// reads the release's head from its cache, reads the fields kubectl-chart owns from managedFields, finds none
// changed and allows it.
func (l *updateLoad) allowedUpdate(ctx context.Context, i int) error {
	name := l.pool[i%len(l.pool)]
	p := fmt.Appendf(nil, `{"metadata":{"annotations":{"bench.kubectl-chart.io/seq":"%d"}}}`, l.seq.Add(1))
	_, err := l.c.alice.cs.CoreV1().ConfigMaps(l.ns).Patch(ctx, name, types.MergePatchType, p, metav1.PatchOptions{FieldManager: "bench"})
	if err != nil {
		return fmt.Errorf("ConfigMap/%s/%s: annotate: %w", l.ns, name, err)
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
// mutating one (on), or neither does (off).
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
		p := fmt.Appendf(nil, `{"metadata":{"annotations":{"bench.kubectl-chart.io/probe":"%d"}}}`, l.seq.Add(1))
		if _, err := l.c.alice.cs.CoreV1().ConfigMaps(l.ns).Patch(ctx, l.probe, types.MergePatchType, p, metav1.PatchOptions{FieldManager: "bench"}); err != nil {
			return fmt.Errorf("probe: %w", err)
		}
		// The head carries the record label: the mutating webhook is called for it. A dry run changes nothing
		// (the webhook may deny it: alice does not run the release's operation).
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

// phase sends requests (do) at rate for d with the webhook on or off and counts the webhook's calls and the
// CPU time meanwhile.
func (l *updateLoad) phase(ctx context.Context, opts options, on bool, rate float64, d time.Duration, do func(context.Context, int) error) (series, error) {
	if err := l.setHook(ctx, on); err != nil {
		return series{}, err
	}
	before, err := l.wh.calls(ctx)
	if err != nil {
		return series{}, err
	}
	wcpu, pcpu := cpuTime(l.wh.pid()), cpuTime(l.planePIDs...)
	s := openLoop(ctx, rate, d, opts.inFlight, do)
	s.webhookCPU, s.planeCPU = cpuTime(l.wh.pid())-wcpu, cpuTime(l.planePIDs...)-pcpu
	after, err := l.wh.calls(ctx)
	if err != nil {
		return series{}, err
	}
	s.calls = after - before
	return s, ctx.Err()
}

// benchUpdates measures updates through the API server with and without the webhook, in alternating phases.
func benchUpdates(ctx context.Context, opts options, c *cluster, wh *webhookProcess, stdout, stderr io.Writer, sum *summary) error {
	const ns, name = "bench-e2e", "e2e"
	progress(stderr, "updates: installing release %s with %d ConfigMaps in namespace %s …", name, opts.pool+1, ns)
	if err := namespace(ctx, c.admin.cs, ns); err != nil {
		return err
	}
	l := &updateLoad{c: c, wh: wh, ns: ns, release: name, probe: "probe", hookOn: true, planePIDs: c.env.PIDs()}
	objs := []object{configMap(l.probe, map[string]any{"k": "v"})}
	for i := range opts.pool {
		n := fmt.Sprintf("cm-%03d", i)
		l.pool = append(l.pool, n)
		objs = append(objs, configMap(n, map[string]any{"k": "v", "mode": "production"}))
	}
	if err := c.deployer.install(ctx, ns, name, objs); err != nil {
		return err
	}

	phases := int(math.Ceil(opts.duration.Seconds() / opts.phase.Seconds()))
	progress(stderr, "updates: %.0f/s open loop, %d phases of %s with and %d without the webhook, alternating, after a warm-up of each …",
		opts.rate, phases, opts.phase, phases)
	warm := min(opts.phase, 2*time.Second)
	for _, on := range []bool{true, false} {
		s, err := l.phase(ctx, opts, on, opts.rate, warm, l.allowedUpdate)
		if err != nil {
			return err
		}
		if s.failed > 0 {
			return fmt.Errorf("warm-up %s the webhook: %d of %d updates failed: %w", withWithout(on), s.failed, s.sent, s.err)
		}
	}
	histBefore, err := wh.scrape(ctx)
	if err != nil {
		return err
	}
	var with, without series
	var leaks []string // phases where the webhook's calls did not match the updates
	var pairs []time.Duration
	var p99With, p99Without time.Duration
	for i := range 2 * phases {
		on := i%4 == 0 || i%4 == 3 // with, without, without, with, …
		s, err := l.phase(ctx, opts, on, opts.rate, opts.phase, l.allowedUpdate)
		if err != nil {
			return err
		}
		sum.sawLoad()
		progress(stderr, "updates: phase %2d %-7s the webhook: %d sent, p50 %s p99 %s, webhook calls %.0f; load %s", i+1, withWithout(on), s.sent,
			ms(percentile(s.lat, 0.5)), ms(percentile(s.lat, 0.99)), s.calls, loadAverage())
		if want := float64(s.sent); on && s.calls < want || !on && s.calls != 0 {
			leaks = append(leaks, fmt.Sprintf("phase %d (%s): %d updates, %.0f webhook calls", i+1, withWithout(on), s.sent, s.calls))
		}
		if on {
			with.merge(s)
			p99With = percentile(s.lat, 0.99)
		} else {
			without.merge(s)
			p99Without = percentile(s.lat, 0.99)
		}
		if i%2 == 1 { // a pair of adjacent phases, one each way
			pairs = append(pairs, p99With-p99Without)
		}
	}

	histAfter, err := wh.scrape(ctx)
	if err != nil {
		return err
	}
	var denied series
	if opts.deniedRate > 0 {
		progress(stderr, "updates: %.0f/s denied updates for %s …", opts.deniedRate, opts.deniedDuration)
		if denied, err = l.phase(ctx, opts, true, opts.deniedRate, opts.deniedDuration, l.deniedUpdate); err != nil {
			return err
		}
	}
	if err := l.setHook(ctx, true); err != nil {
		return err
	}

	fmt.Fprintf(stdout, "2. UPDATES THROUGH THE API SERVER, WITH AND WITHOUT THE WEBHOOK (merge patches of a new annotation on %d owned\n"+
		"   ConfigMaps by another user: the webhook evaluates and allows each; %.0f/s open loop, at most %d in flight, %s in all\n"+
		"   each way in alternating phases of %s; both webhook configurations deleted for the phases without it)\n",
		opts.pool, opts.rate, opts.inFlight, time.Duration(phases)*opts.phase, opts.phase)
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "   \tUPDATES\tp50\tp90\tp99\tmax\tFAILED\tDELAYED\tWEBHOOK CALLS\tWEBHOOK CPU/CALL\tAPI SERVER+ETCD CPU/UPDATE")
	row := func(label string, s series) {
		fmt.Fprintf(tw, "   %s\t%d\t%s\t%s\t%s\t%s\t%d\t%d\t%.0f\t%s\t%s\n", label, s.sent,
			ms(percentile(s.lat, 0.5)), ms(percentile(s.lat, 0.9)), ms(percentile(s.lat, 0.99)), ms(percentile(s.lat, 1)),
			s.failed, s.delayed, s.calls, perCall(s.webhookCPU, s.calls), perCall(s.planeCPU, float64(s.sent)))
	}
	row("without the webhook", without)
	row("with the webhook", with)
	if denied.sent > 0 {
		row(fmt.Sprintf("denied (%.0f/s, %s; info)", opts.deniedRate, opts.deniedDuration), denied)
	}
	added := func(q float64) time.Duration { return percentile(with.lat, q) - percentile(without.lat, q) }
	addedP99 := added(0.99)
	fmt.Fprintf(tw, "   added by the webhook\t\t%s\t%s\t%s\t\t\t\t\t\t\n", signedMs(added(0.5)), signedMs(added(0.9)), signedMs(addedP99))
	tw.Flush()
	fmt.Fprintf(stdout, "   target: added p99 < 5ms: %s %s\n", signedMs(addedP99), mark(addedP99 < targetAddedP99))
	var perPair []string
	for _, d := range pairs {
		perPair = append(perPair, signedMs(d))
	}
	fmt.Fprintf(stdout, "   added p99 per pair of adjacent phases (noise check): %s; median %s\n", strings.Join(perPair, " "), signedMs(percentile(pairs, 0.5)))
	hb, ha := histBefore.histogram(webhook.MetricDuration), histAfter.histogram(webhook.MetricDuration)
	fmt.Fprintf(stdout, "   the handler's own time inside the webhook process meanwhile (its %s buckets): p50 ≤ %s, p99 ≤ %s\n",
		webhook.MetricDuration, bucketBound(histogramQuantile(0.5, hb, ha)), bucketBound(histogramQuantile(0.99, hb, ha)))
	for _, leak := range leaks {
		fmt.Fprintf(stdout, "   ✗ %s\n", leak)
	}
	for _, s := range []series{without, with, denied} {
		if s.failed > 0 {
			fmt.Fprintf(stdout, "   ✗ %d requests failed, the first: %v\n", s.failed, s.err)
			sum.failed += s.failed
		}
	}
	fmt.Fprintln(stdout)
	sum.add("added p99 of an update through the API server", signedMs(addedP99), "< 5ms", addedP99 < targetAddedP99)
	if len(leaks) > 0 {
		sum.failed++
	}
	return nil
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
