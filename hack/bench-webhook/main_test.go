package main

import (
	"math"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseMetrics(t *testing.T) {
	text := []byte(`# HELP chart_webhook_requests_total Admission requests.
# TYPE chart_webhook_requests_total counter
chart_webhook_requests_total{kind="ConfigMap",operation="UPDATE"} 12
chart_webhook_requests_total{kind="Secret",operation="CREATE"} 3
go_memstats_heap_inuse_bytes 1.2e+07
chart_webhook_request_duration_seconds_bucket{le="0.0001"} 5
chart_webhook_request_duration_seconds_bucket{le="5e-05"} 2
chart_webhook_request_duration_seconds_bucket{le="+Inf"} 15
label_with_space{path="a b"} 7 1700000000
controller_runtime_webhook_requests_total{code="200",webhook="/mutate"} 4
controller_runtime_webhook_requests_total{code="500",webhook="/mutate"} 1
controller_runtime_webhook_requests_total{code="200",webhook="/validate"} 9
`)
	m := parseMetrics(text)
	if got := m.sum("chart_webhook_requests_total"); got != 15 {
		t.Errorf("sum(requests) = %v, want 15", got)
	}
	if got := m.value("go_memstats_heap_inuse_bytes"); got != 12e6 {
		t.Errorf("heap in use = %v, want 1.2e7", got)
	}
	if got := m.value("absent"); !math.IsNaN(got) {
		t.Errorf("absent = %v, want NaN", got)
	}
	if got := m[`label_with_space{path="a b"}`]; got != 7 {
		t.Errorf("label with a space = %v, want 7", got)
	}
	if got := m.webhookRequests("/mutate"); got != 5 {
		t.Errorf("requests on /mutate = %v, want 5", got)
	}
	want := []bucket{{5e-05, 2}, {0.0001, 5}, {math.Inf(1), 15}}
	if diff := cmp.Diff(want, m.histogram("chart_webhook_request_duration_seconds"), cmp.AllowUnexported(bucket{})); diff != "" {
		t.Errorf("histogram (-want +got):\n%s", diff)
	}
}

func TestHistogramQuantile(t *testing.T) {
	before := []bucket{{0.001, 10}, {0.002, 10}, {math.Inf(1), 10}}
	after := []bucket{{0.001, 60}, {0.002, 109}, {math.Inf(1), 110}}
	for _, c := range []struct {
		name string
		q    float64
		want float64
	}{
		{"median in the first bucket", 0.5, 0.001},
		{"p99 in the second", 0.99, 0.002},
		{"p100 in the last", 1, math.Inf(1)},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := histogramQuantile(c.q, before, after); got != c.want {
				t.Errorf("histogramQuantile(%v) = %v, want %v", c.q, got, c.want)
			}
		})
	}
	if got := histogramQuantile(0.5, after, after); !math.IsNaN(got) {
		t.Errorf("without observations: %v, want NaN", got)
	}
}

func TestPercentiles(t *testing.T) {
	var ds []time.Duration
	for i := 1; i <= 100; i++ {
		ds = append(ds, time.Duration(101-i)*time.Millisecond)
	}
	got := percentiles(ds, 0.5, 0.9, 0.99, 1)
	want := []time.Duration{50 * time.Millisecond, 90 * time.Millisecond, 99 * time.Millisecond, 100 * time.Millisecond}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("percentiles (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]time.Duration{0}, percentiles(nil, 0.5)); diff != "" {
		t.Errorf("percentiles of nothing (-want +got):\n%s", diff)
	}
}

func TestParseCPUList(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []int
	}{
		{"0", []int{0}},
		{"0-1", []int{0, 1}},
		{"0-2,5,7-8\n", []int{0, 1, 2, 5, 7, 8}},
	} {
		got, err := parseCPUList(c.in)
		if err != nil {
			t.Errorf("parseCPUList(%q): %v", c.in, err)
			continue
		}
		if diff := cmp.Diff(c.want, got); diff != "" {
			t.Errorf("parseCPUList(%q) (-want +got):\n%s", c.in, diff)
		}
	}
	for _, bad := range []string{"", "a", "3-1", "1,,2"} {
		if got, err := parseCPUList(bad); err == nil {
			t.Errorf("parseCPUList(%q) = %v, want an error", bad, got)
		}
	}
}

// TestSchedule checks that each workload's phases come in adjacent pairs, one each way, whose order
// alternates, and that the webhook configuration changes twice per block.
func TestSchedule(t *testing.T) {
	a, b := &workload{name: "a"}, &workload{name: "b"}
	var got []string
	toggles, on := 0, false
	for _, st := range schedule(a, b, 2) {
		got = append(got, st.w.name+withWithout(st.on))
		if st.on != on {
			toggles++
			on = st.on
		}
	}
	want := []string{"awith", "awithout", "bwithout", "bwith", "bwith", "bwithout", "awithout", "awith"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("schedule(a, b, 2) (-want +got):\n%s", diff)
	}
	if toggles != 5 { // off → on at the start, then two per block
		t.Errorf("%d changes of the webhook configuration, want 5", toggles)
	}
	got = nil
	for _, st := range schedule(a, nil, 3) {
		got = append(got, st.w.name+withWithout(st.on))
	}
	want = []string{"awith", "awithout", "awithout", "awith", "awith", "awithout"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("schedule(a, nil, 3) (-want +got):\n%s", diff)
	}
}

func TestWorkloadPairs(t *testing.T) {
	lat := func(d time.Duration) series {
		return series{lat: []time.Duration{d}, sent: 1, calls: 1, reasons: map[string]float64{"NotOwned": 1}}
	}
	w := &workload{}
	w.record(true, lat(5*time.Millisecond))
	w.record(false, lat(2*time.Millisecond))
	w.record(false, lat(4*time.Millisecond))
	w.record(true, lat(5*time.Millisecond))
	w.record(true, lat(9*time.Millisecond))
	w.record(false, lat(1*time.Millisecond))
	want := []time.Duration{3 * time.Millisecond, 1 * time.Millisecond, 8 * time.Millisecond}
	if diff := cmp.Diff(want, w.pairs); diff != "" {
		t.Errorf("pairs (-want +got):\n%s", diff)
	}
	if _, m := w.addedP99(); m != 3*time.Millisecond {
		t.Errorf("median per pair = %v, want 3ms", m)
	}
	if got := w.with.reached(); got != "100.0%" {
		t.Errorf("reached = %q, want 100.0%%", got)
	}
	if got := w.with.decisions(); got != "NotOwned 3" {
		t.Errorf("decisions = %q, want NotOwned 3", got)
	}
}

func TestDecisionsAndHandlerTime(t *testing.T) {
	before := parseMetrics([]byte(`chart_webhook_decisions_total{allowed="true",reason="NotOwned"} 10
chart_webhook_decisions_total{allowed="false",reason="OwnedFieldsChanged"} 1
chart_webhook_request_duration_seconds_bucket{le="5e-05"} 1
chart_webhook_request_duration_seconds_bucket{le="0.0001"} 10
chart_webhook_request_duration_seconds_bucket{le="+Inf"} 11
`))
	after := parseMetrics([]byte(`chart_webhook_decisions_total{allowed="true",reason="NotOwned"} 110
chart_webhook_decisions_total{allowed="false",reason="OwnedFieldsChanged"} 3
chart_webhook_request_duration_seconds_bucket{le="5e-05"} 51
chart_webhook_request_duration_seconds_bucket{le="0.0001"} 109
chart_webhook_request_duration_seconds_bucket{le="+Inf"} 113
`))
	var s series
	for range 2 { // two phases alike
		s.merge(series{
			reasons: countsDelta(before.decisionReasons(), after.decisionReasons()),
			hist:    countsDelta(before.histogramCounts("chart_webhook_request_duration_seconds"), after.histogramCounts("chart_webhook_request_duration_seconds")),
		})
	}
	if got, want := s.decisions(), "NotOwned 200, OwnedFieldsChanged (denied) 4"; got != want {
		t.Errorf("decisions = %q, want %q", got, want)
	}
	// 204 observations: 100 ≤ 50µs, 198 ≤ 100µs.
	for _, c := range []struct{ q, want float64 }{{0.4, 5e-05}, {0.5, 0.0001}, {0.99, math.Inf(1)}} {
		if got := s.handlerQuantile(c.q); got != c.want {
			t.Errorf("handlerQuantile(%v) = %v, want %v", c.q, got, c.want)
		}
	}
}

func TestMedian(t *testing.T) {
	ms := func(ns ...int) []time.Duration {
		var out []time.Duration
		for _, n := range ns {
			out = append(out, time.Duration(n)*time.Millisecond)
		}
		return out
	}
	for _, c := range []struct {
		in   []time.Duration
		want time.Duration
	}{
		{nil, 0},
		{ms(7), 7 * time.Millisecond},
		{ms(-200, -400, 0, 26), -100 * time.Millisecond},
		{ms(9, 1, 5), 5 * time.Millisecond},
	} {
		if got := median(c.in); got != c.want {
			t.Errorf("median(%v) = %v, want %v", c.in, got, c.want)
		}
	}
}

// TestMedianInterval: the bootstrap interval of a median holds the median, is a
// point when every pair agrees, widens with the spread of the pairs, and is the
// same from run to run (a fixed seed); verdict places a target against it.
func TestMedianInterval(t *testing.T) {
	ms := func(ns ...float64) []time.Duration {
		var out []time.Duration
		for _, n := range ns {
			out = append(out, time.Duration(n*float64(time.Millisecond)))
		}
		return out
	}
	if lo, hi := medianInterval(nil, 0.9); lo != 0 || hi != 0 {
		t.Errorf("no pairs: [%v, %v], want [0, 0]", lo, hi)
	}
	if lo, hi := medianInterval(ms(4, 4, 4, 4), 0.9); lo != 4*time.Millisecond || hi != 4*time.Millisecond {
		t.Errorf("equal pairs: [%v, %v], want [4ms, 4ms]", lo, hi)
	}
	// The new-annotation pairs of a run of this machine (+3.55 ms median).
	pairs := ms(3.16, -32.05, -1.12, 4.30, 1.33, -2.12, -1.88, 6.87, 1.55, 6.37, 3.95, 9.87, 80.52, 5.46, 6.56, -2.66, 16.63, 8.34, 1.44, 1.95)
	lo, hi := medianInterval(pairs, 0.9)
	if m := median(pairs); lo > m || hi < m || hi-lo < time.Millisecond {
		t.Errorf("interval [%v, %v] of median %v: want it around the median and over 1ms wide", lo, hi, m)
	}
	if lo2, hi2 := medianInterval(pairs, 0.9); lo2 != lo || hi2 != hi {
		t.Errorf("second interval [%v, %v], want the first [%v, %v]", lo2, hi2, lo, hi)
	}
	if nlo, nhi := medianInterval(ms(3.4, 3.5, 3.6, 3.5, 3.5), 0.9); nhi-nlo > 300*time.Microsecond {
		t.Errorf("tight pairs: interval [%v, %v] wider than their spread", nlo, nhi)
	}
	for _, c := range []struct {
		lo, hi float64
		want   string
	}{
		{1, 4, "below the target beyond this run's noise"},
		{5, 9, "above the target beyond this run's noise"},
		{1, 9, "the target lies within this run's noise"},
	} {
		if got := verdict(time.Duration(c.lo*float64(time.Millisecond)), time.Duration(c.hi*float64(time.Millisecond)), 5*time.Millisecond); got != c.want {
			t.Errorf("verdict(%v, %v) = %q, want %q", c.lo, c.hi, got, c.want)
		}
	}
	t.Logf("interval of the run's pairs: %s", intervalText(lo, hi))
}
