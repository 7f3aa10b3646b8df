package action

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kubectl-chart/kubectl-chart/pkg/release"
)

// TestRevisionLabels: Helm's labels of a new revision: an install takes
// them as given ("null" included), an upgrade merges them into the last
// revision's and drops the "null" ones.
func TestRevisionLabels(t *testing.T) {
	last := &release.Head{Name: "web", Revision: 3, Deployed: 2, Status: release.StatusFailed,
		Labels: map[string]string{"team": "payments", "tier": "backend", "stale": "null"}}
	for _, tc := range []struct {
		name string
		o    UpgradeOptions
		head *release.Head
		want map[string]string
	}{
		{name: "install", o: UpgradeOptions{InstallOnly: true, Labels: map[string]string{"a": "1", "b": "null"}},
			want: map[string]string{"a": "1", "b": "null"}},
		{name: "install over a failed install", o: UpgradeOptions{InstallOnly: true, Labels: map[string]string{"a": "1"}},
			head: last, want: map[string]string{"a": "1"}},
		{name: "install without labels", o: UpgradeOptions{InstallOnly: true}, want: nil},
		{name: "upgrade --install of a new release", o: UpgradeOptions{Install: true, Labels: map[string]string{"a": "null"}},
			want: map[string]string{"a": "null"}},
		{name: "upgrade --install of an uninstalled release",
			o:    UpgradeOptions{Install: true, Labels: map[string]string{"a": "1"}},
			head: &release.Head{Revision: 2, Status: release.StatusUninstalled, Labels: map[string]string{"team": "payments"}},
			want: map[string]string{"a": "1"}},
		{name: "upgrade merges into the last revision's", o: UpgradeOptions{Labels: map[string]string{"tier": "frontend", "region": "eu"}},
			head: last, want: map[string]string{"team": "payments", "tier": "frontend", "region": "eu"}},
		{name: "upgrade removes with null", o: UpgradeOptions{Labels: map[string]string{"team": "null", "nothere": "null"}},
			head: last, want: map[string]string{"tier": "backend"}},
		{name: "upgrade without labels keeps them", head: last, want: map[string]string{"team": "payments", "tier": "backend"}},
		{name: "upgrade removing the last one", o: UpgradeOptions{Labels: map[string]string{"team": "null"}},
			head: &release.Head{Revision: 1, Status: release.StatusDeployed, Labels: map[string]string{"team": "payments"}}, want: nil},
		{name: "upgrade of a head without labels", o: UpgradeOptions{Labels: map[string]string{"a": "1"}},
			head: &release.Head{Revision: 1, Status: release.StatusDeployed}, want: map[string]string{"a": "1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var before map[string]string
			if tc.head != nil {
				before = cloneLabels(tc.head.Labels)
			}
			got := revisionLabels(tc.o, tc.head)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if tc.head != nil {
				if diff := cmp.Diff(before, cloneLabels(tc.head.Labels)); diff != "" {
					t.Errorf("the head's labels changed (-before +after):\n%s", diff)
				}
			}
		})
	}
}

// TestCheckLabels: Helm's system label names are refused with Helm's error,
// keys and values Kubernetes refuses with the API server's.
func TestCheckLabels(t *testing.T) {
	const reserved = "user supplied labels contains system reserved label name. System labels: [name owner status version createdAt modifiedAt]"
	for _, tc := range []struct {
		name    string
		labels  map[string]string
		wantErr string
	}{
		{name: "none"},
		{name: "valid", labels: map[string]string{"team": "payments", "example.com/tier": "", "a": "null"}},
		{name: "name", labels: map[string]string{"team": "x", "name": "web"}, wantErr: reserved},
		{name: "owner", labels: map[string]string{"owner": "me"}, wantErr: reserved},
		{name: "status", labels: map[string]string{"status": "null"}, wantErr: reserved},
		{name: "version", labels: map[string]string{"version": "1"}, wantErr: reserved},
		{name: "createdAt", labels: map[string]string{"createdAt": "1"}, wantErr: reserved},
		{name: "modifiedAt", labels: map[string]string{"modifiedAt": "1"}, wantErr: reserved},
		{name: "bad key", labels: map[string]string{"bad key": "x"},
			wantErr: `invalid release labels: metadata.labels: Invalid value: "bad key": name part must consist of alphanumeric characters`},
		{name: "bad value", labels: map[string]string{"team": "a b"},
			wantErr: `invalid release labels: metadata.labels: Invalid value: "a b": a valid label must be an empty string or consist of alphanumeric characters`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkLabels(tc.labels)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("error %v, want none", err)
			case tc.wantErr != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.wantErr)):
				t.Errorf("error %v, want one starting %q", err, tc.wantErr)
			}
		})
	}
}
