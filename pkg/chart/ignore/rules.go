package ignore

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// HelmIgnore is the name of the ignore file at the root of a chart.
const HelmIgnore = ".helmignore"

var utf8bom = []byte{0xEF, 0xBB, 0xBF}

// Rules is an ordered list of ignore patterns.
type Rules struct {
	patterns []*pattern
}

// Empty returns rules that ignore nothing.
func Empty() *Rules {
	return &Rules{patterns: []*pattern{}}
}

// AddDefaults adds the rules Helm always applies: dotfiles under templates/
// are never loaded.
func (r *Rules) AddDefaults() {
	// The pattern is valid, so parseRule cannot fail.
	_ = r.parseRule(`templates/.?*`)
}

// ParseFile reads the rules of an ignore file.
func ParseFile(file string) (*Rules, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Parse(f)
}

// Parse reads rules, one per line. A UTF-8 byte order mark before the first
// line is dropped. On a bad rule, the rules read so far are returned with the
// error.
func Parse(file io.Reader) (*Rules, error) {
	r := Empty()
	s := bufio.NewScanner(file)
	first := true
	for s.Scan() {
		line := s.Bytes()
		if first {
			line = bytes.TrimPrefix(line, utf8bom)
			first = false
		}
		if err := r.parseRule(string(line)); err != nil {
			return r, err
		}
	}
	return r, s.Err()
}

// Ignore tells whether the file or directory at path (relative to the chart
// root, slash-separated) is excluded. fi describes it: rules ending in / only
// apply to directories.
//
// The rules are evaluated as Helm does, which is not as git does: the first
// positive pattern that matches ignores the path, and a negated pattern
// ("!x") that does not match ignores it too.
func (r *Rules) Ignore(path string, fi fs.FileInfo) bool {
	// Never ignore the chart root itself (helm/helm#1776).
	if path == "" || path == "." || path == "./" {
		return false
	}
	isDir := fi != nil && fi.IsDir()
	for _, p := range r.patterns {
		if p.negate {
			if p.mustDir && !isDir {
				return true
			}
			if !p.match(path) {
				return true
			}
			continue
		}
		if p.mustDir && !isDir {
			continue
		}
		if p.match(path) {
			return true
		}
	}
	return false
}

// pattern is one parsed rule.
type pattern struct {
	// raw is the rule as written, trimmed.
	raw string
	// glob is what filepath.Match is given: raw without !, the leading /
	// and the trailing /.
	glob string
	// base tells whether only the base name of a path is matched (the rule
	// has no slash).
	base bool
	// negate is set for rules starting with !.
	negate bool
	// mustDir is set for rules ending in /.
	mustDir bool
}

func (p *pattern) match(name string) bool {
	if p.base {
		name = filepath.Base(name)
	}
	// The glob was checked when parsed; Helm treats a late error as no match.
	ok, err := filepath.Match(p.glob, name)
	return err == nil && ok
}

func (r *Rules) parseRule(rule string) error {
	rule = strings.TrimSpace(rule)
	if rule == "" || strings.HasPrefix(rule, "#") {
		return nil
	}
	if strings.Contains(rule, "**") {
		return errors.New("double-star (**) syntax is not supported")
	}
	// A non-empty name makes Match look at the whole pattern, so a bad
	// pattern is reported here rather than ignored later.
	if _, err := filepath.Match(rule, "abc"); err != nil {
		return err
	}

	p := &pattern{raw: rule}
	if after, ok := strings.CutPrefix(rule, "!"); ok {
		p.negate = true
		rule = after
	}
	if before, ok := strings.CutSuffix(rule, "/"); ok {
		p.mustDir = true
		rule = before
	}
	switch {
	case strings.HasPrefix(rule, "/"):
		// Anchored at the root: the whole relative path must match.
		rule = strings.TrimPrefix(rule, "/")
	case strings.Contains(rule, "/"):
		// Structural match on the whole relative path.
	default:
		p.base = true
	}
	p.glob = rule
	r.patterns = append(r.patterns, p)
	return nil
}
