package helmrelease

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/kubectl-chart/kubectl-chart/pkg/release"
)

// helmAllValues is testdata/name, Helm's CoalesceValues of a fixture (what
// `helm get values --all` prints).
func helmAllValues(t *testing.T, name string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(readTestdata(t, name), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestToRevision(t *testing.T) {
	fromFixture := func(name string) *Release {
		r, err := Decode(helmFixture(t, name))
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	hooks := []release.Hook{
		{
			Name: "web-migrate", Kind: "Job", Path: "web/templates/migrate.yaml", Manifest: fixtureMigrateHook,
			Events: []string{"pre-install", "pre-upgrade"}, Weight: -5, DeletePolicies: []string{"before-hook-creation"},
		},
		{
			Name: "web-test", Kind: "Pod", Path: "web/templates/tests/test.yaml", Manifest: fixtureTestHook,
			Events: []string{"test"}, DeletePolicies: []string{"hook-succeeded", "hook-failed"},
		},
	}
	fixtureRevision := func(allValues string) *release.Revision {
		return &release.Revision{
			Name: "web", Namespace: "app", Revision: 3, Status: release.StatusDeployed,
			Chart: release.ChartInfo{Name: "web", Version: "1.2.3", AppVersion: "4.5", Annotations: map[string]string{"category": "web"},
				Dependencies: []*Dependency{{Name: "redis", Version: "17.x", Repository: "https://charts.example.com", Condition: "redis.enabled", ImportValues: []any{"child"}}}},
			Values: map[string]any{"replicas": 3.0, "image": map[string]any{"tag": "v2"}, "redis": nil},
			// Oracle: Helm's own CoalesceValues of the record.
			ComputedValues: helmAllValues(t, allValues),
			Manifest:       fixtureManifest,
			Hooks:          hooks,
			Notes:          "Visit http://web.example.com\n",
			Description:    "Rollback to 1",
			Operation:      "rollback",
			Started:        lastDeployed,
		}
	}
	with := func(r *Release, f func(*Release)) *Release { f(r); return r }
	simpleRevision := func(version int, status release.Status, desc, op string) *release.Revision {
		return &release.Revision{
			Name: "web", Namespace: "app", Revision: version, Status: status,
			Chart: release.ChartInfo{Name: "web", Version: "1.0.0"}, ComputedValues: map[string]any{},
			Manifest: "# Source: x\n", Description: desc, Operation: op,
			Started: time.Date(2024, 1, 1, 0, 0, version, 0, time.UTC),
		}
	}
	described := func(version int, desc string) *Release {
		r := simple("app", "web", version, StatusDeployed)
		r.Info.Description = desc
		return r
	}

	tests := []struct {
		name    string
		r       *Release
		want    *release.Revision
		wantErr string
	}{
		{name: "helm 4 record", r: fromFixture("helm4-release.json"), want: fixtureRevision("helm4-release-allvalues.json")},
		{name: "helm 3 record", r: fromFixture("helm3-release.json"), want: fixtureRevision("helm3-release-allvalues.json")},
		{name: "version 1 is an install", r: described(1, "Upgrade complete"), want: simpleRevision(1, release.StatusDeployed, "Upgrade complete", "install")},
		{name: "Install complete is an install (install --replace)", r: described(4, "Install complete"), want: simpleRevision(4, release.StatusDeployed, "Install complete", "install")},
		{name: "Rollback to N is a rollback", r: described(4, "Rollback to 2"), want: simpleRevision(4, release.StatusDeployed, "Rollback to 2", "rollback")},
		{
			name: "Helm 4's rollback revision is a rollback whatever the description",
			r:    with(described(4, "back to the good one"), func(r *Release) { r.Info.RollbackRevision = 2 }),
			want: simpleRevision(4, release.StatusDeployed, "back to the good one", "rollback"),
		},
		{name: "else an upgrade", r: described(2, "Upgrade complete"), want: simpleRevision(2, release.StatusDeployed, "Upgrade complete", "upgrade")},
		{
			name: "release labels (Helm 4's --labels)",
			r:    with(described(2, "Upgrade complete"), func(r *Release) { r.Labels = map[string]string{"team": "payments"} }),
			want: func() *release.Revision {
				rev := simpleRevision(2, release.StatusDeployed, "Upgrade complete", "upgrade")
				rev.Labels = map[string]string{"team": "payments"}
				return rev
			}(),
		},
		{
			name: "a failed upgrade",
			r:    with(described(2, `Upgrade "web" failed: context deadline exceeded`), func(r *Release) { r.Info.Status = StatusFailed }),
			want: simpleRevision(2, release.StatusFailed, `Upgrade "web" failed: context deadline exceeded`, "upgrade"),
		},
		{
			name: "started when first deployed when never deployed since",
			r: with(described(1, "Install complete"), func(r *Release) {
				r.Info.FirstDeployed, r.Info.LastDeployed = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), time.Time{}
			}),
			want: func() *release.Revision {
				rev := simpleRevision(1, release.StatusDeployed, "Install complete", "install")
				rev.Started = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
				return rev
			}(),
		},
		{
			name: "values coalesced over the chart's, nulls deleting",
			r: with(described(2, "Upgrade complete"), func(r *Release) {
				r.Chart.Values = map[string]any{"a": 1.0, "b": map[string]any{"c": 2.0, "d": 3.0}, "e": "x"}
				r.Config = map[string]any{"b": map[string]any{"c": 4.0, "d": nil}, "e": nil, "f": true}
			}),
			want: func() *release.Revision {
				rev := simpleRevision(2, release.StatusDeployed, "Upgrade complete", "upgrade")
				rev.Values = map[string]any{"b": map[string]any{"c": 4.0, "d": nil}, "e": nil, "f": true}
				rev.ComputedValues = map[string]any{"a": 1.0, "b": map[string]any{"c": 4.0}, "f": true}
				return rev
			}(),
		},
		{name: "unknown status", r: with(described(2, "x"), func(r *Release) { r.Info.Status = StatusUnknown }), wantErr: `helm release web version 2: status "unknown" is not one kubectl chart can adopt`},
		{name: "no status", r: with(described(2, "x"), func(r *Release) { r.Info = nil }), wantErr: `helm release web version 2: status "" is not one kubectl chart can adopt`},
		{name: "other status", r: with(described(2, "x"), func(r *Release) { r.Info.Status = "paused" }), wantErr: `helm release web version 2: status "paused" is not one`},
		{name: "no chart", r: with(described(2, "x"), func(r *Release) { r.Chart = nil }), wantErr: "helm release web version 2: the record has no chart metadata"},
		{name: "no chart metadata", r: with(described(2, "x"), func(r *Release) { r.Chart.Metadata = nil }), wantErr: "helm release web version 2: the record has no chart metadata"},
		{name: "no version", r: described(0, "x"), wantErr: "helm release web version 0: the record has no name or version"},
		{name: "nil", wantErr: "no helm release record"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ToRevision(tt.r)
			if tt.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
					t.Fatalf("ToRevision error = %v, want it to start %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ToRevision (-want +got):\n%s", diff)
			}
		})
	}
}

func TestToRevisionStatuses(t *testing.T) {
	for _, s := range []string{StatusDeployed, StatusUninstalled, StatusSuperseded, StatusFailed, StatusUninstalling, StatusPendingInstall, StatusPendingUpgrade, StatusPendingRollback} {
		rev, err := ToRevision(simple("app", "web", 2, s))
		if err != nil {
			t.Errorf("%s: %v", s, err)
			continue
		}
		if string(rev.Status) != s {
			t.Errorf("ToRevision status %q, want %q", rev.Status, s)
		}
	}
}

// exportHistory is a kubectl-chart history as export-helm hands it over:
// an install, a failed upgrade, and a rollback to the install.
func exportHistory() []*release.Revision {
	t0 := time.Date(2024, 4, 1, 8, 0, 0, 250000000, time.UTC)
	origin := release.ChartOrigin{Source: "https://charts.example.com/web-1.0.0.tgz", Reference: "example/web", Digest: "sha256:abcd"}
	values1 := map[string]any{"replicas": 2.0}
	computed1 := map[string]any{
		"replicas": 2.0, "image": map[string]any{"repository": "nginx", "tag": "1.25"},
		"redis":  map[string]any{"enabled": true, "port": 6379.0, "global": map[string]any{}},
		"global": map[string]any{},
	}
	values2 := map[string]any{"replicas": 3.0, "image": map[string]any{"tag": "1.26"}}
	computed2 := map[string]any{
		"replicas": 3.0, "image": map[string]any{"repository": "nginx", "tag": "1.26"},
		"redis":  map[string]any{"enabled": true, "port": 6379.0, "global": map[string]any{}},
		"global": map[string]any{},
	}
	hook := release.Hook{
		Name: "web-migrate", Kind: "Job", Path: "web/templates/migrate.yaml",
		Manifest: "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: web-migrate\n",
		Events:   []string{"pre-install", "pre-upgrade"}, Weight: -5, DeletePolicies: []string{"before-hook-creation", "hook-succeeded"},
	}
	manifest := func(tag string) string {
		return "---\n# Source: web/templates/deploy.yaml\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n      - image: nginx:" + tag + "\n"
	}
	inv := []release.ObjectRef{{Group: "apps", Version: "v1", Kind: "Deployment", Namespace: "app", Name: "web"}}
	return []*release.Revision{
		{
			Name: "web", Namespace: "app", Revision: 1, Status: release.StatusSuperseded,
			Chart:  release.ChartInfo{Name: "web", Version: "1.0.0", AppVersion: "1.25", ChartOrigin: origin},
			Values: values1, ComputedValues: computed1, Manifest: manifest("1.25"),
			CRDs:  "---\n# Source: web/crds/crd.yaml\nkind: CustomResourceDefinition\n",
			Hooks: []release.Hook{hook}, Notes: "Visit http://web.example.com\n", Inventory: inv,
			Description: "Install complete", Operation: "install", Started: t0,
			AppliedBy: "alice", Seal: "seal", Updated: t0.Add(time.Hour),
		},
		{
			Name: "web", Namespace: "app", Revision: 2, Status: release.StatusFailed,
			Chart:  release.ChartInfo{Name: "web", Version: "1.1.0", AppVersion: "1.26", ChartOrigin: origin},
			Values: values2, ComputedValues: computed2, Manifest: manifest("1.26"),
			Hooks: []release.Hook{hook}, Notes: "Visit http://web.example.com\n", Inventory: inv,
			Description: `Upgrade "web" failed: context deadline exceeded`, Operation: "upgrade", Started: t0.Add(time.Hour),
		},
		{
			Name: "web", Namespace: "app", Revision: 3, Status: release.StatusDeployed,
			Chart:  release.ChartInfo{Name: "web", Version: "1.0.0", AppVersion: "1.25", ChartOrigin: origin},
			Values: values1, ComputedValues: computed1, Manifest: manifest("1.25"),
			Hooks: []release.Hook{hook}, Notes: "Visit http://web.example.com\n", Inventory: inv,
			Description: "Rollback to 1", Operation: "rollback", Started: t0.Add(2 * time.Hour),
		},
	}
}

func TestFromRevision(t *testing.T) {
	first := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	started := time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC)
	updated := time.Date(2024, 2, 2, 0, 0, 0, 0, time.UTC)
	rev := func(status release.Status, op, desc string) *release.Revision {
		return &release.Revision{
			Name: "web", Namespace: "app", Revision: 2, Status: status,
			Chart:  release.ChartInfo{Name: "web", Version: "1.0.0", AppVersion: "2.0", ChartOrigin: release.ChartOrigin{Source: "./web"}},
			Values: map[string]any{"a": 1.0}, ComputedValues: map[string]any{"a": 1.0, "b": 2.0},
			Manifest: "# Source: web/templates/x.yaml\n", CRDs: "# Source: web/crds/c.yaml\n",
			Hooks: []release.Hook{{Name: "t", Kind: "Pod", Path: "web/templates/t.yaml", Manifest: "kind: Pod\n", Events: []string{"test"}, Weight: 1, DeletePolicies: []string{"hook-succeeded"}}},
			Notes: "notes", Inventory: []release.ObjectRef{{Kind: "ConfigMap", Namespace: "app", Name: "x"}},
			Description: desc, Operation: op, Started: started, Updated: updated,
		}
	}
	want := func(status, desc string, f func(*Release)) *Release {
		r := &Release{
			Name: "web",
			Info: &Info{FirstDeployed: first, LastDeployed: started, Description: desc, Status: status, Notes: "notes"},
			Chart: &Chart{
				Metadata: &Metadata{APIVersion: "v2", Name: "web", Version: "1.0.0", AppVersion: "2.0"},
				Values:   map[string]any{"a": 1.0, "b": 2.0},
			},
			Config:   map[string]any{"a": 1.0},
			Manifest: "# Source: web/templates/x.yaml\n",
			Hooks: []*Hook{{
				Name: "t", Kind: "Pod", Path: "web/templates/t.yaml", Manifest: "kind: Pod\n", Events: []string{"test"}, Weight: 1,
				DeletePolicies: []string{"hook-succeeded"}, LastRun: HookExecution{Phase: "Unknown"},
			}},
			Version: 2, Namespace: "app",
		}
		if f != nil {
			f(r)
		}
		return r
	}
	tests := []struct {
		name string
		rev  *release.Revision
		want *Release
	}{
		{name: "upgrade", rev: rev(release.StatusDeployed, "upgrade", "Upgrade complete"), want: want("deployed", "Upgrade complete", nil)},
		{
			name: "labels, chart annotations and dependencies",
			rev: func() *release.Revision {
				r := rev(release.StatusDeployed, "upgrade", "Upgrade complete")
				r.Labels = map[string]string{"team": "payments"}
				r.Chart.Annotations = map[string]string{"category": "web"}
				r.Chart.Dependencies = []*Dependency{{Name: "primary", Version: "0.1.0", Enabled: true, Alias: "primary"}}
				return r
			}(),
			want: want("deployed", "Upgrade complete", func(r *Release) {
				r.Labels = map[string]string{"team": "payments"}
				r.Chart.Metadata.Annotations = map[string]string{"category": "web"}
				r.Chart.Metadata.Dependencies = []*Dependency{{Name: "primary", Version: "0.1.0", Enabled: true, Alias: "primary"}}
			}),
		},
		{name: "every status is Helm's", rev: rev(release.StatusPendingRollback, "rollback", "x"), want: want("pending-rollback", "x", nil)},
		{
			name: "rollback with Helm's description: Helm 4's rollback revision",
			rev:  rev(release.StatusSuperseded, "rollback", "Rollback to 1"),
			want: want("superseded", "Rollback to 1", func(r *Release) { r.Info.RollbackRevision = 1 }),
		},
		{name: "rollback with the user's description", rev: rev(release.StatusSuperseded, "rollback", "Rollback to 1 because"), want: want("superseded", "Rollback to 1 because", nil)},
		{name: "an upgrade's description is no rollback", rev: rev(release.StatusFailed, "upgrade", "Rollback to 1"), want: want("failed", "Rollback to 1", nil)},
		{
			name: "uninstalled: deleted when the status last moved",
			rev:  rev(release.StatusUninstalled, "upgrade", "Uninstallation complete"),
			want: want("uninstalled", "Uninstallation complete", func(r *Release) { r.Info.Deleted = updated }),
		},
		{
			name: "uninstalling",
			rev:  rev(release.StatusUninstalling, "upgrade", "Deletion in progress"),
			want: want("uninstalling", "Deletion in progress", func(r *Release) { r.Info.Deleted = updated }),
		},
		{
			name: "no values, no computed values (records from before they were kept), no hooks",
			rev: func() *release.Revision {
				r := rev(release.StatusDeployed, "install", "Install complete")
				r.Values, r.ComputedValues, r.Hooks = nil, nil, nil
				return r
			}(),
			want: want("deployed", "Install complete", func(r *Release) { r.Config, r.Chart.Values, r.Hooks = map[string]any{}, nil, nil }),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := FromRevision(tt.rev, first)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("FromRevision (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFromRevisionDoesNotAlias(t *testing.T) {
	rev := exportHistory()[1]
	r := FromRevision(rev, rev.Started)
	r.Config["image"].(map[string]any)["tag"] = "changed"
	r.Chart.Values["image"].(map[string]any)["tag"] = "changed"
	r.Hooks[0].Events[0] = "changed"
	if diff := cmp.Diff(exportHistory()[1], rev); diff != "" {
		t.Errorf("FromRevision's result shares the revision's maps or slices (-before +after):\n%s", diff)
	}
}

// TestRevisionRoundTrip: what FromRevision writes, ToRevision reads back as
// the revision, less what Helm's record has no room for.
func TestRevisionRoundTrip(t *testing.T) {
	// (Labels are the storage object's, not the record's: Secret and
	// ConfigMap write them.)
	ignore := cmpopts.IgnoreFields(release.Revision{}, "CRDs", "Inventory", "AppliedBy", "Seal", "Updated", "Chart.ChartOrigin", "Labels")
	labelled := exportHistory()[2]
	labelled.Labels = map[string]string{"team": "payments", "legacy": "null"}
	labelled.Chart.Annotations = map[string]string{"category": "web"}
	labelled.Chart.Dependencies = []*Dependency{{Name: "primary", Version: "0.1.0", Repository: "file://charts/cache", Enabled: true, Alias: "primary"}}
	for _, rev := range append(exportHistory(), labelled) {
		enc, err := Encode(FromRevision(rev, time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)))
		if err != nil {
			t.Fatal(err)
		}
		r, err := Decode(enc)
		if err != nil {
			t.Fatal(err)
		}
		got, err := ToRevision(r)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(rev, got, ignore); diff != "" {
			t.Errorf("revision %d: ToRevision(Decode(Encode(FromRevision(rev)))) (-want +got):\n%s", rev.Revision, diff)
		}
	}
}
