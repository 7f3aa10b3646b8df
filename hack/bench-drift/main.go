// Command bench-drift times `kubectl chart drift -A` against `kubectl diff` of the same manifests, on the test
// control plane of internal/testcluster (the bare shape: etcd and kube-apiserver).
//
// It installs -releases releases of a generated chart of -objects objects (ConfigMaps, Services and Deployments
// in turn) with bin/kubectl-chart, -parallel installs at a time, spread over -namespaces namespaces; writes
// every release's recorded manifest (kubectl chart get manifest) into one file, each object with its namespace;
// then, -runs times after one warm-up each, runs
//
//	kubectl-chart drift -A -o json
//	kubectl diff --server-side --field-manager=kubectl-chart -f all.yaml   (all the manifests at once)
//
// and prints the median wall time, the median CPU time of the child process (user+sys), their ratios and the
// target (drift ≥ 10× faster than kubectl diff, wall time). kubectl diff asks the API server a dry-run apply of
// every object (and a GET of each); drift reads each kind of each namespace with one LIST.
//
//	go run ./hack/bench-drift -ours bin/kubectl-chart
//
// KUBECTL_CHART_K8S_ASSETS names the control plane binaries (make k8s-binaries); kubectl is taken from there.
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
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-chart/kubectl-chart/hack/internal/benchutil"
	"github.com/kubectl-chart/kubectl-chart/internal/testcluster"
	"github.com/kubectl-chart/kubectl-chart/pkg/render"
)

type options struct {
	ours, kubectl                 string
	releases, objects, namespaces int
	parallel, runs                int
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench-drift", flag.ContinueOnError)
	fs.SetOutput(stderr)
	ours := fs.String("ours", "bin/kubectl-chart", "the kubectl-chart binary")
	var o options
	fs.IntVar(&o.releases, "releases", 100, "number of releases")
	fs.IntVar(&o.objects, "objects", 50, "objects per release (ConfigMaps, Services and Deployments in turn)")
	fs.IntVar(&o.namespaces, "namespaces", 10, "namespaces the releases are spread over")
	fs.IntVar(&o.parallel, "parallel", 8, "installs at a time")
	fs.IntVar(&o.runs, "runs", 3, "timed runs of each command (after one warm-up)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	var err error
	if o.ours, err = benchutil.ResolveBinary(*ours); err != nil {
		fmt.Fprintf(stderr, "bench-drift: -ours: %v\n", err)
		return 2
	}
	assets, err := testcluster.AssetsDir()
	if err != nil {
		fmt.Fprintf(stderr, "bench-drift: %v\n", err)
		return 2
	}
	o.kubectl = filepath.Join(assets, "kubectl")
	if err := bench(ctx, o, stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "bench-drift: %v\n", err)
		return 1
	}
	return 0
}

func bench(ctx context.Context, o options, stdout, stderr io.Writer) error {
	work, err := os.MkdirTemp("", "bench-drift-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	chart := filepath.Join(work, "chart")
	if err := writeChart(chart, o.objects); err != nil {
		return err
	}
	fmt.Fprintln(stderr, "bench-drift: starting the bare control plane (etcd, kube-apiserver) …")
	env, err := testcluster.Start(ctx, testcluster.Options{
		ConfigureEnvtest: func(te *envtest.Environment) {
			te.ControlPlane.GetAPIServer().Configure().Set("service-cluster-ip-range", "10.96.0.0/12")
		},
	})
	if err != nil {
		return err
	}
	defer func() {
		if err := env.Stop(); err != nil {
			fmt.Fprintf(stderr, "bench-drift: stop: %v\n", err)
		}
	}()
	kube := []string{"--kubeconfig", env.KubeconfigPath()}
	cacheDir := filepath.Join(work, "cache")

	began := time.Now()
	sem := make(chan struct{}, o.parallel)
	var wg sync.WaitGroup
	errs := make([]error, o.releases)
	for i := range o.releases {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			args := append([]string{"install", releaseName(i), chart, "-n", namespace(i, o.namespaces), "--create-namespace", "--cache-dir", cacheDir}, kube...)
			_, _, errs[i] = timeRun(ctx, o.ours, args)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	fmt.Fprintf(stderr, "bench-drift: %d releases of %d objects installed in %s\n", o.releases, o.objects, time.Since(began).Round(time.Millisecond))

	// Every release's manifest, each object with its namespace, in one file.
	var all bytes.Buffer
	for i := range o.releases {
		ns := namespace(i, o.namespaces)
		out, _, err := timeRun(ctx, o.ours, append([]string{"get", "manifest", releaseName(i), "-n", ns}, kube...))
		if err != nil {
			return err
		}
		for _, doc := range render.SplitManifests(string(out)) {
			var obj map[string]any
			if err := yaml.Unmarshal([]byte(doc), &obj); err != nil || obj == nil {
				continue
			}
			obj["metadata"].(map[string]any)["namespace"] = ns
			b, err := yaml.Marshal(obj)
			if err != nil {
				return err
			}
			all.WriteString("---\n")
			all.Write(b)
		}
	}
	manifests := filepath.Join(work, "all.yaml")
	if err := os.WriteFile(manifests, all.Bytes(), 0o600); err != nil {
		return err
	}

	type cmd struct {
		name, bin string
		args      []string
		ok        func(error) bool
	}
	exit1 := func(err error) bool { // 1: differences found
		var ee *exec.ExitError
		return err == nil || (asExit(err, &ee) && ee.ExitCode() == 1)
	}
	cmds := []cmd{
		{name: "kubectl chart drift -A", bin: o.ours, args: append([]string{"drift", "-A", "-o", "json", "--cache-dir", cacheDir}, kube...), ok: exit1},
		{name: "kubectl diff --server-side (all at once)", bin: o.kubectl, args: append([]string{"diff", "--server-side", "--field-manager=kubectl-chart", "-f", manifests}, kube...), ok: exit1},
	}
	type result struct{ wall, cpu time.Duration }
	results := make([]result, len(cmds))
	for c, cm := range cmds {
		var walls, cpus []time.Duration
		for i := -1; i < o.runs; i++ {
			start := time.Now()
			_, cpu, err := timeRun(ctx, cm.bin, cm.args)
			wall := time.Since(start)
			if err != nil && !cm.ok(err) {
				return err
			}
			if i >= 0 {
				walls, cpus = append(walls, wall), append(cpus, cpu)
			}
		}
		results[c] = result{benchutil.Median(walls), benchutil.Median(cpus)}
		fmt.Fprintf(stderr, "bench-drift: %s: %s\n", cm.name, benchutil.Ms(results[c].wall))
	}

	fmt.Fprintf(stdout, "drift: %d releases × %d objects (ConfigMaps, Services, Deployments) in %d namespaces, bare control plane\n",
		o.releases, o.objects, o.namespaces)
	fmt.Fprintf(stdout, "median of %d runs after one warm-up; CPU is the child process's user+sys\n\n", o.runs)
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "command\twall\tCPU")
	for c, cm := range cmds {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", cm.name, benchutil.Ms(results[c].wall), benchutil.Ms(results[c].cpu))
	}
	tw.Flush()
	wallRatio := float64(results[1].wall) / float64(results[0].wall)
	verdict := "met"
	if wallRatio < 10 {
		verdict = "NOT met"
	}
	fmt.Fprintf(stdout, "\ndrift is %.1f× faster (wall), %s less CPU; target ≥ 10× faster: %s\n",
		wallRatio, benchutil.Ratio(results[1].cpu, results[0].cpu), verdict)
	return nil
}

func asExit(err error, target **exec.ExitError) bool { return errors.As(err, target) }

func releaseName(i int) string  { return fmt.Sprintf("r%03d", i) }
func namespace(i, n int) string { return fmt.Sprintf("drift-%02d", i%n) }

// timeRun runs bin and returns its stdout and CPU time (user+sys).
func timeRun(ctx context.Context, bin string, args []string) ([]byte, time.Duration, error) {
	out, _, cpu, err := benchutil.Run(exec.CommandContext(ctx, bin, args...))
	return out, cpu, err
}

// writeChart writes a chart of n objects: ConfigMaps, Services and Deployments in turn.
func writeChart(dir string, n int) error {
	if err := os.MkdirAll(filepath.Join(dir, "templates"), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "Chart.yaml"), []byte("apiVersion: v2\nname: drift-bench\nversion: 0.1.0\n"), 0o644); err != nil {
		return err
	}
	var b strings.Builder
	for i := range n {
		name := fmt.Sprintf("{{ .Release.Name }}-o%02d", i)
		switch i % 3 {
		case 0:
			fmt.Fprintf(&b, "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s\ndata:\n  key: value-%d\n  other: \"%d\"\n", name, i, i)
		case 1:
			fmt.Fprintf(&b, "---\napiVersion: v1\nkind: Service\nmetadata:\n  name: %s\n  labels: {app: %s}\nspec:\n  selector: {app: %s}\n  ports:\n  - {name: http, port: 80, targetPort: 8080}\n", name, name, name)
		case 2:
			fmt.Fprintf(&b, "---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: %s\n  labels: {app: %s}\nspec:\n  replicas: 2\n  selector:\n    matchLabels: {app: %s}\n  template:\n    metadata:\n      labels: {app: %s}\n    spec:\n      containers:\n      - name: web\n        image: registry.example/web:1.0\n        ports:\n        - containerPort: 8080\n        resources:\n          requests: {cpu: 10m, memory: 16Mi}\n", name, name, name, name)
		}
	}
	return os.WriteFile(filepath.Join(dir, "templates", "objects.yaml"), []byte(b.String()), 0o644)
}
