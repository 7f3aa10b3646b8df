package repo

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/Masterminds/semver/v3"
)

// searchMaxScore is Helm's threshold: a match in a later field than this
// does not count (all four fields do).
const searchMaxScore = 25

// searchSep separates the fields of a search line, as in Helm.
const searchSep = "\v"

// NamedIndex is a repository's index under the repository's name.
type NamedIndex struct {
	Name  string
	Index *Index
}

// SearchOptions are the options of `search repo`.
type SearchOptions struct {
	// Keyword is the search term (the arguments joined with spaces); empty
	// lists every chart.
	Keyword string
	// Regexp takes Keyword as a regular expression.
	Regexp bool
	// Versions lists every matching version, not only the newest.
	Versions bool
	// Version is a semver constraint; Devel, without Version, admits
	// pre-releases.
	Version string
	Devel   bool
}

// SearchResult is one line of `search repo`.
type SearchResult struct {
	// Name is "repo/chart".
	Name                             string
	Version, AppVersion, Description string
	// Score is how far into the searched fields the match is (0: the
	// chart's name).
	Score int
}

type searchLine struct {
	name string
	line string
	v    *IndexVersion
}

// Search is Helm's `search repo`: the keyword is looked for (case
// insensitively, or as a regular expression) in each version's chart name,
// "repo/chart", description and keywords; results are ordered by score,
// name and version, newest first; then the version constraint (default:
// stable versions; with Devel any) keeps the newest matching version of
// each chart, or every matching one with Versions.
func Search(repos []NamedIndex, o SearchOptions) ([]SearchResult, error) {
	version := o.Version
	if version == "" {
		version = ">0.0.0"
		if o.Devel {
			version = DevelConstraint
		}
	}
	constraint, err := semver.NewConstraint(version)
	if err != nil {
		return nil, fmt.Errorf("an invalid version/constraint format: %w", err)
	}

	var lines []searchLine
	for _, r := range repos {
		for c := range r.Index.Charts {
			ch := &r.Index.Charts[c]
			name := r.Name + "/" + ch.Name
			seen := map[string]bool{}
			for k := range ch.Versions {
				v := &ch.Versions[k]
				if seen[v.Version] { // Helm keys its lines by name and version
					continue
				}
				seen[v.Version] = true
				lines = append(lines, searchLine{
					name: name,
					line: ch.Name + searchSep + name + searchSep + v.Description + searchSep + strings.Join(v.Keywords, " "),
					v:    v,
				})
			}
		}
	}

	var res []SearchResult
	add := func(l searchLine, score int) {
		res = append(res, SearchResult{Name: l.name, Version: l.v.Version, AppVersion: l.v.AppVersion, Description: l.v.Description, Score: score})
	}
	switch {
	case o.Keyword == "":
		for _, l := range lines {
			add(l, 0)
		}
	case o.Regexp:
		re, err := regexp.Compile(o.Keyword)
		if err != nil {
			return nil, err
		}
		for _, l := range lines {
			if ind := re.FindStringIndex(l.line); ind != nil {
				if score := calcScore(ind[0], l.line); score < searchMaxScore {
					add(l, score)
				}
			}
		}
	default:
		term := strings.ToLower(o.Keyword)
		for _, l := range lines {
			lv := strings.ToLower(l.line)
			if at := strings.Index(lv, term); at >= 0 {
				if score := calcScore(at, lv); score < searchMaxScore {
					add(l, score)
				}
			}
		}
	}

	sortResults(res)

	out := res[:0]
	found := map[string]bool{}
	for _, r := range res {
		if !o.Versions && found[r.Name] {
			continue
		}
		v, err := semver.NewVersion(r.Version)
		if err != nil {
			continue
		}
		if constraint.Check(v) {
			out = append(out, r)
			found[r.Name] = true
		}
	}
	return out, nil
}

// calcScore is the number of field separators before index.
func calcScore(index int, line string) int {
	n := 0
	for i := 0; i < len(line); i++ {
		if line[i] == searchSep[0] {
			if index <= i {
				return n
			}
			n++
		}
	}
	return n
}

// sortResults is Helm's SortScore: by score, then name, then version
// newest first.
func sortResults(r []SearchResult) {
	parsed := make(map[string]*semver.Version, len(r))
	ver := func(s string) (*semver.Version, error) {
		if v, ok := parsed[s]; ok {
			return v, nil
		}
		v, err := semver.NewVersion(s)
		if err == nil {
			parsed[s] = v
		}
		return v, err
	}
	sort.Slice(r, func(a, b int) bool {
		first, second := r[a], r[b]
		if first.Score != second.Score {
			return first.Score < second.Score
		}
		if first.Name == second.Name {
			v1, err := ver(first.Version)
			if err != nil {
				return true
			}
			v2, err := ver(second.Version)
			if err != nil {
				return true
			}
			return v1.GreaterThan(v2)
		}
		return first.Name < second.Name
	})
}
