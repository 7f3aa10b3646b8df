package releaseview

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kubectl-chart/kubectl-chart/pkg/release"
)

func TestHistory(t *testing.T) {
	rev := func(n int, st release.Status, by, desc string) *release.Revision {
		return &release.Revision{
			Name: "web", Revision: n, Status: st, AppliedBy: by, Description: desc,
			Started: t0.Add(time.Duration(n) * time.Minute), Updated: t0.Add(time.Hour),
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
		{Revision: 3, Updated: t0.Add(3 * time.Minute), Status: "deployed", Chart: "web-0.1.3", AppVersion: "1.0", Description: "Upgrade complete", AppliedBy: "bob"},
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

	wantTable := "REVISION\tUPDATED                 \tSTATUS    \tCHART    \tAPP VERSION\tAPPLIED BY\tDESCRIPTION                 \n" +
		"1       \tWed Mar  4 05:07:07 2026\tsuperseded\tweb-0.1.1\t1.0        \t-         \tInstall complete            \n" +
		"2       \tWed Mar  4 05:08:07 2026\tsuperseded\tweb-0.1.2\t1.0        \talice     \tUpgrade complete            \n" +
		"3       \tWed Mar  4 05:09:07 2026\tdeployed  \tweb-0.1.3\t1.0        \tbob       \tUpgrade complete            \n" +
		"4       \tWed Mar  4 06:06:07 2026\tfailed    \tweb-0.1.4\t1.0        \t-         \tUpgrade \"web\" failed:       \n" +
		"        \t                        \t          \t         \t           \t          \tDeployment/ns/web: timed out\n"
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
	want := "REVISION\tUPDATED                 \tSTATUS  \tCHART    \tAPP VERSION\tSOURCE        \tAPPLIED BY\tDESCRIPTION\n" +
		"1       \tMon Jan  1 00:00:00 0001\tdeployed\tweb-0.1.3\t           \trepo/web@0.1.3\t-         \t           \n"
	if diff := cmp.Diff(want, HistoryTable(rows, time.UTC)); diff != "" {
		t.Errorf("HistoryTable with a source (-want +got):\n%s", diff)
	}
}
