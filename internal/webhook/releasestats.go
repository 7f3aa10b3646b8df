package webhook

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kubectl-chart/kubectl-chart/pkg/release/wire"
)

// durationBuckets are the upper bounds (seconds) of
// chart_release_operation_duration_seconds. Deploys take seconds to tens of
// minutes; the SLO of a small service is 5 minutes (300).
var durationBuckets = [...]float64{1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1200, 1800, 3600}

// forgetAfter is how long the series of an uninstalled release are still
// exported: long enough for every scrape to see their last value, then
// dropped, so that releases that come and go (preview environments, CI)
// do not grow the webhook's memory forever.
const forgetAfter = time.Hour

// Help texts of the release series.
const (
	helpOperations        = "Release operations that finished, by operation (install, upgrade, rollback, uninstall) and outcome (deployed, failed, uninstalled)."
	helpOperationDuration = "Seconds from a revision record's creation to its final status (uninstall: from the lock's start), by operation and outcome."
	helpHookFailures      = "Hooks that failed a revision, by hook event (pre-install … post-delete), and failed test hooks (event test)."
	helpTests             = "Test runs of releases (kubectl chart test), by outcome (succeeded, failed)."
	helpBlocked           = "Writes the ownership webhook denied, by release, reason, field manager and client program (at most 50 distinct managers and clients; then other)."
)

// releaseStats holds the per-release counters and histograms: the series
// the deploys add, as many as there are releases. client_golang's vectors
// cost about 0.8 KiB per counter and 1.6 KiB per histogram series (at 1,000
// releases, 2.4 MiB of live heap and twice that in RSS); here a series is
// its labels and its numbers, exported as constant metrics at each scrape.
// The exposition is the vectors' own (TestReleaseStatsExposition).
type releaseStats struct {
	now func() time.Time

	mu      sync.Mutex
	ops     map[opKey]*opSeries
	hooks   map[eventKey]float64
	tests   map[eventKey]float64
	blocked map[blockedKey]float64
	gone    map[releaseKey]time.Time // uninstalled releases, and since when

	opsDesc, durationDesc, hooksDesc, testsDesc, blockedDesc *prometheus.Desc
}

type releaseKey struct{ namespace, release string }

// opKey is a series of operations and their durations.
type opKey struct {
	releaseKey
	operation, outcome string
}

// eventKey is a series of hook failures (event) or tests (outcome).
type eventKey struct {
	releaseKey
	value string
}

type blockedKey struct {
	releaseKey
	reason, manager, client string
}

// opSeries is one operation series: a histogram whose count is also the
// operations counter. Buckets are not cumulative here.
type opSeries struct {
	count   uint64
	sum     float64
	buckets [len(durationBuckets)]uint64
}

func newReleaseStats(now func() time.Time) *releaseStats {
	release := []string{"namespace", "release"}
	return &releaseStats{
		now:     now,
		ops:     map[opKey]*opSeries{},
		hooks:   map[eventKey]float64{},
		tests:   map[eventKey]float64{},
		blocked: map[blockedKey]float64{},
		gone:    map[releaseKey]time.Time{},
		opsDesc: prometheus.NewDesc(MetricOperations, helpOperations,
			append(release, "operation", "outcome"), nil),
		durationDesc: prometheus.NewDesc(MetricOperationDuration, helpOperationDuration,
			append(release, "operation", "outcome"), nil),
		hooksDesc: prometheus.NewDesc(MetricHookFailures, helpHookFailures,
			append(release, "event"), nil),
		testsDesc: prometheus.NewDesc(MetricTests, helpTests,
			append(release, "outcome"), nil),
		blockedDesc: prometheus.NewDesc(MetricBlocked, helpBlocked,
			append(release, "reason", "manager", "client"), nil),
	}
}

// release is the key of a release. Callers hold s.mu. An event of a
// release that was uninstalled means it is back.
func (s *releaseStats) release(namespace, release string) releaseKey {
	k := releaseKey{namespace, release}
	delete(s.gone, k)
	return k
}

func (s *releaseStats) operation(namespace, release, operation, outcome string, took time.Duration) {
	seconds := max(took, 0).Seconds()
	s.mu.Lock()
	defer s.mu.Unlock()
	k := opKey{s.release(namespace, release), operation, outcome}
	o := s.ops[k]
	if o == nil {
		o = &opSeries{}
		s.ops[k] = o
	}
	o.count++
	o.sum += seconds
	for i, le := range durationBuckets {
		if seconds <= le {
			o.buckets[i]++
			break
		}
	}
	if operation == opUninstall && outcome == string(wire.StatusUninstalled) {
		s.gone[k.releaseKey] = s.now()
	}
}

func (s *releaseStats) hookFailures(namespace, release, event string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hooks[eventKey{s.release(namespace, release), event}] += float64(n)
}

func (s *releaseStats) test(namespace, release, outcome string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tests[eventKey{s.release(namespace, release), outcome}]++
}

func (s *releaseStats) block(namespace, release, reason, manager, client string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.blocked[blockedKey{s.release(namespace, release), reason, manager, client}]++
}

func (s *releaseStats) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{s.opsDesc, s.durationDesc, s.hooksDesc, s.testsDesc, s.blockedDesc} {
		ch <- d
	}
}

// Collect exports every series, after dropping those of releases
// uninstalled more than forgetAfter ago.
func (s *releaseStats) Collect(ch chan<- prometheus.Metric) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.forget(s.now().Add(-forgetAfter))
	for k, o := range s.ops {
		ch <- prometheus.MustNewConstMetric(s.opsDesc, prometheus.CounterValue, float64(o.count),
			k.namespace, k.release, k.operation, k.outcome)
		cumulative, n := make(map[float64]uint64, len(durationBuckets)), uint64(0)
		for i, le := range durationBuckets {
			n += o.buckets[i]
			cumulative[le] = n
		}
		ch <- prometheus.MustNewConstHistogram(s.durationDesc, o.count, o.sum, cumulative,
			k.namespace, k.release, k.operation, k.outcome)
	}
	for k, v := range s.hooks {
		ch <- prometheus.MustNewConstMetric(s.hooksDesc, prometheus.CounterValue, v, k.namespace, k.release, k.value)
	}
	for k, v := range s.tests {
		ch <- prometheus.MustNewConstMetric(s.testsDesc, prometheus.CounterValue, v, k.namespace, k.release, k.value)
	}
	for k, v := range s.blocked {
		ch <- prometheus.MustNewConstMetric(s.blockedDesc, prometheus.CounterValue, v,
			k.namespace, k.release, k.reason, k.manager, k.client)
	}
}

// forget drops the series of the releases uninstalled before cutoff.
// Callers hold s.mu.
func (s *releaseStats) forget(cutoff time.Time) {
	if len(s.gone) == 0 {
		return
	}
	drop := map[releaseKey]bool{}
	for k, at := range s.gone {
		if at.Before(cutoff) {
			drop[k] = true
			delete(s.gone, k)
		}
	}
	if len(drop) == 0 {
		return
	}
	for k := range s.ops {
		if drop[k.releaseKey] {
			delete(s.ops, k)
		}
	}
	for k := range s.hooks {
		if drop[k.releaseKey] {
			delete(s.hooks, k)
		}
	}
	for k := range s.tests {
		if drop[k.releaseKey] {
			delete(s.tests, k)
		}
	}
	for k := range s.blocked {
		if drop[k.releaseKey] {
			delete(s.blocked, k)
		}
	}
}
