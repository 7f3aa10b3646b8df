package chart

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"
	"unicode"

	"github.com/Masterminds/semver/v3"
)

// ValidationError is a problem with Chart.yaml.
type ValidationError string

func (v ValidationError) Error() string { return "validation: " + string(v) }

func validationErrorf(format string, args ...any) ValidationError {
	return ValidationError(fmt.Sprintf(format, args...))
}

// Maintainer is one entry of Chart.yaml's maintainers.
type Maintainer struct {
	Name  string `json:"name,omitempty"`
	Email string `json:"email,omitempty"`
	URL   string `json:"url,omitempty"`
}

// Validate sanitises the fields as Helm does.
func (m *Maintainer) Validate() error {
	if m == nil {
		return ValidationError("maintainers must not contain empty or null nodes")
	}
	m.Name = sanitizeString(m.Name)
	m.Email = sanitizeString(m.Email)
	m.URL = sanitizeString(m.URL)
	return nil
}

// Metadata is Chart.yaml. Field order and names matter: templates see them
// as .Chart.<Field>.
type Metadata struct {
	Name         string            `json:"name,omitempty"`
	Home         string            `json:"home,omitempty"`
	Sources      []string          `json:"sources,omitempty"`
	Version      string            `json:"version,omitempty"`
	Description  string            `json:"description,omitempty"`
	Keywords     []string          `json:"keywords,omitempty"`
	Maintainers  []*Maintainer     `json:"maintainers,omitempty"`
	Icon         string            `json:"icon,omitempty"`
	APIVersion   string            `json:"apiVersion,omitempty"`
	Condition    string            `json:"condition,omitempty"`
	Tags         string            `json:"tags,omitempty"`
	AppVersion   string            `json:"appVersion,omitempty"`
	Deprecated   bool              `json:"deprecated,omitempty"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	KubeVersion  string            `json:"kubeVersion,omitempty"`
	Dependencies []*Dependency     `json:"dependencies,omitempty"`
	Type         string            `json:"type,omitempty"`
}

// Copy is a copy whose dependency entries can be changed independently.
func (md *Metadata) Copy() *Metadata {
	if md == nil {
		return nil
	}
	out := *md
	if md.Dependencies != nil {
		out.Dependencies = make([]*Dependency, len(md.Dependencies))
		for i, d := range md.Dependencies {
			if d == nil {
				continue
			}
			cp := *d
			out.Dependencies[i] = &cp
		}
	}
	return &out
}

// Validate checks the metadata with Helm's rules and messages.
func (md *Metadata) Validate() error {
	if md == nil {
		return ValidationError("chart.metadata is required")
	}
	md.Name = sanitizeString(md.Name)
	md.Description = sanitizeString(md.Description)
	md.Home = sanitizeString(md.Home)
	md.Icon = sanitizeString(md.Icon)
	md.Condition = sanitizeString(md.Condition)
	md.Tags = sanitizeString(md.Tags)
	md.AppVersion = sanitizeString(md.AppVersion)
	md.KubeVersion = sanitizeString(md.KubeVersion)
	for i := range md.Sources {
		md.Sources[i] = sanitizeString(md.Sources[i])
	}
	for i := range md.Keywords {
		md.Keywords[i] = sanitizeString(md.Keywords[i])
	}

	if md.APIVersion == "" {
		return ValidationError("chart.metadata.apiVersion is required")
	}
	if md.Name == "" {
		return ValidationError("chart.metadata.name is required")
	}
	if md.Name == "." || md.Name == ".." {
		return validationErrorf("chart.metadata.name %q is not allowed", md.Name)
	}
	if md.Name != filepath.Base(md.Name) {
		return validationErrorf("chart.metadata.name %q is invalid", md.Name)
	}
	if md.Version == "" {
		return ValidationError("chart.metadata.version is required")
	}
	if _, err := semver.NewVersion(md.Version); err != nil {
		return validationErrorf("chart.metadata.version %q is invalid", md.Version)
	}
	switch md.Type {
	case "", TypeApplication, TypeLibrary:
	default:
		return ValidationError("chart.metadata.type must be application or library")
	}
	for _, m := range md.Maintainers {
		if err := m.Validate(); err != nil {
			return err
		}
	}
	seen := map[string]bool{}
	for _, d := range md.Dependencies {
		if err := d.Validate(); err != nil {
			return err
		}
		key := d.Name
		if d.Alias != "" {
			key = d.Alias
		}
		if seen[key] {
			return validationErrorf("more than one dependency with name or alias %q", key)
		}
		seen[key] = true
	}
	return nil
}

// Dependency is one entry of Chart.yaml's dependencies.
type Dependency struct {
	Name       string   `json:"name"`
	Version    string   `json:"version,omitempty"`
	Repository string   `json:"repository"`
	Condition  string   `json:"condition,omitempty"`
	Tags       []string `json:"tags,omitempty"`
	Enabled    bool     `json:"enabled,omitempty"`
	// ImportValues holds strings (exports) and {child, parent} maps.
	ImportValues []any  `json:"import-values,omitempty"`
	Alias        string `json:"alias,omitempty"`
}

// Validate sanitises the fields and checks the alias.
func (d *Dependency) Validate() error {
	if d == nil {
		return ValidationError("dependencies must not contain empty or null nodes")
	}
	d.Name = sanitizeString(d.Name)
	d.Version = sanitizeString(d.Version)
	d.Repository = sanitizeString(d.Repository)
	d.Condition = sanitizeString(d.Condition)
	for i := range d.Tags {
		d.Tags[i] = sanitizeString(d.Tags[i])
	}
	if d.Alias != "" && !aliasNameFormat.MatchString(d.Alias) {
		return validationErrorf("dependency %q has disallowed characters in the alias", d.Name)
	}
	return nil
}

// Lock is Chart.lock.
type Lock struct {
	Generated    time.Time     `json:"generated"`
	Digest       string        `json:"digest"`
	Dependencies []*Dependency `json:"dependencies"`
}

func sanitizeString(str string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return ' '
		}
		if unicode.IsPrint(r) {
			return r
		}
		return -1
	}, str)
}
