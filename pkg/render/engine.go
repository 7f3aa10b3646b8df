package render

import (
	"context"
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"
	"sync"
	"text/template"
	"text/template/parse"
	"unsafe"

	"github.com/kubectl-chart/kubectl-chart/pkg/chart"
	"github.com/kubectl-chart/kubectl-chart/pkg/values"
)

// LookupFunc is the `lookup` template function: it reads one object
// (name set) or a list from the cluster. Without a cluster it is nil and
// `lookup` returns an empty map, as in `helm template`.
type LookupFunc func(ctx context.Context, apiVersion, kind, namespace, name string) (map[string]any, error)

// recursionMaxNums bounds how deep one template may include itself.
const recursionMaxNums = 1000

// engine executes a chart's templates. One engine serves one render.
type engine struct {
	strict    bool
	lintMode  bool
	lookup    LookupFunc
	enableDNS bool
	warn      warnFunc
}

type renderable struct {
	tpl      string
	vals     map[string]any
	basePath string
}

// failError is what `fail` and `required` return: the chart's own message,
// shown after the location as Helm does.
type failError struct{ msg string }

func (e *failError) Error() string { return e.msg }

// TemplateError is a template that did not parse or execute. Its message is
// Helm's: `parse error at (chart/templates/x.yaml:3): …` or
// `execution error at (chart/templates/x.yaml:12:3): …`.
type TemplateError struct {
	// Template is the template's path ("chart/templates/x.yaml").
	Template string
	msg      string
	err      error
}

func (e *TemplateError) Error() string { return e.msg }
func (e *TemplateError) Unwrap() error { return e.err }

// render parses every template of the chart tree once, then executes each
// non-partial template. It returns rendered text by template path.
func (e *engine) render(ctx context.Context, tpls map[string]renderable) (rendered map[string]string, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("rendering template failed: %v", r)
		}
	}()
	t := template.New("gotpl")
	if e.strict {
		t.Option("missingkey=error")
	} else {
		t.Option("missingkey=zero")
	}
	e.initFuncMap(ctx, t)

	keys := sortTemplates(tpls)
	if err := parseAll(t, keys, tpls); err != nil {
		return nil, err
	}

	rendered = make(map[string]string, len(keys))
	for _, filename := range keys {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if strings.HasPrefix(path.Base(filename), "_") {
			continue
		}
		r := tpls[filename]
		r.vals["Template"] = values.Values{"Name": filename, "BasePath": r.basePath}
		var buf strings.Builder
		buf.Grow(len(r.tpl)) // most templates' output is about their size
		if err := t.ExecuteTemplate(&buf, filename, r.vals); err != nil {
			return nil, reformatExecErrorMsg(filename, err)
		}
		rendered[filename] = strings.ReplaceAll(buf.String(), "<no value>", "")
	}
	return rendered, nil
}

// parseAll parses every template into t. Parsing is the costliest step for
// charts with many templates, so files are parsed in parallel into trees,
// then added to the set in Helm's order: a later define replaces an earlier
// one exactly as with sequential parsing. The first file (in that order)
// that fails to parse is the error.
func parseAll(t *template.Template, keys []string, tpls map[string]renderable) error {
	funcs := parseFuncNames()
	trees := make([]map[string]*parse.Tree, len(keys))
	errs := make([]error, len(keys))
	parallel(len(keys), func(i int) {
		trees[i], errs[i] = parse.Parse(keys[i], tpls[keys[i]].tpl, "", "", funcs)
	})
	for i, filename := range keys {
		if errs[i] != nil {
			return cleanupParseError(filename, errs[i])
		}
		nt := t.New(filename)
		for name, tree := range trees[i] {
			if _, err := nt.AddParseTree(name, tree); err != nil {
				return cleanupParseError(filename, err)
			}
		}
	}
	return nil
}

// textTemplateBuiltins are the functions text/template always knows.
var textTemplateBuiltins = []string{
	"and", "call", "html", "index", "slice", "js", "len", "not", "or", "print", "printf", "println",
	"urlquery", "eq", "ge", "gt", "le", "lt", "ne",
}

// parseFuncNames is the set of function names a template may call, for the
// parser's checks (it only tests names).
func parseFuncNames() map[string]any {
	names := make(map[string]any, len(textTemplateBuiltins)+256)
	for _, n := range textTemplateBuiltins {
		names[n] = true
	}
	for n := range baseFuncMap() {
		names[n] = true
	}
	return names
}

func (e *engine) initFuncMap(ctx context.Context, t *template.Template) {
	funcMap := baseFuncMap()
	includedNames := make(map[string]int)
	tc := &tplCache{}

	funcMap["include"] = includeFun(t, includedNames)
	funcMap["tpl"] = e.tplFun(t, includedNames, tc)
	funcMap["required"] = func(warn string, val any) (any, error) {
		if val == nil || val == "" {
			if e.lintMode {
				e.warn("missing required value: %s", warn)
				return "", nil
			}
			return val, &failError{msg: warn}
		}
		return val, nil
	}
	funcMap["fail"] = func(msg string) (string, error) {
		if e.lintMode {
			e.warn("fail: %s", msg)
			return "", nil
		}
		return "", &failError{msg: msg}
	}
	if !e.lintMode && e.lookup != nil {
		lookup := e.lookup
		funcMap["lookup"] = func(apiVersion, kind, namespace, name string) (map[string]any, error) {
			return lookup(ctx, apiVersion, kind, namespace, name)
		}
	}
	if !e.enableDNS {
		funcMap["getHostByName"] = func(string) string { return "" }
	}
	t.Funcs(funcMap)
	tc.funcs = funcMap
}

func includeFun(t *template.Template, includedNames map[string]int) func(string, any) (string, error) {
	return func(name string, data any) (string, error) {
		var buf strings.Builder
		if v, ok := includedNames[name]; ok {
			if v > recursionMaxNums {
				return "", fmt.Errorf("rendering template has a nested reference name: %s: %w",
					name, errors.New("unable to execute template"))
			}
			includedNames[name]++
		} else {
			includedNames[name] = 1
		}
		err := t.ExecuteTemplate(&buf, name, data)
		includedNames[name]--
		return buf.String(), err
	}
}

// tplCache keeps parsed `tpl` strings: charts call tpl on the same strings
// many times (once per object), and Helm re-parses each time.
type tplCache struct {
	mu    sync.Mutex
	funcs template.FuncMap
	byStr map[string]*template.Template
}

// tplFun is Helm's tpl. A string without define/template/block actions is
// parsed once and executed in its own small template whose include reaches
// the chart's templates; other strings take Helm's path (a clone of the
// whole set, so that their defines stay local).
func (e *engine) tplFun(parent *template.Template, includedNames map[string]int, tc *tplCache) func(string, any) (string, error) {
	return func(tpl string, vals any) (string, error) {
		if t := tc.get(e, parent, includedNames, tpl); t != nil {
			var buf strings.Builder
			if err := t.Execute(&buf, vals); err != nil {
				return "", fmt.Errorf("error during tpl function execution for %q: %w", tpl, err)
			}
			return strings.ReplaceAll(buf.String(), "<no value>", ""), nil
		}
		t, err := parent.Clone()
		if err != nil {
			return "", fmt.Errorf("cannot clone template: %w", err)
		}
		if e.strict {
			t.Option("missingkey=error")
		} else {
			t.Option("missingkey=zero")
		}
		t.Funcs(template.FuncMap{
			"include": includeFun(t, includedNames),
			"tpl":     e.tplFun(t, includedNames, &tplCache{funcs: tc.funcs}),
		})
		t, err = t.New(parent.Name()).Parse(tpl)
		if err != nil {
			return "", fmt.Errorf("cannot parse template %q: %w", tpl, err)
		}
		var buf strings.Builder
		if err := t.Execute(&buf, vals); err != nil {
			return "", fmt.Errorf("error during tpl function execution for %q: %w", tpl, err)
		}
		return strings.ReplaceAll(buf.String(), "<no value>", ""), nil
	}
}

// get returns a parsed standalone template for a simple tpl string, or nil
// when the string needs Helm's full path (it defines or calls templates, or
// does not parse: the slow path then reports the parse error as Helm does).
func (tc *tplCache) get(e *engine, parent *template.Template, includedNames map[string]int, tpl string) *template.Template {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	if t, ok := tc.byStr[tpl]; ok {
		return t
	}
	var t *template.Template
	if !strings.Contains(tpl, "template") && !strings.Contains(tpl, "define") && !strings.Contains(tpl, "block") {
		nt := template.New(parent.Name())
		if e.strict {
			nt.Option("missingkey=error")
		} else {
			nt.Option("missingkey=zero")
		}
		nt.Funcs(tc.funcs)
		nt.Funcs(template.FuncMap{
			"include": includeFun(parent, includedNames),
			"tpl":     e.tplFun(parent, includedNames, tc),
		})
		if _, err := nt.Parse(tpl); err == nil && len(nt.Templates()) <= 1 && !hasTemplateNode(nt.Tree) {
			t = nt
		}
	}
	if tc.byStr == nil {
		tc.byStr = map[string]*template.Template{}
	}
	tc.byStr[tpl] = t
	return t
}

func hasTemplateNode(tree *parse.Tree) bool {
	if tree == nil || tree.Root == nil {
		return false
	}
	var walk func(n parse.Node) bool
	walk = func(n parse.Node) bool {
		switch x := n.(type) {
		case *parse.TemplateNode:
			return true
		case *parse.ListNode:
			if x == nil {
				return false
			}
			for _, c := range x.Nodes {
				if walk(c) {
					return true
				}
			}
		case *parse.IfNode:
			return walk(x.List) || (x.ElseList != nil && walk(x.ElseList))
		case *parse.RangeNode:
			return walk(x.List) || (x.ElseList != nil && walk(x.ElseList))
		case *parse.WithNode:
			return walk(x.List) || (x.ElseList != nil && walk(x.ElseList))
		}
		return false
	}
	return walk(tree.Root)
}

func cleanupParseError(filename string, err error) error {
	tokens := strings.Split(err.Error(), ": ")
	if len(tokens) == 1 {
		return &TemplateError{Template: filename, msg: fmt.Sprintf("parse error in (%s): %s", filename, err), err: err}
	}
	location := tokens[1]
	errMsg := tokens[len(tokens)-1]
	return &TemplateError{Template: filename, msg: fmt.Sprintf("parse error at (%s): %s", location, errMsg), err: err}
}

// reformatExecErrorMsg turns text/template's execution error into Helm's
// message: the location of the failing action, then the chart's message for
// fail/required, or the chain of templates that led to the error.
func reformatExecErrorMsg(filename string, err error) error {
	var execErr template.ExecError
	if !errors.As(err, &execErr) {
		return err
	}
	tokens := strings.SplitN(err.Error(), ": ", 3)
	if len(tokens) != 3 {
		return &TemplateError{Template: filename, msg: fmt.Sprintf("execution error in (%s): %s", filename, err), err: err}
	}
	location := tokens[1]
	var fe *failError
	if errors.As(err, &fe) {
		return &TemplateError{Template: filename, msg: fmt.Sprintf("execution error at (%s): %s", location, fe.msg), err: err}
	}
	current := err
	var trace []traceableError
	for current != nil {
		tr, ok := parseTemplateExecErrorString(current.Error())
		if !ok {
			return &TemplateError{Template: filename, msg: err.Error(), err: err}
		}
		if len(trace) == 0 || trace[len(trace)-1] != tr {
			trace = append(trace, tr)
		}
		current = errors.Unwrap(current)
	}
	var sb strings.Builder
	for _, tr := range trace {
		sb.WriteString(tr.String())
	}
	return &TemplateError{Template: filename, msg: strings.TrimSpace(sb.String()), err: err}
}

type traceableError struct {
	location         string
	message          string
	executedFunction string
}

func (t traceableError) String() string {
	var sb strings.Builder
	if t.location != "" {
		fmt.Fprintf(&sb, "%s\n  ", t.location)
	}
	if t.executedFunction != "" {
		fmt.Fprintf(&sb, "%s\n    ", t.executedFunction)
	}
	if t.message != "" {
		fmt.Fprintf(&sb, "%s\n", t.message)
	}
	return sb.String()
}

func parseTemplateExecErrorString(s string) (traceableError, bool) {
	const prefix = "template: "
	if !strings.HasPrefix(s, prefix) {
		return traceableError{}, false
	}
	remainder := s[len(prefix):]
	if strings.HasPrefix(remainder, "no template ") {
		return traceableError{message: s}, true
	}
	if templateName, after, found := strings.Cut(remainder, ": executing "); found {
		if tr, ok := parseExecutingAt(templateName, after); ok {
			return tr, true
		}
		return traceableError{}, false
	}
	if sep := strings.LastIndex(remainder, ": "); sep != -1 {
		errMsg := remainder[sep+2:]
		if cut := strings.Index(errMsg, " template:"); cut != -1 {
			errMsg = errMsg[:cut]
		}
		return traceableError{location: remainder[:sep], message: errMsg}, true
	}
	return traceableError{}, false
}

func parseExecutingAt(templateName, after string) (traceableError, bool) {
	if after == "" || after[0] != '"' {
		return traceableError{}, false
	}
	endQuote := strings.IndexByte(after[1:], '"')
	if endQuote == -1 {
		return traceableError{}, false
	}
	endQuote++
	functionName := after[1:endQuote]
	afterFunc := after[endQuote+1:]
	const atPrefix = " at <"
	if !strings.HasPrefix(afterFunc, atPrefix) {
		return traceableError{}, false
	}
	locationName, errMsg, found := strings.Cut(afterFunc[len(atPrefix):], ">: ")
	if !found {
		return traceableError{}, false
	}
	if cut := strings.Index(errMsg, " template:"); cut != -1 {
		errMsg = errMsg[:cut]
	}
	return traceableError{
		location:         templateName,
		message:          errMsg,
		executedFunction: "executing \"" + functionName + "\" at <" + locationName + ">:",
	}, true
}

// sortTemplates orders templates for parsing: deepest paths first, so that a
// parent's define wins over a subchart's of the same name.
func sortTemplates(tpls map[string]renderable) []string {
	keys := make([]string, 0, len(tpls))
	for key := range tpls {
		keys = append(keys, key)
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		ca, cb := strings.Count(a, "/"), strings.Count(b, "/")
		if ca == cb {
			return a > b
		}
		return ca > cb
	})
	return keys
}

// allTemplates gathers the templates of a chart tree with the values each
// one sees (.Values scoped to its chart, .Chart, .Files, .Subcharts).
func allTemplates(c *chart.Chart, top map[string]any) map[string]renderable {
	templates := make(map[string]renderable)
	recAllTpls(c, templates, top)
	return templates
}

func recAllTpls(c *chart.Chart, templates map[string]renderable, parentVals map[string]any) map[string]any {
	subCharts := make(map[string]any)
	chartMetaData := metadataAsMap(c.Metadata)
	chartMetaData["IsRoot"] = c.IsRoot()

	next := map[string]any{
		"Chart":        chartMetaData,
		"Files":        newFiles(c.Files),
		"Release":      parentVals["Release"],
		"Capabilities": parentVals["Capabilities"],
		"Values":       make(values.Values),
		"Subcharts":    subCharts,
	}
	if c.IsRoot() {
		next["Values"] = parentVals["Values"]
	} else if vs, err := values.Values(parentVals).Table("Values." + c.Name()); err == nil {
		next["Values"] = vs
	}
	for _, child := range c.Dependencies() {
		subCharts[child.Name()] = recAllTpls(child, templates, next)
	}
	newParentID := c.ChartFullPath()
	for _, t := range c.Templates {
		if t == nil {
			continue
		}
		if c.IsLibrary() && !strings.HasPrefix(path.Base(t.Name), "_") {
			continue
		}
		templates[path.Join(newParentID, t.Name)] = renderable{
			tpl:      bytesAsString(t.Data),
			vals:     next,
			basePath: path.Join(newParentID, "templates"),
		}
	}
	return next
}

// bytesAsString is a template's source as a string without a copy: a
// chart's file data is not written after it is loaded, and a render only
// reads it. For CRD charts the copy was megabytes of fresh memory.
func bytesAsString(b []byte) string {
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// metadataAsMap is .Chart: Chart.yaml's fields under their Go names, as
// Helm exposes them (nil slices become empty lists).
func metadataAsMap(md *chart.Metadata) map[string]any {
	if md == nil {
		return map[string]any{}
	}
	maintainers := make([]any, len(md.Maintainers))
	for i, m := range md.Maintainers {
		if m == nil {
			maintainers[i] = nil
			continue
		}
		maintainers[i] = map[string]any{"Name": m.Name, "Email": m.Email, "URL": m.URL}
	}
	deps := make([]any, len(md.Dependencies))
	for i, d := range md.Dependencies {
		if d == nil {
			deps[i] = nil
			continue
		}
		iv := make([]any, len(d.ImportValues))
		copy(iv, d.ImportValues)
		deps[i] = map[string]any{
			"Name":         d.Name,
			"Version":      d.Version,
			"Repository":   d.Repository,
			"Condition":    d.Condition,
			"Tags":         stringsToAny(d.Tags),
			"Enabled":      d.Enabled,
			"ImportValues": iv,
			"Alias":        d.Alias,
		}
	}
	return map[string]any{
		"Name":         md.Name,
		"Home":         md.Home,
		"Sources":      stringsToAny(md.Sources),
		"Version":      md.Version,
		"Description":  md.Description,
		"Keywords":     stringsToAny(md.Keywords),
		"Maintainers":  maintainers,
		"Icon":         md.Icon,
		"APIVersion":   md.APIVersion,
		"Condition":    md.Condition,
		"Tags":         md.Tags,
		"AppVersion":   md.AppVersion,
		"Deprecated":   md.Deprecated,
		"Annotations":  md.Annotations,
		"KubeVersion":  md.KubeVersion,
		"Dependencies": deps,
		"Type":         md.Type,
	}
}

func stringsToAny(s []string) []any {
	out := make([]any, len(s))
	for i, x := range s {
		out[i] = x
	}
	return out
}
