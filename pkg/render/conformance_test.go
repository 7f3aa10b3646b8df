package render_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/Masterminds/semver/v3"

	"github.com/kubectl-chart/kubectl-chart/pkg/chart"
	"github.com/kubectl-chart/kubectl-chart/pkg/chart/loader"
	"github.com/kubectl-chart/kubectl-chart/pkg/render"
	"github.com/kubectl-chart/kubectl-chart/pkg/values"
)

// corpusDir finds ../shared/charts (Helm's goldens for real charts) through
// KUBECTL_CHART_CORPUS or the folder beside the repository.
func corpusDir(t testing.TB) string {
	t.Helper()
	if d := os.Getenv("KUBECTL_CHART_CORPUS"); d != "" {
		if _, err := os.Stat(filepath.Join(d, "golden", "cases.tsv")); err == nil {
			return d
		}
		t.Fatalf("KUBECTL_CHART_CORPUS=%s has no golden/cases.tsv", d)
	}
	d, _ := filepath.Abs(filepath.Join("..", "..", "..", "shared", "charts"))
	if _, err := os.Stat(filepath.Join(d, "golden", "cases.tsv")); err == nil {
		return d
	}
	t.Skipf("chart corpus not found: set KUBECTL_CHART_CORPUS or put shared/charts beside the repository (looked in %s)", d)
	return ""
}

type conformanceCase struct {
	key, chartDir, valuesFile string
	helmFails, deterministic  bool
}

func readCases(t testing.TB, corpus string) []conformanceCase {
	t.Helper()
	f, err := os.Open(filepath.Join(corpus, "golden", "cases.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var cases []conformanceCase
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		cols := strings.Split(sc.Text(), "\t")
		if len(cols) != 5 {
			continue
		}
		cases = append(cases, conformanceCase{
			key: cols[0], chartDir: cols[1], valuesFile: cols[2],
			helmFails: cols[3] != "0", deterministic: cols[4] == "yes",
		})
	}
	return cases
}

// renderCase renders one case as `helm template rel ./<chart> --namespace
// ns1 [-f <chart>/ci/<file>]` run from the corpus folder.
func renderCase(corpus string, c conformanceCase) (string, []string, error) {
	opts := values.Options{}
	if c.valuesFile != "-" {
		opts.ValueFiles = []string{filepath.Join(corpus, c.valuesFile)}
	}
	vals, err := opts.MergeValues(nil)
	if err != nil {
		return "", nil, err
	}
	ch, err := loader.Load(filepath.Join(corpus, c.chartDir))
	if err != nil {
		return "", nil, err
	}
	dropped, err := completeFromCorpus(corpus, ch)
	if err != nil {
		return "", nil, err
	}
	var droppedPrefixes []string
	for _, d := range dropped {
		droppedPrefixes = append(droppedPrefixes, ch.Name()+"/charts/"+d+"/")
	}
	ro := render.DefaultOptions()
	ro.ReleaseName, ro.Namespace = "rel", "ns1"
	res, err := render.Render(context.Background(), ch, vals, ro)
	if err != nil {
		return "", droppedPrefixes, err
	}
	out, err := res.Template(render.TemplateOptions{})
	return out, droppedPrefixes, err
}

// withoutSources drops the documents whose "# Source:" path starts with one
// of the prefixes.
func withoutSources(text string, prefixes []string) string {
	if len(prefixes) == 0 {
		return text
	}
	const marker = "---\n# Source: "
	chunks := strings.Split(text, marker)
	var sb strings.Builder
	sb.WriteString(chunks[0])
	for _, c := range chunks[1:] {
		drop := false
		for _, p := range prefixes {
			if strings.HasPrefix(c, p) {
				drop = true
			}
		}
		if !drop {
			sb.WriteString(marker)
			sb.WriteString(c)
		}
	}
	return sb.String()
}

// completeFromCorpus fills declared dependencies that the corpus copy of a
// chart lacks (its packaged charts/*.tgz were not shipped) with the corpus's
// own copy of that chart at the same version, and drops those it cannot
// find. It returns the names dropped: their documents are left out of the
// comparison.
func completeFromCorpus(corpus string, ch *chart.Chart) ([]string, error) {
	if render.CheckDependencies(ch) == nil {
		return nil, nil
	}
	present := map[string]bool{}
	for _, d := range ch.Dependencies() {
		present[d.Name()] = true
	}
	var dropped []string
	var kept []*chart.Dependency
	for _, dep := range ch.Metadata.Dependencies {
		if present[dep.Name] {
			kept = append(kept, dep)
			continue
		}
		sub := findCorpusChart(corpus, dep)
		if sub == nil {
			dropped = append(dropped, dep.Name)
			continue
		}
		ch.AddDependency(sub)
		kept = append(kept, dep)
	}
	ch.Metadata.Dependencies = kept
	return dropped, nil
}

func findCorpusChart(corpus string, dep *chart.Dependency) *chart.Chart {
	matches, _ := filepath.Glob(filepath.Join(corpus, "*", dep.Name, "Chart.yaml"))
	for _, m := range matches {
		sub, err := loader.Load(filepath.Dir(m))
		if err != nil {
			continue
		}
		if c, err := semver.NewConstraint(dep.Version); err == nil {
			if v, err := semver.NewVersion(sub.Metadata.Version); err == nil && c.Check(v) {
				return sub
			}
		}
	}
	return nil
}

// TestConformance renders every case of the corpus and compares with Helm
// v4.3.1's output byte for byte (volatile lines of random output excepted).
func TestConformance(t *testing.T) {
	corpus := corpusDir(t)
	cases := readCases(t, corpus)
	var mu sync.Mutex
	identical, partial := 0, 0
	t.Run("cases", func(t *testing.T) {
		for _, c := range cases {
			t.Run(c.key, func(t *testing.T) {
				t.Parallel()
				got, dropped, err := renderCase(corpus, c)
				if len(dropped) > 0 {
					t.Logf("the corpus lacks subcharts %v: their documents are not compared", dropped)
				}
				if ok := checkCase(t, corpus, c, got, dropped, err); ok {
					mu.Lock()
					identical++
					if len(dropped) > 0 {
						partial++
					}
					mu.Unlock()
				}
			})
		}
	})
	msg := fmt.Sprintf("%d/%d cases identical", identical, len(cases))
	if partial > 0 {
		msg += fmt.Sprintf(" (%d without the documents of subcharts missing from the corpus)", partial)
	}
	t.Log(msg)
	fmt.Println("conformance:", msg)
}

func checkCase(t *testing.T, corpus string, c conformanceCase, got string, dropped []string, err error) bool {
	golden := filepath.Join(corpus, "golden")
	if c.helmFails {
		helmErr, _ := os.ReadFile(filepath.Join(golden, "run1", c.key+".err"))
		want := helmErrorLine(string(helmErr))
		if err == nil {
			t.Errorf("helm fails with %q; we rendered without error", want)
			return false
		}
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error differs from Helm's:\nwant: %s\ngot:  %v", want, err)
			return false
		}
		return true
	}
	if err != nil {
		t.Errorf("render failed: %v", err)
		return false
	}
	want1b, err := os.ReadFile(filepath.Join(golden, "run1", c.key+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	want1 := withoutSources(string(want1b), dropped)
	if got == want1 {
		return true
	}
	if !c.deterministic {
		want2, err := os.ReadFile(filepath.Join(golden, "run2", c.key+".yaml"))
		if err != nil {
			t.Fatal(err)
		}
		if msg := compareVolatile(want1, withoutSources(string(want2), dropped), got); msg == "" {
			return true
		} else {
			t.Error(msg)
			return false
		}
	}
	t.Errorf("output differs from Helm's:\n%s", firstDiff(want1, got))
	return false
}

// helmErrorLine is the first line of Helm's error, without "Error: ".
func helmErrorLine(stderr string) string {
	for _, line := range strings.Split(stderr, "\n") {
		if rest, ok := strings.CutPrefix(line, "Error: "); ok {
			return rest
		}
	}
	return strings.TrimSpace(stderr)
}

// compareVolatile compares got with a non-deterministic golden: lines equal
// in both Helm runs must match exactly; a line that differs between the runs
// must be present in ours with the same text up to where the runs diverge.
func compareVolatile(run1, run2, got string) string {
	l1, l2, lg := strings.Split(run1, "\n"), strings.Split(run2, "\n"), strings.Split(got, "\n")
	if len(l1) != len(l2) {
		return fmt.Sprintf("Helm's two runs have different line counts (%d, %d): cannot compare", len(l1), len(l2))
	}
	if len(lg) != len(l1) {
		return fmt.Sprintf("line count %d, Helm %d:\n%s", len(lg), len(l1), firstDiff(run1, got))
	}
	for i := range l1 {
		if l1[i] == l2[i] {
			if lg[i] != l1[i] {
				return fmt.Sprintf("line %d differs:\nwant: %q\ngot:  %q", i+1, l1[i], lg[i])
			}
			continue
		}
		// The fixed part ends at the last separator before the runs
		// diverge: random text may share a few leading characters by chance.
		p := strings.LastIndexAny(l1[i][:commonPrefix(l1[i], l2[i])], " :\"'") + 1
		if !strings.HasPrefix(lg[i], l1[i][:p]) || len(lg[i]) == p && len(l1[i]) > p {
			return fmt.Sprintf("volatile line %d differs in its fixed part:\nwant: %q…\ngot:  %q", i+1, l1[i][:p], lg[i])
		}
	}
	return ""
}

func commonPrefix(a, b string) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}

// firstDiff shows the first differing line with some context.
func firstDiff(want, got string) string {
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(wl) || i < len(gl); i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g || i >= len(wl) || i >= len(gl) {
			from := max(0, i-3)
			var sb strings.Builder
			fmt.Fprintf(&sb, "first difference at line %d (want %d lines, got %d)\n", i+1, len(wl), len(gl))
			for j := from; j < i; j++ {
				fmt.Fprintf(&sb, "  %q\n", wl[j])
			}
			fmt.Fprintf(&sb, "- %q\n+ %q\n", w, g)
			return sb.String()
		}
	}
	return "outputs are equal"
}
