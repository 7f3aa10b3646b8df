package releaseview

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
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
	// Source is where the revision's chart came from, as the user named it
	// (./web, repo/web, oci://…), and Digest its archive's digest.
	Source string `json:"source,omitempty"`
	Digest string `json:"digest,omitempty"`
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
			Source:      SourceOf(r),
			Digest:      r.Chart.Digest,
		})
	}
	return rows
}

// HistoryTable is helm history's table, with APPLIED BY before DESCRIPTION
// ("-" when the webhook stamped nothing); times in loc (nil: UTC) as
// time.ANSIC.
//
// A SOURCE column (where each revision's chart came from) comes after APP
// VERSION when any revision recorded one.
func HistoryTable(rows []HistoryRow, loc *time.Location) string {
	withSource := slices.ContainsFunc(rows, func(r HistoryRow) bool { return r.Source != "" })
	head := []string{"REVISION", "UPDATED", "STATUS", "CHART", "APP VERSION", "APPLIED BY", "DESCRIPTION"}
	if withSource {
		head = slices.Insert(head, 5, "SOURCE")
	}
	t := [][]string{head}
	for _, r := range rows {
		row := []string{strconv.Itoa(r.Revision), r.Updated.In(location(loc)).Format(time.ANSIC), r.Status, r.Chart, r.AppVersion, dash(r.AppliedBy), r.Description}
		if withSource {
			row = slices.Insert(row, 5, dash(r.Source))
		}
		t = append(t, row)
	}
	return Table(t)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// SourceOf is where a revision's chart came from, as the user named it, with
// the version resolved when the reference does not say it: "repo/web@1.2.3",
// "oci://registry/charts/web@1.2.3", "./web". Empty for records written before
// origins were kept.
func SourceOf(r *release.Revision) string {
	ref := r.Chart.Reference
	if ref == "" {
		return ""
	}
	if r.Chart.Digest != "" && r.Chart.Version != "" && !strings.Contains(ref, r.Chart.Version) {
		return ref + "@" + r.Chart.Version
	}
	return ref
}
