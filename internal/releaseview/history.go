package releaseview

import (
	"cmp"
	"slices"
	"strconv"
	"time"

	"github.com/kubectl-chart/kubectl-chart/pkg/release"
)

// DefaultHistoryMax is history's default --max, as Helm's.
const DefaultHistoryMax = 256

// HistoryRow is one revision as history shows it, with the JSON field names
// of helm history plus applied_by.
type HistoryRow struct {
	Revision    int       `json:"revision"`
	Updated     time.Time `json:"updated,omitzero"`
	Status      string    `json:"status"`
	Chart       string    `json:"chart"`
	AppVersion  string    `json:"app_version"`
	Description string    `json:"description"`
	// AppliedBy is the user the webhook stamped on the record (the
	// kubectl-chart.io/applied-by annotation); empty without the webhook.
	AppliedBy string `json:"applied_by,omitempty"`
}

// History is the rows of the n latest revisions (all when n ≤ 0), oldest
// first, whatever the order of revs. It is never nil.
func History(revs []*release.Revision, n int) []HistoryRow {
	sorted := make([]*release.Revision, 0, len(revs))
	for _, r := range revs {
		if r != nil {
			sorted = append(sorted, r)
		}
	}
	slices.SortStableFunc(sorted, func(a, b *release.Revision) int { return cmp.Compare(a.Revision, b.Revision) })
	if n > 0 && len(sorted) > n {
		sorted = sorted[len(sorted)-n:]
	}
	rows := make([]HistoryRow, 0, len(sorted))
	for _, r := range sorted {
		rows = append(rows, HistoryRow{
			Revision:    r.Revision,
			Updated:     DeployedAt(r),
			Status:      string(r.Status),
			Chart:       ChartName(r),
			AppVersion:  r.Chart.AppVersion,
			Description: r.Description,
			AppliedBy:   r.AppliedBy,
		})
	}
	return rows
}

// HistoryTable is helm history's table, with APPLIED BY before DESCRIPTION
// ("-" when the webhook stamped nothing); times in loc (nil: UTC) as
// time.ANSIC.
func HistoryTable(rows []HistoryRow, loc *time.Location) string {
	t := [][]string{{"REVISION", "UPDATED", "STATUS", "CHART", "APP VERSION", "APPLIED BY", "DESCRIPTION"}}
	for _, r := range rows {
		by := r.AppliedBy
		if by == "" {
			by = "-"
		}
		t = append(t, []string{strconv.Itoa(r.Revision), r.Updated.In(location(loc)).Format(time.ANSIC), r.Status, r.Chart, r.AppVersion, by, r.Description})
	}
	return Table(t)
}
