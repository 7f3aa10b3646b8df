package chart

import (
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// Chart API versions.
const (
	APIVersionV1 = "v1"
	APIVersionV2 = "v2"
)

// Chart types.
const (
	TypeApplication = "application"
	TypeLibrary     = "library"
)

var aliasNameFormat = regexp.MustCompile("^[a-zA-Z0-9_-]+$")

// File is one file of a chart, with its path relative to the chart root
// ("templates/deployment.yaml") and its content.
type File struct {
	Name    string
	ModTime time.Time
	Data    []byte
}

// Chart is a loaded Helm chart.
type Chart struct {
	// Raw is every file of the chart as loaded, the files of subcharts under
	// charts/ included (as in Helm).
	Raw []*File
	// Metadata is Chart.yaml (and requirements.yaml for API v1).
	Metadata *Metadata
	// Lock is Chart.lock or requirements.lock, when present.
	Lock *Lock
	// Templates are the files under templates/.
	Templates []*File
	// Values are the chart's default values (values.yaml).
	Values map[string]any
	// Schema is values.schema.json, when present.
	Schema []byte
	// Files are every other file: what .Files exposes to templates.
	Files []*File

	parent       *Chart
	dependencies []*Chart
}

// CRD is a custom resource definition file from a chart's crds/ folder.
type CRD struct {
	// Name is the path within its chart ("crds/foo.yaml").
	Name string
	// Filename is the path from the root chart ("mychart/charts/sub/crds/foo.yaml").
	Filename string
	File     *File
}

// Name is the chart's name (an alias once dependencies are processed).
func (ch *Chart) Name() string {
	if ch.Metadata == nil {
		return ""
	}
	return ch.Metadata.Name
}

// SetDependencies replaces the subcharts.
func (ch *Chart) SetDependencies(charts ...*Chart) {
	ch.dependencies = nil
	ch.AddDependency(charts...)
}

// AddDependency appends subcharts and makes ch their parent.
func (ch *Chart) AddDependency(charts ...*Chart) {
	for _, x := range charts {
		x.parent = ch
		ch.dependencies = append(ch.dependencies, x)
	}
}

// Dependencies are the subcharts.
func (ch *Chart) Dependencies() []*Chart { return ch.dependencies }

// IsRoot tells whether ch has no parent.
func (ch *Chart) IsRoot() bool { return ch.parent == nil }

// Parent is the chart that holds ch in its charts/ folder.
func (ch *Chart) Parent() *Chart { return ch.parent }

// Root is the top of the chart tree.
func (ch *Chart) Root() *Chart {
	if ch.IsRoot() {
		return ch
	}
	return ch.parent.Root()
}

// ChartPath is the dotted path of names from the root ("parent.sub").
func (ch *Chart) ChartPath() string {
	if !ch.IsRoot() {
		return ch.Parent().ChartPath() + "." + ch.Name()
	}
	return ch.Name()
}

// ChartFullPath is the path that prefixes template names
// ("parent/charts/sub").
func (ch *Chart) ChartFullPath() string {
	if !ch.IsRoot() {
		return ch.Parent().ChartFullPath() + "/charts/" + ch.Name()
	}
	return ch.Name()
}

// IsLibrary tells whether the chart is a library chart.
func (ch *Chart) IsLibrary() bool {
	return ch.Metadata != nil && ch.Metadata.Type == TypeLibrary
}

// AppVersion is Chart.yaml's appVersion.
func (ch *Chart) AppVersion() string {
	if ch.Metadata == nil {
		return ""
	}
	return ch.Metadata.AppVersion
}

// Validate checks the metadata as Helm does.
func (ch *Chart) Validate() error { return ch.Metadata.Validate() }

// CRDObjects lists the CRD files of the chart and its subcharts, parent first.
func (ch *Chart) CRDObjects() []CRD {
	crds := []CRD{}
	for _, f := range ch.Files {
		if strings.HasPrefix(f.Name, "crds/") && hasManifestExtension(f.Name) {
			crds = append(crds, CRD{Name: f.Name, Filename: filepath.ToSlash(filepath.Join(ch.ChartFullPath(), f.Name)), File: f})
		}
	}
	for _, dep := range ch.Dependencies() {
		crds = append(crds, dep.CRDObjects()...)
	}
	return crds
}

func hasManifestExtension(fname string) bool {
	ext := filepath.Ext(fname)
	return strings.EqualFold(ext, ".yaml") || strings.EqualFold(ext, ".yml") || strings.EqualFold(ext, ".json")
}

// ShallowCopy returns a copy of ch that can be given another name (an alias)
// and other dependencies without touching ch: metadata and the dependency
// list are copied, files and values are shared.
func (ch *Chart) ShallowCopy() *Chart {
	out := *ch
	out.parent = nil
	out.Metadata = ch.Metadata.Copy()
	out.dependencies = nil
	for _, d := range ch.dependencies {
		cp := *d
		out.AddDependency(&cp)
	}
	return &out
}
