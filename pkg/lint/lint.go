package lint

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/kubectl-chart/kubectl-chart/pkg/render"
)

// Severity says how bad a message is. The order matters: a chart fails when
// a message reaches the tolerated severity.
type Severity int

// Severities, as Helm's support.*Sev.
const (
	SeverityUnknown Severity = iota
	SeverityInfo
	SeverityWarning
	SeverityError
)

// String is the label Helm prints between brackets.
func (s Severity) String() string {
	switch s {
	case SeverityInfo:
		return "INFO"
	case SeverityWarning:
		return "WARNING"
	case SeverityError:
		return "ERROR"
	}
	return "UNKNOWN"
}

// Message is one finding about a chart.
type Message struct {
	Severity Severity
	// Path is the file the message is about, relative to the chart root
	// ("Chart.yaml", "templates/", "templates/x.yaml"); chart-wide
	// dependency messages name the chart's absolute path, as in Helm.
	Path string
	Err  error
}

// String is the line Helm prints: "[ERROR] templates/x.yaml: …".
func (m Message) String() string {
	return fmt.Sprintf("[%s] %s: %s", m.Severity, m.Path, m.Err)
}

// Options say how to lint a chart.
type Options struct {
	// Values are user-supplied values (-f, --set …), coalesced over the
	// chart's values.yaml.
	Values map[string]any
	// Namespace is .Release.Namespace while rendering.
	Namespace string
	// KubeVersion is the target Kubernetes version for .Capabilities, the
	// deprecation checks and the kubeVersion constraint; nil means
	// render.DefaultKubeVersion.
	KubeVersion *render.KubeVersion
	// SkipSchemaValidation skips values.schema.json checks.
	SkipSchemaValidation bool
}

// DefaultOptions lint with the chart's own values in namespace "default".
func DefaultOptions() Options { return Options{Namespace: "default"} }

// Result is what linting one chart found.
type Result struct {
	// Messages are the findings, in Helm's rule order: Chart.yaml,
	// values.yaml, templates, dependencies, crds.
	Messages []Message
	// Warnings are what the render reported on the side (required and fail
	// in lint mode, values of conflicting types); Helm logs them.
	Warnings []string
}

// HasWarningsOrErrors tells whether any message is above [INFO].
func (r *Result) HasWarningsOrErrors() bool {
	for _, m := range r.Messages {
		if m.Severity > SeverityInfo {
			return true
		}
	}
	return false
}

// Failed tells whether the chart fails lint: any [ERROR], or with strict
// any [WARNING] too.
func (r *Result) Failed(strict bool) bool {
	lowest := SeverityError
	if strict {
		lowest = SeverityWarning
	}
	for _, m := range r.Messages {
		if m.Severity >= lowest {
			return true
		}
	}
	return false
}

// Lint lints the chart at path, a chart directory or a packaged chart
// (.tgz, .tar.gz). The error is for a path that is not a chart at all
// (no Chart.yaml, an unreadable archive); everything else is a message.
func Lint(ctx context.Context, path string, opts Options) (*Result, error) {
	src, err := openSource(path)
	if err != nil {
		return nil, err
	}
	// Guard: not a chart.
	if _, err := src.stat("Chart.yaml"); err != nil {
		return nil, fmt.Errorf("unable to check Chart.yaml file in chart: %w", err)
	}
	dir, err := filepath.Abs(path)
	if err != nil {
		dir = path
	}
	l := &linter{src: src, chartDir: dir, opts: opts, res: &Result{}}
	if l.opts.Namespace == "" {
		l.opts.Namespace = "default"
	}
	l.chartfile()
	l.values()
	if err := l.templates(ctx); err != nil {
		return l.res, err
	}
	l.dependencies()
	l.crds()
	return l.res, nil
}

// isArchive tells a packaged chart by its name, as Helm does.
func isArchive(path string) bool {
	return strings.HasSuffix(path, ".tgz") || strings.HasSuffix(path, ".tar.gz")
}

// linter gathers the messages of one chart.
type linter struct {
	src      source
	chartDir string
	opts     Options
	res      *Result
}

// check records err, when not nil, with the severity and path, and tells
// whether the check passed.
func (l *linter) check(sev Severity, path string, err error) bool {
	if err != nil {
		l.res.Messages = append(l.res.Messages, Message{Severity: sev, Path: path, Err: err})
	}
	return err == nil
}

func (l *linter) kubeVersion() *render.KubeVersion {
	if l.opts.KubeVersion != nil {
		return l.opts.KubeVersion
	}
	return &render.DefaultCapabilities().KubeVersion
}
