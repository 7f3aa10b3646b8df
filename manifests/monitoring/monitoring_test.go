package monitoring_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-chart/kubectl-chart/manifests/monitoring"
)

// Environment variables naming the tools the tests run (make unit sets both,
// built by make promtool); without them those tests are skipped.
const (
	envPromtool      = "PROMTOOL"
	envPromQLMetrics = "PROMQL_METRICS"
)

func tool(t *testing.T, env string) string {
	t.Helper()
	p := os.Getenv(env)
	if p == "" {
		t.Skipf("%s is not set: run `make promtool` and set %s=<its path> (make unit does both)", env, env)
	}
	return p
}

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	data, err := fs.ReadFile(monitoring.FS, name)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// serviceMonitor is the subset of monitoring.coreos.com/v1 ServiceMonitor
// the manifest uses, decoded strictly: a misspelt field fails the test
// instead of being dropped by the operator.
type serviceMonitor struct {
	APIVersion string             `json:"apiVersion"`
	Kind       string             `json:"kind"`
	Metadata   objectMeta         `json:"metadata"`
	Spec       serviceMonitorSpec `json:"spec"`
}

type objectMeta struct {
	Name      string            `json:"name"`
	Namespace string            `json:"namespace"`
	Labels    map[string]string `json:"labels"`
}

type serviceMonitorSpec struct {
	Selector struct {
		MatchLabels map[string]string `json:"matchLabels"`
	} `json:"selector"`
	NamespaceSelector struct {
		MatchNames []string `json:"matchNames"`
	} `json:"namespaceSelector"`
	Endpoints []struct {
		Port            string `json:"port"`
		Scheme          string `json:"scheme"`
		Path            string `json:"path"`
		Interval        string `json:"interval"`
		HonorLabels     bool   `json:"honorLabels"`
		BearerTokenFile string `json:"bearerTokenFile"`
		TLSConfig       struct {
			ServerName string `json:"serverName"`
			CA         struct {
				Secret struct {
					Name string `json:"name"`
					Key  string `json:"key"`
				} `json:"secret"`
			} `json:"ca"`
		} `json:"tlsConfig"`
	} `json:"endpoints"`
}

// prometheusRule is monitoring.coreos.com/v1 PrometheusRule, decoded
// strictly.
type prometheusRule struct {
	APIVersion string     `json:"apiVersion"`
	Kind       string     `json:"kind"`
	Metadata   objectMeta `json:"metadata"`
	Spec       ruleFile   `json:"spec"`
}

// ruleFile is a Prometheus rule file: the PrometheusRule's spec.
type ruleFile struct {
	Groups []struct {
		Name     string `json:"name"`
		Interval string `json:"interval,omitempty"`
		Rules    []rule `json:"rules"`
	} `json:"groups"`
}

type rule struct {
	Record      string            `json:"record,omitempty"`
	Alert       string            `json:"alert,omitempty"`
	Expr        string            `json:"expr"`
	For         string            `json:"for,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

func readRule(t *testing.T) prometheusRule {
	t.Helper()
	var pr prometheusRule
	if err := yaml.UnmarshalStrict(readFile(t, "prometheusrule.yaml"), &pr); err != nil {
		t.Fatalf("prometheusrule.yaml: %v", err)
	}
	return pr
}

// metricsService is the Service chart-webhook-metrics of manifests/service.yaml.
func metricsService(t *testing.T) (labels map[string]string, ports []string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "service.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range bytes.Split(data, []byte("\n---\n")) {
		var svc struct {
			Kind     string     `json:"kind"`
			Metadata objectMeta `json:"metadata"`
			Spec     struct {
				Ports []struct {
					Name string `json:"name"`
				} `json:"ports"`
			} `json:"spec"`
		}
		if err := yaml.Unmarshal(doc, &svc); err != nil {
			t.Fatal(err)
		}
		if svc.Kind == "Service" && svc.Metadata.Name == "chart-webhook-metrics" {
			for _, p := range svc.Spec.Ports {
				ports = append(ports, p.Name)
			}
			return svc.Metadata.Labels, ports
		}
	}
	t.Fatal("manifests/service.yaml: no Service chart-webhook-metrics")
	return nil, nil
}

// TestManifestKinds: every file decodes as its kind, strictly, and the
// ServiceMonitor scrapes the metrics Service the way the webhook serves it.
func TestManifestKinds(t *testing.T) {
	var sm serviceMonitor
	if err := yaml.UnmarshalStrict(readFile(t, "servicemonitor.yaml"), &sm); err != nil {
		t.Fatalf("servicemonitor.yaml: %v", err)
	}
	if sm.APIVersion != "monitoring.coreos.com/v1" || sm.Kind != "ServiceMonitor" {
		t.Errorf("servicemonitor.yaml: %s %s, want monitoring.coreos.com/v1 ServiceMonitor", sm.APIVersion, sm.Kind)
	}
	svcLabels, ports := metricsService(t)
	for k, v := range sm.Spec.Selector.MatchLabels {
		if svcLabels[k] != v {
			t.Errorf("ServiceMonitor selects %s=%s, Service chart-webhook-metrics has %q", k, v, svcLabels[k])
		}
	}
	if sm.Spec.Selector.MatchLabels["app.kubernetes.io/component"] != "metrics" {
		t.Errorf("ServiceMonitor does not select app.kubernetes.io/component: metrics: the webhook's own Service has no metrics port")
	}
	if diff := cmp.Diff([]string{sm.Metadata.Namespace}, sm.Spec.NamespaceSelector.MatchNames); diff != "" {
		t.Errorf("namespaceSelector (-own namespace +got):\n%s", diff)
	}
	if len(sm.Spec.Endpoints) != 1 {
		t.Fatalf("%d endpoints, want 1", len(sm.Spec.Endpoints))
	}
	e := sm.Spec.Endpoints[0]
	if !slices.Contains(ports, e.Port) || e.Scheme != "https" || e.Path != "/metrics" || !e.HonorLabels || e.BearerTokenFile == "" {
		t.Errorf("endpoint %+v: want port one of %v, https, /metrics, honorLabels, a bearer token", e, ports)
	}
	if want := "chart-webhook." + sm.Metadata.Namespace + ".svc"; e.TLSConfig.ServerName != want {
		t.Errorf("tlsConfig.serverName %q, want %q (the serving certificate's DNS name)", e.TLSConfig.ServerName, want)
	}
	if e.TLSConfig.CA.Secret.Name != "chart-webhook-tls" || e.TLSConfig.CA.Secret.Key != "ca.crt" {
		t.Errorf("tlsConfig.ca %+v, want ca.crt of Secret chart-webhook-tls", e.TLSConfig.CA)
	}

	pr := readRule(t)
	if pr.APIVersion != "monitoring.coreos.com/v1" || pr.Kind != "PrometheusRule" || pr.Metadata.Namespace != sm.Metadata.Namespace {
		t.Errorf("prometheusrule.yaml: %s %s in %q, want monitoring.coreos.com/v1 PrometheusRule in %q", pr.APIVersion, pr.Kind, pr.Metadata.Namespace, sm.Metadata.Namespace)
	}

	var k struct {
		Kind      string   `json:"kind"`
		Resources []string `json:"resources"`
	}
	if err := yaml.Unmarshal(readFile(t, "kustomization.yaml"), &k); err != nil || k.Kind != "Kustomization" {
		t.Fatalf("kustomization.yaml: kind %q, %v", k.Kind, err)
	}
	if diff := cmp.Diff([]string{"servicemonitor.yaml", "prometheusrule.yaml"}, k.Resources); diff != "" {
		t.Errorf("kustomization resources (-want +got):\n%s", diff)
	}
}

// dashboard is the part of the Grafana dashboard the tests check.
type dashboard struct {
	Title         string `json:"title"`
	UID           string `json:"uid"`
	SchemaVersion int    `json:"schemaVersion"`
	Templating    struct {
		List []struct {
			Name  string `json:"name"`
			Type  string `json:"type"`
			Query any    `json:"query"`
		} `json:"list"`
	} `json:"templating"`
	Panels []struct {
		ID         int    `json:"id"`
		Type       string `json:"type"`
		Title      string `json:"title"`
		Datasource *struct {
			Type string `json:"type"`
			UID  string `json:"uid"`
		} `json:"datasource"`
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
	} `json:"panels"`
}

func readDashboard(t *testing.T) dashboard {
	t.Helper()
	var d dashboard
	if err := json.Unmarshal(readFile(t, "dashboard.json"), &d); err != nil {
		t.Fatalf("dashboard.json: %v", err)
	}
	return d
}

// TestDashboard: the dashboard's schema, variables, rows, and every panel on
// the datasource variable.
func TestDashboard(t *testing.T) {
	d := readDashboard(t)
	if d.SchemaVersion < 39 {
		t.Errorf("schemaVersion %d, want >= 39", d.SchemaVersion)
	}
	if d.UID == "" || d.Title == "" {
		t.Errorf("uid %q, title %q: want both", d.UID, d.Title)
	}
	var vars []string
	for _, v := range d.Templating.List {
		vars = append(vars, v.Name+":"+v.Type)
	}
	if diff := cmp.Diff([]string{"datasource:datasource", "namespace:query", "release:query"}, vars); diff != "" {
		t.Errorf("variables (-want +got):\n%s", diff)
	}
	var rows []string
	ids := map[int]bool{}
	for _, p := range d.Panels {
		if ids[p.ID] {
			t.Errorf("panel %q: id %d used twice", p.Title, p.ID)
		}
		ids[p.ID] = true
		if p.Type == "row" {
			rows = append(rows, p.Title)
			continue
		}
		if p.Datasource == nil || p.Datasource.UID != "${datasource}" {
			t.Errorf("panel %q: datasource %+v, want uid ${datasource}", p.Title, p.Datasource)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q: no query", p.Title)
		}
	}
	if diff := cmp.Diff([]string{"SLO: deploys", "On call", "Debug: webhook"}, rows); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}
}

// writeRuleFile writes the PrometheusRule's spec as a plain rule file into
// dir and returns its path.
func writeRuleFile(t *testing.T, dir string) string {
	t.Helper()
	data, err := yaml.Marshal(readRule(t).Spec)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "rules.yaml")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func run(t *testing.T, dir, bin string, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), bin, args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\nstdout:\n%s\nstderr:\n%s", filepath.Base(bin), strings.Join(args, " "), err, out, stderr.String())
	}
	return string(out)
}

// TestPromtoolCheckRules: promtool accepts the PrometheusRule's spec as a
// rule file, lint findings included.
func TestPromtoolCheckRules(t *testing.T) {
	promtool := tool(t, envPromtool)
	dir := t.TempDir()
	writeRuleFile(t, dir)
	out := run(t, dir, promtool, "check", "rules", "--lint=all", "--lint-fatal", "rules.yaml")
	if !strings.Contains(out, "SUCCESS") {
		t.Errorf("promtool check rules: %s", out)
	}
}

// testFile is the part of testdata/rules_test.yaml TestAlertsCovered reads.
type testFile struct {
	Tests []struct {
		Name          string `json:"name"`
		AlertRuleTest []struct {
			Alertname string `json:"alertname"`
			ExpAlerts []any  `json:"exp_alerts"`
		} `json:"alert_rule_test"`
	} `json:"tests"`
}

// TestPromtoolTestRules: `promtool test rules` with testdata/rules_test.yaml,
// whose cases make every alert fire and not fire, with exact labels and
// annotations.
func TestPromtoolTestRules(t *testing.T) {
	promtool := tool(t, envPromtool)
	dir := t.TempDir()
	writeRuleFile(t, dir)
	data, err := os.ReadFile(filepath.Join("testdata", "rules_test.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "rules_test.yaml"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, dir, promtool, "test", "rules", "rules_test.yaml")
}

// TestAlertsCovered: testdata/rules_test.yaml has, for every alert, a case
// where it fires and one where it does not.
func TestAlertsCovered(t *testing.T) {
	var tf testFile
	data, err := os.ReadFile(filepath.Join("testdata", "rules_test.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, &tf); err != nil {
		t.Fatal(err)
	}
	fires, silent := map[string]bool{}, map[string]bool{}
	for _, tc := range tf.Tests {
		for _, a := range tc.AlertRuleTest {
			if len(a.ExpAlerts) > 0 {
				fires[a.Alertname] = true
			} else {
				silent[a.Alertname] = true
			}
		}
	}
	for _, g := range readRule(t).Spec.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				continue
			}
			if !fires[r.Alert] {
				t.Errorf("alert %s: no test case where it fires", r.Alert)
			}
			if !silent[r.Alert] {
				t.Errorf("alert %s: no test case where it does not fire", r.Alert)
			}
		}
	}
}

// runbookBase is where every alert's runbook lives: a heading of
// docs/monitoring.md per alert.
const runbookBase = "https://github.com/kubectl-chart/kubectl-chart/blob/main/docs/monitoring.md#"

// TestAlertAnnotations: every alert has a severity, a summary, a
// description and a runbook_url that points at a heading of
// docs/monitoring.md.
func TestAlertAnnotations(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "monitoring.md"))
	if err != nil {
		t.Fatal(err)
	}
	anchors := map[string]bool{}
	nonWord := regexp.MustCompile(`[^a-z0-9 _-]`)
	for _, line := range strings.Split(string(doc), "\n") {
		if strings.HasPrefix(line, "#") {
			h := strings.ToLower(strings.TrimSpace(strings.TrimLeft(line, "#")))
			anchors[strings.ReplaceAll(nonWord.ReplaceAllString(h, ""), " ", "-")] = true
		}
	}
	for _, g := range readRule(t).Spec.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				continue
			}
			if r.Labels["severity"] != "critical" && r.Labels["severity"] != "warning" {
				t.Errorf("alert %s: severity %q, want critical or warning", r.Alert, r.Labels["severity"])
			}
			for _, a := range []string{"summary", "description", "runbook_url"} {
				if r.Annotations[a] == "" {
					t.Errorf("alert %s: no %s", r.Alert, a)
				}
			}
			anchor, ok := strings.CutPrefix(r.Annotations["runbook_url"], runbookBase)
			if !ok || !anchors[anchor] {
				t.Errorf("alert %s: runbook_url %q is not %s<a heading of docs/monitoring.md>", r.Alert, r.Annotations["runbook_url"], runbookBase)
			}
		}
	}
}

// expression is one record of promql-metrics' output.
type expression struct {
	File     string   `json:"file"`
	Location string   `json:"location"`
	Expr     string   `json:"expr"`
	Metrics  []string `json:"metrics"`
}

// TestQueriesNameOnlyKnownMetrics: Prometheus's PromQL parser (through
// promql-metrics) parses every dashboard query, template variable query and
// rule expression, and each selects only the webhook's metrics
// (monitoring.WebhookSeriesNames), the recording rules of
// prometheusrule.yaml, up and the API server's webhook rejections.
func TestQueriesNameOnlyKnownMetrics(t *testing.T) {
	bin := tool(t, envPromQLMetrics)
	dir := t.TempDir()
	for _, name := range []string{"dashboard.json", "prometheusrule.yaml"} {
		if err := os.WriteFile(filepath.Join(dir, name), readFile(t, name), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var exprs []expression
	if err := json.Unmarshal([]byte(run(t, dir, bin, "dashboard.json", "prometheusrule.yaml")), &exprs); err != nil {
		t.Fatal(err)
	}

	allowed := map[string]bool{}
	for _, m := range append(monitoring.WebhookSeriesNames(), monitoring.OtherMetrics...) {
		allowed[m] = true
	}
	wantExprs := 0
	for _, g := range readRule(t).Spec.Groups {
		for _, r := range g.Rules {
			wantExprs++
			if r.Record != "" {
				allowed[r.Record] = true
			}
		}
	}
	d := readDashboard(t)
	for _, p := range d.Panels {
		wantExprs += len(p.Targets)
	}
	for _, v := range d.Templating.List {
		if v.Type == "query" {
			wantExprs++
		}
	}
	if len(exprs) != wantExprs {
		t.Errorf("promql-metrics found %d expressions, the files hold %d", len(exprs), wantExprs)
	}

	used := map[string]bool{}
	for _, e := range exprs {
		if len(e.Metrics) == 0 && !strings.HasPrefix(e.Expr, "vector(") {
			t.Errorf("%s: %s: selects no metric: %s", e.File, e.Location, e.Expr)
		}
		for _, m := range e.Metrics {
			used[m] = true
			if !allowed[m] {
				t.Errorf("%s: %s: selects %s, which is neither a metric of the webhook (monitoring.WebhookMetrics), a recording rule, up nor apiserver_admission_webhook_rejection_count", e.File, e.Location, m)
			}
		}
	}
	// Every family of the contract is shown or alerted on somewhere.
	for _, f := range monitoring.WebhookMetrics {
		if !used[f] && !used[f+"_bucket"] {
			t.Errorf("metric %s is used by no query", f)
		}
	}
}

// TestWebhookSeriesNames: histograms expand to their three series, the
// list is sorted and without duplicates.
func TestWebhookSeriesNames(t *testing.T) {
	if !sort.StringsAreSorted(monitoring.WebhookMetrics) {
		t.Errorf("WebhookMetrics is not sorted")
	}
	got := monitoring.WebhookSeriesNames()
	for _, want := range []string{"chart_webhook_request_duration_seconds_bucket", "chart_release_operation_duration_seconds_count", "chart_release_info"} {
		if !slices.Contains(got, want) {
			t.Errorf("WebhookSeriesNames lacks %s", want)
		}
	}
	if slices.Contains(got, "chart_webhook_request_duration_seconds") {
		t.Errorf("WebhookSeriesNames lists a histogram's family name")
	}
	for _, h := range monitoring.WebhookHistograms {
		if !slices.Contains(monitoring.WebhookMetrics, h) {
			t.Errorf("histogram %s is not in WebhookMetrics", h)
		}
	}
}

// TestPromQLMetricsParseErrors: promql-metrics exits non-zero on an
// expression that does not parse, naming the file, the panel or rule and
// the parser's error, for every such expression.
func TestPromQLMetricsParseErrors(t *testing.T) {
	bin := tool(t, envPromQLMetrics)
	dir := t.TempDir()
	files := map[string]string{
		"broken.json": `{"panels": [{"id": 7, "title": "Broken", "targets": [{"refId": "A", "expr": "sum(rate(up{job=\"$job\"}[$__rate_interval])"}]}]}`,
		"broken.yaml": "groups:\n  - name: g\n    rules:\n      - alert: Bad\n        expr: up ==\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.CommandContext(t.Context(), bin, "broken.json", "broken.yaml")
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("promql-metrics on broken files: %v, want exit status 1\nstdout: %s\nstderr: %s", err, out, stderr.String())
	}
	for _, want := range []string{
		`broken.json: panel "Broken" (id 7) target A: `,
		`broken.yaml: group g rule alert:Bad: `,
		"2 expression(s) do not parse",
	} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
		}
	}
	if len(out) != 0 {
		t.Errorf("stdout %q, want nothing", out)
	}
}
