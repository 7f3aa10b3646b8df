package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
)

// The floor run: the webhook's CPU per call and added latency include what any webhook written in Go pays for
// a call, whatever it decides — the TLS record layer, net/http's connection handling, the wake-up of an idle
// process per request at a few hundred requests a second. The floor run measures that part on its own, in the
// same run as the figures it is the floor of: the same updates (workload b, an unowned data key), the same
// validating webhook configuration (rules, matchConditions, objectSelector, timeout, failurePolicy), but
// pointed at a do-nothing admission webhook: a process of its own (this program, started again with
// nullWebhookEnv set), serving HTTPS with the same certificate and HTTP/1.1 only as chart-webhook does, that
// reads each AdmissionReview only for its uid and allows it. What chart-webhook spends above that is what its
// decoding and decision cost, the part its own code can cut.

// nullWebhookEnv, when set (to "host:port,count-host:port,cert-dir"), makes this program the do-nothing
// webhook of the floor run instead of the benchmark.
const nullWebhookEnv = "BENCH_WEBHOOK_NULL_WEBHOOK"

// serveNullWebhook serves the do-nothing webhook of spec (nullWebhookEnv's value) until it is killed: HTTPS on
// the first address (any path: an AdmissionReview in, allowed with its uid), and its request count as plain
// text on the second (plain HTTP, never counted).
func serveNullWebhook(spec string) int {
	parts := strings.Split(spec, ",")
	if len(parts) != 3 {
		fmt.Fprintf(os.Stderr, "%s=%q: want host:port,count-host:port,cert-dir\n", nullWebhookEnv, spec)
		return 2
	}
	cert, err := tls.LoadX509KeyPair(filepath.Join(parts[2], "tls.crt"), filepath.Join(parts[2], "tls.key"))
	if err != nil {
		fmt.Fprintf(os.Stderr, "null webhook: %v\n", err)
		return 1
	}
	var calls, conns atomic.Int64
	review := &http.Server{
		Handler:   http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { calls.Add(1); answerNull(w, r) }),
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"http/1.1"}, MinVersion: tls.VersionTLS12},
		ConnState: func(_ net.Conn, s http.ConnState) {
			if s == http.StateNew {
				conns.Add(1)
			}
		},
	}
	count := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, calls.Load(), conns.Load())
	})}
	review.Addr, count.Addr = parts[0], parts[1]
	errs := make(chan error, 2)
	go func() { errs <- review.ListenAndServeTLS("", "") }()
	go func() { errs <- count.ListenAndServe() }()
	fmt.Fprintf(os.Stderr, "null webhook: %v\n", <-errs)
	return 1
}

// answerNull allows the AdmissionReview of r, read only for its request's uid, as the least any admission
// webhook does.
func answerNull(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Request struct {
			UID types.UID `json:"uid"`
		} `json:"request"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","response":{"uid":%q,"allowed":true}}`, in.Request.UID)
}

// nullWebhook is the do-nothing webhook running as a process of its own.
type nullWebhook struct {
	cmd           *exec.Cmd
	done          chan error
	url, countURL string
	http          *http.Client
	log           bytes.Buffer
}

// startNullWebhook runs this program as the do-nothing webhook on a free port of host, with the certificate of
// certDir (where the API server's webhook configurations trust it), and waits until it answers.
func startNullWebhook(ctx context.Context, host, certDir string) (*nullWebhook, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	port, err := freePort(host)
	if err != nil {
		return nil, err
	}
	counts, err := freeAddress()
	if err != nil {
		return nil, err
	}
	address := net.JoinHostPort(host, strconv.Itoa(port))
	n := &nullWebhook{
		done:     make(chan error, 1),
		url:      "https://" + address + "/validate",
		countURL: "http://" + counts + "/",
		http:     &http.Client{Timeout: 10 * time.Second},
	}
	n.cmd = exec.Command(self)
	n.cmd.Env = append(os.Environ(), nullWebhookEnv+"="+address+","+counts+","+certDir)
	n.cmd.Stdout, n.cmd.Stderr = &n.log, &n.log
	if err := n.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { n.done <- n.cmd.Wait() }()
	err = wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		select {
		case err := <-n.done:
			n.done <- err
			return false, fmt.Errorf("exited: %v: %s", err, n.log.String())
		default:
		}
		_, err := n.calls(ctx)
		return err == nil, nil
	})
	if err != nil {
		n.stop()
		return nil, fmt.Errorf("the do-nothing webhook did not start: %w", err)
	}
	return n, nil
}

func (n *nullWebhook) pid() int { return n.cmd.Process.Pid }

// calls is the number of AdmissionReviews it has answered.
func (n *nullWebhook) calls(ctx context.Context) (float64, error) {
	calls, _, err := n.counts(ctx)
	return calls, err
}

// counts is the number of AdmissionReviews it has answered and of connections it has accepted.
func (n *nullWebhook) counts(ctx context.Context) (calls, conns float64, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, n.countURL, nil)
	if err != nil {
		return 0, 0, err
	}
	resp, err := n.http.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, 0, err
	}
	if _, err := fmt.Sscan(string(b), &calls, &conns); err != nil {
		return 0, 0, fmt.Errorf("do-nothing webhook's counts %q: %w", b, err)
	}
	return calls, conns, nil
}

func (n *nullWebhook) stop() {
	if n.cmd.ProcessState == nil {
		_ = n.cmd.Process.Signal(syscall.SIGKILL)
		<-n.done
	}
}

// freePort is a port of host free at the time of the call.
func freePort(host string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// floorHook is manifests/' validating webhook configuration pointed at url, under a name of its own.
func floorHook(h webhookConfigurations, url string) *admissionregistrationv1.ValidatingWebhookConfiguration {
	v := cleanHooks(h).validating
	v.Name += "-floor"
	for i := range v.Webhooks {
		v.Webhooks[i].ClientConfig.URL = &url
		v.Webhooks[i].ClientConfig.Service = nil
	}
	return v
}

// setFloorHook installs (on) or deletes the floor's configuration, the chart-webhook's both deleted, and waits
// until the API server acts on it: an update of the probe object reaches the do-nothing webhook (on), or does
// not (off).
func (l *updateLoad) setFloorHook(ctx context.Context, n *nullWebhook, hook *admissionregistrationv1.ValidatingWebhookConfiguration, on bool) error {
	if err := l.setHook(ctx, false); err != nil {
		return err
	}
	validating := l.c.admin.cs.AdmissionregistrationV1().ValidatingWebhookConfigurations()
	var err error
	if on {
		_, err = validating.Create(ctx, hook, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			err = nil
		}
	} else {
		err = validating.Delete(ctx, hook.Name, metav1.DeleteOptions{})
		if apierrors.IsNotFound(err) {
			err = nil
		}
	}
	if err != nil {
		return fmt.Errorf("ValidatingWebhookConfiguration %s: %w", hook.Name, err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		before, err := n.calls(ctx)
		if err != nil {
			return err
		}
		p := fmt.Appendf(nil, `{"data":{"bench-probe":"%d"}}`, l.seq.Add(1))
		if _, err := l.c.alice.cs.CoreV1().ConfigMaps(l.ns).Patch(ctx, l.probe, types.MergePatchType, p, metav1.PatchOptions{FieldManager: "bench"}); err != nil {
			return fmt.Errorf("probe: %w", err)
		}
		after, err := n.calls(ctx)
		if err != nil {
			return err
		}
		if called := after > before; called == on {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the API server did not act on %s being %s within 30 s", hook.Name, onOff(on))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// floorPhase is l.phase for the do-nothing webhook: the updates of do at rate for d with its configuration
// installed or not, its calls and the CPU time of it and of the control plane meanwhile.
func (l *updateLoad) floorPhase(ctx context.Context, opts options, n *nullWebhook, hook *admissionregistrationv1.ValidatingWebhookConfiguration, on bool, d time.Duration, do func(context.Context, int) error) (series, error) {
	if err := l.setFloorHook(ctx, n, hook, on); err != nil {
		return series{}, err
	}
	before, connsBefore, err := n.counts(ctx)
	if err != nil {
		return series{}, err
	}
	wcpu, pcpu := cpuTime(n.pid()), cpuTime(l.planePIDs...)
	s := openLoop(ctx, opts.rate, d, opts.inFlight, do)
	s.webhookCPU, s.planeCPU = cpuTime(n.pid())-wcpu, cpuTime(l.planePIDs...)-pcpu
	after, connsAfter, err := n.counts(ctx)
	if err != nil {
		return series{}, err
	}
	s.calls, s.conns = after-before, connsAfter-connsBefore
	return s, ctx.Err()
}

// benchFloor runs workload w (one that reaches the webhook) through the do-nothing webhook, for -floor-duration
// each way in alternating phases, and prints its rows beside chart-webhook's figures for w (measured before,
// in section 2): the CPU per call of any Go webhook, and chart-webhook's above it.
func benchFloor(ctx context.Context, opts options, l *updateLoad, w *workload, stdout, stderr io.Writer, sum *summary) (err error) {
	if opts.floorDuration <= 0 {
		fmt.Fprintf(stdout, "   floor run: skipped (-floor-duration %s)\n\n", opts.floorDuration)
		return nil
	}
	wo := l.c.env.Envtest().WebhookInstallOptions
	n, err := startNullWebhook(ctx, wo.LocalServingHost, wo.LocalServingCertDir)
	if err != nil {
		return fmt.Errorf("floor run: %w", err)
	}
	defer n.stop()
	hook := floorHook(l.c.hooks, n.url)
	defer func() {
		// Back as the other sections expect it: the chart-webhook's configurations installed, the floor's not.
		err = errors.Join(err, l.setFloorHook(context.WithoutCancel(ctx), n, hook, false), l.setHook(context.WithoutCancel(ctx), true))
	}()
	floor := w.fresh()
	floor.name = "do-nothing webhook, " + w.name
	floor.do = w.do
	phases := int((opts.floorDuration + opts.phase - 1) / opts.phase)
	progress(stderr, "floor: %s through a do-nothing webhook (pid %d, %s), %.0f/s, %d phases of %s with and %d without, alternating …",
		w.name, n.pid(), n.url, opts.rate, phases, opts.phase, phases)
	if _, err := l.floorPhase(ctx, opts, n, hook, true, min(opts.phase, 2*time.Second), w.do); err != nil {
		return err
	}
	for i, st := range schedule(floor, nil, phases) {
		s, err := l.floorPhase(ctx, opts, n, hook, st.on, opts.phase, w.do)
		if err != nil {
			return err
		}
		sum.sawLoad()
		progress(stderr, "floor: phase %2d/%d %-7s the do-nothing webhook: %d sent, p50 %s p99 %s, calls %.0f, new connections %.0f; load %s", i+1, 2*phases,
			withWithout(st.on), s.sent, ms(percentile(s.lat, 0.5)), ms(percentile(s.lat, 0.99)), s.calls, s.conns, loadAverage())
		if want := float64(s.sent); st.on && s.calls < want || !st.on && s.calls != 0 {
			floor.leaks = append(floor.leaks, fmt.Sprintf("floor phase %d (%s the do-nothing webhook): %d updates, %.0f calls", i+1, withWithout(st.on), s.sent, s.calls))
		}
		floor.record(st.on, s)
	}
	fmt.Fprintf(stdout, "   FLOOR: the same updates (%s) through a do-nothing webhook instead: a Go process that serves HTTPS\n"+
		"   (HTTP/1.1, the same certificate) behind the same validating webhook configuration, reads each AdmissionReview\n"+
		"   only for its uid and allows it; %s each way in phases of %s, alternating. What any webhook written in Go pays\n"+
		"   per call on this machine, whatever it decides; chart-webhook's figures from the table above beside it.\n",
		w.name, time.Duration(phases)*opts.phase, opts.phase)
	printUpdates(stdout, []*workload{floor}, "", labelled{"chart-webhook, " + w.name + " (above)", w.with})
	reportFaults(stdout, []*workload{floor}, []series{floor.with, floor.without}, sum)
	floorCPU := perCallDuration(floor.with.webhookCPU, floor.with.calls)
	ours := perCallDuration(w.with.webhookCPU, w.with.calls)
	_, floorP99 := floor.addedP99()
	_, oursP99 := w.addedP99()
	fmt.Fprintf(stdout, "   webhook CPU per call: do-nothing %s, chart-webhook %s (%s above the floor); added p99 (median per pair):\n"+
		"   do-nothing %s, chart-webhook %s; the API server opened %.0f connections to the do-nothing webhook for its %.0f calls\n\n",
		us(floorCPU), us(ours), signedUs(ours-floorCPU), signedMs(floorP99), signedMs(oursP99), floor.with.conns, floor.with.calls)
	sum.info("webhook CPU per call, a do-nothing Go webhook (floor), "+w.name, us(floorCPU))
	sum.info("webhook CPU per call above the floor, "+w.name, signedUs(ours-floorCPU))
	lo, hi := floor.addedP99Interval()
	sum.info("added p99 through a do-nothing Go webhook (floor), "+w.name+" (median per pair; its 90% interval)", signedMs(floorP99)+" "+intervalText(lo, hi))
	return nil
}

// perCallDuration is cpu over n calls (zero without calls).
func perCallDuration(cpu time.Duration, n float64) time.Duration {
	if n <= 0 {
		return 0
	}
	return time.Duration(float64(cpu) / n)
}

func signedUs(d time.Duration) string {
	if d >= 0 {
		return "+" + us(d)
	}
	return "-" + us(-d)
}
