// Command bench-release is the release benchmark: it installs and upgrades a generated chart of 500 objects (125
// each of ConfigMap, Service, Deployment and Secret) with `kubectl chart` and with Helm, both run as whole
// processes against the same API server, and compares their wall times and the size of what each keeps as the
// record of a revision.
//
// It starts the test control plane of internal/testcluster — the bare shape by default (etcd and kube-apiserver:
// neither tool waits, so controllers would only add noise on the machine that runs both), the full one with
// -full — then, for one warm-up and -runs timed rounds, alternating which tool goes first, each tool in a fresh
// namespace:
//
//	<tool> install rel <chart> --set rev=1       every object created
//	<tool> upgrade rel <chart> --set rev=2       every ConfigMap and Deployment changed
//	<tool> upgrade rel <chart> --set rev=2       no-op: nothing to change
//
// then, for import-helm (issue 12): Helm installs the chart (untimed) in a fresh namespace and `kubectl chart
// import-helm` adopts it, timed, with the API server's write requests counted (apiserver_request_total), beside a
// fresh `kubectl chart install` of the same chart counted the same way.
//
// (Helm without --wait, its v4 default; ours without --wait, which is ours.) It prints the median wall time of each
// step per tool and the ratio helm/ours (above 1× we are faster); how many objects the no-op upgrade wrote, from
// our `APPLIED:` summary and, for both tools, from the objects whose resourceVersion moved; and the bytes of one
// revision record: the data of our revision Secret(s) `kubectl-chart.rel.v1` against Helm's
// `sh.helm.release.v1.rel.v1`, for the same install.
//
// Usually run through `make bench-release` (or `make bench`), which builds both binaries and the control plane
// first. It exits non-zero when a command could not be run or failed, never because of a ratio.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/kubectl-chart/kubectl-chart/hack/internal/benchutil"
	"github.com/kubectl-chart/kubectl-chart/internal/testcluster"
	"github.com/kubectl-chart/kubectl-chart/pkg/ownership"
)

// release is the release name both tools install.
const release = "rel"

// options are the benchmark's settings, from the command line.
type options struct {
	// ours and helm are the two binaries compared.
	ours, helm string
	// runs is the number of timed rounds, after one warm-up.
	runs int
	// perKind is the number of objects of each of the four kinds.
	perKind int
	// full starts the full control plane (controllers, scheduler, kwok) instead of the bare one.
	full bool
	// writeChart, when set, is where to write the chart; nothing else is done.
	writeChart string
}

// tool is one of the two binaries, with how it is called.
type tool struct {
	name string
	bin  string
	env  []string
}

// step is one command of a round.
type step struct {
	name string
	verb string // install or upgrade
	rev  int    // the value of .Values.rev
}

var steps = []step{
	{name: "install", verb: "install", rev: 1},
	{name: "upgrade (changed)", verb: "upgrade", rev: 2},
	{name: "upgrade (no-op)", verb: "upgrade", rev: 2},
}

// round is what one tool did in one round.
type round struct {
	times [3]time.Duration
	// client is the CPU time of the command; server that of the control plane's processes meanwhile.
	client, server [3]time.Duration
	// applied is our APPLIED: summary of the no-op upgrade ("" for Helm).
	applied string
	// moved is the number of objects whose resourceVersion the no-op upgrade changed.
	moved int
	// record is the bytes of the revision 1 record's data; secrets the number of Secrets it takes.
	record, secrets int
	// head is the bytes of our head ConfigMap's data (inventory, lock), 0 for Helm.
	head int
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	opts, err := parseOptions(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "bench-release: %v\n", err)
		return 2
	}
	if opts.writeChart != "" {
		if err := writeChart(opts.writeChart, opts.perKind); err != nil {
			fmt.Fprintf(stderr, "bench-release: %v\n", err)
			return 1
		}
		return 0
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := bench(ctx, opts, stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "bench-release: %v\n", err)
		return 1
	}
	return 0
}

func parseOptions(args []string, stderr io.Writer) (options, error) {
	fs := flag.NewFlagSet("bench-release", flag.ContinueOnError)
	fs.SetOutput(stderr)
	ours := fs.String("ours", filepath.Join("bin", "kubectl-chart"), "kubectl-chart binary")
	helm := fs.String("helm", benchutil.EnvOr("HELM", benchutil.DefaultHelm()), "Helm binary; $HELM sets the default, else where make helm puts it")
	runs := fs.Int("runs", 3, "timed rounds, after one warm-up")
	perKind := fs.Int("per-kind", 125, "objects of each kind (ConfigMap, Service, Deployment, Secret) in the chart")
	full := fs.Bool("full", false, "start the full control plane (controllers, scheduler, kwok) instead of etcd and kube-apiserver only")
	writeTo := fs.String("write-chart", "", "only write the benchmark chart into this folder and exit (to profile one tool by hand)")
	if err := fs.Parse(args); err != nil {
		return options{}, err
	}
	if fs.NArg() > 0 {
		return options{}, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *runs < 1 || *perKind < 1 {
		return options{}, errors.New("-runs and -per-kind must be at least 1")
	}
	opts := options{runs: *runs, perKind: *perKind, full: *full, writeChart: *writeTo}
	if opts.writeChart != "" {
		return opts, nil
	}
	var err error
	if opts.ours, err = benchutil.ResolveBinary(*ours); err != nil {
		return options{}, fmt.Errorf("-ours: %w (make build builds it)", err)
	}
	if opts.helm, err = benchutil.ResolveBinary(*helm); err != nil {
		return options{}, fmt.Errorf("-helm: %w (make helm builds it)", err)
	}
	return opts, nil
}

func bench(ctx context.Context, opts options, stdout, stderr io.Writer) error {
	work, err := os.MkdirTemp("", "bench-release-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	chart := filepath.Join(work, "bench")
	if err := writeChart(chart, opts.perKind); err != nil {
		return err
	}

	shape := "bare (etcd, kube-apiserver)"
	if opts.full {
		shape = "full (etcd, kube-apiserver, controllers, scheduler, kwok)"
	}
	fmt.Fprintf(stderr, "bench-release: starting the %s control plane …\n", shape)
	env, err := testcluster.Start(ctx, testcluster.Options{
		Full: opts.full,
		// 125 Services per namespace, in 8 namespaces: more than envtest's default /24 of Service IPs (the full
		// shape has a /12 already).
		ConfigureEnvtest: func(te *envtest.Environment) {
			te.ControlPlane.GetAPIServer().Configure().Set("service-cluster-ip-range", "10.96.0.0/12")
		},
	})
	if err != nil {
		return err
	}
	defer func() {
		if err := env.Stop(); err != nil {
			fmt.Fprintf(stderr, "bench-release: stop: %v\n", err)
		}
	}()
	cs := env.Clientset()

	helmHome := filepath.Join(work, "helm")
	tools := []tool{
		{name: "ours", bin: opts.ours},
		{name: "helm", bin: opts.helm, env: []string{
			"HELM_CACHE_HOME=" + filepath.Join(helmHome, "cache"),
			"HELM_CONFIG_HOME=" + filepath.Join(helmHome, "config"),
			"HELM_DATA_HOME=" + filepath.Join(helmHome, "data"),
		}},
	}
	fmt.Fprintf(stdout, "ours:   %s\nhelm:   %s\nchart:  %d objects (%d each of ConfigMap, Service, Deployment, Secret)\n",
		opts.ours, opts.helm, 4*opts.perKind, opts.perKind)
	fmt.Fprintf(stdout, "server: %s control plane, Kubernetes %s\n", shape, serverVersion(cs))
	fmt.Fprintf(stdout, "median wall time of %d rounds after one warm-up, alternating which tool goes first, a fresh namespace each\n\n", opts.runs)

	loadBefore := loadAverage()
	results := map[string][]round{}
	for i := -1; i < opts.runs; i++ { // i == -1 is the warm-up
		order := slices.Clone(tools)
		if i%2 != 0 {
			slices.Reverse(order)
		}
		for _, tl := range order {
			label := fmt.Sprintf("round %d", i+1)
			if i < 0 {
				label = "warm-up"
			}
			r, err := benchRound(ctx, cs, env, tl, chart, fmt.Sprintf("bench-%s-%d", tl.name, i+1))
			if err != nil {
				return fmt.Errorf("%s, %s: %w", label, tl.name, err)
			}
			fmt.Fprintf(stderr, "bench-release: %s: %s: install %s, upgrade %s, no-op upgrade %s\n",
				label, tl.name, benchutil.Ms(r.times[0]), benchutil.Ms(r.times[1]), benchutil.Ms(r.times[2]))
			if i >= 0 {
				results[tl.name] = append(results[tl.name], r)
			}
		}
	}
	printTable(stdout, results["ours"], results["helm"])
	imports, err := benchImport(ctx, opts, cs, env, tools[0], tools[1], chart, stderr)
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	printImport(stdout, imports, 4*opts.perKind)
	fmt.Fprintf(stdout, "load average before and after: %s → %s (%d CPUs; other work on the machine slows both tools, not always alike)\n",
		loadBefore, loadAverage(), runtime.NumCPU())
	return nil
}

// benchRound installs, upgrades and upgrades again without change, in a new namespace.
func benchRound(ctx context.Context, cs kubernetes.Interface, env *testcluster.Env, tl tool, chart, ns string) (round, error) {
	var r round
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		return r, err
	}
	var before map[string]string
	for i, s := range steps {
		if i == len(steps)-1 {
			var err error
			if before, err = resourceVersions(ctx, cs, ns); err != nil {
				return r, err
			}
		}
		args := []string{s.verb, release, chart, "--kubeconfig", env.KubeconfigPath(), "--namespace", ns, "--set", "rev=" + strconv.Itoa(s.rev)}
		server := cpuTime(env.PIDs())
		out, d, client, err := timeRun(ctx, tl, args)
		if err != nil {
			return r, err
		}
		r.times[i], r.client[i], r.server[i] = d, client, cpuTime(env.PIDs())-server
		if i == len(steps)-1 && tl.name == "ours" {
			r.applied = appliedSummary(out)
		}
	}
	after, err := resourceVersions(ctx, cs, ns)
	if err != nil {
		return r, err
	}
	for k, v := range after {
		if before[k] != v {
			r.moved++
		}
	}
	if r.record, r.secrets, err = recordBytes(ctx, cs, tl.name, ns); err != nil || tl.name == "helm" {
		return r, err
	}
	head, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, ownership.HeadName(release), metav1.GetOptions{})
	if err != nil {
		return r, err
	}
	for _, v := range head.Data {
		r.head += len(v)
	}
	return r, nil
}

// resourceVersions maps every object of the chart's kinds in ns (release records excepted) to its
// resourceVersion.
func resourceVersions(ctx context.Context, cs kubernetes.Interface, ns string) (map[string]string, error) {
	out := map[string]string{}
	add := func(kind string, m metav1.Object) {
		if m.GetLabels()[ownership.LabelRecord] != "" || m.GetLabels()["owner"] == "helm" {
			return
		}
		out[kind+"/"+m.GetName()] = m.GetResourceVersion()
	}
	cms, err := cs.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	for i := range cms.Items {
		add("ConfigMap", &cms.Items[i])
	}
	secs, err := cs.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	for i := range secs.Items {
		add("Secret", &secs.Items[i])
	}
	svcs, err := cs.CoreV1().Services(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	for i := range svcs.Items {
		add("Service", &svcs.Items[i])
	}
	deps, err := cs.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	for i := range deps.Items {
		add("Deployment", &deps.Items[i])
	}
	return out, nil
}

// recordBytes is the size of the data of revision 1's record: our revision Secret(s), or Helm's release Secret.
func recordBytes(ctx context.Context, cs kubernetes.Interface, toolName, ns string) (size, secrets int, err error) {
	var list []corev1.Secret
	if toolName == "helm" {
		s, err := cs.CoreV1().Secrets(ns).Get(ctx, "sh.helm.release.v1."+release+".v1", metav1.GetOptions{})
		if err != nil {
			return 0, 0, err
		}
		list = []corev1.Secret{*s}
	} else {
		sel := fmt.Sprintf("%s=%s,%s=%s,%s=1", ownership.LabelRelease, release, ownership.LabelRecord, ownership.RecordRevision, ownership.LabelRevision)
		l, err := cs.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{LabelSelector: sel})
		if err != nil {
			return 0, 0, err
		}
		if len(l.Items) == 0 {
			return 0, 0, fmt.Errorf("no record of revision 1 (%s)", sel)
		}
		list = l.Items
	}
	for _, s := range list {
		for _, v := range s.Data {
			size += len(v)
		}
	}
	return size, len(list), nil
}

// appliedSummary is the APPLIED: line of our output ("500 unchanged").
func appliedSummary(out []byte) string {
	for line := range strings.SplitSeq(string(out), "\n") {
		if rest, ok := strings.CutPrefix(line, "APPLIED: "); ok {
			return rest
		}
	}
	return ""
}

// written counts the created and configured objects of an APPLIED: summary.
func written(summary string) int {
	n := 0
	for part := range strings.SplitSeq(summary, ", ") {
		count, action, _ := strings.Cut(part, " ")
		if action == "created" || action == "configured" {
			c, _ := strconv.Atoi(count)
			n += c
		}
	}
	return n
}

// timeRun runs one command to completion and returns its output, wall time and CPU time.
func timeRun(ctx context.Context, tl tool, args []string) ([]byte, time.Duration, time.Duration, error) {
	cmd := exec.CommandContext(ctx, tl.bin, args...)
	cmd.Env = append(os.Environ(), tl.env...)
	out, elapsed, cpu, err := benchutil.Run(cmd)
	if err != nil {
		return nil, elapsed, 0, err
	}
	return out, elapsed, cpu, nil
}

func printTable(w io.Writer, ours, helm []round) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "STEP\tOURS\tHELM\tHELM/OURS\tTARGET\t\tCPU: OURS\tSERVER\tHELM\tSERVER")
	for i, s := range steps {
		o, h := median(ours, i, wall), median(helm, i, wall)
		target := "-"
		if i < 2 {
			target = verdict(float64(h) >= 3*float64(o), "≥ 3×")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t\t%s\t%s\t%s\t%s\n", s.name, benchutil.Ms(o), benchutil.Ms(h), benchutil.Ratio(h, o), target,
			benchutil.Ms(median(ours, i, clientCPU)), benchutil.Ms(median(ours, i, serverCPU)), benchutil.Ms(median(helm, i, clientCPU)), benchutil.Ms(median(helm, i, serverCPU)))
	}
	tw.Flush()
	fmt.Fprintln(w, "(CPU: the command's own, and that of the control plane's processes while it ran; medians)")

	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "\tOURS\tHELM\tTARGET")
	maxWritten, moved := 0, map[string][]int{}
	var summaries []string
	for _, r := range ours {
		maxWritten = max(maxWritten, written(r.applied))
		summaries = append(summaries, r.applied)
		moved["ours"] = append(moved["ours"], r.moved)
	}
	for _, r := range helm {
		moved["helm"] = append(moved["helm"], r.moved)
	}
	fmt.Fprintf(tw, "no-op upgrade: objects written (APPLIED: summary)\t%d (%s)\t-\t%s\n",
		maxWritten, strings.Join(slices.Compact(summaries), " | "), verdict(maxWritten == 0, "0"))
	fmt.Fprintf(tw, "no-op upgrade: objects whose resourceVersion moved\t%s\t%s\t-\n", ints(moved["ours"]), ints(moved["helm"]))
	o, h := ours[0], helm[0]
	fmt.Fprintf(tw, "revision record (data bytes)\t%d (%d Secret)\t%d (%d Secret)\t%s\n",
		o.record, o.secrets, h.record, h.secrets, verdict(o.record <= h.record, "ours ≤ Helm's"))
	tw.Flush()
	fmt.Fprintf(w, "record ratio helm/ours: %.2f×; besides its records, our release keeps a head ConfigMap (inventory, lock) of %d data bytes\n",
		float64(h.record)/float64(o.record), o.head)
}

func wall(r round) [3]time.Duration      { return r.times }
func clientCPU(r round) [3]time.Duration { return r.client }
func serverCPU(r round) [3]time.Duration { return r.server }

// cpuTime is the CPU time (user and system) the processes pids have used so far, from /proc; 0 where it cannot
// be read.
func cpuTime(pids []int) time.Duration {
	const ticksPerSecond = 100 // USER_HZ, 100 on every Linux platform Go supports
	var ticks int64
	for _, pid := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		// The fields after the command name, which is in parentheses and may hold spaces: utime and stime are
		// the 14th and 15th fields of the line, the 12th and 13th of these.
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

func verdict(ok bool, target string) string {
	if ok {
		return target + ": met"
	}
	return target + ": NOT met"
}

func ints(xs []int) string {
	s := make([]string, 0, len(xs))
	for _, x := range xs {
		s = append(s, strconv.Itoa(x))
	}
	return strings.Join(s, ", ")
}

// median is the median of what of step over the rounds.
func median(rs []round, step int, what func(r round) [3]time.Duration) time.Duration {
	s := make([]time.Duration, 0, len(rs))
	for _, r := range rs {
		s = append(s, what(r)[step])
	}
	return benchutil.Median(s)
}

// loadAverage is the 1-minute load average, or "?".
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) > 0 {
		return f[0]
	}
	return "?"
}

func serverVersion(cs kubernetes.Interface) string {
	v, err := cs.Discovery().ServerVersion()
	if err != nil {
		return "unknown"
	}
	return v.GitVersion
}

// writeChart writes the benchmark chart: perKind objects of each kind, every ConfigMap and Deployment changing with
// .Values.rev, the Services and Secrets not.
func writeChart(dir string, perKind int) error {
	files := map[string]string{
		"Chart.yaml":                "apiVersion: v2\nname: bench\nversion: 0.1.0\nappVersion: \"1.0\"\n",
		"values.yaml":               fmt.Sprintf("rev: 0\ncount: %d\nimage: registry.example/app\n", perKind),
		"templates/_helpers.tpl":    helpersTemplate,
		"templates/configmap.yaml":  configMapTemplate,
		"templates/service.yaml":    serviceTemplate,
		"templates/secret.yaml":     secretTemplate,
		"templates/deployment.yaml": deploymentTemplate,
	}
	for _, name := range slices.Sorted(maps.Keys(files)) {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, []byte(files[name]), 0o644); err != nil {
			return err
		}
	}
	return nil
}

const helpersTemplate = `{{- define "bench.labels" -}}
app.kubernetes.io/name: bench
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: part-{{ .i }}
{{- end }}
`

const configMapTemplate = `{{- range $i := until (int .Values.count) }}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: config-{{ $i }}
  labels:
    {{- include "bench.labels" (dict "Release" $.Release "i" $i) | nindent 4 }}
data:
  rev: "{{ $.Values.rev }}"
  app.properties: |
    server.port=8080
    server.name=part-{{ $i }}
    cache.size={{ mul 64 (add $i 1) }}
    feature.flags=alpha,beta
    revision={{ $.Values.rev }}
{{- end }}
`

const serviceTemplate = `{{- range $i := until (int .Values.count) }}
---
apiVersion: v1
kind: Service
metadata:
  name: svc-{{ $i }}
  labels:
    {{- include "bench.labels" (dict "Release" $.Release "i" $i) | nindent 4 }}
spec:
  selector:
    app.kubernetes.io/name: bench
    app.kubernetes.io/component: part-{{ $i }}
  ports:
  - name: http
    port: 80
    targetPort: 8080
{{- end }}
`

const secretTemplate = `{{- range $i := until (int .Values.count) }}
---
apiVersion: v1
kind: Secret
metadata:
  name: secret-{{ $i }}
  labels:
    {{- include "bench.labels" (dict "Release" $.Release "i" $i) | nindent 4 }}
type: Opaque
data:
  username: {{ printf "user-%d" $i | b64enc }}
  password: {{ printf "not-a-secret-%d" $i | sha256sum | b64enc }}
{{- end }}
`

const deploymentTemplate = `{{- range $i := until (int .Values.count) }}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app-{{ $i }}
  labels:
    {{- include "bench.labels" (dict "Release" $.Release "i" $i) | nindent 4 }}
spec:
  replicas: 1
  selector:
    matchLabels:
      app.kubernetes.io/name: bench
      app.kubernetes.io/component: part-{{ $i }}
  template:
    metadata:
      labels:
        app.kubernetes.io/name: bench
        app.kubernetes.io/component: part-{{ $i }}
      annotations:
        bench/rev: "{{ $.Values.rev }}"
    spec:
      containers:
      - name: app
        image: {{ $.Values.image }}:1.{{ $.Values.rev }}
        ports:
        - containerPort: 8080
        env:
        - name: PART
          value: "{{ $i }}"
        envFrom:
        - configMapRef:
            name: config-{{ $i }}
        resources:
          requests:
            cpu: 10m
            memory: 16Mi
        readinessProbe:
          httpGet:
            path: /healthz
            port: 8080
{{- end }}
`
