package render

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/kubectl-chart/kubectl-chart/pkg/chart"
	"github.com/kubectl-chart/kubectl-chart/pkg/values"
)

const notesFileSuffix = "NOTES.txt"

// Options say how to render a chart.
type Options struct {
	// ReleaseName and Namespace are .Release.Name and .Release.Namespace.
	ReleaseName string
	Namespace   string
	// Revision is .Release.Revision (1 for an install).
	Revision int
	// IsUpgrade sets .Release.IsUpgrade instead of .Release.IsInstall.
	IsUpgrade bool
	// Capabilities are .Capabilities; nil means DefaultCapabilities().
	Capabilities *Capabilities
	// SkipSchemaValidation skips values.schema.json checks.
	SkipSchemaValidation bool
	// Strict makes a missing map key an error (lint --strict).
	Strict bool
	// LintMode makes fail and required warn instead of failing.
	LintMode bool
	// Lookup backs the lookup function; nil returns empty results.
	Lookup LookupFunc
	// EnableDNS lets getHostByName resolve names.
	EnableDNS bool
	// SubNotes renders the NOTES.txt of subcharts too.
	SubNotes bool
	// PostRenderer, when of PostRenderTemplates scope (Helm 4's plugins),
	// rewrites the rendered templates before they are sorted. One of
	// PostRenderManifest scope is not run here: see PostRenderManifest.
	PostRenderer PostRenderer
}

// DefaultOptions are the options of `template` without flags.
func DefaultOptions() Options {
	return Options{ReleaseName: "release-name", Namespace: "default", Revision: 1}
}

// Result is a rendered chart.
type Result struct {
	// Manifests are the non-hook documents in install order.
	Manifests []Manifest
	// Hooks are the hook documents, ordered by kind.
	Hooks []*Hook
	// Notes is the rendered NOTES.txt.
	Notes string
	// CRDs are the files of crds/ folders (not templated).
	CRDs []chart.CRD
	// Values are the coalesced values the templates saw.
	Values values.Values
	// Warnings are non-fatal problems, such as values of conflicting types.
	Warnings []string

	// postRendered is the manifest a PostRenderManifest post-renderer
	// returned (PostRenderManifest), nil before.
	postRendered *string
}

// Errors that a caller may branch on.
var (
	// ErrLibraryChart: library charts cannot be rendered on their own.
	ErrLibraryChart = errors.New("library charts are not installable")
)

// KubeVersionError says the chart's kubeVersion constraint excludes the
// target Kubernetes version.
type KubeVersionError struct{ Constraint, Version string }

func (e *KubeVersionError) Error() string {
	return fmt.Sprintf("chart requires kubeVersion: %s which is incompatible with Kubernetes %s", e.Constraint, e.Version)
}

// Render renders a loaded chart with user-supplied values, as `helm
// template`/`helm install` do. The chart is changed (dependencies are
// resolved in place): load it anew for each render.
func Render(ctx context.Context, ch *chart.Chart, userVals map[string]any, opts Options) (*Result, error) {
	res := &Result{}
	warn := func(format string, args ...any) { res.Warnings = append(res.Warnings, fmt.Sprintf(format, args...)) }

	if ch.Metadata == nil {
		return res, errors.New("chart has no metadata")
	}
	switch ch.Metadata.Type {
	case "", chart.TypeApplication:
	default:
		if ch.IsLibrary() {
			return res, ErrLibraryChart
		}
		return res, fmt.Errorf("%s charts are not installable", ch.Metadata.Type)
	}
	if len(ch.Metadata.Dependencies) > 0 {
		if err := CheckDependencies(ch); err != nil {
			return res, fmt.Errorf("an error occurred while checking for chart dependencies. You may need to run 'kubectl chart dependency build' to fetch missing dependencies: %w", err)
		}
	}
	if userVals == nil {
		userVals = map[string]any{}
	}
	if err := processDependencies(ch, userVals, warn); err != nil {
		return res, fmt.Errorf("chart dependencies processing failed: %w", err)
	}

	caps := opts.Capabilities
	if caps == nil {
		caps = DefaultCapabilities()
	}
	top, vals, err := toRenderValues(ch, userVals, opts, caps, warn)
	if err != nil {
		return res, err
	}
	res.Values = vals

	if ch.Metadata.KubeVersion != "" && !isCompatibleRange(ch.Metadata.KubeVersion, caps.KubeVersion.String()) {
		return res, &KubeVersionError{Constraint: ch.Metadata.KubeVersion, Version: caps.KubeVersion.Version}
	}

	e := &engine{strict: opts.Strict, lintMode: opts.LintMode, lookup: opts.Lookup, enableDNS: opts.EnableDNS, warn: warn}
	files, err := e.render(ctx, allTemplates(ch, top))
	if err != nil {
		return res, err
	}

	var notes strings.Builder
	for _, k := range sortedKeys(files) {
		if strings.HasSuffix(k, notesFileSuffix) {
			if opts.SubNotes || k == path.Join(ch.Name(), "templates", notesFileSuffix) {
				if notes.Len() > 0 {
					notes.WriteString("\n")
				}
				notes.WriteString(files[k])
			}
			delete(files, k)
		}
	}
	res.Notes = notes.String()

	if pr := opts.PostRenderer; pr != nil && pr.Scope() == PostRenderTemplates {
		if files, err = postRenderTemplates(ctx, pr, files); err != nil {
			return res, err
		}
	}

	res.Hooks, res.Manifests, err = SortManifests(files, InstallOrder)
	if ye := (*YAMLError)(nil); errors.As(err, &ye) {
		ye.Rendered = renderedFiles(files)
	}
	if err != nil {
		return res, err
	}
	res.CRDs = ch.CRDObjects()
	return res, nil
}

// toRenderValues builds the top-level template data and validates the
// coalesced values against the schemas.
func toRenderValues(ch *chart.Chart, userVals map[string]any, opts Options, caps *Capabilities, warn warnFunc) (map[string]any, values.Values, error) {
	top := map[string]any{
		"Chart":        metadataAsMap(ch.Metadata),
		"Capabilities": caps,
		"Release": map[string]any{
			"Name":      opts.ReleaseName,
			"Namespace": opts.Namespace,
			"IsUpgrade": opts.IsUpgrade,
			"IsInstall": !opts.IsUpgrade,
			"Revision":  opts.Revision,
			"Service":   "Helm",
		},
	}
	vals, err := CoalesceValues(ch, userVals, warn)
	if err != nil {
		return top, nil, err
	}
	if !opts.SkipSchemaValidation {
		if err := ValidateAgainstSchema(ch, vals); err != nil {
			return top, nil, err
		}
	}
	top["Values"] = vals
	return top, vals, nil
}
