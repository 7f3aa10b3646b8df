package repo

import (
	"fmt"
	"strings"

	"github.com/Masterminds/semver/v3"
)

// DevelConstraint is what --devel means when no --version is given: any
// version, pre-releases included.
const DevelConstraint = ">0.0.0-0"

// nearestCount is how many available versions a not-found error lists.
const nearestCount = 5

// ChartNotFoundError says that a repository has no such chart, or no
// version of it that satisfies the constraint.
type ChartNotFoundError struct {
	// Chart is the chart's name; Constraint the version asked for ("" for
	// the latest stable).
	Chart, Constraint string
	// Repo names the repository (its name, or its URL with --repo).
	Repo string
	// Nearest are available versions closest to the constraint, newest
	// first; empty when the repository has no chart of that name.
	Nearest []string
	// Hint is advice appended to the message.
	Hint string
}

func (e *ChartNotFoundError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "chart %q", e.Chart)
	if e.Constraint != "" {
		fmt.Fprintf(&b, " version %q", e.Constraint)
	} else if len(e.Nearest) > 0 {
		b.WriteString(" (a stable version)")
	}
	b.WriteString(" not found")
	if e.Repo != "" {
		fmt.Fprintf(&b, " in repo %s", e.Repo)
	}
	if len(e.Nearest) > 0 {
		fmt.Fprintf(&b, "; nearest available versions: %s", strings.Join(e.Nearest, ", "))
	}
	if e.Hint != "" {
		b.WriteString(" " + e.Hint)
	}
	return b.String()
}

// SelectVersion picks, from versions sorted newest first, the one a
// constraint resolves to, exactly as Helm's IndexFile.Get: a version equal
// to the constraint string first; else the newest that satisfies it; an
// empty constraint is "*" (the newest stable version; see DevelConstraint
// for pre-releases). It returns the index in versions, or a
// *ChartNotFoundError (without Repo) or an invalid-constraint error.
func SelectVersion(chart string, versions []string, constraint string) (int, error) {
	notFound := func(nearest []string) error {
		return &ChartNotFoundError{Chart: chart, Constraint: constraint, Nearest: nearest}
	}
	if len(versions) == 0 {
		return -1, notFound(nil)
	}
	c := constraint
	if c == "" {
		c = "*"
	}
	cons, err := semver.NewConstraint(c)
	if err != nil {
		return -1, fmt.Errorf("invalid version constraint %q: %w", constraint, err)
	}
	if constraint != "" {
		for k, v := range versions {
			if v == constraint {
				return k, nil
			}
		}
	}
	for k, v := range versions {
		test, err := semver.NewVersion(v)
		if err != nil {
			continue
		}
		if cons.Check(test) {
			return k, nil
		}
	}
	return -1, notFound(nearestVersions(versions, constraint))
}

// nearestVersions are up to nearestCount versions around the constraint
// when it is a version, else the newest ones.
func nearestVersions(versions []string, constraint string) []string {
	at := 0
	if want, err := semver.NewVersion(strings.TrimLeft(constraint, "=v ")); err == nil {
		at = len(versions)
		for k, v := range versions {
			if got, err := semver.NewVersion(v); err == nil && !got.GreaterThan(want) {
				at = k
				break
			}
		}
		at = max(0, at-nearestCount/2)
	}
	end := min(len(versions), at+nearestCount)
	at = max(0, end-nearestCount)
	return append([]string(nil), versions[at:end]...)
}
