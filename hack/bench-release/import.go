package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-chart/kubectl-chart/hack/internal/benchutil"
	"github.com/kubectl-chart/kubectl-chart/internal/testcluster"
)

// writes counts the API server's requests by kind: writes (create, update, patch, apply, delete) and dry runs
// of them, from its apiserver_request_total counter.
type writes struct{ writes, dryRuns float64 }

func (w writes) minus(o writes) writes { return writes{w.writes - o.writes, w.dryRuns - o.dryRuns} }

// apiWrites reads the API server's counts of write requests so far (its /metrics, as the admin).
func apiWrites(ctx context.Context, cs kubernetes.Interface) (writes, error) {
	raw, err := cs.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		return writes{}, fmt.Errorf("the API server's /metrics: %w", err)
	}
	var w writes
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "apiserver_request_total{") {
			continue
		}
		labels, value, ok := strings.Cut(line[len("apiserver_request_total{"):], "} ")
		if !ok {
			continue
		}
		switch labelOf(labels, "verb") {
		case "POST", "PUT", "PATCH", "APPLY", "DELETE", "DELETECOLLECTION":
		default:
			continue
		}
		n, err := strconv.ParseFloat(value, 64)
		if err != nil {
			continue
		}
		if labelOf(labels, "dry_run") != "" {
			w.dryRuns += n
		} else {
			w.writes += n
		}
	}
	return w, sc.Err()
}

// labelOf is a label's value in a Prometheus sample's label text.
func labelOf(labels, name string) string {
	i := strings.Index(labels, name+`="`)
	if i < 0 || i > 0 && labels[i-1] != ',' {
		return ""
	}
	rest := labels[i+len(name)+2:]
	if j := strings.IndexByte(rest, '"'); j >= 0 {
		return rest[:j]
	}
	return ""
}

// importRound is one import of a Helm release, and a fresh install of ours for comparison.
type importRound struct {
	importTime, installTime     time.Duration
	importWrites, installWrites writes
}

// benchImport: for each round, Helm installs the chart (untimed) in a fresh namespace, then `kubectl chart
// import-helm` adopts it, timed, with the API server's write requests counted; beside it, a fresh `kubectl chart
// install` of the same chart in another namespace, timed and counted the same way.
func benchImport(ctx context.Context, opts options, cs kubernetes.Interface, env *testcluster.Env, ours, helm tool, chart string, stderr io.Writer) ([]importRound, error) {
	var out []importRound
	for i := -1; i < opts.runs; i++ {
		var r importRound
		for _, ns := range []string{fmt.Sprintf("import-%d", i+1), fmt.Sprintf("import-fresh-%d", i+1)} {
			if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
				return nil, err
			}
		}
		kube := []string{"--kubeconfig", env.KubeconfigPath(), "--namespace"}
		ns := fmt.Sprintf("import-%d", i+1)
		if _, _, _, err := timeRun(ctx, helm, append([]string{"install", release, chart, "--set", "rev=1"}, append(kube, ns)...)); err != nil {
			return nil, err
		}
		before, err := apiWrites(ctx, cs)
		if err != nil {
			return nil, err
		}
		if _, r.importTime, _, err = timeRun(ctx, ours, append([]string{"import-helm", release}, append(kube, ns)...)); err != nil {
			return nil, err
		}
		after, err := apiWrites(ctx, cs)
		if err != nil {
			return nil, err
		}
		r.importWrites = after.minus(before)

		fresh := fmt.Sprintf("import-fresh-%d", i+1)
		before = after
		if _, r.installTime, _, err = timeRun(ctx, ours, append([]string{"install", release, chart, "--set", "rev=1"}, append(kube, fresh)...)); err != nil {
			return nil, err
		}
		if after, err = apiWrites(ctx, cs); err != nil {
			return nil, err
		}
		r.installWrites = after.minus(before)
		label := fmt.Sprintf("round %d", i+1)
		if i < 0 {
			label = "warm-up"
		} else {
			out = append(out, r)
		}
		fmt.Fprintf(stderr, "bench-release: import, %s: import-helm %s (%.0f writes, %.0f dry runs), a fresh install %s (%.0f writes, %.0f dry runs)\n",
			label, benchutil.Ms(r.importTime), r.importWrites.writes, r.importWrites.dryRuns, benchutil.Ms(r.installTime), r.installWrites.writes, r.installWrites.dryRuns)
	}
	return out, nil
}

// printImport prints the medians of the import rounds.
func printImport(w io.Writer, rs []importRound, objects int) {
	if len(rs) == 0 {
		return
	}
	med := func(f func(importRound) time.Duration) time.Duration {
		var ds []time.Duration
		for _, r := range rs {
			ds = append(ds, f(r))
		}
		return benchutil.Median(ds)
	}
	medW := func(f func(importRound) float64) float64 {
		var ds []time.Duration
		for _, r := range rs {
			ds = append(ds, time.Duration(f(r)))
		}
		return float64(benchutil.Median(ds))
	}
	fmt.Fprintf(w, "\nIMPORT OF A HELM RELEASE (%d objects, installed by Helm untimed; medians of %d rounds)\n", objects, len(rs))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "\tWALL\tAPI WRITES\tDRY RUNS")
	fmt.Fprintf(tw, "kubectl chart import-helm\t%s\t%.0f\t%.0f\n", benchutil.Ms(med(func(r importRound) time.Duration { return r.importTime })),
		medW(func(r importRound) float64 { return r.importWrites.writes }), medW(func(r importRound) float64 { return r.importWrites.dryRuns }))
	fmt.Fprintf(tw, "kubectl chart install (fresh)\t%s\t%.0f\t%.0f\n", benchutil.Ms(med(func(r importRound) time.Duration { return r.installTime })),
		medW(func(r importRound) float64 { return r.installWrites.writes }), medW(func(r importRound) float64 { return r.installWrites.dryRuns }))
	tw.Flush()
	fmt.Fprintln(w, "(API WRITES: create, update, patch, apply and delete requests the API server counted meanwhile (apiserver_request_total),")
	fmt.Fprintln(w, "dry runs apart: an import labels each object (one apply) and rewrites its managedFields (one patch), after a dry-run")
	fmt.Fprintln(w, "apply of its manifest to learn which fields it sets)")
}
