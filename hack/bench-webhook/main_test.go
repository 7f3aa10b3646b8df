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
