// Command promql-metrics parses every PromQL expression of Grafana dashboards and Prometheus rule files with
// Prometheus's own parser and prints, as JSON, where each expression is and which metric names it selects.
//
//	promql-metrics manifests/monitoring/dashboard.json manifests/monitoring/prometheusrule.yaml
//
// Inputs, told apart by their extension:
//
//   - *.json: a Grafana dashboard (panels, rows' nested panels, and query-type template variables);
//   - *.yaml, *.yml: a PrometheusRule (spec.groups), a ConfigMap whose data holds dashboards, or a plain Prometheus
//     rule file (groups), one or more YAML documents.
//
// Grafana's template variables are substituted before parsing: $__rate_interval, $__interval and $__range (and
// their ${…} forms) by durations, $__range_s by a number, every other $var / ${var} / ${var:fmt} / [[var]] by the
// string x, which is what their place inside a quoted label matcher needs.
//
// It exits 1 with "file: location: error" lines when an expression does not parse (every one is reported), 2 on a
// usage or read error. The metric names are the __name__ of every vector selector, literal names only; a selector
// whose name is a regular expression or absent is listed as "{…}" with its matchers so that a caller can reject it.
//
// It lives in its own module (hack/promql-metrics, the Makefile's promtool target builds it with promtool) so that
// the project's module does not depend on github.com/prometheus/prometheus.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
	"go.yaml.in/yaml/v3"
)

// Expression is one PromQL expression found in a file: the output record.
type Expression struct {
	// File is the path as given on the command line.
	File string `json:"file"`
	// Location names the expression inside the file: `panel "Title" (id 3) target A`,
	// `variable release`, `group chart-release.slo rule record:chart:release_deploy_success:ratio_rate5m`.
	Location string `json:"location"`
	// Expr is the expression as written, before substitution of the template variables.
	Expr string `json:"expr"`
	// Metrics are the metric names the expression selects, sorted and unique.
	Metrics []string `json:"metrics"`
}

func main() {
	flag.Usage = func() {
		fmt.Fprintln(flag.CommandLine.Output(), "usage: promql-metrics FILE... (Grafana dashboard JSON, PrometheusRule or rule file YAML)")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() == 0 {
		flag.Usage()
		os.Exit(2)
	}
	var all []Expression
	var parseErrs []error
	for _, file := range flag.Args() {
		found, err := extractFile(file)
		if err != nil {
			fmt.Fprintf(os.Stderr, "promql-metrics: %v\n", err)
			os.Exit(2)
		}
		for _, e := range found {
			metrics, err := selectedMetrics(e.Expr)
			if err != nil {
				parseErrs = append(parseErrs, fmt.Errorf("%s: %s: %w", e.File, e.Location, err))
				continue
			}
			e.Metrics = metrics
			all = append(all, e)
		}
	}
	if len(parseErrs) > 0 {
		fmt.Fprintf(os.Stderr, "promql-metrics: %d expression(s) do not parse:\n%v\n", len(parseErrs), errors.Join(parseErrs...))
		os.Exit(1)
	}
	if all == nil {
		all = []Expression{}
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(all); err != nil {
		fmt.Fprintf(os.Stderr, "promql-metrics: %v\n", err)
		os.Exit(2)
	}
}

// extractFile reads one input file and returns its expressions, unparsed.
func extractFile(file string) ([]Expression, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	switch strings.ToLower(filepath.Ext(file)) {
	case ".json":
		return extractDashboard(file, "", data)
	case ".yaml", ".yml":
		return extractYAML(file, data)
	default:
		return nil, fmt.Errorf("%s: unknown file type (want .json, .yaml or .yml)", file)
	}
}

// dashboard is the part of a Grafana dashboard that holds queries.
type dashboard struct {
	Panels     []panel `json:"panels"`
	Templating struct {
		List []struct {
			Name  string          `json:"name"`
			Type  string          `json:"type"`
			Query json.RawMessage `json:"query"`
		} `json:"list"`
	} `json:"templating"`
}

type panel struct {
	ID      int     `json:"id"`
	Title   string  `json:"title"`
	Type    string  `json:"type"`
	Panels  []panel `json:"panels"` // a collapsed row's panels
	Targets []struct {
		RefID string `json:"refId"`
		Expr  string `json:"expr"`
	} `json:"targets"`
}

// labelValues matches the label_values(selector, label) and query_result(expr) forms of Grafana's Prometheus
// variable queries, which are not PromQL themselves but hold PromQL.
var (
	labelValuesRe  = regexp.MustCompile(`^\s*label_values\(\s*(.*?)\s*,\s*[a-zA-Z_][a-zA-Z0-9_]*\s*\)\s*$`)
	queryResultRe  = regexp.MustCompile(`^\s*query_result\((.*)\)\s*$`)
	labelNamesRe   = regexp.MustCompile(`^\s*label_names\(\s*\)\s*$`)
	metricsQueryRe = regexp.MustCompile(`^\s*metrics\(.*\)\s*$`)
)

func extractDashboard(file, prefix string, data []byte) ([]Expression, error) {
	var d dashboard
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, fmt.Errorf("%s: %sdecode Grafana dashboard: %w", file, prefix, err)
	}
	var out []Expression
	var walk func([]panel)
	walk = func(panels []panel) {
		for _, p := range panels {
			for _, t := range p.Targets {
				if strings.TrimSpace(t.Expr) == "" {
					continue
				}
				out = append(out, Expression{File: file, Location: fmt.Sprintf("%spanel %q (id %d) target %s", prefix, p.Title, p.ID, t.RefID), Expr: t.Expr})
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	for _, v := range d.Templating.List {
		if v.Type != "query" || len(v.Query) == 0 {
			continue
		}
		// The query is a string, or an object with a "query" field (Grafana 10+).
		var q string
		if err := json.Unmarshal(v.Query, &q); err != nil {
			var obj struct {
				Query string `json:"query"`
			}
			if err := json.Unmarshal(v.Query, &obj); err != nil {
				return nil, fmt.Errorf("%s: %svariable %s: query is neither a string nor an object with a query", file, prefix, v.Name)
			}
			q = obj.Query
		}
		switch {
		case labelValuesRe.MatchString(q):
			q = labelValuesRe.FindStringSubmatch(q)[1]
		case queryResultRe.MatchString(q):
			q = queryResultRe.FindStringSubmatch(q)[1]
		case labelNamesRe.MatchString(q), metricsQueryRe.MatchString(q):
			continue
		}
		if strings.TrimSpace(q) == "" {
			continue
		}
		out = append(out, Expression{File: file, Location: fmt.Sprintf("%svariable %s", prefix, v.Name), Expr: q})
	}
	return out, nil
}

// yamlDoc covers the three YAML shapes: a PrometheusRule, a ConfigMap of dashboards and a plain rule file.
type yamlDoc struct {
	Kind     string `yaml:"kind"`
	Metadata struct {
		Name string `yaml:"name"`
	} `yaml:"metadata"`
	Spec struct {
		Groups []ruleGroup `yaml:"groups"`
	} `yaml:"spec"`
	Data   map[string]string `yaml:"data"`
	Groups []ruleGroup       `yaml:"groups"`
}

type ruleGroup struct {
	Name  string `yaml:"name"`
	Rules []struct {
		Record string `yaml:"record"`
		Alert  string `yaml:"alert"`
		Expr   string `yaml:"expr"`
	} `yaml:"rules"`
}

func extractYAML(file string, data []byte) ([]Expression, error) {
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	var out []Expression
	for i := 0; ; i++ {
		var doc yamlDoc
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", file, i+1, err)
		}
		groups := doc.Groups
		if doc.Kind == "PrometheusRule" {
			groups = doc.Spec.Groups
		}
		for _, g := range groups {
			for j, r := range g.Rules {
				name := fmt.Sprintf("#%d", j+1)
				switch {
				case r.Record != "":
					name = "record:" + r.Record
				case r.Alert != "":
					name = "alert:" + r.Alert
				}
				out = append(out, Expression{File: file, Location: fmt.Sprintf("group %s rule %s", g.Name, name), Expr: r.Expr})
			}
		}
		if doc.Kind == "ConfigMap" {
			keys := make([]string, 0, len(doc.Data))
			for k := range doc.Data {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				if !strings.HasSuffix(k, ".json") {
					continue
				}
				found, err := extractDashboard(file, fmt.Sprintf("ConfigMap/%s data %s: ", doc.Metadata.Name, k), []byte(doc.Data[k]))
				if err != nil {
					return nil, err
				}
				out = append(out, found...)
			}
		}
	}
}

// grafanaVar matches Grafana's variable syntaxes: $name, ${name}, ${name:format} and [[name]].
var grafanaVar = regexp.MustCompile(`\$\{([a-zA-Z_][a-zA-Z0-9_]*)(?::[^}]*)?\}|\$([a-zA-Z_][a-zA-Z0-9_]*)|\[\[([a-zA-Z_][a-zA-Z0-9_]*)\]\]`)

// builtinVars are Grafana's global variables that stand for a duration or a number in a query.
var builtinVars = map[string]string{
	"__rate_interval": "5m",
	"__interval":      "1m",
	"__range":         "1h",
	"__range_s":       "3600",
	"__range_ms":      "3600000",
	"__interval_ms":   "60000",
}

// substitute replaces Grafana's template variables in expr by values that keep it valid PromQL.
func substitute(expr string) string {
	return grafanaVar.ReplaceAllStringFunc(expr, func(m string) string {
		sub := grafanaVar.FindStringSubmatch(m)
		name := sub[1] + sub[2] + sub[3]
		if v, ok := builtinVars[name]; ok {
			return v
		}
		return "x"
	})
}

// selectedMetrics parses expr (after substitute) and returns the metric names its vector selectors select.
func selectedMetrics(expr string) ([]string, error) {
	p := parser.NewParser(parser.Options{})
	ast, err := p.ParseExpr(substitute(expr))
	if err != nil {
		return nil, err
	}
	set := map[string]bool{}
	parser.Inspect(ast, func(node parser.Node, _ []parser.Node) error {
		vs, ok := node.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		if vs.Name != "" {
			set[vs.Name] = true
			return nil
		}
		for _, m := range vs.LabelMatchers {
			if m.Name == labels.MetricName && m.Type == labels.MatchEqual {
				set[m.Value] = true
				return nil
			}
		}
		set[vs.String()] = true // no literal name: listed as the selector itself, for the caller to reject
		return nil
	})
	metrics := make([]string, 0, len(set))
	for m := range set {
		metrics = append(metrics, m)
	}
	sort.Strings(metrics)
	return metrics, nil
}
