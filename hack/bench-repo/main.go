// Command bench-repo times chart repository commands of kubectl-chart
// against the Helm oracle on a large repository: it generates an index.yaml
// of -charts charts × -versions versions (20,000 entries by default, with
// realistic descriptions, keywords, maintainers and URLs), serves it on
// loopback with one real chart archive, adds it with both tools (each with
// its own HELM_* homes), then times, -runs times after a warm-up, each tool
// as a child process:
//
//   - search repo KEYWORD
//   - template x REPO/CHART (needs chart references in template; a failure is
//     reported as an error row)
//
// and prints the medians of wall time and of CPU time (user+sys of the
// child, from os.ProcessState) with the ratios Helm/ours. The target of the
// repository work is ≥ 5× on search and resolution. It also prints, once,
// our first search over an index that `helm repo update` rewrote (the
// compact cache is rebuilt from the YAML then).
//
// Usually run by `make bench-repo` (or `make bench`).
package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/kubectl-chart/kubectl-chart/hack/internal/benchutil"
	"github.com/kubectl-chart/kubectl-chart/pkg/chart"
	"github.com/kubectl-chart/kubectl-chart/pkg/chart/loader"
	"github.com/kubectl-chart/kubectl-chart/pkg/chart/packager"
	"github.com/kubectl-chart/kubectl-chart/pkg/repo"
)

type options struct {
	ours, helm       string
	charts, versions int
	runs             int
	keyword          string
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench-repo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	fs.StringVar(&o.ours, "ours", filepath.Join("bin", "kubectl-chart"), "kubectl-chart binary")
	fs.StringVar(&o.helm, "helm", benchutil.EnvOr("HELM", benchutil.DefaultHelm()), "Helm v4.3.1 binary")
	fs.IntVar(&o.charts, "charts", 2000, "charts in the generated index")
	fs.IntVar(&o.versions, "versions", 10, "versions of each chart")
	fs.IntVar(&o.runs, "runs", 5, "timed runs of each command and tool (after one warm-up)")
	fs.StringVar(&o.keyword, "keyword", "database", "keyword of search repo")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	var err error
	if o.ours, err = benchutil.ResolveBinary(o.ours); err != nil {
		fmt.Fprintf(stderr, "bench-repo: -ours: %v (make build builds it)\n", err)
		return 2
	}
	if o.helm, err = benchutil.ResolveBinary(o.helm); err != nil {
		fmt.Fprintf(stderr, "bench-repo: -helm: %v (make helm builds it)\n", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := bench(ctx, o, stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "bench-repo: %v\n", err)
		return 1
	}
	return 0
}

// tool is one binary with its own Helm homes.
type tool struct {
	name, bin string
	env       []string
}

func newTool(name, bin, dir string) tool {
	home := filepath.Join(dir, name)
	return tool{name: name, bin: bin, env: []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + home,
		"HELM_CONFIG_HOME=" + filepath.Join(home, "config"),
		"HELM_CACHE_HOME=" + filepath.Join(home, "cache"),
		"HELM_DATA_HOME=" + filepath.Join(home, "data"),
		"KUBECONFIG=" + filepath.Join(home, "no-kubeconfig"),
	}}
}

// sample is one run: wall and CPU (user+sys) time.
type sample struct{ wall, cpu time.Duration }

func (t tool) run(ctx context.Context, args ...string) (sample, []byte, error) {
	cmd := exec.CommandContext(ctx, t.bin, args...)
	cmd.Env = t.env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	s := sample{wall: time.Since(start)}
	if cmd.ProcessState != nil {
		s.cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	}
	if err != nil {
		msg := strings.TrimSpace(errb.String())
		if lines := strings.Split(msg, "\n"); len(lines) > 3 {
			msg = strings.Join(lines[:3], "\n") + "\n…"
		}
		return s, nil, fmt.Errorf("%s %s: %w: %s", t.name, strings.Join(args, " "), err, msg)
	}
	return s, out.Bytes(), nil
}

type row struct {
	what       string
	ours, helm sample
	err        error
}

func bench(ctx context.Context, o options, stdout, stderr io.Writer) error {
	work, err := os.MkdirTemp("", "bench-repo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)

	target, archive, err := writeArchive(work)
	if err != nil {
		return err
	}
	index, err := generateIndex(o, target, archive)
	if err != nil {
		return err
	}
	// Archive downloads per tool, told apart by User-Agent.
	var mu sync.Mutex
	downloads := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/index.yaml":
			w.Write(index)
		case strings.HasSuffix(r.URL.Path, ".tgz"):
			tool := "helm"
			if strings.HasPrefix(r.UserAgent(), "kubectl-chart/") {
				tool = "ours"
			}
			mu.Lock()
			downloads[tool]++
			mu.Unlock()
			w.Write(archive)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	fmt.Fprintf(stdout, "index: %d charts × %d versions = %d entries, %.1f MiB, served from %s\n",
		o.charts, o.versions, o.charts*o.versions, float64(len(index))/(1<<20), srv.URL)

	ours, helm := newTool("ours", o.ours, work), newTool("helm", o.helm, work)
	for _, t := range []tool{ours, helm} {
		s, _, err := t.run(ctx, "repo", "add", "bench", srv.URL)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "repo add with %s: %s wall\n", t.name, benchutil.Ms(s.wall))
	}

	var rows []row
	rows = append(rows, timeBoth(ctx, o.runs, ours, helm, "search repo "+o.keyword, "search", "repo", o.keyword))
	rows = append(rows, timeBoth(ctx, o.runs, ours, helm, "template x bench/"+target, "template", "x", "bench/"+target))

	printRows(stdout, o.runs, rows)
	mu.Lock()
	fmt.Fprintf(stdout, "archive downloads over the %d template runs of one version: ours %d, helm %d\n", o.runs+1, downloads["ours"], downloads["helm"])
	mu.Unlock()
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		fmt.Fprintf(stdout, "load average after the runs: %s", b)
	}

	// Our first search after Helm rewrote the index in our homes.
	helmInOurs := tool{name: "helm", bin: o.helm, env: ours.env}
	if _, _, err := helmInOurs.run(ctx, "repo", "update"); err != nil {
		fmt.Fprintf(stdout, "\nhelm repo update in our homes failed: %v\n", err)
		return nil
	}
	cold, _, err := ours.run(ctx, "search", "repo", o.keyword)
	if err != nil {
		fmt.Fprintf(stdout, "\nour first search after helm repo update failed: %v\n", err)
		return nil
	}
	warm, _, _ := ours.run(ctx, "search", "repo", o.keyword)
	fmt.Fprintf(stdout, "\nours after `helm repo update` rewrote the index: first search %s wall (parses the YAML, writes the compact form), next %s\n",
		benchutil.Ms(cold.wall), benchutil.Ms(warm.wall))
	return nil
}

func timeBoth(ctx context.Context, runs int, ours, helm tool, what string, args ...string) row {
	r := row{what: what}
	var ow, oc, hw, hc []time.Duration
	for i := -1; i < runs; i++ {
		so, _, err := ours.run(ctx, args...)
		if err != nil {
			r.err = err
			return r
		}
		sh, _, err := helm.run(ctx, args...)
		if err != nil {
			r.err = err
			return r
		}
		if i >= 0 {
			ow, oc, hw, hc = append(ow, so.wall), append(oc, so.cpu), append(hw, sh.wall), append(hc, sh.cpu)
		}
	}
	r.ours = sample{benchutil.Median(ow), benchutil.Median(oc)}
	r.helm = sample{benchutil.Median(hw), benchutil.Median(hc)}
	return r
}

func printRows(w io.Writer, runs int, rows []row) {
	fmt.Fprintf(w, "\nmedians of %d runs after a warm-up; CPU is user+sys of the child process\n", runs)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "COMMAND\tOURS WALL\tHELM WALL\tHELM/OURS\tOURS CPU\tHELM CPU\tHELM/OURS")
	for _, r := range rows {
		if r.err != nil {
			fmt.Fprintf(tw, "%s\terror\t-\t-\t-\t-\t-\n", r.what)
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.what,
			benchutil.Ms(r.ours.wall), benchutil.Ms(r.helm.wall), benchutil.Ratio(r.helm.wall, r.ours.wall),
			benchutil.Ms(r.ours.cpu), benchutil.Ms(r.helm.cpu), benchutil.Ratio(r.helm.cpu, r.ours.cpu))
	}
	tw.Flush()
	for _, r := range rows {
		if r.err != nil {
			fmt.Fprintf(w, "%s: %v\n", r.what, r.err)
		}
	}
}

// writeArchive packages the one real chart (the template target).
func writeArchive(dir string) (string, []byte, error) {
	src := filepath.Join(dir, "src", "app-0042")
	if err := os.MkdirAll(filepath.Join(src, "templates"), 0o755); err != nil {
		return "", nil, err
	}
	files := map[string]string{
		"Chart.yaml":                "apiVersion: v2\nname: app-0042\nversion: 1.9.0\nappVersion: \"2.4.1\"\ndescription: benchmark chart\n",
		"values.yaml":               "replicas: 2\nimage: example/app:2.4.1\n",
		"templates/deployment.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}\nspec:\n  replicas: {{ .Values.replicas }}\n  template:\n    spec:\n      containers:\n      - name: app\n        image: {{ .Values.image }}\n",
	}
	for n, c := range files {
		if err := os.WriteFile(filepath.Join(src, n), []byte(c), 0o644); err != nil {
			return "", nil, err
		}
	}
	ch, err := loader.LoadDir(src)
	if err != nil {
		return "", nil, err
	}
	p, err := packager.Save(ch, filepath.Join(dir, "src"))
	if err != nil {
		return "", nil, err
	}
	b, err := os.ReadFile(p)
	return "app-0042", b, err
}

var words = strings.Fields(`web database cache queue proxy monitoring logging metrics storage backup
	gateway ingress operator controller exporter dashboard search stream analytics auth identity mesh
	registry runner scheduler worker api server client agent collector broker`)

// generateIndex writes a realistic index: the target's newest version is
// the real archive, every other entry has a made-up digest.
func generateIndex(o options, target string, archive []byte) ([]byte, error) {
	rng := rand.New(rand.NewPCG(1, 2))
	sum := sha256.Sum256(archive)
	i := repo.NewIndexFile()
	created := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for c := range o.charts {
		name := fmt.Sprintf("app-%04d", c)
		kw := []string{words[rng.IntN(len(words))], words[rng.IntN(len(words))], words[rng.IntN(len(words))]}
		desc := fmt.Sprintf("A Helm chart for the %s %s of the example platform, with %s support and sane defaults", kw[0], kw[1], kw[2])
		for v := range o.versions {
			version := fmt.Sprintf("1.%d.0", v)
			digest := make([]byte, 32)
			for k := range digest {
				digest[k] = byte(rng.UintN(256))
			}
			d := hex.EncodeToString(digest)
			if name == target && v == o.versions-1 {
				version, d = "1.9.0", hex.EncodeToString(sum[:])
			}
			i.Entries[name] = append(i.Entries[name], &repo.ChartVersion{
				Metadata: &chart.Metadata{
					APIVersion: "v2", Name: name, Version: version, AppVersion: fmt.Sprintf("%d.%d.%d", 2, v, c%7),
					Description: desc, Keywords: kw, Type: "application",
					Home:        "https://example.com/charts/" + name,
					Sources:     []string{"https://github.com/example/" + name},
					Icon:        "https://example.com/icons/" + name + ".png",
					Maintainers: []*chart.Maintainer{{Name: "Example Maintainers", Email: "charts@example.com"}},
				},
				URLs:    []string{fmt.Sprintf("charts/%s-%s.tgz", name, version)},
				Created: created.Add(time.Duration(c*o.versions+v) * time.Minute),
				Digest:  d,
			})
		}
	}
	i.SortEntries()
	return i.Marshal(false)
}
