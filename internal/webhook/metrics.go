package webhook

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the webhook's Prometheus collectors. cmd/webhook registers
// them with controller-runtime's registry (served on the metrics address);
// tests give each handler a registry of its own.
type Metrics struct {
	// Requests counts admission requests by operation and kind.
	Requests *prometheus.CounterVec
	// Decisions counts answers by allowed ("true"/"false") and reason.
	Decisions *prometheus.CounterVec
	// Duration is the time the handler takes per request.
	Duration prometheus.Histogram
}

// Metric names.
const (
	MetricRequests  = "chart_webhook_requests_total"
	MetricDecisions = "chart_webhook_decisions_total"
	MetricDuration  = "chart_webhook_request_duration_seconds"
)

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
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.Requests, m.Decisions, m.Duration} {
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
