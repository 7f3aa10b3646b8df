package render

import (
	"regexp"
	"strings"
	"testing"
	"unicode"

	"github.com/google/go-cmp/cmp"
)

// splitWithRegexp is Helm's SplitManifests, the reference for ours.
func splitWithRegexp(bigFile string) []string {
	sep := regexp.MustCompile(`(?m)^---[ \t]*`)
	var res []string
	for _, d := range sep.Split(strings.TrimLeftFunc(bigFile, unicode.IsSpace), -1) {
		if strings.TrimSpace(d) == "" {
			continue
		}
		res = append(res, strings.TrimLeftFunc(d, unicode.IsSpace))
	}
	return res
}

func TestSplitManifests(t *testing.T) {
	for name, in := range map[string]string{
		"empty":             "",
		"one":               "a: 1\n",
		"two":               "a: 1\n---\nb: 2\n",
		"leading sep":       "---\na: 1\n---\n",
		"spaces after sep":  "a: 1\n---  \t\nb: 2",
		"sep with text":     "a: 1\n---foo\nb: 2\n",
		"not at line start": "a: '---'\n b---\n",
		"empty docs":        "---\n---\n\n---\na: 1\n",
		"crlf":              "a: 1\r\n---\r\nb: 2\r\n",
		"no trailing nl":    "a: 1\n---",
		"leading space":     "  \n\n---\na: 1",
		"dashes only":       "---",
	} {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(splitWithRegexp(in), SplitManifests(in)); diff != "" {
				t.Errorf("-want +got:\n%s", diff)
			}
		})
	}
}

func FuzzSplitManifests(f *testing.F) {
	f.Add("a: 1\n---\nb: 2\n")
	f.Add("---  x\n---\n")
	f.Fuzz(func(t *testing.T, in string) {
		if diff := cmp.Diff(splitWithRegexp(in), SplitManifests(in)); diff != "" {
			t.Errorf("-want +got:\n%s", diff)
		}
	})
}
