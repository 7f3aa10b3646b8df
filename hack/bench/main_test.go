package main

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kubectl-chart/kubectl-chart/hack/internal/benchutil"
)

func TestTableRows(t *testing.T) {
	const mib = 1 << 20
	fast := result{
		chart: "a/fast",
		ours:  measure{wall: 100 * time.Millisecond, cpu: 150 * time.Millisecond, rss: 50 * mib},
		helm:  measure{wall: 200 * time.Millisecond, cpu: 300 * time.Millisecond, rss: 60 * mib},
		ours1: measure{wall: 125 * time.Millisecond, cpu: 120 * time.Millisecond, rss: 40 * mib},
		same:  true, same1: true,
	}
	random := result{
		chart:      "b/random",
		ours:       measure{wall: 300 * time.Millisecond, cpu: 350 * time.Millisecond, rss: 80 * mib},
		helm:       measure{wall: 300 * time.Millisecond, cpu: 400 * time.Millisecond, rss: 70 * mib},
		ours1:      measure{wall: 375 * time.Millisecond, cpu: 320 * time.Millisecond, rss: 60 * mib},
		helmVaries: true, oursVaries: true,
	}
	broken := fast
	broken.chart, broken.same1 = "c/broken", false
	failed := result{chart: "d/failed", err: errors.New("exit status 1")}

	for _, c := range []struct {
		name    string
		results []result
		want    [][]string
	}{
		{
			name:    "equal and varying outputs, total",
			results: []result{fast, random},
			want: [][]string{
				{"a/fast", "100", "200", "2.00×", "150", "300", "2.00×", "125", "1.60×", "120", "2.50×", "50", "60", "yes", "yes"},
				{"b/random", "300", "300", "1.00×", "350", "400", "1.14×", "375", "0.80×", "320", "1.25×", "80", "70", "varies", "varies"},
				{"TOTAL", "400", "500", "1.25×", "500", "700", "1.40×", "500", "1.00×", "440", "1.59×", "80", "70", "1/2", "1/1"},
			},
		},
		{
			name:    "1-CPU output differs, a chart fails",
			results: []result{broken, failed},
			want: [][]string{
				{"c/broken", "100", "200", "2.00×", "150", "300", "2.00×", "125", "1.60×", "120", "2.50×", "50", "60", "yes", "no"},
				{"d/failed", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "error", "-"},
				{"TOTAL", "100", "200", "2.00×", "150", "300", "2.00×", "125", "1.60×", "120", "2.50×", "50", "60", "1/1", "0/1"},
			},
		},
		{
			name:    "no chart ran, no total",
			results: []result{failed},
			want: [][]string{
				{"d/failed", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "error", "-"},
			},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := tableRows(c.results)
			if diff := cmp.Diff(c.want, got); diff != "" {
				t.Errorf("tableRows (-want +got):\n%s", diff)
			}
			for _, row := range got {
				if len(row) != len(columns) {
					t.Errorf("row %q has %d cells for %d columns", row[0], len(row), len(columns))
				}
			}
		})
	}
}

func TestMedians(t *testing.T) {
	runs := []benchutil.Stats{
		{Wall: 3 * time.Millisecond, CPU: 30 * time.Millisecond, MaxRSS: 300},
		{Wall: 1 * time.Millisecond, CPU: 50 * time.Millisecond, MaxRSS: 100},
		{Wall: 2 * time.Millisecond, CPU: 40 * time.Millisecond, MaxRSS: 500},
	}
	want := measure{wall: 2 * time.Millisecond, cpu: 40 * time.Millisecond, rss: 300}
	if diff := cmp.Diff(want, medians(runs), cmp.AllowUnexported(measure{})); diff != "" {
		t.Errorf("medians (-want +got):\n%s", diff)
	}
}

func TestRSSAtMost(t *testing.T) {
	results := []result{
		{chart: "a", ours: measure{rss: 50}, helm: measure{rss: 60}},
		{chart: "b", err: errors.New("failed")},
	}
	for _, c := range []struct {
		limit int64
		want  bool
	}{{0, false}, {49, false}, {50, true}, {100, true}} {
		if got := rssAtMost(results, c.limit); got != c.want {
			t.Errorf("rssAtMost(%d) = %v, want %v", c.limit, got, c.want)
		}
	}
}
