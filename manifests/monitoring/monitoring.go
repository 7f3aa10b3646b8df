// Package monitoring holds chart-webhook's monitoring manifests: the
// Prometheus Operator's ServiceMonitor and PrometheusRule (recording rules of
// the deploy SLIs, alerts) and a Grafana dashboard, shipped by
// kustomization.yaml as a ConfigMap for Grafana's dashboard sidecar. They are
// embedded so that `kubectl chart webhook install --monitoring` applies what
// `kubectl apply --server-side -k manifests/monitoring/` applies.
//
// It also owns the list of metric families the webhook exports
// (WebhookMetrics): the contract between internal/webhook, which exports
// them, and the queries here, which may name no other metric of the webhook.
// docs/monitoring.md describes each one.
package monitoring

import (
	"embed"
	"slices"
)

// FS holds kustomization.yaml and the files it names.
//
//go:embed kustomization.yaml servicemonitor.yaml prometheusrule.yaml dashboard.json
var FS embed.FS

// WebhookMetrics are the metric families chart-webhook exports, by the names
// of the exposition format (a counter's with its _total), sorted. A test of
// internal/webhook compares them with a live scrape; the tests of this
// package check that every dashboard and rule query names only these (and
// the recording rules, up and the API server's webhook metrics).
var WebhookMetrics = []string{
	"chart_release_hook_failures_total",
	"chart_release_info",
	"chart_release_lock_age_seconds",
	"chart_release_lock_expired_seconds",
	"chart_release_operation_duration_seconds",
	"chart_release_operations_total",
	"chart_release_tests_total",
	"chart_webhook_blocked_writes_total",
	"chart_webhook_decisions_total",
	"chart_webhook_request_duration_seconds",
	"chart_webhook_requests_total",
}

// WebhookHistograms are the families of WebhookMetrics that are histograms:
// their series are named <family>_bucket, _sum and _count.
var WebhookHistograms = []string{
	"chart_release_operation_duration_seconds",
	"chart_webhook_request_duration_seconds",
}

// WebhookSeriesNames are the metric names a query may select from
// chart-webhook's metrics: WebhookMetrics with every histogram expanded to
// its _bucket, _sum and _count series.
func WebhookSeriesNames() []string {
	var out []string
	for _, m := range WebhookMetrics {
		if slices.Contains(WebhookHistograms, m) {
			out = append(out, m+"_bucket", m+"_count", m+"_sum")
			continue
		}
		out = append(out, m)
	}
	return out
}

// OtherMetrics are the metrics besides the webhook's and the recording rules'
// that the queries may name: Prometheus's up of the webhook's targets, and the
// API server's count of failed calls to admission webhooks.
var OtherMetrics = []string{
	"apiserver_admission_webhook_rejection_count",
	"up",
}
