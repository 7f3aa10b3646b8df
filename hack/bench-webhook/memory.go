package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kubectl-chart/kubectl-chart/internal/webhook"
)

// memory is the webhook process's memory at one moment.
type memory struct {
	rss, hwm                  int64 // VmRSS, VmHWM
	heapInuse, heapAlloc, sys float64
	goroutines                float64
}

func readMemory(ctx context.Context, wh *webhookProcess) (memory, error) {
	st, err := procStatus(wh.pid(), "VmRSS", "VmHWM")
	if err != nil {
		return memory{}, err
	}
	m, err := wh.scrape(ctx)
	if err != nil {
		return memory{}, err
	}
	return memory{
		rss: st["VmRSS"], hwm: st["VmHWM"],
		heapInuse: m.value("go_memstats_heap_inuse_bytes"), heapAlloc: m.value("go_memstats_heap_alloc_bytes"),
		sys: m.value("go_memstats_sys_bytes"), goroutines: m.value("go_goroutines"),
	}, nil
}

// memRelease is a release of the memory figure.
type memRelease struct {
	ns, name string
	objs     []object
}

// memReleases spreads opts.objects over opts.releases releases in opts.namespaces namespaces: ConfigMaps and
// Secrets in turn, the first a ConfigMap with an owned data.k.
func memReleases(opts options) []memRelease {
	rs := make([]memRelease, opts.releases)
	per, extra := opts.objects/opts.releases, opts.objects%opts.releases
	for i := range rs {
		r := memRelease{ns: fmt.Sprintf("bench-mem-%03d", i%opts.namespaces), name: fmt.Sprintf("r%04d", i)}
		n := per
		if i < extra {
			n++
		}
		for j := range n {
			data := map[string]any{"k": fmt.Sprintf("value-%d-%d", i, j)}
			if j%2 == 0 {
				r.objs = append(r.objs, configMap(fmt.Sprintf("%s-config-%02d", r.name, j), data))
			} else {
				r.objs = append(r.objs, secret(fmt.Sprintf("%s-secret-%02d", r.name, j), data))
			}
		}
		rs[i] = r
	}
	return rs
}

// parallel runs f(i) for i < n on workers goroutines; it stops at the first error and returns it.
func parallel(ctx context.Context, n, workers int, f func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(workers, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := f(ctx, i); err != nil {
					cancel(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return ctx.Err()
}

// benchMemory installs the releases, waits until the webhook's cache holds every head, warms its caches and
// reads its memory.
func benchMemory(ctx context.Context, opts options, c *cluster, wh *webhookProcess, stdout, stderr io.Writer, sum *summary) error {
	idle, err := readMemory(ctx, wh)
	if err != nil {
		return err
	}
	rs := memReleases(opts)
	for i := range min(opts.namespaces, len(rs)) {
		if err := namespace(ctx, c.admin.cs, rs[i].ns); err != nil {
			return err
		}
	}
	progress(stderr, "memory: installing %d releases with %d objects in all, %d at a time …", len(rs), opts.objects, opts.workers)
	start := time.Now()
	var done atomic.Int64
	err = parallel(ctx, len(rs), opts.workers, func(ctx context.Context, i int) error {
		r := rs[i]
		if err := c.deployer.install(ctx, r.ns, r.name, r.objs); err != nil {
			return fmt.Errorf("release %s/%s: %w", r.ns, r.name, err)
		}
		if n := done.Add(1); n%100 == 0 {
			progress(stderr, "memory: %d releases installed (%s)", n, time.Since(start).Round(time.Second))
		}
		return nil
	})
	if err != nil {
		return err
	}
	installTime := time.Since(start)

	// Wait for the informer: a change of an owned field is denied only once the webhook's cache holds the
	// release's head with its inventory (without it, the object is not known to be owned). Dry runs: the
	// webhook records no Events for them.
	progress(stderr, "memory: installed in %s; a dry-run change of an owned field of each release until every one is denied …", installTime.Round(time.Second))
	start = time.Now()
	var retries atomic.Int64
	err = parallel(ctx, len(rs), opts.workers, func(ctx context.Context, i int) error {
		r, o := rs[i], rs[i].objs[0]
		for {
			p := fmt.Appendf(nil, `{"data":{"k":"edited-%d"}}`, i)
			_, err := c.alice.cs.CoreV1().ConfigMaps(r.ns).Patch(ctx, o.name, types.MergePatchType, p,
				metav1.PatchOptions{FieldManager: "kubectl-edit", DryRun: []string{metav1.DryRunAll}})
			switch {
			case apierrors.IsForbidden(err):
				return nil
			case err != nil:
				return fmt.Errorf("%s/%s/%s: dry-run edit: %w", o.kind, r.ns, o.name, err)
			case time.Since(start) > 2*time.Minute:
				return fmt.Errorf("%s/%s/%s: a change of an owned field is still allowed 2 minutes after the install: the webhook's cache lacks the head: %w",
					o.kind, r.ns, o.name, errUnexpected)
			}
			retries.Add(1)
			time.Sleep(100 * time.Millisecond)
		}
	})
	if err != nil {
		return err
	}
	syncTime := time.Since(start)
	// Warm: an allowed update of every release (another user sets a data key the release does not own: not
	// a new annotation, which the webhook configuration's matchConditions keep from the webhook).
	err = parallel(ctx, len(rs), opts.workers, func(ctx context.Context, i int) error {
		r, o := rs[i], rs[i].objs[len(rs[i].objs)-1]
		var err error
		if o.kind == "Secret" {
			p := []byte(`{"data":{"bench-warm":"MQ=="}}`) // "1"
			_, err = c.alice.cs.CoreV1().Secrets(r.ns).Patch(ctx, o.name, types.MergePatchType, p, metav1.PatchOptions{FieldManager: "bench"})
		} else {
			p := []byte(`{"data":{"bench-warm":"1"}}`)
			_, err = c.alice.cs.CoreV1().ConfigMaps(r.ns).Patch(ctx, o.name, types.MergePatchType, p, metav1.PatchOptions{FieldManager: "bench"})
		}
		if err != nil {
			return fmt.Errorf("%s/%s/%s: set data.bench-warm: %w", o.kind, r.ns, o.name, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	progress(stderr, "memory: every head in the webhook's cache after %s (%d dry runs repeated); settling 5 s …", syncTime.Round(time.Millisecond), retries.Load())
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(5 * time.Second):
	}
	loaded, err := readMemory(ctx, wh)
	if err != nil {
		return err
	}
	headBytes, heads, err := headData(ctx, c)
	if err != nil {
		return err
	}

	// The head cache alone: webhook.NewManager in this process over the same cluster, live heap after a GC.
	progress(stderr, "memory: the same cache in this process, for its live heap …")
	inproc, err := inProcessHeap(ctx, c, opts.heapProfile)
	if err != nil {
		return err
	}

	fmt.Fprintf(stdout, "3. WEBHOOK MEMORY WITH %d RELEASES AND %d OWNED OBJECTS (%d head ConfigMaps, %s of head data; installed by %d\n"+
		"   parallel installs in %s; every head in the webhook's cache %s later; then one allowed update per release)\n",
		len(rs), opts.objects, heads, mib(float64(headBytes)), opts.workers, installTime.Round(time.Second), syncTime.Round(time.Millisecond))
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "   chart-webhook process\tRSS\tPEAK RSS\tGO HEAP IN USE\tHEAP ALLOC\tGO SYS\tGOROUTINES\tTARGET RSS < 150 MiB")
	fmt.Fprintf(tw, "   idle, after the latency runs\t%s\t%s\t%s\t%s\t%s\t%.0f\t\n", mib(float64(idle.rss)), mib(float64(idle.hwm)),
		mib(idle.heapInuse), mib(idle.heapAlloc), mib(idle.sys), idle.goroutines)
	ok := loaded.rss < targetRSS
	fmt.Fprintf(tw, "   %d releases, synced, warm\t%s\t%s\t%s\t%s\t%s\t%.0f\t%s\n", len(rs), mib(float64(loaded.rss)), mib(float64(loaded.hwm)),
		mib(loaded.heapInuse), mib(loaded.heapAlloc), mib(loaded.sys), loaded.goroutines, mark(ok))
	tw.Flush()
	fmt.Fprintf(stdout, "   (RSS and peak: VmRSS and VmHWM of /proc/<pid>/status; heap: the process's go_memstats_* metrics.)\n")
	fmt.Fprintf(stdout, "   webhook.NewManager in this process over the same cluster, synced: %s of live heap after a GC (%s before it started)\n",
		mib(float64(inproc.after-inproc.before)), mib(float64(inproc.before)))
	if opts.heapProfile != "" {
		fmt.Fprintf(stdout, "   heap profile written to %s (go tool pprof -sample_index=inuse_space -top %s)\n", opts.heapProfile, opts.heapProfile)
	}
	fmt.Fprintln(stdout)
	sum.add(fmt.Sprintf("webhook RSS with %d releases, %d objects", len(rs), opts.objects), mib(float64(loaded.rss)), "< 150 MiB", ok)
	return nil
}

// headData is the bytes of data (keys and values), labels and annotations of every release head, and their
// number.
func headData(ctx context.Context, c *cluster) (int, int, error) {
	list, err := c.admin.cs.CoreV1().ConfigMaps("").List(ctx, metav1.ListOptions{LabelSelector: webhook.HeadSelector})
	if err != nil {
		return 0, 0, err
	}
	n := 0
	for _, cm := range list.Items {
		for _, m := range []map[string]string{cm.Data, cm.Labels, cm.Annotations} {
			for k, v := range m {
				n += len(k) + len(v)
			}
		}
	}
	return n, len(list.Items), nil
}

// heapFigure is the live heap of this process before and after the webhook's manager synced.
type heapFigure struct{ before, after uint64 }

// inProcessHeap starts webhook.NewManager in this process, waits for its cache to sync, and measures the live
// heap it added (after a GC); with profile set, it writes a heap profile there.
func inProcessHeap(ctx context.Context, c *cluster, profile string) (heapFigure, error) {
	var f heapFigure
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	f.before = ms.HeapAlloc
	mgr, stop, err := startManager(ctx, c)
	if err != nil {
		return f, err
	}
	defer stop()
	// The cache has synced: it listed every head before startManager returned.
	runtime.GC()
	runtime.ReadMemStats(&ms)
	f.after = ms.HeapAlloc
	if profile != "" {
		out, err := os.Create(profile)
		if err != nil {
			return f, err
		}
		if err := pprof.WriteHeapProfile(out); err != nil {
			out.Close()
			return f, err
		}
		if err := out.Close(); err != nil {
			return f, err
		}
	}
	runtime.KeepAlive(mgr)
	return f, nil
}

func mib(b float64) string {
	if math.IsNaN(b) {
		return "?"
	}
	return fmt.Sprintf("%.1f MiB", b/(1<<20))
}
