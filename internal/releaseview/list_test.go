package releaseview

import (
	"regexp"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kubectl-chart/kubectl-chart/pkg/release"
)

var t0 = time.Date(2026, 3, 4, 5, 6, 7, 890000000, time.UTC)

func entry(name, ns string, rev int, st release.Status, started time.Time) ListEntry {
	return ListEntry{
		Head: &release.Head{Name: name, Namespace: ns, Revision: rev, Status: st},
		Revision: &release.Revision{
			Name: name, Namespace: ns, Revision: rev, Status: st, Started: started,
			Chart: release.ChartInfo{Name: "app", Version: "1.2.3", AppVersion: "4.5"},
		},
	}
}

func names(rows []ListRow) []string {
	out := []string{}
	for _, r := range rows {
		out = append(out, r.Namespace+"/"+r.Name)
	}
	return out
}

func TestList(t *testing.T) {
	entries := []ListEntry{
		entry("web", "a", 3, release.StatusDeployed, t0.Add(2*time.Hour)),
		entry("api", "a", 1, release.StatusFailed, t0.Add(3*time.Hour)),
		entry("db", "b", 2, release.StatusPendingUpgrade, t0),
		entry("old", "a", 1, release.StatusUninstalled, t0.Add(time.Hour)),
		entry("gone", "a", 2, release.StatusUninstalling, t0.Add(4*time.Hour)),
		entry("api", "b", 5, release.StatusSuperseded, t0.Add(5*time.Hour)),
		{Head: &release.Head{Name: "new", Namespace: "a"}},
	}
	for _, tc := range []struct {
		name string
		opts ListOptions
		want []string
	}{
		{name: "default states, by name", want: []string{"a/api", "b/db", "a/gone", "a/web"}},
		{name: "all", opts: ListOptions{States: States{All: true}}, want: []string{"a/api", "b/api", "b/db", "a/gone", "a/new", "a/old", "a/web"}},
		{name: "deployed", opts: ListOptions{States: States{Deployed: true}}, want: []string{"a/web"}},
		{name: "failed and uninstalled", opts: ListOptions{States: States{Failed: true, Uninstalled: true}}, want: []string{"a/api", "a/old"}},
		{name: "pending", opts: ListOptions{States: States{Pending: true}}, want: []string{"b/db"}},
		{name: "superseded", opts: ListOptions{States: States{Superseded: true}}, want: []string{"b/api"}},
		{name: "uninstalling", opts: ListOptions{States: States{Uninstalling: true}}, want: []string{"a/gone"}},
		{name: "filter", opts: ListOptions{Filter: regexp.MustCompile("^(web|db)$")}, want: []string{"b/db", "a/web"}},
		{name: "reverse", opts: ListOptions{Reverse: true}, want: []string{"a/web", "a/gone", "b/db", "a/api"}},
		{name: "by date", opts: ListOptions{ByDate: true}, want: []string{"b/db", "a/web", "a/api", "a/gone"}},
		{name: "by date reversed", opts: ListOptions{ByDate: true, Reverse: true}, want: []string{"a/gone", "a/api", "a/web", "b/db"}},
		{name: "offset and max", opts: ListOptions{Offset: 1, Max: 2}, want: []string{"b/db", "a/gone"}},
		{name: "offset past the end", opts: ListOptions{Offset: 4}, want: []string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, names(List(entries, tc.opts))); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestListRows(t *testing.T) {
	entries := []ListEntry{
		entry("web", "a", 3, release.StatusDeployed, t0),
		{Head: &release.Head{Name: "new", Namespace: "a", Lock: &release.Lock{}}},
	}
	got := List(entries, ListOptions{States: States{All: true}})
	want := []ListRow{
		{Name: "new", Namespace: "a", Revision: "0", Updated: "-", Status: "unknown", Chart: "-", AppVersion: "-"},
		{Name: "web", Namespace: "a", Revision: "3", Updated: "2026-03-04 05:06:07.89 +0000 UTC", Status: "deployed", Chart: "app-1.2.3", AppVersion: "4.5"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	got = List(entries[:1], ListOptions{TimeFormat: time.RFC3339, Location: time.FixedZone("X", 3600)})
	if got[0].Updated != "2026-03-04T06:06:07+01:00" {
		t.Errorf("Updated with --time-format = %q", got[0].Updated)
	}

	wantTable := "NAME\tNAMESPACE\tREVISION\tUPDATED                         \tSTATUS  \tCHART    \tAPP VERSION\n" +
		"new \ta        \t0       \t-                               \tunknown \t-        \t-          \n" +
		"web \ta        \t3       \t2026-03-04 05:06:07.89 +0000 UTC\tdeployed\tapp-1.2.3\t4.5        \n"
	if diff := cmp.Diff(wantTable, ListTable(want, false)); diff != "" {
		t.Errorf("table (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff("\n", ListTable(nil, true)); diff != "" {
		t.Errorf("empty table without headers (-want +got):\n%s", diff)
	}
}

func TestTable(t *testing.T) {
	for _, tc := range []struct {
		name string
		rows [][]string
		want string
	}{
		{name: "empty", want: "\n"},
		{name: "padded", rows: [][]string{{"A", "BB"}, {"ccc", "d"}}, want: "A  \tBB\nccc\td \n"},
		{name: "multi-line cell", rows: [][]string{{"1", "two\nlines", "x"}}, want: "1\ttwo  \tx\n \tlines\t \n"},
		{name: "wide runes", rows: [][]string{{"é", "x"}, {"ab", "y"}}, want: "é \tx\nab\ty\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, Table(tc.rows)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestFormat(t *testing.T) {
	var f Format
	for _, s := range []string{"table", "json", "yaml"} {
		if err := f.Set(s); err != nil || string(f) != s {
			t.Errorf("Set(%q) = %v, format %q", s, err, f)
		}
	}
	if err := f.Set("wide"); err != ErrInvalidFormat {
		t.Errorf("Set(wide) = %v, want %v", err, ErrInvalidFormat)
	}
}
