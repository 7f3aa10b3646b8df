package render

import (
	"encoding/base64"
	"path"
	"strings"

	"github.com/gobwas/glob"

	"github.com/kubectl-chart/kubectl-chart/pkg/chart"
)

// Files is .Files in templates: the chart's non-template files by path.
// It is a map so that templates can range over it, as in Helm.
type Files map[string][]byte

func newFiles(from []*chart.File) Files {
	files := make(Files, len(from))
	for _, f := range from {
		files[f.Name] = f.Data
	}
	return files
}

// GetBytes is a file's content, or an empty slice.
func (f Files) GetBytes(name string) []byte {
	if v, ok := f[name]; ok {
		return v
	}
	return []byte{}
}

// Get is a file's content as a string, or "".
func (f Files) Get(name string) string { return string(f.GetBytes(name)) }

// Glob is the files whose path matches a glob pattern ("**" crosses "/").
func (f Files) Glob(pattern string) Files {
	g, err := glob.Compile(pattern, '/')
	if err != nil {
		g, _ = glob.Compile("**")
	}
	nf := Files{}
	for name, contents := range f {
		if g.Match(name) {
			nf[name] = contents
		}
	}
	return nf
}

// AsConfig renders the files as ConfigMap data (base name: content).
func (f Files) AsConfig() string {
	if f == nil {
		return ""
	}
	m := make(map[string]string, len(f))
	for k, v := range f {
		m[path.Base(k)] = string(v)
	}
	return toYAML(m)
}

// AsSecrets renders the files as Secret data (base name: base64 content).
func (f Files) AsSecrets() string {
	if f == nil {
		return ""
	}
	m := make(map[string]string, len(f))
	for k, v := range f {
		m[path.Base(k)] = base64.StdEncoding.EncodeToString(v)
	}
	return toYAML(m)
}

// Lines is a file's lines, without a trailing empty line.
func (f Files) Lines(path string) []string {
	if f == nil || len(f[path]) == 0 {
		return []string{}
	}
	s := string(f[path])
	if s[len(s)-1] == '\n' {
		s = s[:len(s)-1]
	}
	return strings.Split(s, "\n")
}
