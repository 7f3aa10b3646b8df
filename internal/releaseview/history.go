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
// of helm history plus duration, applied_by, source and digest.
type HistoryRow struct {
	Revision    int       `json:"revision"`
	Updated     time.Time `json:"updated,omitzero"`
	Status      string    `json:"status"`
	Chart       string    `json:"chart"`
	AppVersion  string    `json:"app_version"`
	Description string    `json:"description"`
	// Duration is how long the revision's operation took (Duration), as
	// FormatDuration writes it; empty when the record does not tell.
	Duration string `json:"duration,omitempty"`
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
			Duration:    FormatDuration(Duration(r)),
			AppliedBy:   r.AppliedBy,
			Source:      SourceOf(r),
			Digest:      r.Chart.Digest,
		})
	}
	return rows
}

// HistoryTable is helm history's table, Helm's columns first and in Helm's
// order, then what kubectl chart adds: DURATION (how long the revision's
// operation took, "-" when the record does not tell) and APPLIED BY ("-"
// when the webhook stamped nothing); times in loc (nil: UTC) as
// time.ANSIC.
//
// A SOURCE column (where each revision's chart came from) comes last when
// any revision recorded one.
func HistoryTable(rows []HistoryRow, loc *time.Location) string {
	withSource := slices.ContainsFunc(rows, func(r HistoryRow) bool { return r.Source != "" })
	head := []string{"REVISION", "UPDATED", "STATUS", "CHART", "APP VERSION", "DESCRIPTION", "DURATION", "APPLIED BY"}
	if withSource {
		head = append(head, "SOURCE")
	}
	t := [][]string{head}
	for _, r := range rows {
		row := []string{strconv.Itoa(r.Revision), r.Updated.In(location(loc)).Format(time.ANSIC), r.Status, r.Chart, r.AppVersion, r.Description,
			dash(r.Duration), dash(r.AppliedBy)}
		if withSource {
			row = append(row, dash(r.Source))
		}
		t = append(t, row)
	}
	return Table(t)
}

// Duration is how long a revision's operation took: from its record's
// Started to the status move that ended it (Finished, kept through later
// moves such as superseded). Records written before Finished was kept fall
// back to Updated while their status is still the one the operation ended
// with (deployed or failed). It is -1 when the record does not tell: while
// the operation is pending (or was interrupted), for an older record whose
// status moved on, and for a record written with its final status
// (import-helm), whose status never moved.
func Duration(r *release.Revision) time.Duration {
	if r != nil && !r.Started.IsZero() && !r.Finished.IsZero() {
		if d := r.Finished.Sub(r.Started); d >= 0 {
			return d
		}
		return -1
	}
	if r == nil || r.Started.IsZero() || r.Updated.IsZero() || !r.StatusMoved {
		return -1
	}
	switch r.Status {
	case release.StatusDeployed, release.StatusFailed:
	default:
		return -1
	}
	d := r.Updated.Sub(r.Started)
	if d < 0 {
		return -1
	}
	return d
}

// FormatDuration writes a duration for history and status: "" for a
// negative one (unknown), else rounded to the second from 10s, to 10ms
// below ("850ms", "3.42s", "1m5s").
func FormatDuration(d time.Duration) string {
	switch {
	case d < 0:
		return ""
	case d >= 10*time.Second:
		return d.Round(time.Second).String()
	case d >= time.Second:
		return d.Round(10 * time.Millisecond).String()
	}
	return d.Round(time.Millisecond).String()
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
