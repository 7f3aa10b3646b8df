package webhook

import (
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the webhook's Prometheus collectors. cmd/webhook registers
// them with controller-runtime's registry (served on the metrics address);
// tests give each handler a registry of its own.
//
// Two families: the webhook's own work (requests, decisions, latency), and
// the deploys it sees go by (release operations, hooks, tests, blocked
// writes), counted from the admission requests of the release records
// themselves (see releaseEvents). Every replica counts the requests it
// answers: a sum over replicas is the cluster's total. Label values are
// bounded: namespaces and releases (as many as there are releases), fixed
// sets (operations, outcomes, hook events, decision reasons), and field
// managers and clients capped at maxManagers distinct values per process;
// never a user or an object name. docs/monitoring.md lists them.
type Metrics struct {
	// Requests counts admission requests by operation and kind.
	Requests *prometheus.CounterVec
	// Decisions counts answers by allowed ("true"/"false") and reason.
	Decisions *prometheus.CounterVec
	// Duration is the time the handler takes per request.
	Duration prometheus.Histogram

	// releases holds the series of the deploys (operations, their
	// durations, hook failures, tests, blocked writes), per release.
	releases *releaseStats

	managers, clients *boundedSet
}

// Metric names.
const (
	MetricRequests          = "chart_webhook_requests_total"
	MetricDecisions         = "chart_webhook_decisions_total"
	MetricDuration          = "chart_webhook_request_duration_seconds"
	MetricBlocked           = "chart_webhook_blocked_writes_total"
	MetricOperations        = "chart_release_operations_total"
	MetricOperationDuration = "chart_release_operation_duration_seconds"
	MetricHookFailures      = "chart_release_hook_failures_total"
	MetricTests             = "chart_release_tests_total"
	// Gauges of releaseCollector, computed from the head cache at scrape.
	MetricReleaseInfo = "chart_release_info"
	MetricLockAge     = "chart_release_lock_age_seconds"
	MetricLockExpired = "chart_release_lock_expired_seconds"
	// MetricCollectorErrors counts scrapes whose release gauges could not
	// be computed (the head cache could not be listed).
	MetricCollectorErrors = "chart_webhook_release_collector_errors_total"
)

// MetricNames are the families the webhook exports (histograms by their
// base name), in the order of docs/monitoring.md.
var MetricNames = []string{
	MetricRequests, MetricDecisions, MetricDuration, MetricBlocked,
	MetricOperations, MetricOperationDuration, MetricHookFailures, MetricTests,
	MetricReleaseInfo, MetricLockAge, MetricLockExpired, MetricCollectorErrors,
}

// maxManagers bounds the distinct field managers (and clients) the
// blocked-writes counter names per process; the rest count as "other".
const maxManagers = 50

// NewMetrics creates the collectors and registers them with reg (nil: not
// registered).
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: MetricRequests,
			Help: "Admission requests the ownership webhook received, by operation and kind.",
		}, []string{"operation", "kind"}),
		Decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: MetricDecisions,
			Help: "Answers of the ownership webhook, by whether the request was allowed and the decision's reason.",
		}, []string{"allowed", "reason"}),
		Duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: MetricDuration,
			Help: "Time the ownership webhook's handler took per admission request.",
			// 50µs .. ~3.3s: the handler's own time is well under a millisecond,
			// a cache miss that waits for the informer or a live read is not.
			Buckets: prometheus.ExponentialBuckets(50e-6, 2, 17),
		}),
		releases: newReleaseStats(time.Now),
		managers: newBoundedSet(maxManagers),
		clients:  newBoundedSet(maxManagers),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.Requests, m.Decisions, m.Duration, m.releases} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}

func (m *Metrics) observe(operation, kind string, allowed bool, reason string, took time.Duration) {
	if m == nil {
		return
	}
	m.Requests.WithLabelValues(operation, kind).Inc()
	m.Decisions.WithLabelValues(strconv.FormatBool(allowed), reason).Inc()
	m.Duration.Observe(took.Seconds())
}

// operation counts a finished release operation.
func (m *Metrics) operation(namespace, release, operation, outcome string, took time.Duration) {
	m.releases.operation(namespace, release, operation, outcome, took)
}

// blocked counts a denied write of field manager manager.
func (m *Metrics) blocked(namespace, release, reason, manager string) {
	m.releases.block(namespace, release, reason, m.managers.value(manager), m.clients.value(clientOf(manager)))
}

// clientOf is the program a field manager names: kubectl for kubectl's
// managers (kubectl-edit, kubectl-client-side-apply, kubectl-patch, …),
// the first word of a user agent the API server made the manager from
// (helm, argocd-application-controller → argocd, Go-http-client → go).
func clientOf(manager string) string {
	if manager == "" {
		return "unknown"
	}
	end := strings.IndexAny(manager, "-_/ .")
	if end == 0 {
		return "other"
	}
	if end > 0 {
		manager = manager[:end]
	}
	return strings.ToLower(manager)
}

// boundedSet keeps label values as they come until it holds max of them;
// later ones are "other". Values that are not plain names are "other" too.
type boundedSet struct {
	mu   sync.Mutex
	max  int
	seen map[string]struct{}
}

func newBoundedSet(max int) *boundedSet {
	return &boundedSet{max: max, seen: map[string]struct{}{}}
}

func (s *boundedSet) value(v string) string {
	if v == "" {
		return "unknown"
	}
	if !plainName(v) {
		return "other"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.seen[v]; ok {
		return v
	}
	if len(s.seen) >= s.max {
		return "other"
	}
	s.seen[v] = struct{}{}
	return v
}

// plainName: up to 64 letters, digits and - _ . / : (field managers are
// free text; a label value that is not a plain name is not worth a series).
func plainName(v string) bool {
	if len(v) > 64 {
		return false
	}
	for _, r := range v {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case strings.ContainsRune("-_./:", r):
		default:
			return false
		}
	}
	return true
}
