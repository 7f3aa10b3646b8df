package releaseview

import (
	"cmp"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"time"

	"k8s.io/apimachinery/pkg/labels"

	"github.com/kubectl-chart/kubectl-chart/pkg/helmrelease"
	"github.com/kubectl-chart/kubectl-chart/pkg/release"
)

// ListEntry is one release as list sees it: its head and the record of its
// last revision (nil when the release has none yet or it could not be read).
type ListEntry struct {
	Head     *release.Head
	Revision *release.Revision
}

// States selects releases by the status of their last revision, as helm
// list's state flags do. With no field set, DefaultStates applies.
type States struct {
	// All shows every release whatever its status (--all).
	All bool
	// Deployed, Failed, Superseded, Uninstalling and Uninstalled show the
	// releases in that status.
	Deployed, Failed, Superseded, Uninstalling, Uninstalled bool
	// Pending shows pending-install, pending-upgrade and pending-rollback.
	Pending bool
}

// DefaultStates is what list shows without a state flag: deployed, failed,
// and releases with an operation under way (pending-*, uninstalling), so
// that a stuck release is never hidden.
var DefaultStates = States{Deployed: true, Failed: true, Pending: true, Uninstalling: true}

// Match tells whether a release in status s is shown.
func (st States) Match(s release.Status) bool {
	if st.All {
		return true
	}
	if st == (States{}) {
		st = DefaultStates
	}
	switch s {
	case release.StatusDeployed:
		return st.Deployed
	case release.StatusFailed:
		return st.Failed
	case release.StatusSuperseded:
		return st.Superseded
	case release.StatusUninstalling:
		return st.Uninstalling
	case release.StatusUninstalled:
		return st.Uninstalled
	case release.StatusPendingInstall, release.StatusPendingUpgrade, release.StatusPendingRollback:
		return st.Pending
	}
	return false
}

// ListOptions shape a release list, as helm list's flags do.
type ListOptions struct {
	// Filter keeps the releases whose name it matches (nil keeps all).
	Filter *regexp.Regexp
	// Selector keeps the releases whose labels (SelectorLabels) it
	// matches, as helm list --selector (nil keeps all).
	Selector labels.Selector
	// States selects releases by status.
	States States
	// ByDate sorts by the time of the last revision, oldest first, instead
	// of by name; Reverse reverses either order.
	ByDate, Reverse bool
	// Offset skips that many releases of the sorted list; Max keeps at most
	// that many after it (0: no limit).
	Offset, Max int
	// TimeFormat is a Go time layout for UPDATED; empty for time.Time's
	// String form, as Helm prints it.
	TimeFormat string
	// Location is the time zone of UPDATED (nil: UTC).
	Location *time.Location
}

// DefaultListOptions are list's defaults: Helm's --max 256.
func DefaultListOptions() ListOptions { return ListOptions{Max: 256, Location: time.Local} }

// ListRow is one line of list, with the JSON field names of helm list.
type ListRow struct {
	Name       string `json:"name"`
	Namespace  string `json:"namespace"`
	Revision   string `json:"revision"`
	Updated    string `json:"updated"`
	Status     string `json:"status"`
	Chart      string `json:"chart"`
	AppVersion string `json:"app_version"`
}

// Keeps tells whether a release with head h passes the name filter, the
// states and the selector, before its revision is read. A selector on
// createdAt or modifiedAt, which need the record, is left to List.
func (o ListOptions) Keeps(h *release.Head) bool {
	if o.Filter != nil && !o.Filter.MatchString(h.Name) {
		return false
	}
	e := ListEntry{Head: h}
	if o.Selector != nil && !selectsRecordTimes(o.Selector) && !o.Selector.Matches(SelectorLabels(e)) {
		return false
	}
	return o.States.Match(entryStatus(e))
}

// keepsEntry is Keeps with the selector matched against the labels of the
// entry's record too.
func (o ListOptions) keepsEntry(e ListEntry) bool {
	return o.Keeps(e.Head) && (o.Selector == nil || o.Selector.Matches(SelectorLabels(e)))
}

// SelectorLabels are the labels list --selector matches for a release, as
// Helm's: the labels of its last revision (--labels), and the labels Helm's
// storage puts on the record of the last revision, which Helm matches too:
// name (the release), owner (helm), status, version (the revision), and,
// from the record when it was read, createdAt (when it was written, Unix
// seconds) until its status first moved, modifiedAt (when it last moved)
// after.
func SelectorLabels(e ListEntry) labels.Set {
	h := e.Head
	set := labels.Set{}
	maps.Copy(set, h.Labels)
	set[helmrelease.LabelName] = h.Name
	set[helmrelease.LabelOwner] = helmrelease.Owner
	if h.Status != "" {
		set[helmrelease.LabelStatus] = string(h.Status)
	}
	if h.Revision > 0 {
		set[helmrelease.LabelVersion] = strconv.Itoa(h.Revision)
	}
	if r := e.Revision; r != nil && !r.Updated.IsZero() {
		at := strconv.FormatInt(r.Updated.Unix(), 10)
		if r.StatusMoved {
			set[helmrelease.LabelModifiedAt] = at
		} else {
			set[helmrelease.LabelCreatedAt] = at
		}
	}
	return set
}

// selectsRecordTimes tells whether sel asks for createdAt or modifiedAt,
// which only a release's record tells.
func selectsRecordTimes(sel labels.Selector) bool {
	reqs, _ := sel.Requirements()
	for _, r := range reqs {
		if k := r.Key(); k == helmrelease.LabelCreatedAt || k == helmrelease.LabelModifiedAt {
			return true
		}
	}
	return false
}

// List filters, sorts and pages entries and returns their rows (never nil,
// so that JSON shows [] for no release).
func List(entries []ListEntry, o ListOptions) []ListRow {
	kept := make([]ListEntry, 0, len(entries))
	for _, e := range entries {
		if o.keepsEntry(e) {
			kept = append(kept, e)
		}
	}
	byName := func(a, b ListEntry) int {
		return cmp.Or(cmp.Compare(a.Head.Name, b.Head.Name), cmp.Compare(a.Head.Namespace, b.Head.Namespace))
	}
	sortBy := byName
	if o.ByDate {
		sortBy = func(a, b ListEntry) int {
			return cmp.Or(entryTime(a).Compare(entryTime(b)), byName(a, b))
		}
	}
	slices.SortStableFunc(kept, sortBy)
	if o.Reverse {
		slices.Reverse(kept)
	}
	if o.Offset >= len(kept) {
		return []ListRow{}
	}
	kept = kept[max(o.Offset, 0):]
	if o.Max > 0 && o.Max < len(kept) {
		kept = kept[:o.Max]
	}
	rows := make([]ListRow, 0, len(kept))
	for _, e := range kept {
		row := ListRow{
			Name:      e.Head.Name,
			Namespace: e.Head.Namespace,
			Revision:  strconv.Itoa(e.Head.Revision),
			Updated:   "-",
			Status:    string(entryStatus(e)),
			Chart:     ChartName(e.Revision),
		}
		if e.Revision != nil {
			row.AppVersion = e.Revision.Chart.AppVersion
		} else {
			row.AppVersion = "-"
		}
		if t := entryTime(e); !t.IsZero() {
			t = t.In(location(o.Location))
			if o.TimeFormat != "" {
				row.Updated = t.Format(o.TimeFormat)
			} else {
				row.Updated = t.String()
			}
		}
		rows = append(rows, row)
	}
	return rows
}

// ListTable is the table of rows, with a header unless noHeaders.
func ListTable(rows []ListRow, noHeaders bool) string {
	var t [][]string
	if !noHeaders {
		t = append(t, []string{"NAME", "NAMESPACE", "REVISION", "UPDATED", "STATUS", "CHART", "APP VERSION"})
	}
	for _, r := range rows {
		t = append(t, []string{r.Name, r.Namespace, r.Revision, r.Updated, r.Status, r.Chart, r.AppVersion})
	}
	return Table(t)
}

// StatusUnknown is shown for a release whose head names no status: its
// first operation has not written a revision yet (or died before it did).
const StatusUnknown release.Status = "unknown"

// entryStatus is the status list shows: the head's, which is its last
// revision's.
func entryStatus(e ListEntry) release.Status {
	if e.Head.Status == "" {
		return StatusUnknown
	}
	return e.Head.Status
}

func entryTime(e ListEntry) time.Time {
	if e.Revision == nil {
		return time.Time{}
	}
	return DeployedAt(e.Revision)
}

// DeployedAt is the time list, history and status show for a revision, as
// Helm's LAST DEPLOYED: when the operation that wrote it started. Records
// without that time show when their status last moved.
func DeployedAt(r *release.Revision) time.Time {
	if !r.Started.IsZero() {
		return r.Started
	}
	return r.Updated
}

// ChartName is name-version of a revision's chart, as Helm's CHART column:
// "MISSING" for a record without a chart, as Helm says, and "-" when there
// is no record to read (a release whose first revision is not written yet).
func ChartName(r *release.Revision) string {
	if r == nil {
		return "-"
	}
	if r.Chart.Name == "" {
		return "MISSING"
	}
	return r.Chart.Name + "-" + r.Chart.Version
}

func location(loc *time.Location) *time.Location {
	if loc == nil {
		return time.UTC
	}
	return loc
}
