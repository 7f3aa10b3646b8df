package releaseview

import (
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/kubectl-chart/kubectl-chart/pkg/chart"
	"github.com/kubectl-chart/kubectl-chart/pkg/release"
)

// TestListSelector: --selector matches the release labels and Helm's
// system labels (name, owner, status, version; createdAt and modifiedAt
// from the record), after the states and before paging.
func TestListSelector(t *testing.T) {
	labelled := func(e ListEntry, lbs map[string]string) ListEntry {
		e.Head.Labels = lbs
		return e
	}
	moved := entry("moved", "a", 2, release.StatusDeployed, t0)
	moved.Revision.Updated, moved.Revision.StatusMoved = t0, true
	created := entry("created", "a", 1, release.StatusFailed, t0)
	created.Revision.Updated = t0.Add(time.Second)
	entries := []ListEntry{
		labelled(entry("web", "a", 3, release.StatusDeployed, t0), map[string]string{"team": "payments", "tier": "frontend"}),
		labelled(entry("api", "a", 1, release.StatusDeployed, t0), map[string]string{"team": "payments", "tier": "backend"}),
		labelled(entry("db", "b", 2, release.StatusSuperseded, t0), map[string]string{"team": "payments"}),
		labelled(entry("search", "a", 4, release.StatusFailed, t0), map[string]string{"team": "search"}),
		entry("plain", "a", 1, release.StatusDeployed, t0),
		moved, created,
		{Head: &release.Head{Name: "new", Namespace: "a"}},
	}
	for _, tc := range []struct {
		name     string
		selector string
		opts     ListOptions
		want     []string
	}{
		{name: "equals", selector: "team=payments", want: []string{"a/api", "a/web"}},
		{name: "double equals", selector: "team==search", want: []string{"a/search"}},
		{name: "and", selector: "team=payments,tier!=backend", want: []string{"a/web"}},
		{name: "not equals matches unlabelled", selector: "team!=payments", want: []string{"a/created", "a/moved", "a/plain", "a/search"}},
		{name: "set", selector: "tier in (frontend,backend)", want: []string{"a/api", "a/web"}},
		{name: "exists", selector: "tier", want: []string{"a/api", "a/web"}},
		{name: "does not exist", selector: "!team", want: []string{"a/created", "a/moved", "a/plain"}},
		{name: "no match", selector: "team=nobody", want: []string{}},
		{name: "states first", selector: "team=payments", opts: ListOptions{States: States{All: true}}, want: []string{"a/api", "b/db", "a/web"}},
		{name: "paged after", selector: "team=payments", opts: ListOptions{Max: 1, Offset: 1}, want: []string{"a/web"}},
		{name: "system name", selector: "name=plain", want: []string{"a/plain"}},
		{name: "system owner", selector: "owner=helm,version=4", want: []string{"a/search"}},
		{name: "system status", selector: "status=failed", want: []string{"a/created", "a/search"}},
		{name: "system status of a release without revision", selector: "!status", opts: ListOptions{States: States{All: true}}, want: []string{"a/new"}},
		{name: "modifiedAt once the status moved", selector: "modifiedAt=" + unix(t0), want: []string{"a/moved"}},
		{name: "createdAt before", selector: "createdAt=" + unix(t0.Add(time.Second)), want: []string{"a/created"}},
		{name: "createdAt greater than", selector: "createdAt>" + unix(t0), want: []string{"a/created"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sel, err := labels.Parse(tc.selector)
			if err != nil {
				t.Fatal(err)
			}
			o := tc.opts
			o.Selector = sel
			if diff := cmp.Diff(tc.want, names(List(entries, o))); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// unix is t as the createdAt and modifiedAt labels hold it.
func unix(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) }

// TestListSelectorKeeps: Keeps decides on the head alone, except for a
// selector on record times, which List decides once the record is read.
func TestListSelectorKeeps(t *testing.T) {
	h := &release.Head{Name: "web", Namespace: "a", Revision: 2, Status: release.StatusDeployed, Labels: map[string]string{"team": "payments"}}
	for _, tc := range []struct {
		selector string
		want     bool
	}{
		{"team=payments", true},
		{"team=search", false},
		{"name=web,version=2,status=deployed,owner=helm", true},
		{"createdAt", true},
		{"modifiedAt=1", true},
	} {
		sel, err := labels.Parse(tc.selector)
		if err != nil {
			t.Fatal(err)
		}
		if got := (ListOptions{Selector: sel}).Keeps(h); got != tc.want {
			t.Errorf("Keeps with %q = %v, want %v", tc.selector, got, tc.want)
		}
	}
}

// TestMetadataText: get metadata as Helm prints it, in its three formats.
func TestMetadataText(t *testing.T) {
	r := &release.Revision{
		Name: "web", Namespace: "ns", Revision: 3, Status: release.StatusDeployed, Started: t0,
		Chart: release.ChartInfo{Name: "labels-app", Version: "0.3.0", AppVersion: "2.1",
			Annotations: map[string]string{"example.com/team": "payments", "artifacthub.io/license": "Apache-2.0"},
			Dependencies: []*chart.Dependency{
				{Name: "replica", Version: "0.1.0", Repository: "file://charts/cache", Enabled: true, Alias: "replica", Tags: []string{"extras"}},
				{Name: "primary", Version: "0.1.0", Repository: "file://charts/cache", Enabled: true, Alias: "primary"},
			}},
		Labels: map[string]string{"tier": "frontend", "region": "eu"},
	}
	bare := &release.Revision{Name: "api", Namespace: "ns", Revision: 1, Status: release.StatusFailed, Started: t0, Updated: t0,
		Chart: release.ChartInfo{Name: "api", Version: "1.0.0"}}
	for _, tc := range []struct {
		name string
		r    *release.Revision
		last bool
		f    Format
		want string
	}{
		{name: "table", r: r, f: FormatTable, want: `NAME: web
CHART: labels-app
VERSION: 0.3.0
APP_VERSION: 2.1
ANNOTATIONS: artifacthub.io/license=Apache-2.0,example.com/team=payments
LABELS: region=eu,tier=frontend
DEPENDENCIES: primary,replica
NAMESPACE: ns
REVISION: 3
STATUS: deployed
DEPLOYED_AT: 2026-03-04T05:06:07Z
APPLY_METHOD: server-side apply
`},
		{name: "json", r: r, f: FormatJSON, want: `{"name":"web","chart":"labels-app","version":"0.3.0","appVersion":"2.1",` +
			`"annotations":{"artifacthub.io/license":"Apache-2.0","example.com/team":"payments"},"labels":{"region":"eu","tier":"frontend"},` +
			`"dependencies":[{"name":"replica","version":"0.1.0","repository":"file://charts/cache","tags":["extras"],"enabled":true,"alias":"replica"},` +
			`{"name":"primary","version":"0.1.0","repository":"file://charts/cache","enabled":true,"alias":"primary"}],` +
			`"namespace":"ns","revision":3,"status":"deployed","deployedAt":"2026-03-04T05:06:07Z","applyMethod":"ssa"}` + "\n"},
		{name: "yaml", r: bare, f: FormatYAML, want: `appVersion: ""
applyMethod: ssa
chart: api
deployedAt: "2026-03-04T05:06:07Z"
name: api
namespace: ns
revision: 1
status: failed
version: 1.0.0
`},
		{name: "last revision: with Helm's storage labels", r: bare, last: true, f: FormatTable, want: `NAME: api
CHART: api
VERSION: 1.0.0
APP_VERSION: 
ANNOTATIONS: 
LABELS: createdAt=1772600767,name=api,owner=helm,status=failed,version=1
DEPENDENCIES: 
NAMESPACE: ns
REVISION: 1
STATUS: failed
DEPLOYED_AT: 2026-03-04T05:06:07Z
APPLY_METHOD: server-side apply
`},
		{name: "table without labels", r: bare, f: FormatTable, want: `NAME: api
CHART: api
VERSION: 1.0.0
APP_VERSION: 
ANNOTATIONS: 
LABELS: 
DEPENDENCIES: 
NAMESPACE: ns
REVISION: 1
STATUS: failed
DEPLOYED_AT: 2026-03-04T05:06:07Z
APPLY_METHOD: server-side apply
`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := MetadataText(MetadataOf(tc.r, tc.last, time.UTC), tc.f)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
