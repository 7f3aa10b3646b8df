// Command bench is the render benchmark: it measures what `kubectl-chart template` costs to render real charts next
// to `helm template`, both run as whole processes the way a user runs them, and says whether the two wrote the same
// bytes.
//
// For each chart (a folder under -corpus) it runs three commands from the corpus folder (as the golden files in
// shared/charts were made):
//
//	<ours> template rel ./<chart> --namespace ns1
//	<helm> template rel ./<chart> --namespace ns1
//	GOMAXPROCS=1 <ours> template rel ./<chart> --namespace ns1
//
// one warm-up round, then -runs timed rounds, each round running the three in turn so that changes in machine
// load hit all alike. Per chart it prints the medians over the timed rounds of:
//
//   - WALL: wall time from start to exit, ours and Helm, and × = helm/ours (above 1× we are faster).
//   - CPU: CPU time of the child process, user + sys of all its threads, ours and Helm, and × = helm/ours. Wall
//     time rewards using many CPUs at once; CPU time is the work done, what a busy machine or a CPU limit pays.
//   - 1-CPU WALL and 1-CPU CPU: the same for ours with GOMAXPROCS=1 (render pinned to one CPU; Helm runs as it is),
//     with × = helm/ours-1-CPU, Helm's normal wall or CPU time over ours pinned.
//   - RSS: peak resident set size of the process (wait4's maxrss) in MiB, ours and Helm. On Linux a child reads at
//     least the resident set of the process that started it, so bench keeps itself small (it compares outputs by
//     SHA-256 rather than keeping them) and warns when a figure is not above its own peak.
//   - SAME: helm says whether Helm's first output (the warm-up's) equals ours byte for byte; 1-CPU says whether
//     every output of ours with GOMAXPROCS=1 equals ours' first (a "no" there is a bug, and a note names the
//     chart). Charts that generate random passwords or certificates differ between any two renders, Helm's own
//     included; the column says "varies" when the reference (Helm, or ours for 1-CPU) differed from itself
//     between rounds, the warm-up included.
//
// The TOTAL row sums the median times over the charts that ran (its ratios are those of the sums), shows the
// largest median RSS and counts the charts whose outputs were equal. The header and footer give the machine's
// load average before and after the run; when the 1-minute load is 1 or more at the start, a warning says the
// machine is not idle and the ratios are not acceptance figures.
//
// Usually run through `make bench`, which builds both binaries first. It exits non-zero only when a command could
// not be run or failed, never because of a slow ratio.
package main

import (
	"context"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/kubectl-chart/kubectl-chart/hack/internal/benchutil"
)

// defaultCharts are large, popular charts that exercise most of the template engine: the first four, then the
// three largest others of the corpus by template size.
var defaultCharts = []string{
	"prometheus-community/kube-prometheus-stack",
	"prometheus-community/prometheus-operator-crds",
	"bitnami/postgresql",
	"ingress-nginx/ingress-nginx",
	"cert-manager/cert-manager",
	"bitnami/wordpress",
	"bitnami/elasticsearch",
}

// options are the benchmark's settings, from the command line.
type options struct {
	// corpus is the folder the charts are relative to; commands run in it.
	corpus string
	// ours and helm are the two binaries compared (ours also run with GOMAXPROCS=1).
	ours, helm string
	// runs is the number of timed rounds per chart, after one warm-up round; each round runs every command once.
	runs int
	// charts are chart folders relative to corpus (or absolute).
	charts []string
}

// tool is one of the commands measured per chart, in the order each round runs them.
type tool int

const (
	toolOurs  tool = iota // our binary as it is
	toolHelm              // the Helm oracle
	toolOurs1             // our binary with GOMAXPROCS=1
	nTools                // the number of tools
)

// measure is the medians of one command's timed runs.
type measure struct {
	wall, cpu time.Duration
	// rss is the peak resident set size in bytes (0 when unknown).
	rss int64
}

// result is one row of the table.
type result struct {
	chart string
	// ours, helm and ours1 are the medians of our binary, Helm and ours with GOMAXPROCS=1.
	ours, helm, ours1 measure
	// same is true when the first outputs of ours and Helm (those of the warm-up) are equal byte for byte.
	same bool
	// helmVaries and oursVaries are true when Helm's, or our, own outputs differed between runs (random passwords,
	// certificates), the warm-up's included.
	helmVaries, oursVaries bool
	// same1 is true when every output of ours with GOMAXPROCS=1 equals ours' first, the warm-up's included.
	same1 bool
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

	printHeader(stdout, opts)
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
	printTable(stdout, results, benchutil.SelfMaxRSS())
	fmt.Fprintf(stdout, "load average after:  %s\n", formatLoad(benchutil.LoadAverage()))

	for _, r := range results {
		if r.err != nil {
			return 1
		}
	}
	return 0
}

// printHeader prints the binaries, the machine's CPUs and load and what is measured.
func printHeader(w io.Writer, opts options) {
	fmt.Fprintf(w, "ours:   %s\nhelm:   %s\ncorpus: %s\n", opts.ours, opts.helm, opts.corpus)
	fmt.Fprintf(w, "CPUs:   %d", runtime.NumCPU())
	if v := os.Getenv("GOMAXPROCS"); v != "" {
		fmt.Fprintf(w, " (GOMAXPROCS=%s in the environment: ours and Helm run with it)", v)
	}
	avg, err := benchutil.LoadAverage()
	fmt.Fprintf(w, "\nload average before: %s\n", formatLoad(avg, err))
	if err == nil && avg[0] >= 1 {
		fmt.Fprintf(w, "warning: the machine is not idle (1-minute load average %.2f ≥ 1): the ratios below are not acceptance figures\n",
			avg[0])
	}
	fmt.Fprintf(w, "medians of %d timed rounds after one warm-up round of `template rel <chart> --namespace ns1`, "+
		"each round running ours, helm, ours with GOMAXPROCS=1\n\n", opts.runs)
}

// formatLoad prints the load averages benchutil.LoadAverage read, or why they are unknown.
func formatLoad(avg [3]float64, err error) string {
	if err != nil {
		return fmt.Sprintf("unknown (%v)", err)
	}
	return fmt.Sprintf("%.2f %.2f %.2f (1, 5, 15 min)", avg[0], avg[1], avg[2])
}

func parseOptions(args []string, stderr io.Writer) (options, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	corpus := fs.String("corpus", benchutil.EnvOr("KUBECTL_CHART_CORPUS", filepath.Join("..", "shared", "charts")),
		"folder holding the charts; $KUBECTL_CHART_CORPUS sets the default")
	ours := fs.String("ours", filepath.Join("bin", "kubectl-chart"), "kubectl-chart binary")
	helm := fs.String("helm", benchutil.EnvOr("HELM", benchutil.DefaultHelm()), "Helm binary; $HELM sets the default, else where make helm puts it")
	runs := fs.Int("runs", 5, "timed rounds per chart, after one warm-up round; each runs ours, Helm and ours with GOMAXPROCS=1 once")
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

// benchChart runs the warm-up round and the timed rounds for one chart.
func benchChart(ctx context.Context, opts options, chart string) result {
	r := result{chart: chart}
	arg, note, cleanup, err := chartArg(opts.corpus, chart)
	defer cleanup()
	if err != nil {
		r.err = err
		return r
	}
	r.note = note
	args := []string{"template", "rel", arg, "--namespace", "ns1"}

	cmds := [nTools]command{
		toolOurs:  {bin: opts.ours},
		toolHelm:  {bin: opts.helm},
		toolOurs1: {bin: opts.ours, env: []string{"GOMAXPROCS=1"}},
	}
	var stats [nTools][]benchutil.Stats
	var outs [nTools][]digest
	for i := -1; i < opts.runs; i++ { // i == -1 is the warm-up round
		for t, c := range cmds {
			out, s, err := c.run(ctx, opts.corpus, args)
			if err != nil {
				r.err = err
				return r
			}
			outs[t] = append(outs[t], out)
			if i >= 0 {
				stats[t] = append(stats[t], s)
			}
		}
	}
	r.ours, r.helm, r.ours1 = medians(stats[toolOurs]), medians(stats[toolHelm]), medians(stats[toolOurs1])
	r.same = outs[toolOurs][0] == outs[toolHelm][0]
	r.helmVaries = !allEqual(outs[toolHelm], outs[toolHelm][0])
	r.oursVaries = !allEqual(outs[toolOurs], outs[toolOurs][0])
	r.same1 = allEqual(outs[toolOurs1], outs[toolOurs][0])
	return r
}

// chartArg is the chart argument both tools are given for chart, relative to the corpus unless absolute, and a
// note when the chart had to be staged (see stageChart); cleanup removes the staged copy.
func chartArg(corpus, chart string) (arg, note string, cleanup func(), err error) {
	cleanup = func() {}
	arg = chart
	if !filepath.IsAbs(arg) {
		arg = "./" + filepath.ToSlash(filepath.Clean(arg))
	}
	dir := chart
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(corpus, chart)
	}
	if _, err := os.Stat(dir); err != nil {
		return "", "", cleanup, fmt.Errorf("chart not found: %w", err)
	}
	staged, note, cleanup, err := stageChart(corpus, dir)
	if err != nil {
		return "", "", cleanup, err
	}
	if staged != dir {
		return staged, note, cleanup, nil
	}
	return arg, "", cleanup, nil
}

// digest is the SHA-256 of a command's stdout: the outputs are compared by digest, so that this process stays small
// next to the ones it measures (see benchutil.Stats.MaxRSS).
type digest [sha256.Size]byte

// command is one measured command: a binary and what it adds to the environment.
type command struct {
	bin string
	env []string
}

// run runs the command with args in dir to completion and returns the digest of its stdout and what the run took.
func (c command) run(ctx context.Context, dir string, args []string) (digest, benchutil.Stats, error) {
	cmd := exec.CommandContext(ctx, c.bin, args...)
	cmd.Dir = dir
	if len(c.env) > 0 {
		cmd.Env = append(os.Environ(), c.env...)
	}
	h := sha256.New()
	cmd.Stdout = h
	_, s, err := benchutil.RunStats(cmd)
	if err != nil && len(c.env) > 0 {
		err = fmt.Errorf("%s: %w", strings.Join(c.env, " "), err)
	}
	return digest(h.Sum(nil)), s, err
}

// medians is the median wall time, CPU time and RSS of runs.
func medians(runs []benchutil.Stats) measure {
	var walls, cpus []time.Duration
	var rsss []int64
	for _, s := range runs {
		walls, cpus, rsss = append(walls, s.Wall), append(cpus, s.CPU), append(rsss, s.MaxRSS)
	}
	return measure{wall: benchutil.Median(walls), cpu: benchutil.Median(cpus), rss: benchutil.Median(rsss)}
}

// allEqual tells whether every one of outs equals want.
func allEqual(outs []digest, want digest) bool {
	for _, out := range outs {
		if out != want {
			return false
		}
	}
	return true
}

// columns are the table's columns, under tableGroups.
var columns = []benchutil.Column{
	{Header: "CHART"},
	{Header: "ours", Right: true}, {Header: "helm", Right: true}, {Header: "×", Right: true}, // WALL
	{Header: "ours", Right: true}, {Header: "helm", Right: true}, {Header: "×", Right: true}, // CPU
	{Header: "ours", Right: true}, {Header: "×", Right: true}, // 1-CPU WALL
	{Header: "ours", Right: true}, {Header: "×", Right: true}, // 1-CPU CPU
	{Header: "ours", Right: true}, {Header: "helm", Right: true}, // RSS
	{Header: "helm"}, {Header: "1-CPU"}, // SAME
}

var tableGroups = []benchutil.Group{
	{Span: 1}, {Label: "WALL ms", Span: 3}, {Label: "CPU ms", Span: 3}, {Label: "1-CPU WALL", Span: 2},
	{Label: "1-CPU CPU", Span: 2}, {Label: "RSS MiB", Span: 2}, {Label: "SAME", Span: 2},
}

// legend explains the columns under the table.
const legend = `ms and MiB are medians; × = helm/ours, above 1× we are faster; CPU = user+sys time of the process; RSS = its peak resident set
1-CPU = ours with GOMAXPROCS=1 (Helm runs as it is), its × = helm/ours-1-CPU
SAME: helm = Helm wrote the bytes ours did, 1-CPU = ours with GOMAXPROCS=1 did; varies = they differ, but so do the
      reference's own outputs between runs (Helm's; ours' for 1-CPU): random passwords, certificates
TOTAL: sums of the medians (× of the sums), the largest RSS, the charts with equal output
`

// printTable prints the table, its legend, a note for each chart that was staged or whose 1-CPU output differed, and a
// warning when an RSS figure may be this process's own peak selfRSS rather than the child's.
func printTable(w io.Writer, results []result, selfRSS int64) {
	benchutil.Table{Groups: tableGroups, Columns: columns, Rows: tableRows(results)}.Write(w)
	fmt.Fprint(w, legend)
	for _, r := range results {
		if r.note != "" {
			fmt.Fprintf(w, "note: %s: %s\n", r.chart, r.note)
		}
		if r.err == nil && !r.same1 && !r.oursVaries {
			fmt.Fprintf(w, "note: %s: ours with GOMAXPROCS=1 wrote other bytes than ours\n", r.chart)
		}
	}
	if rssAtMost(results, selfRSS) {
		fmt.Fprintf(w, "warning: bench itself peaked at %s MiB resident, the least a child it starts can read on Linux: "+
			"RSS figures at or below it are not the child's own\n", mib(selfRSS))
	}
}

// rssAtMost tells whether a chart that ran has an RSS median of at most limit bytes (never for a limit of 0, unknown).
func rssAtMost(results []result, limit int64) bool {
	if limit <= 0 {
		return false
	}
	for _, r := range results {
		if r.err == nil && (r.ours.rss <= limit || r.helm.rss <= limit) {
			return true
		}
	}
	return false
}

// tableRows are the table's rows: one per chart, then TOTAL when a chart ran.
func tableRows(results []result) [][]string {
	var rows [][]string
	var total result
	ok, same, comparable1, same1 := 0, 0, 0, 0
	for _, r := range results {
		if r.err != nil {
			rows = append(rows, errorRow(r.chart))
			continue
		}
		ok++
		total.ours, total.helm, total.ours1 = add(total.ours, r.ours), add(total.helm, r.helm), add(total.ours1, r.ours1)
		if r.same {
			same++
		}
		if r.same1 || !r.oursVaries {
			comparable1++
		}
		if r.same1 {
			same1++
		}
		rows = append(rows, row(r.chart, r, sameCell(r.same, r.helmVaries), sameCell(r.same1, r.oursVaries)))
	}
	if ok > 0 {
		rows = append(rows, row("TOTAL", total, fmt.Sprintf("%d/%d", same, ok), fmt.Sprintf("%d/%d", same1, comparable1)))
	}
	return rows
}

// errorRow is the line of a chart whose commands failed: no measures, "error" under SAME helm.
func errorRow(chart string) []string {
	cells := make([]string, len(columns))
	for i := range cells {
		cells[i] = "-"
	}
	cells[0], cells[len(cells)-2] = chart, "error"
	return cells
}

// add adds m's times to sum and keeps the larger RSS.
func add(sum, m measure) measure {
	return measure{wall: sum.wall + m.wall, cpu: sum.cpu + m.cpu, rss: max(sum.rss, m.rss)}
}

// row is one line of the table for the measures of r.
func row(name string, r result, same, same1 string) []string {
	return []string{
		name,
		ms(r.ours.wall), ms(r.helm.wall), benchutil.Ratio(r.helm.wall, r.ours.wall),
		ms(r.ours.cpu), ms(r.helm.cpu), benchutil.Ratio(r.helm.cpu, r.ours.cpu),
		ms(r.ours1.wall), benchutil.Ratio(r.helm.wall, r.ours1.wall),
		ms(r.ours1.cpu), benchutil.Ratio(r.helm.cpu, r.ours1.cpu),
		mib(r.ours.rss), mib(r.helm.rss),
		same, same1,
	}
}

// sameCell says whether two outputs were equal: yes, no, or varies when they differed and the reference's own
// output varies between runs.
func sameCell(same, refVaries bool) string {
	switch {
	case same:
		return "yes"
	case refVaries:
		return "varies"
	}
	return "no"
}

// ms prints a duration in whole milliseconds, without the unit (the column header has it).
func ms(d time.Duration) string {
	return fmt.Sprintf("%.0f", float64(d)/float64(time.Millisecond))
}

// mib prints bytes in whole MiB, without the unit, or "-" when unknown.
func mib(b int64) string {
	if b <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f", float64(b)/(1<<20))
}
