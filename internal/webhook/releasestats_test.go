package webhook

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
)

// TestReleaseStatsExposition: the compact series export exactly what
// client_golang's own vectors export for the same events.
func TestReleaseStatsExposition(t *testing.T) {
	s := newReleaseStats(func() time.Time { return t0 })
	labels := []string{"namespace", "release"}
	ops := prometheus.NewCounterVec(prometheus.CounterOpts{Name: MetricOperations, Help: helpOperations}, append(labels, "operation", "outcome"))
	durations := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: MetricOperationDuration, Help: helpOperationDuration, Buckets: durationBuckets[:]},
		append(labels, "operation", "outcome"))
	hooks := prometheus.NewCounterVec(prometheus.CounterOpts{Name: MetricHookFailures, Help: helpHookFailures}, append(labels, "event"))
	tests := prometheus.NewCounterVec(prometheus.CounterOpts{Name: MetricTests, Help: helpTests}, append(labels, "outcome"))
	blocked := prometheus.NewCounterVec(prometheus.CounterOpts{Name: MetricBlocked, Help: helpBlocked}, append(labels, "reason", "manager", "client"))

	rnd := rand.New(rand.NewPCG(1, 2))
	pick := func(vs ...string) string { return vs[rnd.IntN(len(vs))] }
	for range 2000 {
		ns, rel := pick("apps", "team-a"), pick("web", "db", "cache")
		switch rnd.IntN(4) {
		case 0:
			op, outcome := pick(opInstall, opUpgrade, opRollback), pick("deployed", "failed")
			// Durations on, around and past the bucket bounds, and negative.
			took := time.Duration(rnd.IntN(4000)-10)*time.Second + time.Duration(rnd.IntN(3))*time.Second/2
			s.operation(ns, rel, op, outcome, took)
			ops.WithLabelValues(ns, rel, op, outcome).Inc()
			durations.WithLabelValues(ns, rel, op, outcome).Observe(max(took, 0).Seconds())
		case 1:
			ev, n := pick("pre-install", "test"), rnd.IntN(3)+1
			s.hookFailures(ns, rel, ev, n)
			hooks.WithLabelValues(ns, rel, ev).Add(float64(n))
		case 2:
			outcome := pick("succeeded", "failed")
			s.test(ns, rel, outcome)
			tests.WithLabelValues(ns, rel, outcome).Inc()
		case 3:
			reason, manager := pick("OwnedFieldsChanged", "LockHeld"), pick("kubectl-edit", "helm")
			s.block(ns, rel, reason, manager, clientOf(manager))
			blocked.WithLabelValues(ns, rel, reason, manager, clientOf(manager)).Inc()
		}
	}
	want := prometheus.NewPedanticRegistry()
	want.MustRegister(ops, durations, hooks, tests, blocked)
	got := prometheus.NewPedanticRegistry()
	got.MustRegister(s)
	if diff := cmp.Diff(textExposition(t, want), textExposition(t, got)); diff != "" {
		t.Errorf("exposition (-client_golang's vectors +releaseStats):\n%s", diff)
	}
}

// TestReleaseStatsForget: the series of an uninstalled release are exported
// for forgetAfter, then dropped; those of a release installed again stay.
func TestReleaseStatsForget(t *testing.T) {
	now := t0
	s := newReleaseStats(func() time.Time { return now })
	s.operation("apps", "web", opInstall, "deployed", time.Second)
	s.block("apps", "web", "OwnedFieldsChanged", "kubectl-edit", "kubectl")
	s.operation("apps", "web", opUninstall, "uninstalled", time.Second)
	s.operation("apps", "db", opInstall, "deployed", time.Second)
	s.operation("apps", "db", opUninstall, "uninstalled", time.Second)
	s.operation("apps", "db", opInstall, "deployed", time.Second) // back
	s.operation("apps", "cache", opUninstall, "failed", time.Second)

	series := func() map[string]int {
		reg := prometheus.NewRegistry()
		reg.MustRegister(s)
		families, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		n := map[string]int{}
		for _, f := range families {
			for _, m := range f.GetMetric() {
				for _, l := range m.GetLabel() {
					if l.GetName() == "release" {
						n[l.GetValue()]++
					}
				}
			}
		}
		return n
	}
	all := map[string]int{"web": 5, "db": 4, "cache": 2}
	now = t0.Add(forgetAfter)
	if diff := cmp.Diff(all, series()); diff != "" {
		t.Errorf("series per release at forgetAfter (-want +got):\n%s", diff)
	}
	now = t0.Add(forgetAfter + time.Second)
	if diff := cmp.Diff(map[string]int{"db": 4, "cache": 2}, series()); diff != "" {
		t.Errorf("series per release past forgetAfter (-want +got):\n%s", diff)
	}
}

// BenchmarkReleaseStatsMemory reports the live heap of the series of 1,000
// releases (an install and a blocked write each), for the stats and for
// client_golang's vectors.
func BenchmarkReleaseStatsMemory(b *testing.B) {
	for _, kind := range []string{"releaseStats", "client_golang"} {
		b.Run(kind, func(b *testing.B) {
			for range b.N {
				before := liveHeap()
				var keep any
				if kind == "releaseStats" {
					s := newReleaseStats(time.Now)
					for i := range 1000 {
						ns, rel := fmt.Sprintf("ns-%02d", i%10), fmt.Sprintf("r%04d", i)
						s.operation(ns, rel, opInstall, "deployed", time.Second)
						s.block(ns, rel, "OwnedFieldsChanged", "kubectl-edit", "kubectl")
					}
					keep = s
				} else {
					l := []string{"namespace", "release", "operation", "outcome"}
					ops := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "a"}, l)
					durations := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "b", Buckets: durationBuckets[:]}, l)
					blocked := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "c"}, []string{"namespace", "release", "reason", "manager", "client"})
					for i := range 1000 {
						ns, rel := fmt.Sprintf("ns-%02d", i%10), fmt.Sprintf("r%04d", i)
						ops.WithLabelValues(ns, rel, opInstall, "deployed").Inc()
						durations.WithLabelValues(ns, rel, opInstall, "deployed").Observe(1)
						blocked.WithLabelValues(ns, rel, "OwnedFieldsChanged", "kubectl-edit", "kubectl").Inc()
					}
					keep = []any{ops, durations, blocked}
				}
				after := liveHeap()
				runtime.KeepAlive(keep)
				b.ReportMetric(float64(after-before)/1024, "KiB/1000-releases")
			}
		})
	}
}

func liveHeap() int64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

func textExposition(t *testing.T, g prometheus.Gatherer) string {
	t.Helper()
	families, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	for _, f := range families {
		if _, err := expfmt.MetricFamilyToText(&b, f); err != nil {
			t.Fatal(err)
		}
	}
	return b.String()
}
