package helmrelease

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// exportLabels are the release labels the export test gives every record.
var exportLabels = map[string]string{"team": "frontend"}

// exported is exportHistory as export-helm would store it with driver.
func exported(t *testing.T, driver Driver) any {
	t.Helper()
	hist := exportHistory()
	first := hist[0].Started
	var secrets corev1.SecretList
	var cms corev1.ConfigMapList
	for _, rev := range hist {
		r := FromRevision(rev, first)
		r.Labels = exportLabels
		created := rev.Started.Add(time.Second)
		if driver == DriverSecret {
			s, err := Secret(r, created)
			if err != nil {
				t.Fatal(err)
			}
			secrets.Items = append(secrets.Items, *s)
		} else {
			c, err := ConfigMap(r, created)
			if err != nil {
				t.Fatal(err)
			}
			cms.Items = append(cms.Items, *c)
		}
	}
	if driver == DriverSecret {
		secrets.TypeMeta = metav1.TypeMeta{APIVersion: "v1", Kind: "SecretList"}
		return &secrets
	}
	cms.TypeMeta = metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMapList"}
	return &cms
}

var exportFiles = []struct {
	driver Driver
	file   string
}{
	{DriverSecret, "export-secrets.yaml"},
	{DriverConfigMap, "export-configmaps.yaml"},
}

// TestExportGolden keeps export-*.yaml, the objects export-helm would
// create, as this package writes them (a golden written with -update from
// our own output: it proves nothing about Helm by itself;
// TestHelmReadsExport does, from what Helm made of it).
func TestExportGolden(t *testing.T) {
	for _, f := range exportFiles {
		t.Run(f.file, func(t *testing.T) {
			got, err := yaml.Marshal(exported(t, f.driver))
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", f.file)
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if diff := cmp.Diff(string(readTestdata(t, f.file)), string(got)); diff != "" {
				t.Errorf("%s (-golden +got; rerun with -update, then `go run . check` in testdata/helmoracle):\n%s", path, diff)
			}
		})
	}
}

// helmView is what Helm sees of an export: helmoracle's view, written by
// `go run . check` from Helm 4's and Helm 3's storage drivers reading
// export-*.yaml.
type helmView struct {
	Input    string             `json:"input"`
	Name     string             `json:"name"`
	Deployed int                `json:"deployed"`
	History  []helmRevisionView `json:"history"`
}

type helmRevisionView struct {
	Version          int               `json:"version"`
	Status           string            `json:"status"`
	Chart            string            `json:"chart"`
	ChartAPIVersion  string            `json:"chartAPIVersion"`
	AppVersion       string            `json:"appVersion"`
	Description      string            `json:"description"`
	Notes            string            `json:"notes"`
	FirstDeployed    string            `json:"firstDeployed"`
	LastDeployed     string            `json:"lastDeployed"`
	Deleted          string            `json:"deleted"`
	RollbackRevision int               `json:"rollbackRevision,omitempty"`
	ApplyMethod      string            `json:"applyMethod,omitempty"`
	Config           map[string]any    `json:"config"`
	AllValues        map[string]any    `json:"allValues"`
	Manifest         string            `json:"manifest"`
	Hooks            []helmHookView    `json:"hooks"`
	Labels           map[string]string `json:"labels"`
	JSONRoundTrip    *bool             `json:"jsonRoundTrip,omitempty"`
}

type helmHookView struct {
	Name           string   `json:"name"`
	Kind           string   `json:"kind"`
	Path           string   `json:"path"`
	Manifest       string   `json:"manifest"`
	Events         []string `json:"events"`
	Weight         int      `json:"weight"`
	DeletePolicies []string `json:"deletePolicies"`
	Phase          string   `json:"phase"`
}

// TestHelmReadsExport checks, against Helm 4.3.1 and Helm 3.22.0 (oracle:
// helm{3,4}-view-export-*.json, written by testdata/helmoracle from what
// Helm's own storage and CoalesceValues make of export-*.yaml), that Helm
// reads the exported history as kubectl chart has it: statuses, the
// deployed revision, charts, descriptions, times, hooks, labels, user
// values, and `helm get values --all` printing the revision's computed
// values; and that Helm 4 writes each record's JSON back byte for byte.
func TestHelmReadsExport(t *testing.T) {
	hist := exportHistory()
	utc := func(tm time.Time) string {
		if tm.IsZero() {
			return ""
		}
		return tm.UTC().Format(time.RFC3339Nano)
	}
	want := func(helm4 bool) *helmView {
		v := &helmView{Name: "web", Deployed: 3}
		for _, rev := range hist {
			rv := helmRevisionView{
				Version: rev.Revision, Status: string(rev.Status), Chart: rev.Chart.Name + "-" + rev.Chart.Version, ChartAPIVersion: "v2",
				AppVersion: rev.Chart.AppVersion, Description: rev.Description, Notes: rev.Notes,
				FirstDeployed: utc(hist[0].Started), LastDeployed: utc(rev.Started),
				Config: rev.Values, AllValues: rev.ComputedValues, Manifest: rev.Manifest, Labels: exportLabels,
			}
			if helm4 {
				if rev.Operation == "rollback" {
					rv.RollbackRevision = 1
				}
				yes := true
				rv.JSONRoundTrip = &yes
			}
			for _, h := range rev.Hooks {
				rv.Hooks = append(rv.Hooks, helmHookView{
					Name: h.Name, Kind: h.Kind, Path: h.Path, Manifest: h.Manifest, Events: h.Events, Weight: h.Weight,
					DeletePolicies: h.DeletePolicies, Phase: HookPhaseUnknown,
				})
			}
			v.History = append(v.History, rv)
		}
		return v
	}
	for _, f := range exportFiles {
		sum := sha256.Sum256(readTestdata(t, f.file))
		for _, helm := range []string{"helm4", "helm3"} {
			view := helm + "-view-" + f.file[:len(f.file)-len(".yaml")] + ".json"
			t.Run(view, func(t *testing.T) {
				var got helmView
				if err := json.Unmarshal(readTestdata(t, view), &got); err != nil {
					t.Fatal(err)
				}
				if got.Input != hex.EncodeToString(sum[:]) {
					t.Fatalf("%s is stale: it was made from another %s; run `go run . check` in testdata/helmoracle", view, f.file)
				}
				w := want(helm == "helm4")
				w.Input = got.Input
				if diff := cmp.Diff(w, &got); diff != "" {
					t.Errorf("what %s sees of %s (-kubectl chart's revisions +helm's view):\n%s", helm, f.file, diff)
				}
			})
		}
	}
}
