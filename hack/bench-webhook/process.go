package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/kubectl-chart/kubectl-chart/internal/webhook"
)

// webhookProcess is bin/chart-webhook running as a process of its own.
type webhookProcess struct {
	cmd     *exec.Cmd
	done    chan error
	logPath string
	version string
	// metrics and probe are the host:port of /metrics and of /healthz, /readyz.
	metrics, probe string
	http           *http.Client
}

// startWebhook runs bin/chart-webhook as the webhook's ServiceAccount on envtest's local serving address and
// certificate (where the webhook configuration points) and waits until it is ready (server up, head cache
// synced).
func startWebhook(ctx context.Context, bin string, c *cluster, work, pprofAddress string, gomaxprocs int, gogc string) (*webhookProcess, error) {
	out, err := exec.CommandContext(ctx, bin, "--version").CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("%s --version: %w: %s", bin, err, out)
	}
	kubeconfig := filepath.Join(work, "webhook.kubeconfig")
	if err := os.WriteFile(kubeconfig, c.webhookSA.kubeconfig, 0o600); err != nil {
		return nil, err
	}
	w := &webhookProcess{
		done:    make(chan error, 1),
		logPath: filepath.Join(work, "chart-webhook.log"),
		version: strings.TrimSpace(strings.TrimPrefix(string(out), "chart-webhook")),
		http:    &http.Client{Timeout: 10 * time.Second},
	}
	if w.metrics, err = freeAddress(); err != nil {
		return nil, err
	}
	if w.probe, err = freeAddress(); err != nil {
		return nil, err
	}
	logs, err := os.Create(w.logPath)
	if err != nil {
		return nil, err
	}
	defer logs.Close() // the child has its own descriptor
	wo := c.env.Envtest().WebhookInstallOptions
	w.cmd = exec.Command(bin,
		"--kubeconfig", kubeconfig,
		"--cert-dir", wo.LocalServingCertDir,
		"--host", wo.LocalServingHost, "--port", strconv.Itoa(wo.LocalServingPort),
		"--metrics-bind-address", w.metrics, "--metrics-secure=false",
		"--health-probe-bind-address", w.probe,
		"--break-glass-users", userCarol)
	if pprofAddress != "" {
		w.cmd.Args = append(w.cmd.Args, "--pprof-bind-address", pprofAddress)
	}
	w.cmd.Env = os.Environ()
	if gomaxprocs > 0 {
		w.cmd.Env = append(w.cmd.Env, "GOMAXPROCS="+strconv.Itoa(gomaxprocs))
	}
	if gogc != "" {
		w.cmd.Env = append(w.cmd.Env, "GOGC="+gogc)
	}
	w.cmd.Stdout, w.cmd.Stderr = logs, logs
	if err := w.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { w.done <- w.cmd.Wait() }()
	err = wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
		select {
		case err := <-w.done:
			w.done <- err
			return false, fmt.Errorf("chart-webhook exited: %v", err)
		default:
		}
		code, _, _ := w.get(ctx, "http://"+w.probe+"/readyz")
		return code == http.StatusOK, nil
	})
	if err != nil {
		_ = w.stop()
		return nil, fmt.Errorf("chart-webhook did not become ready: %w\n%s", err, w.logTail())
	}
	return w, nil
}

// stop sends SIGTERM and waits for the process to exit (killing it after 20 s).
func (w *webhookProcess) stop() error {
	if w.cmd.ProcessState != nil {
		return nil
	}
	_ = w.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-w.done:
		if err != nil {
			return fmt.Errorf("chart-webhook: exit after SIGTERM: %w\n%s", err, w.logTail())
		}
		return nil
	case <-time.After(20 * time.Second):
		_ = w.cmd.Process.Kill()
		<-w.done
		return fmt.Errorf("chart-webhook: still running 20 s after SIGTERM, killed")
	}
}

func (w *webhookProcess) pid() int { return w.cmd.Process.Pid }

// logTail is the end of the webhook's log, for errors.
func (w *webhookProcess) logTail() string {
	b, _ := os.ReadFile(w.logPath)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return "chart-webhook log (end):\n" + string(b)
}

func (w *webhookProcess) get(ctx context.Context, url string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, nil, err
	}
	// Uncompressed: otherwise Go's transport asks for gzip, and the webhook spends CPU compressing its
	// metrics, some of which may fall into the time measured after a scrape.
	req.Header.Set("Accept-Encoding", "identity")
	resp, err := w.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// scrape reads the webhook's Prometheus metrics.
func (w *webhookProcess) scrape(ctx context.Context) (metrics, error) {
	code, body, err := w.get(ctx, "http://"+w.metrics+"/metrics")
	if err != nil {
		return nil, fmt.Errorf("chart-webhook /metrics: %w", err)
	}
	if code != http.StatusOK {
		return nil, fmt.Errorf("chart-webhook /metrics: HTTP %d", code)
	}
	return parseMetrics(body), nil
}

// webhookRequests is the number of admission requests the webhook server answered on path (controller-runtime's
// request counter, which counts the mutating path too).
func (m metrics) webhookRequests(path string) float64 {
	var s float64
	for k, v := range m {
		if strings.HasPrefix(k, "controller_runtime_webhook_requests_total{") && strings.Contains(k, `webhook="`+path+`"`) {
			s += v
		}
	}
	return s
}

// metrics are samples of the Prometheus text format: "name{labels}" → value.
type metrics map[string]float64

// parseMetrics reads the Prometheus text exposition format (comments skipped, timestamps ignored).
func parseMetrics(b []byte) metrics {
	m := metrics{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		// The value follows the series, whose labels may hold spaces inside quotes.
		end := strings.LastIndexByte(line, '}')
		rest := line
		if end >= 0 {
			rest = line[end+1:]
		} else if i := strings.IndexByte(line, ' '); i >= 0 {
			end, rest = i-1, line[i:]
		}
		f := strings.Fields(rest)
		if len(f) == 0 || end < 0 {
			continue
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			continue
		}
		m[line[:end+1]] = v
	}
	return m
}

// value is the sample of a series without labels; NaN when absent.
func (m metrics) value(name string) float64 {
	if v, ok := m[name]; ok {
		return v
	}
	return math.NaN()
}

// sum adds every sample of metric name, whatever its labels.
func (m metrics) sum(name string) float64 {
	var s float64
	for k, v := range m {
		if k == name || strings.HasPrefix(k, name+"{") {
			s += v
		}
	}
	return s
}

// bucket is a cumulative histogram bucket.
type bucket struct {
	le    float64
	count float64
}

// histogram is the cumulative buckets of histogram name, by upper bound.
func (m metrics) histogram(name string) []bucket {
	var bs []bucket
	prefix := name + `_bucket{le="`
	for k, v := range m {
		if !strings.HasPrefix(k, prefix) {
			continue
		}
		le, err := strconv.ParseFloat(strings.TrimSuffix(k[len(prefix):], `"}`), 64)
		if err != nil {
			continue
		}
		bs = append(bs, bucket{le: le, count: v})
	}
	slices.SortFunc(bs, func(a, b bucket) int {
		switch {
		case a.le < b.le:
			return -1
		case a.le > b.le:
			return 1
		}
		return 0
	})
	return bs
}

// histogramCounts is the cumulative buckets of histogram name, by upper bound as formatted by
// strconv.FormatFloat (+Inf for the last).
func (m metrics) histogramCounts(name string) map[string]float64 {
	out := map[string]float64{}
	for _, b := range m.histogram(name) {
		out[strconv.FormatFloat(b.le, 'g', -1, 64)] = b.count
	}
	return out
}

// decisionReasons is the webhook's decisions counter by reason (" (denied)" after the reason of a denial).
func (m metrics) decisionReasons() map[string]float64 {
	out := map[string]float64{}
	for k, v := range m {
		labels, ok := strings.CutPrefix(k, webhook.MetricDecisions+"{")
		if !ok {
			continue
		}
		reason := labelValue(labels, "reason")
		if labelValue(labels, "allowed") == "false" {
			reason += " (denied)"
		}
		out[reason] += v
	}
	return out
}

// labelValue is the value of label name in the labels of a series as the text format writes them
// (name="value",…}); "" when absent.
func labelValue(labels, name string) string {
	for _, l := range strings.Split(strings.TrimSuffix(labels, "}"), ",") {
		if v, ok := strings.CutPrefix(l, name+"="); ok {
			return strings.Trim(v, `"`)
		}
	}
	return ""
}

// countsDelta is after − before, key by key (counters that only grow).
func countsDelta(before, after map[string]float64) map[string]float64 {
	out := make(map[string]float64, len(after))
	for k, v := range after {
		out[k] = v - before[k]
	}
	return out
}

// histogramQuantile is the upper bound of the bucket holding quantile q of the observations between before
// and after (cumulative buckets of the same histogram); +Inf when it is in the last bucket, NaN without
// observations.
func histogramQuantile(q float64, before, after []bucket) float64 {
	if len(after) == 0 {
		return math.NaN()
	}
	prev := map[float64]float64{}
	for _, b := range before {
		prev[b.le] = b.count
	}
	total := after[len(after)-1].count - prev[after[len(after)-1].le]
	if total <= 0 {
		return math.NaN()
	}
	rank := q * total
	for _, b := range after {
		if b.count-prev[b.le] >= rank {
			return b.le
		}
	}
	return math.Inf(1)
}

// procStatus reads fields of /proc/<pid>/status given in kB (VmRSS, VmHWM, …), in bytes.
func procStatus(pid int, fields ...string) (map[string]int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return nil, err
	}
	out := map[string]int64{}
	for _, line := range strings.Split(string(b), "\n") {
		name, rest, ok := strings.Cut(line, ":")
		if !ok || !slices.Contains(fields, name) {
			continue
		}
		f := strings.Fields(rest)
		if len(f) == 2 && f[1] == "kB" {
			if kb, err := strconv.ParseInt(f[0], 10, 64); err == nil {
				out[name] = kb << 10
			}
		}
	}
	for _, f := range fields {
		if _, ok := out[f]; !ok {
			return nil, fmt.Errorf("/proc/%d/status: no %s", pid, f)
		}
	}
	return out, nil
}

// cpuTime is the CPU time (user and system) the processes pids have used so far, from /proc; 0 where it cannot
// be read.
func cpuTime(pids ...int) time.Duration {
	const ticksPerSecond = 100 // USER_HZ, 100 on every Linux platform Go supports
	var ticks int64
	for _, pid := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		// The fields after the command name (in parentheses, may hold spaces): utime and stime are the 14th
		// and 15th fields of the line, the 12th and 13th of these.
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		if len(f) < 13 {
			continue
		}
		u, _ := strconv.ParseInt(f[11], 10, 64)
		s, _ := strconv.ParseInt(f[12], 10, 64)
		ticks += u + s
	}
	return time.Duration(ticks) * time.Second / ticksPerSecond
}

func freeAddress() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// errUnexpected marks a request that did not get the answer the benchmark expects.
var errUnexpected = errors.New("unexpected answer")
