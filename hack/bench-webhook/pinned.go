package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// benchPinned runs workload w (one that reaches the webhook) again, for -pinned-duration each way, with the API
// server and etcd (every thread of both) pinned to one CPU and the webhook process to another, so that the
// webhook's own cost shows apart from its competition with the control plane for the cores. The benchmark's
// own process (the load generator, its client-go connections) is pinned with the control plane: the webhook
// has its CPU to itself. The affinities are put back as they were afterwards. It says why when the machine
// does not allow it (no taskset, one CPU).
func benchPinned(ctx context.Context, opts options, l *updateLoad, w *workload, stdout, stderr io.Writer, sum *summary) (err error) {
	opts.rate = opts.pinnedRate // every phase below runs at the pinned run's rate
	if opts.pinnedDuration <= 0 {
		fmt.Fprintf(stdout, "   pinned run: skipped (-pinned-duration %s)\n\n", opts.pinnedDuration)
		return nil
	}
	taskset, cpus, why := pinnable()
	if why != "" {
		fmt.Fprintf(stdout, "   pinned run: skipped: %s\n\n", why)
		sum.info("pinned run", "skipped: "+why)
		return nil
	}
	planeCPU, hookCPU := cpus[0], cpus[1]
	type proc struct {
		what string
		pid  int
		cpu  int
		was  string // the CPU list it ran on before
	}
	var procs []*proc
	for _, pid := range l.planePIDs {
		procs = append(procs, &proc{what: procName(pid), pid: pid, cpu: planeCPU})
	}
	procs = append(procs, &proc{what: "bench-webhook (this process)", pid: os.Getpid(), cpu: planeCPU},
		&proc{what: "chart-webhook", pid: l.wh.pid(), cpu: hookCPU})
	for _, p := range procs {
		if p.was, err = allowedCPUs(p.pid); err != nil {
			return fmt.Errorf("pinned run: %s: %w", p.what, err)
		}
	}
	restored := false
	restore := func() error {
		if restored {
			return nil
		}
		restored = true
		var errs []error
		for _, p := range procs {
			errs = append(errs, setAffinity(context.WithoutCancel(ctx), taskset, p.pid, p.was))
		}
		return errors.Join(errs...)
	}
	defer func() {
		if rerr := restore(); rerr != nil {
			err = errors.Join(err, fmt.Errorf("pinned run: restoring the CPU affinities: %w", rerr))
		}
	}()
	var pinned []string
	for _, p := range procs {
		cpu := strconv.Itoa(p.cpu)
		if err := setAffinity(ctx, taskset, p.pid, cpu); err != nil {
			return fmt.Errorf("pinned run: %s: %w", p.what, err)
		}
		if now, err := allowedCPUs(p.pid); err != nil || now != cpu {
			return fmt.Errorf("pinned run: %s (pid %d) may run on CPUs %q after taskset, want %s (%v)", p.what, p.pid, now, cpu, err)
		}
		pinned = append(pinned, fmt.Sprintf("%s %d→%s (was %s)", p.what, p.pid, cpu, p.was))
	}
	progress(stderr, "pinned: %s", strings.Join(pinned, ", "))

	warm := min(opts.phase, 2*time.Second)
	if s, err := l.phase(ctx, opts, true, opts.rate, warm, w.do); err != nil {
		return err
	} else if s.failed > 0 {
		return fmt.Errorf("pinned warm-up (%s): %d of %d updates failed: %w", w.name, s.failed, s.sent, s.err)
	}
	pw := w.fresh()
	phases := int(math.Ceil(opts.pinnedDuration.Seconds() / opts.phase.Seconds()))
	progress(stderr, "pinned: %s, %.0f/s, %d phases of %s with and %d without the webhook, alternating …", w.name, opts.rate, phases, opts.phase, phases)
	if err := l.runSchedule(ctx, opts, schedule(pw, nil, phases), opts.phase, "pinned", stderr, sum); err != nil {
		return err
	}
	if err := l.setHook(ctx, true); err != nil {
		return err
	}
	if err := restore(); err != nil {
		return fmt.Errorf("pinned run: restoring the CPU affinities: %w", err)
	}

	fmt.Fprintf(stdout, "   pinned: API server and etcd on CPU %d, webhook on CPU %d (every thread of each, taskset -a; the benchmark's\n"+
		"   own process, which sends the updates, on CPU %d with the API server; the affinities restored afterwards):\n"+
		"   %s, %.0f/s, %s each way in phases of %s (with, without, then the reverse)\n",
		planeCPU, hookCPU, planeCPU, w.name, opts.rate, time.Duration(phases)*opts.phase, opts.phase)
	printUpdates(stdout, []*workload{pw}, "pinned: ")
	_, perPair := pw.addedP99()
	sum.info(fmt.Sprintf("added p99, %s, pinned (API server+etcd CPU %d, webhook CPU %d; median per pair)", w.name, planeCPU, hookCPU), signedMs(perPair))
	sum.info(fmt.Sprintf("webhook CPU per call, %s, pinned", w.name), perCall(pw.with.webhookCPU, pw.with.calls))
	reportFaults(stdout, []*workload{pw}, []series{pw.without, pw.with}, sum)
	fmt.Fprintln(stdout)
	return nil
}

// pinnable finds taskset and two CPUs this process may run on: the first for the control plane, the second
// for the webhook; why says what is missing when the pinned run cannot be done.
func pinnable() (taskset string, cpus []int, why string) {
	taskset, err := exec.LookPath("taskset")
	if err != nil {
		return "", nil, "taskset is not on PATH (util-linux)"
	}
	if n := runtime.NumCPU(); n < 2 {
		return "", nil, fmt.Sprintf("%d CPU: the API server and the webhook need one each", n)
	}
	list, err := allowedCPUs(os.Getpid())
	if err == nil {
		cpus, err = parseCPUList(list)
	}
	if err != nil {
		return "", nil, fmt.Sprintf("the CPUs this process may run on: %v", err)
	}
	if len(cpus) < 2 {
		return "", nil, fmt.Sprintf("this process may run on CPUs %s only", list)
	}
	return taskset, cpus[:2], ""
}

// setAffinity lets every thread of process pid run on the CPUs of list only (taskset -a -p -c).
func setAffinity(ctx context.Context, taskset string, pid int, list string) error {
	out, err := exec.CommandContext(ctx, taskset, "-a", "-p", "-c", list, strconv.Itoa(pid)).CombinedOutput()
	if err != nil {
		return fmt.Errorf("taskset -a -p -c %s %d: %w: %s", list, pid, err, bytes.TrimSpace(out))
	}
	return nil
}

// allowedCPUs is the list of CPUs process pid may run on (Cpus_allowed_list of /proc/<pid>/status: "0-3,6").
func allowedCPUs(pid int) (string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Cpus_allowed_list:"); ok {
			return strings.TrimSpace(v), nil
		}
	}
	return "", fmt.Errorf("/proc/%d/status: no Cpus_allowed_list", pid)
}

// parseCPUList reads a CPU list as the kernel and taskset -c write it ("0-3,6").
func parseCPUList(s string) ([]int, error) {
	var cpus []int
	for _, part := range strings.Split(strings.TrimSpace(s), ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		first, err := strconv.Atoi(lo)
		last := first
		if err == nil && isRange {
			last, err = strconv.Atoi(hi)
		}
		if err != nil || first < 0 || last < first {
			return nil, fmt.Errorf("CPU list %q: bad part %q", s, part)
		}
		for c := first; c <= last; c++ {
			cpus = append(cpus, c)
		}
	}
	return cpus, nil
}

// procName is the command name of process pid ("pid N" when unknown).
func procName(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil || len(bytes.TrimSpace(b)) == 0 {
		return fmt.Sprintf("pid %d", pid)
	}
	return string(bytes.TrimSpace(b))
}
