package releaseview

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kubectl-chart/kubectl-chart/pkg/release"
)

func TestHistory(t *testing.T) {
	rev := func(n int, st release.Status, by, desc string) *release.Revision {
		return &release.Revision{
			Name: "web", Revision: n, Status: st, AppliedBy: by, Description: desc,
			Started: t0.Add(time.Duration(n) * time.Minute), Updated: t0.Add(time.Hour), StatusMoved: true,
			Chart: release.ChartInfo{Name: "web", Version: "0.1." + string(rune('0'+n)), AppVersion: "1.0"},
		}
	}
	revs := []*release.Revision{
		rev(3, release.StatusDeployed, "bob", "Upgrade complete"),
		rev(1, release.StatusSuperseded, "", "Install complete"),
		rev(2, release.StatusSuperseded, "alice", "Upgrade complete"),
	}
	noStart := rev(4, release.StatusFailed, "", "Upgrade \"web\" failed:\nDeployment/ns/web: timed out")
	noStart.Started = time.Time{}
	revs = append(revs, noStart)

	rows := History(revs, 0)
	want := []HistoryRow{
		{Revision: 1, Updated: t0.Add(time.Minute), Status: "superseded", Chart: "web-0.1.1", AppVersion: "1.0", Description: "Install complete"},
		{Revision: 2, Updated: t0.Add(2 * time.Minute), Status: "superseded", Chart: "web-0.1.2", AppVersion: "1.0", Description: "Upgrade complete", AppliedBy: "alice"},
		{Revision: 3, Updated: t0.Add(3 * time.Minute), Status: "deployed", Chart: "web-0.1.3", AppVersion: "1.0", Description: "Upgrade complete", Duration: "57m0s", AppliedBy: "bob"},
		{Revision: 4, Updated: t0.Add(time.Hour), Status: "failed", Chart: "web-0.1.4", AppVersion: "1.0", Description: "Upgrade \"web\" failed:\nDeployment/ns/web: timed out"},
	}
	if diff := cmp.Diff(want, rows); diff != "" {
		t.Errorf("History (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want[2:], History(revs, 2)); diff != "" {
		t.Errorf("History max 2 (-want +got):\n%s", diff)
	}
	if got := History(nil, 0); got == nil || len(got) != 0 {
		t.Errorf("History(nil) = %#v, want an empty slice", got)
	}

	// Helm's columns first, in Helm's order (helm history's table), then
	// DURATION and APPLIED BY. (Revision 4 has no start: no duration.)
	wantTable := "REVISION\tUPDATED                 \tSTATUS    \tCHART    \tAPP VERSION\tDESCRIPTION                 \tDURATION\tAPPLIED BY\n" +
		"1       \tWed Mar  4 05:07:07 2026\tsuperseded\tweb-0.1.1\t1.0        \tInstall complete            \t-       \t-         \n" +
		"2       \tWed Mar  4 05:08:07 2026\tsuperseded\tweb-0.1.2\t1.0        \tUpgrade complete            \t-       \talice     \n" +
		"3       \tWed Mar  4 05:09:07 2026\tdeployed  \tweb-0.1.3\t1.0        \tUpgrade complete            \t57m0s   \tbob       \n" +
		"4       \tWed Mar  4 06:06:07 2026\tfailed    \tweb-0.1.4\t1.0        \tUpgrade \"web\" failed:       \t-       \t-         \n" +
		"        \t                        \t          \t         \t           \tDeployment/ns/web: timed out\t        \t          \n"
	if diff := cmp.Diff(wantTable, HistoryTable(rows, time.UTC)); diff != "" {
		t.Errorf("HistoryTable (-want +got):\n%s", diff)
	}
}

func TestSourceOf(t *testing.T) {
	tests := []struct {
		name   string
		origin release.ChartOrigin
		want   string
	}{
		{"records before origins", release.ChartOrigin{}, ""},
		{"local folder", release.ChartOrigin{Source: "./web", Reference: "./web"}, "./web"},
		{"repository: version added", release.ChartOrigin{Reference: "repo/web", Digest: "sha256:ab"}, "repo/web@0.1.3"},
		{"OCI tag already says it", release.ChartOrigin{Reference: "oci://r/charts/web:0.1.3", Digest: "sha256:ab"}, "oci://r/charts/web:0.1.3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &release.Revision{Chart: release.ChartInfo{Name: "web", Version: "0.1.3", ChartOrigin: tt.origin}}
			if got := SourceOf(r); got != tt.want {
				t.Errorf("SourceOf = %q, want %q", got, tt.want)
			}
		})
	}
	rows := []HistoryRow{{Revision: 1, Status: "deployed", Chart: "web-0.1.3", Source: "repo/web@0.1.3"}}
	want := "REVISION\tUPDATED                 \tSTATUS  \tCHART    \tAPP VERSION\tDESCRIPTION\tDURATION\tAPPLIED BY\tSOURCE        \n" +
		"1       \tMon Jan  1 00:00:00 0001\tdeployed\tweb-0.1.3\t           \t           \t-       \t-         \trepo/web@0.1.3\n"
	if diff := cmp.Diff(want, HistoryTable(rows, time.UTC)); diff != "" {
		t.Errorf("HistoryTable with a source (-want +got):\n%s", diff)
	}
}

func TestDuration(t *testing.T) {
	start := t0
	tests := []struct {
		name    string
		status  release.Status
		started time.Time
		updated time.Time
		want    string
	}{
		{"deployed", release.StatusDeployed, start, start.Add(12*time.Second + 400*time.Millisecond), "12s"},
		{"failed, seconds", release.StatusFailed, start, start.Add(3412 * time.Millisecond), "3.41s"},
		{"under a second", release.StatusDeployed, start, start.Add(850 * time.Millisecond), "850ms"},
		{"minutes", release.StatusDeployed, start, start.Add(65 * time.Second), "1m5s"},
		{"pending: still running", release.StatusPendingUpgrade, start, start, ""},
		{"superseded: the last move is the next operation's", release.StatusSuperseded, start, start.Add(time.Hour), ""},
		{"uninstalled", release.StatusUninstalled, start, start.Add(time.Hour), ""},
		{"no start recorded", release.StatusDeployed, time.Time{}, start, ""},
		{"clock skew: updated before started", release.StatusDeployed, start, start.Add(-time.Second), ""},
		{"written deployed (import-helm): never moved", release.StatusDeployed, start, start.Add(time.Hour), ""},
		{"superseded, finished kept", release.StatusSuperseded, start, start.Add(time.Hour), "42s"},
		{"failed, finished kept", release.StatusFailed, start, start.Add(time.Hour), "42s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &release.Revision{Status: tt.status, Started: tt.started, Updated: tt.updated, StatusMoved: !strings.Contains(tt.name, "never moved")}
			if strings.Contains(tt.name, "finished kept") {
				r.Finished = tt.started.Add(42 * time.Second)
			}
			if got := FormatDuration(Duration(r)); got != tt.want {
				t.Errorf("FormatDuration(Duration) = %q, want %q", got, tt.want)
			}
		})
	}
}
