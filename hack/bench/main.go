// Command bench is the render benchmark: it measures how long `kubectl-chart template` takes to render real
// charts next to `helm template`, both run as whole processes the way a user runs them, and says whether the two
// wrote the same bytes.
//
// For each chart (a folder under -corpus) it runs
//
//	<ours> template rel ./<chart> --namespace ns1
//	<helm> template rel ./<chart> --namespace ns1
//
// from the corpus folder (as the golden files in shared/charts were made): one warm-up each, then -runs timed
// runs of each, alternating ours and Helm so that changes in machine load hit both alike. It prints, per chart,
// the median wall time of each, the ratio helm/ours (above 1× we are faster), whether the outputs were equal
// byte for byte, and a TOTAL row (sum of the medians). Charts that generate random passwords or certificates
// differ between any two renders, Helm's own included; the table says so when it sees Helm vary.
//
// Usually run through `make bench`, which builds both binaries first. It exits non-zero only when a command could
// not be run or failed, never because of a slow ratio.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/kubectl-chart/kubectl-chart/hack/internal/benchutil"
)

// defaultCharts are large, popular charts that exercise most of the template engine.
var defaultCharts = []string{
	"prometheus-community/kube-prometheus-stack",
	"prometheus-community/prometheus-operator-crds",
	"bitnami/postgresql",
	"ingress-nginx/ingress-nginx",
}

// options are the benchmark's settings, from the command line.
type options struct {
	// corpus is the folder the charts are relative to; commands run in it.
	corpus string
	// ours and helm are the two binaries compared.
	ours, helm string
	// runs is the number of timed runs of each binary per chart, after one warm-up.
	runs int
	// charts are chart folders relative to corpus (or absolute).
	charts []string
}

// result is one row of the table.
type result struct {
	chart string
	// ours and helm are median wall times.
	ours, helm time.Duration
	// same is true when the first timed outputs of both are equal byte for byte.
	same bool
	// helmVaries is true when Helm's own outputs differed between runs (random passwords, certificates).
	helmVaries bool
	// note says how the chart was staged, when it was.
	note string
	err  error
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
		fmt.Fprintf(stderr, "bench: %v\n", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	fmt.Fprintf(stdout, "ours:   %s\nhelm:   %s\ncorpus: %s\n", opts.ours, opts.helm, opts.corpus)
	fmt.Fprintf(stdout, "median wall time of `template rel <chart> --namespace ns1`, %d runs each after one warm-up\n\n",
		opts.runs)

	results := make([]result, 0, len(opts.charts))
	for _, chart := range opts.charts {
		fmt.Fprintf(stderr, "bench: %s …\n", chart)
		r := benchChart(ctx, opts, chart)
		if r.err != nil {
			fmt.Fprintf(stderr, "bench: %s: %v\n", chart, r.err)
		}
		results = append(results, r)
		if ctx.Err() != nil {
			break
		}
	}
	printTable(stdout, results)

	for _, r := range results {
		if r.err != nil {
			return 1
		}
	}
	return 0
}

func parseOptions(args []string, stderr io.Writer) (options, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	corpus := fs.String("corpus", benchutil.EnvOr("KUBECTL_CHART_CORPUS", filepath.Join("..", "shared", "charts")),
		"folder holding the charts; $KUBECTL_CHART_CORPUS sets the default")
	ours := fs.String("ours", filepath.Join("bin", "kubectl-chart"), "kubectl-chart binary")
	helm := fs.String("helm", benchutil.EnvOr("HELM", benchutil.DefaultHelm()), "Helm binary; $HELM sets the default, else where make helm puts it")
	runs := fs.Int("runs", 5, "timed runs of each binary per chart, after one warm-up")
	charts := fs.String("charts", strings.Join(defaultCharts, ","), "comma-separated chart folders, relative to -corpus")
	if err := fs.Parse(args); err != nil {
		return options{}, err
	}
	if fs.NArg() > 0 {
		return options{}, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *runs < 1 {
		return options{}, fmt.Errorf("-runs must be at least 1, not %d", *runs)
	}

	opts := options{runs: *runs}
	var err error
	if opts.corpus, err = filepath.Abs(*corpus); err != nil {
		return options{}, err
	}
	if fi, err := os.Stat(opts.corpus); err != nil || !fi.IsDir() {
		return options{}, fmt.Errorf("corpus %s: not a folder (set -corpus or KUBECTL_CHART_CORPUS)", opts.corpus)
	}
	if opts.ours, err = benchutil.ResolveBinary(*ours); err != nil {
		return options{}, fmt.Errorf("-ours: %w", err)
	}
	if opts.helm, err = benchutil.ResolveBinary(*helm); err != nil {
		return options{}, fmt.Errorf("-helm: %w (make helm builds it)", err)
	}
	for c := range strings.SplitSeq(*charts, ",") {
		if c = strings.TrimSpace(c); c != "" {
			opts.charts = append(opts.charts, c)
		}
	}
	if len(opts.charts) == 0 {
		return options{}, errors.New("-charts names no chart")
	}
	return opts, nil
}

// benchChart runs the warm-ups and timed runs for one chart.
func benchChart(ctx context.Context, opts options, chart string) result {
	r := result{chart: chart}
	arg := chart
	if !filepath.IsAbs(arg) {
		arg = "./" + filepath.ToSlash(filepath.Clean(arg))
	}
	dir := chart
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(opts.corpus, chart)
	}
	if _, err := os.Stat(dir); err != nil {
		r.err = fmt.Errorf("chart not found: %w", err)
		return r
	}
	staged, note, cleanup, err := stageChart(opts.corpus, dir)
	defer cleanup()
	if err != nil {
		r.err = err
		return r
	}
	if staged != dir {
		arg, r.note = staged, note
	}
	args := []string{"template", "rel", arg, "--namespace", "ns1"}

	var oursTimes, helmTimes []time.Duration
	var oursOut, helmOut [][]byte
	for i := -1; i < opts.runs; i++ { // i == -1 is the warm-up
		out, d, err := timeRun(ctx, opts.corpus, opts.ours, args)
		if err != nil {
			r.err = err
			return r
		}
		if i >= 0 {
			oursTimes, oursOut = append(oursTimes, d), append(oursOut, out)
		}
		out, d, err = timeRun(ctx, opts.corpus, opts.helm, args)
		if err != nil {
			r.err = err
			return r
		}
		if i >= 0 {
			helmTimes, helmOut = append(helmTimes, d), append(helmOut, out)
		}
	}
	r.ours, r.helm = benchutil.Median(oursTimes), benchutil.Median(helmTimes)
	r.same = bytes.Equal(oursOut[0], helmOut[0])
	for _, out := range helmOut[1:] {
		if !bytes.Equal(out, helmOut[0]) {
			r.helmVaries = true
		}
	}
	return r
}

// timeRun runs one command to completion and returns its stdout and wall time.
func timeRun(ctx context.Context, dir, bin string, args []string) ([]byte, time.Duration, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	elapsed := time.Since(start)
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if lines := strings.Split(msg, "\n"); len(lines) > 5 {
			msg = strings.Join(lines[:5], "\n") + "\n…"
		}
		if msg != "" {
			msg = ":\n" + msg
		}
		return nil, elapsed, fmt.Errorf("%s %s: %w%s", bin, strings.Join(args, " "), err, msg)
	}
	return stdout.Bytes(), elapsed, nil
}

func printTable(w io.Writer, results []result) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CHART\tOURS\tHELM\tHELM/OURS\tSAME OUTPUT")
	var oursTotal, helmTotal time.Duration
	same, ok := 0, 0
	for _, r := range results {
		if r.err != nil {
			fmt.Fprintf(tw, "%s\t-\t-\t-\terror (see above)\n", r.chart)
			continue
		}
		ok++
		oursTotal += r.ours
		helmTotal += r.helm
		verdict := "no"
		switch {
		case r.same:
			same++
			verdict = "yes"
		case r.helmVaries:
			verdict = "no (Helm's own output varies between runs)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.chart, benchutil.Ms(r.ours), benchutil.Ms(r.helm), benchutil.Ratio(r.helm, r.ours), verdict)
	}
	if ok > 0 {
		fmt.Fprintf(tw, "TOTAL\t%s\t%s\t%s\t%d/%d yes\n", benchutil.Ms(oursTotal), benchutil.Ms(helmTotal), benchutil.Ratio(helmTotal, oursTotal), same, ok)
	}
	tw.Flush()
	for _, r := range results {
		if r.note != "" {
			fmt.Fprintf(w, "note: %s: %s\n", r.chart, r.note)
		}
	}
}
