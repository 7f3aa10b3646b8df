package cmd

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/kubectl-chart/kubectl-chart/internal/webhook"
	"github.com/kubectl-chart/kubectl-chart/internal/webhookinstall"
	"github.com/kubectl-chart/kubectl-chart/manifests/monitoring"
	"github.com/kubectl-chart/kubectl-chart/pkg/release"
)

const slisChart = "testdata/charts/slis-app"

// TestDeploySLIs runs deploys against the real control plane with
// chart-webhook running, as a CI pipeline and a user would, and scrapes the
// webhook's /metrics: an install, an --atomic upgrade whose post-upgrade
// hook fails (rolled back), a rollback, a blocked kubectl edit, a test run,
// an operation killed holding its lock, then an uninstall; each counter,
// histogram count and gauge is asserted. Then
// drift: after a kubectl scale (a subresource the webhook lets through), and
// after a write made while the webhook was not installed.
func TestDeploySLIs(t *testing.T) {
	c := newReleaseCLI(t)
	ctx := t.Context()
	ns := c.ns
	metricsAddr := localWebhookWithMetrics(t)
	scrape := func() map[string]*dto.MetricFamily {
		t.Helper()
		return scrapeMetrics(t, "http://"+metricsAddr+"/metrics")
	}
	value := func(fams map[string]*dto.MetricFamily, name string, labels ...string) float64 {
		t.Helper()
		return metricValue(fams, name, append([]string{"namespace", ns, "release", "web"}, labels...)...)
	}

	c.ok("install", "web", slisChart, "--wait")
	c.fails([]string{"post-upgrade", "rolled back to revision 1 (--atomic)"},
		"upgrade", "web", slisChart, "--atomic", "--set", "failHook=true,greeting=hi")
	c.ok("rollback", "web", "1")
	edit := env.Clientset().CoreV1().ConfigMaps(ns)
	_, err := edit.Patch(ctx, "web-settings", types.MergePatchType, []byte(`{"data":{"greeting":"edited"}}`),
		metav1.PatchOptions{FieldManager: "kubectl-edit"})
	if err == nil || !strings.Contains(err.Error(), "denied") {
		t.Fatalf("kubectl edit of an owned field: %v, want the webhook's denial", err)
	}
	c.ok("test", "web")
	hist := c.ok("history", "web", "-o", "json")
	// An operation that died holding its lock (as a killed CI job leaves
	// it): its lock expires a second later, and stays.
	stuck := release.NewKubeStore(env.Clientset(), release.KubeStoreOptions{LockTTL: time.Second})
	if _, err := stuck.Acquire(ctx, ns, "stuck", "upgrade", false); err != nil {
		t.Fatal(err)
	}

	// Counted once the webhook answered: the API server waits for it, so
	// the counters are there when the command returns. The lock gauges are
	// computed at each scrape from the webhook's head cache.
	var fams map[string]*dto.MetricFamily
	err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		fams = scrape()
		return metricValue(fams, webhook.MetricLockExpired, "namespace", ns, "release", "stuck", "operation", "upgrade") > 0, nil
	})
	if err != nil {
		t.Errorf("%s of the stuck release never above 0: %v", webhook.MetricLockExpired, err)
	}
	if age := metricValue(fams, webhook.MetricLockAge, "namespace", ns, "release", "stuck", "operation", "upgrade"); age < 1 {
		t.Errorf("%s of the stuck release = %g, want ≥ 1 (its lock was taken over a second ago)", webhook.MetricLockAge, age)
	}
	counters := []struct {
		name   string
		labels []string
		want   float64
	}{
		{webhook.MetricOperations, []string{"operation", "install", "outcome", "deployed"}, 1},
		{webhook.MetricOperations, []string{"operation", "upgrade", "outcome", "failed"}, 1},
		// --atomic's rollback and the explicit one.
		{webhook.MetricOperations, []string{"operation", "rollback", "outcome", "deployed"}, 2},
		{webhook.MetricHookFailures, []string{"event", "post-upgrade"}, 1},
		{webhook.MetricTests, []string{"outcome", "succeeded"}, 1},
		{webhook.MetricBlocked, []string{"reason", "OwnedFieldsChanged", "manager", "kubectl-edit", "client", "kubectl"}, 1},
		{webhook.MetricOperationDuration + "_count", []string{"operation", "install", "outcome", "deployed"}, 1},
		{webhook.MetricOperationDuration + "_count", []string{"operation", "upgrade", "outcome", "failed"}, 1},
		{webhook.MetricOperationDuration + "_count", []string{"operation", "rollback", "outcome", "deployed"}, 2},
		{webhook.MetricReleaseInfo, []string{"status", "deployed", "chart", "slis-app", "version", "0.1.0", "app_version", "1.0"}, 1},
	}
	for _, cnt := range counters {
		if got := value(fams, cnt.name, cnt.labels...); got != cnt.want {
			t.Errorf("%s%v = %g, want %g", cnt.name, cnt.labels, got, cnt.want)
		}
	}
	// The durations are the records' own: an install that took seconds,
	// not the time since the webhook started.
	if sum := value(fams, webhook.MetricOperationDuration+"_sum", "operation", "install", "outcome", "deployed"); sum <= 0 || sum > 120 {
		t.Errorf("install duration %gs, want the install's few seconds (history: %s)", sum, hist)
	}
	// Every metric the dashboard and rules may name is exported.
	for _, name := range monitoring.WebhookMetrics {
		if fams[name] == nil {
			t.Errorf("the webhook exports no %s (monitoring.WebhookMetrics names it)", name)
		}
	}
	checkDashboardAgainstScrape(t, fams)

	// Drift the webhook cannot prevent: kubectl scale goes through the
	// scale subresource.
	if got := c.run("drift", "web"); got.exit() != 0 {
		t.Fatalf("drift before any change: exit %d\n%s%s", got.exit(), got.stdout, got.stderr)
	}
	c.kubectl("scale", "deployment/web", "--replicas=3")
	report := driftLines(c)
	if want := []string{"Deployment.apps/" + ns + "/web spec.replicas 1 3"}; !slices.Equal(report, want) {
		t.Errorf("drift after kubectl scale:\n%s\nwant %s", strings.Join(report, "\n"), want)
	}

	// A write made while the webhook was not installed.
	removeWebhookConfigurationNow(t)
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 20*time.Second, true, func(context.Context) (bool, error) {
		_, err := edit.Patch(ctx, "web-settings", types.MergePatchType, []byte(`{"data":{"greeting":"edited"}}`),
			metav1.PatchOptions{FieldManager: "kubectl-edit"})
		return err == nil, nil
	})
	if err != nil {
		t.Fatalf("edit with the webhook uninstalled: %v", err)
	}
	report = driftLines(c)
	want := []string{"ConfigMap/" + ns + "/web-settings data.greeting hello edited", "Deployment.apps/" + ns + "/web spec.replicas 1 3"}
	if diff := cmp.Diff(want, report); diff != "" {
		t.Errorf("drift after a write while the webhook was down (-want +got):\n%s", diff)
	}

	// The uninstall is counted once the configuration is back.
	localWebhookConfigurationAgain(t)
	c.ok("uninstall", "web")
	if got := value(scrape(), webhook.MetricOperations, "operation", "uninstall", "outcome", "uninstalled"); got != 1 {
		t.Errorf("uninstalls counted: %g, want 1", got)
	}
}

// driftLines is the report of `drift web` (which must exit 1: drift) as
// "Kind/ns/name field applied live" lines, sorted.
func driftLines(c *releaseCLI) []string {
	c.t.Helper()
	var lines []string
	for _, r := range c.driftReport(1, "web").Releases {
		for _, o := range r.Objects {
			for _, f := range o.Fields {
				lines = append(lines, fmt.Sprintf("%s %s %v %v", o.ObjectRef, f.Path, f.Applied, f.Live))
			}
		}
	}
	sort.Strings(lines)
	return lines
}

// localWebhookWithMetrics is localWebhook with the metrics served on plain
// HTTP on loopback; it returns their address.
func localWebhookWithMetrics(t *testing.T) string {
	t.Helper()
	root, _ := os.Getwd()
	bin := buildChartWebhook(t, root)
	port := freeTCPPort(t)
	metrics := "127.0.0.1:" + strconv.Itoa(freeTCPPort(t))
	certDir := filepath.Join(t.TempDir(), "certs")
	removeWebhookConfiguration(t)
	install := append(webhookKube(t), "webhook", "install", "--local", "--port", strconv.Itoa(port), "--cert-dir", certDir)
	chartOK(t, install...)
	t.Cleanup(func() { localInstall = nil })
	localInstall = install
	startChartWebhook(t, bin, "--kubeconfig", env.KubeconfigPath(), "--cert-dir", certDir, "--seal-key-file", filepath.Join(certDir, "seal.key"),
		"--host", "127.0.0.1", "--port", strconv.Itoa(port), "--metrics-bind-address", metrics, "--metrics-secure=false")
	waitWebhookCalled(t)
	return metrics
}

// localInstall is the webhook install command of the running local webhook.
var localInstall []string

// localWebhookConfigurationAgain installs the local webhook's
// configurations again after removeWebhookConfigurationNow.
func localWebhookConfigurationAgain(t *testing.T) {
	t.Helper()
	chartOK(t, localInstall...)
	waitWebhookCalled(t)
}

// removeWebhookConfigurationNow deletes chart-webhook's configurations: the
// webhook stays running, but the API server no longer calls it.
func removeWebhookConfigurationNow(t *testing.T) {
	t.Helper()
	api := env.Clientset().AdmissionregistrationV1()
	if err := api.ValidatingWebhookConfigurations().Delete(t.Context(), webhookinstall.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := api.MutatingWebhookConfigurations().Delete(t.Context(), webhookinstall.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
}

// waitWebhookCalled waits until the API server calls the webhook.
func waitWebhookCalled(t *testing.T) {
	t.Helper()
	ctx := t.Context()
	ns := env.Namespace(t)
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 20*time.Second, true, func(context.Context) (bool, error) {
		_, err := env.Clientset().CoreV1().ConfigMaps(ns).Create(ctx, reservedName(ns), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		return err != nil, nil
	})
	if err != nil {
		t.Fatalf("the API server does not call the webhook: %v", err)
	}
}

// scrapeMetrics reads a Prometheus text exposition.
func scrapeMetrics(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape: %s\n%s", resp.Status, body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	return fams
}

// metricValue is the value of the series of name (a counter, a gauge, or a
// histogram's name_count / name_sum) whose labels include labels (name,
// value pairs); 0 when there is none.
func metricValue(fams map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	family, part := name, ""
	for _, suffix := range []string{"_count", "_sum"} {
		if base, ok := strings.CutSuffix(name, suffix); ok && fams[name] == nil && fams[base] != nil {
			family, part = base, suffix
		}
	}
	f := fams[family]
	if f == nil {
		return 0
	}
next:
	for _, m := range f.GetMetric() {
		for i := 0; i+1 < len(labels); i += 2 {
			if !slices.ContainsFunc(m.GetLabel(), func(l *dto.LabelPair) bool { return l.GetName() == labels[i] && l.GetValue() == labels[i+1] }) {
				continue next
			}
		}
		switch {
		case part == "_count":
			return float64(m.GetHistogram().GetSampleCount())
		case part == "_sum":
			return m.GetHistogram().GetSampleSum()
		case m.GetCounter() != nil:
			return m.GetCounter().GetValue()
		case m.GetGauge() != nil:
			return m.GetGauge().GetValue()
		}
	}
	return 0
}

// checkDashboardAgainstScrape runs promql-metrics (built with promtool by
// make, PROMQL_METRICS) over the dashboard and the rules, and checks that
// every metric of the webhook they name is in a scrape of the running
// webhook.
func checkDashboardAgainstScrape(t *testing.T, fams map[string]*dto.MetricFamily) {
	t.Helper()
	bin := os.Getenv("PROMQL_METRICS")
	if bin == "" {
		t.Log("PROMQL_METRICS is unset (make test builds it): the dashboard's metric names are not checked against the scrape")
		return
	}
	root, _ := os.Getwd()
	out, err := exec.CommandContext(t.Context(), bin,
		filepath.Join(root, "manifests/monitoring/dashboard.json"), filepath.Join(root, "manifests/monitoring/prometheusrule.yaml")).Output()
	if err != nil {
		t.Fatalf("promql-metrics: %v", err)
	}
	names := promqlNames(t, out)
	if len(names) == 0 {
		t.Fatalf("promql-metrics found no metric in the dashboard and rules:\n%s", out)
	}
	exported := map[string]bool{}
	for name, f := range fams {
		exported[name] = true
		if f.GetType() == dto.MetricType_HISTOGRAM {
			for _, s := range []string{"_bucket", "_sum", "_count"} {
				exported[name+s] = true
			}
		}
	}
	for _, n := range names {
		if (strings.HasPrefix(n, "chart_webhook_") || strings.HasPrefix(n, "chart_release_")) && !exported[n] {
			t.Errorf("the dashboard or rules name %s, which the running webhook does not export", n)
		}
	}
}

// promqlNames are the metric names in promql-metrics' JSON output, whatever
// its nesting: every string under a "metrics" key.
func promqlNames(t *testing.T, out []byte) []string {
	t.Helper()
	var doc any
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatalf("promql-metrics output: %v\n%s", err, out)
	}
	seen := map[string]bool{}
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if k == "metrics" {
					if list, ok := x.([]any); ok {
						for _, s := range list {
							if s, ok := s.(string); ok {
								seen[s] = true
							}
						}
					}
				}
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(doc)
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
