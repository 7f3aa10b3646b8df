// Command helmoracle checks package helmrelease against Helm's own code,
// Helm 4.3.1 and Helm 3.22.0, which kubectl-chart's module must not import:
// it is a module of its own, under testdata so that the go command leaves
// it out of kubectl-chart's builds and tests.
//
// Run it from this directory (it writes into ..):
//
//	go run . write   # the fixtures Helm makes: helm{3,4}-release.json, written
//	                 # by Helm's json.Marshal of Helm's release types;
//	                 # helm{3,4}-release-allvalues.json, Helm's
//	                 # CoalesceValues of them (`helm get values --all`);
//	                 # helm4-secrets.yaml and helm3-configmaps.yaml, the
//	                 # objects Helm's Secrets and ConfigMaps drivers write
//	go run . check   # reads export-secrets.yaml and export-configmaps.yaml
//	                 # (helmrelease's FromRevision+Secret/ConfigMap output,
//	                 # golden files its tests write with -update) with Helm 4's
//	                 # and Helm 3's storage, and writes what Helm sees of them
//	                 # to helm{3,4}-view-export-{secrets,configmaps}.json,
//	                 # which helmrelease's tests compare with the revisions
//	                 # the export was made from
//
// Both are deterministic: the createdAt and modifiedAt labels Helm's
// drivers set from the clock are replaced by fixed values.
package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"os"
	"sort"
	"time"

	chart3 "helm.sh/helm/v3/pkg/chart"
	chartutil3 "helm.sh/helm/v3/pkg/chartutil"
	rspb3 "helm.sh/helm/v3/pkg/release"
	storage3 "helm.sh/helm/v3/pkg/storage"
	driver3 "helm.sh/helm/v3/pkg/storage/driver"
	helmtime3 "helm.sh/helm/v3/pkg/time"
	chartcommon4 "helm.sh/helm/v4/pkg/chart/common"
	chartutil4 "helm.sh/helm/v4/pkg/chart/common/util"
	chart4 "helm.sh/helm/v4/pkg/chart/v2"
	releasecommon4 "helm.sh/helm/v4/pkg/release/common"
	rspb4 "helm.sh/helm/v4/pkg/release/v1"
	storage4 "helm.sh/helm/v4/pkg/storage"
	driver4 "helm.sh/helm/v4/pkg/storage/driver"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	"sigs.k8s.io/yaml"
)

const (
	namespace = "app"
	name      = "web"
	// createdAt and modifiedAt replace the clock's in the drivers' labels.
	createdAt  = "1700000000"
	modifiedAt = "1700000600"
)

var (
	zone          = time.FixedZone("", 2*60*60)
	firstDeployed = time.Date(2024, 3, 1, 10, 0, 0, 123456789, zone)
	lastDeployed  = time.Date(2024, 3, 2, 11, 30, 0, 5000, zone)
	hookStarted   = time.Date(2024, 3, 2, 11, 31, 0, 0, zone)
	hookCompleted = time.Date(2024, 3, 2, 11, 31, 7, 0, zone)
	modTime       = time.Date(2024, 2, 28, 9, 0, 0, 0, time.UTC)
)

const manifest = `---
# Source: web/templates/cm.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: web
data:
  tag: "v2"
`

const testHook = `apiVersion: v1
kind: Pod
metadata:
  name: web-test
  annotations:
    "helm.sh/hook": test
`

const migrateHook = `apiVersion: batch/v1
kind: Job
metadata:
  name: web-migrate
  annotations:
    "helm.sh/hook": pre-install,pre-upgrade
`

func chartValues() map[string]any {
	return map[string]any{
		"replicas": 1,
		"image":    map[string]any{"repository": "nginx", "tag": "v1"},
		"redis":    map[string]any{"enabled": false},
		"big":      12345678901,
	}
}

// config is the user's values: a null deletes a default.
func config() map[string]any {
	return map[string]any{
		"replicas": 3,
		"image":    map[string]any{"tag": "v2"},
		"redis":    nil,
	}
}

// helm4Release is the rich release of the fixtures, as Helm 4 makes it.
func helm4Release(version int, status releasecommon4.Status, desc string, rollback int) *rspb4.Release {
	deps := []*chart4.Dependency{{Name: "redis", Version: "17.x", Repository: "https://charts.example.com", Condition: "redis.enabled", ImportValues: []any{"child"}}}
	return &rspb4.Release{
		Name: name,
		Info: &rspb4.Info{
			FirstDeployed:    firstDeployed,
			LastDeployed:     lastDeployed,
			Description:      desc,
			Status:           status,
			RollbackRevision: rollback,
			Notes:            "Visit http://web.example.com\n",
		},
		Chart: &chart4.Chart{
			Metadata: &chart4.Metadata{
				Name: "web", Home: "https://example.com", Sources: []string{"https://github.com/example/web"},
				Version: "1.2.3", Description: "A web server", Keywords: []string{"web", "nginx"},
				Maintainers: []*chart4.Maintainer{{Name: "Ann", Email: "ann@example.com"}},
				APIVersion:  "v2", AppVersion: "4.5", Annotations: map[string]string{"category": "web"},
				KubeVersion: ">=1.28.0-0", Dependencies: deps, Type: "application",
			},
			Lock:          &chart4.Lock{Generated: modTime, Digest: "sha256:0123", Dependencies: deps},
			Templates:     []*chartcommon4.File{{Name: "templates/cm.yaml", Data: []byte("apiVersion: v1\nkind: ConfigMap\n"), ModTime: modTime}},
			Values:        chartValues(),
			Schema:        []byte(`{"type":"object"}`),
			SchemaModTime: modTime,
			Files:         []*chartcommon4.File{{Name: "README.md", Data: []byte("# web\n")}},
			ModTime:       modTime,
		},
		Config:   config(),
		Manifest: manifest,
		Hooks: []*rspb4.Hook{
			{
				Name: "web-migrate", Kind: "Job", Path: "web/templates/migrate.yaml", Manifest: migrateHook,
				Events: []rspb4.HookEvent{rspb4.HookPreInstall, rspb4.HookPreUpgrade}, Weight: -5,
				DeletePolicies: []rspb4.HookDeletePolicy{rspb4.HookBeforeHookCreation},
				LastRun:        rspb4.HookExecution{StartedAt: hookStarted, CompletedAt: hookCompleted, Phase: rspb4.HookPhaseSucceeded},
			},
			{
				Name: "web-test", Kind: "Pod", Path: "web/templates/tests/test.yaml", Manifest: testHook,
				Events:            []rspb4.HookEvent{rspb4.HookTest},
				DeletePolicies:    []rspb4.HookDeletePolicy{rspb4.HookSucceeded, rspb4.HookFailed},
				OutputLogPolicies: []rspb4.HookOutputLogPolicy{rspb4.HookOutputOnFailed},
			},
		},
		Version:     version,
		Namespace:   namespace,
		Labels:      map[string]string{"team": "frontend"},
		ApplyMethod: string(rspb4.ApplyMethodServerSideApply),
	}
}

// helm3Release is helm4Release as Helm 3 makes it (no rollback revision,
// apply method or modification times).
func helm3Release(version int, status rspb3.Status, desc string) *rspb3.Release {
	deps := []*chart3.Dependency{{Name: "redis", Version: "17.x", Repository: "https://charts.example.com", Condition: "redis.enabled", ImportValues: []any{"child"}}}
	return &rspb3.Release{
		Name: name,
		Info: &rspb3.Info{
			FirstDeployed: helmtime3.Time{Time: firstDeployed},
			LastDeployed:  helmtime3.Time{Time: lastDeployed},
			Description:   desc,
			Status:        status,
			Notes:         "Visit http://web.example.com\n",
		},
		Chart: &chart3.Chart{
			Metadata: &chart3.Metadata{
				Name: "web", Home: "https://example.com", Sources: []string{"https://github.com/example/web"},
				Version: "1.2.3", Description: "A web server", Keywords: []string{"web", "nginx"},
				Maintainers: []*chart3.Maintainer{{Name: "Ann", Email: "ann@example.com"}},
				APIVersion:  "v2", AppVersion: "4.5", Annotations: map[string]string{"category": "web"},
				KubeVersion: ">=1.28.0-0", Dependencies: deps, Type: "application",
			},
			Lock:      &chart3.Lock{Generated: modTime, Digest: "sha256:0123", Dependencies: deps},
			Templates: []*chart3.File{{Name: "templates/cm.yaml", Data: []byte("apiVersion: v1\nkind: ConfigMap\n")}},
			Values:    chartValues(),
			Schema:    []byte(`{"type":"object"}`),
			Files:     []*chart3.File{{Name: "README.md", Data: []byte("# web\n")}},
		},
		Config:   config(),
		Manifest: manifest,
		Hooks: []*rspb3.Hook{
			{
				Name: "web-migrate", Kind: "Job", Path: "web/templates/migrate.yaml", Manifest: migrateHook,
				Events: []rspb3.HookEvent{rspb3.HookPreInstall, rspb3.HookPreUpgrade}, Weight: -5,
				DeletePolicies: []rspb3.HookDeletePolicy{rspb3.HookBeforeHookCreation},
				LastRun:        rspb3.HookExecution{StartedAt: helmtime3.Time{Time: hookStarted}, CompletedAt: helmtime3.Time{Time: hookCompleted}, Phase: rspb3.HookPhaseSucceeded},
			},
			{
				Name: "web-test", Kind: "Pod", Path: "web/templates/tests/test.yaml", Manifest: testHook,
				Events:            []rspb3.HookEvent{rspb3.HookTest},
				DeletePolicies:    []rspb3.HookDeletePolicy{rspb3.HookSucceeded, rspb3.HookFailed},
				OutputLogPolicies: []rspb3.HookOutputLogPolicy{rspb3.HookOutputOnFailed},
			},
		},
		Version:   version,
		Namespace: namespace,
		Labels:    map[string]string{"team": "frontend"},
	}
}

func main() {
	log.SetFlags(0)
	if len(os.Args) != 2 {
		log.Fatal("usage: go run . write|check")
	}
	var err error
	switch os.Args[1] {
	case "write":
		err = write()
	case "check":
		err = check()
	default:
		err = fmt.Errorf("unknown mode %q", os.Args[1])
	}
	if err != nil {
		log.Fatal(err)
	}
}

func write() error {
	r4 := helm4Release(3, releasecommon4.StatusDeployed, "Rollback to 1", 1)
	r3 := helm3Release(3, rspb3.StatusDeployed, "Rollback to 1")
	if err := writeJSON("helm4-release.json", r4); err != nil {
		return err
	}
	if err := writeJSON("helm3-release.json", r3); err != nil {
		return err
	}
	all4, err := chartutil4.CoalesceValues(r4.Chart, r4.Config)
	if err != nil {
		return err
	}
	if err := writeIndented("helm4-release-allvalues.json", all4); err != nil {
		return err
	}
	all3, err := chartutil3.CoalesceValues(r3.Chart, r3.Config)
	if err != nil {
		return err
	}
	if err := writeIndented("helm3-release-allvalues.json", all3); err != nil {
		return err
	}

	// Helm 4, Secrets driver: revision 1 installed, then superseded by 2.
	cs := fake.NewClientset()
	s4 := storage4.Init(driver4.NewSecrets(cs.CoreV1().Secrets(namespace)))
	v1 := helm4Release(1, releasecommon4.StatusDeployed, "Install complete", 0)
	if err := s4.Create(v1); err != nil {
		return err
	}
	v1.Info.Status = releasecommon4.StatusSuperseded
	if err := s4.Update(v1); err != nil {
		return err
	}
	if err := s4.Create(helm4Release(2, releasecommon4.StatusDeployed, "Upgrade complete", 0)); err != nil {
		return err
	}
	secrets, err := cs.CoreV1().Secrets(namespace).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		return err
	}
	for i := range secrets.Items {
		secrets.Items[i].TypeMeta = metav1.TypeMeta{}
		clean(&secrets.Items[i].ObjectMeta)
	}
	secrets.TypeMeta = metav1.TypeMeta{APIVersion: "v1", Kind: "SecretList"}
	secrets.ListMeta = metav1.ListMeta{}
	if err := writeYAML("helm4-secrets.yaml", secrets); err != nil {
		return err
	}

	// Helm 3, ConfigMaps driver: the same.
	cs = fake.NewClientset()
	s3 := storage3.Init(driver3.NewConfigMaps(cs.CoreV1().ConfigMaps(namespace)))
	h1 := helm3Release(1, rspb3.StatusDeployed, "Install complete")
	if err := s3.Create(h1); err != nil {
		return err
	}
	h1.Info.Status = rspb3.StatusSuperseded
	if err := s3.Update(h1); err != nil {
		return err
	}
	if err := s3.Create(helm3Release(2, rspb3.StatusDeployed, "Upgrade complete")); err != nil {
		return err
	}
	cms, err := cs.CoreV1().ConfigMaps(namespace).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		return err
	}
	for i := range cms.Items {
		cms.Items[i].TypeMeta = metav1.TypeMeta{}
		clean(&cms.Items[i].ObjectMeta)
	}
	cms.TypeMeta = metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMapList"}
	cms.ListMeta = metav1.ListMeta{}
	return writeYAML("helm3-configmaps.yaml", cms)
}

// clean makes an object the fake clientset holds deterministic: fixed
// createdAt and modifiedAt labels, none of the fields the fake (an API
// server) adds.
func clean(meta *metav1.ObjectMeta) {
	if _, ok := meta.Labels["createdAt"]; ok {
		meta.Labels["createdAt"] = createdAt
	}
	if _, ok := meta.Labels["modifiedAt"]; ok {
		meta.Labels["modifiedAt"] = modifiedAt
	}
	meta.ManagedFields = nil
	meta.ResourceVersion = ""
	meta.CreationTimestamp = metav1.Time{}
}

// view is what Helm sees of an exported history.
type view struct {
	// Input is the sha256 of the file read, so that a test can tell that
	// the view is stale.
	Input    string         `json:"input"`
	Name     string         `json:"name"`
	Deployed int            `json:"deployed"`
	History  []revisionView `json:"history"`
}

type revisionView struct {
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
	Hooks            []hookView        `json:"hooks"`
	Labels           map[string]string `json:"labels"`
	// JSONRoundTrip tells whether Helm 4 writes the record's JSON back
	// byte for byte (Helm 4 only).
	JSONRoundTrip *bool `json:"jsonRoundTrip,omitempty"`
}

type hookView struct {
	Name           string   `json:"name"`
	Kind           string   `json:"kind"`
	Path           string   `json:"path"`
	Manifest       string   `json:"manifest"`
	Events         []string `json:"events"`
	Weight         int      `json:"weight"`
	DeletePolicies []string `json:"deletePolicies"`
	Phase          string   `json:"phase"`
}

func check() error {
	for _, kind := range []string{"secrets", "configmaps"} {
		file := "export-" + kind + ".yaml"
		raw, err := os.ReadFile("../" + file)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(raw)
		cs := fake.NewClientset()
		var relName string
		var d4 driver4.Driver
		var d3 driver3.Driver
		var datas [][]byte
		if kind == "secrets" {
			var list corev1.SecretList
			if err := yaml.UnmarshalStrict(raw, &list); err != nil {
				return fmt.Errorf("%s: %w", file, err)
			}
			for i := range list.Items {
				relName = list.Items[i].Labels["name"]
				datas = append(datas, list.Items[i].Data["release"])
				if _, err := cs.CoreV1().Secrets(list.Items[i].Namespace).Create(context.Background(), &list.Items[i], metav1.CreateOptions{}); err != nil {
					return err
				}
			}
			d4 = driver4.NewSecrets(cs.CoreV1().Secrets(namespace))
			d3 = driver3.NewSecrets(cs.CoreV1().Secrets(namespace))
		} else {
			var list corev1.ConfigMapList
			if err := yaml.UnmarshalStrict(raw, &list); err != nil {
				return fmt.Errorf("%s: %w", file, err)
			}
			for i := range list.Items {
				relName = list.Items[i].Labels["name"]
				datas = append(datas, []byte(list.Items[i].Data["release"]))
				if _, err := cs.CoreV1().ConfigMaps(list.Items[i].Namespace).Create(context.Background(), &list.Items[i], metav1.CreateOptions{}); err != nil {
					return err
				}
			}
			d4 = driver4.NewConfigMaps(cs.CoreV1().ConfigMaps(namespace))
			d3 = driver3.NewConfigMaps(cs.CoreV1().ConfigMaps(namespace))
		}
		v4, err := view4(storage4.Init(d4), relName, datas)
		if err != nil {
			return fmt.Errorf("helm 4 reading %s: %w", file, err)
		}
		v4.Input = hex.EncodeToString(sum[:])
		if err := writeIndented("helm4-view-export-"+kind+".json", v4); err != nil {
			return err
		}
		v3, err := view3(storage3.Init(d3), relName)
		if err != nil {
			return fmt.Errorf("helm 3 reading %s: %w", file, err)
		}
		v3.Input = hex.EncodeToString(sum[:])
		if err := writeIndented("helm3-view-export-"+kind+".json", v3); err != nil {
			return err
		}
	}
	return nil
}

func view4(s *storage4.Storage, relName string, datas [][]byte) (*view, error) {
	v := &view{Name: relName}
	dep, err := s.Deployed(relName)
	if err != nil {
		return nil, err
	}
	v.Deployed = dep.(*rspb4.Release).Version
	hist, err := s.History(relName)
	if err != nil {
		return nil, err
	}
	rels := make([]*rspb4.Release, 0, len(hist))
	for _, h := range hist {
		rels = append(rels, h.(*rspb4.Release))
	}
	sort.Slice(rels, func(i, j int) bool { return rels[i].Version < rels[j].Version })
	// The records' JSON, by version, to check that Helm 4 writes it back.
	jsonOf := map[int][]byte{}
	for _, d := range datas {
		b, err := gunzipBase64(d)
		if err != nil {
			return nil, err
		}
		var r rspb4.Release
		if err := json.Unmarshal(b, &r); err != nil {
			return nil, err
		}
		jsonOf[r.Version] = b
	}
	for _, r := range rels {
		got, err := s.Get(relName, r.Version) // Get gives the labels without Helm's system labels
		if err != nil {
			return nil, err
		}
		all, err := chartutil4.CoalesceValues(r.Chart, r.Config)
		if err != nil {
			return nil, err
		}
		again, err := json.Marshal(r)
		if err != nil {
			return nil, err
		}
		same := bytes.Equal(again, jsonOf[r.Version])
		rv := revisionView{
			Version: r.Version, Status: r.Info.Status.String(),
			Chart: r.Chart.Metadata.Name + "-" + r.Chart.Metadata.Version, ChartAPIVersion: r.Chart.Metadata.APIVersion,
			AppVersion: r.Chart.Metadata.AppVersion, Description: r.Info.Description, Notes: r.Info.Notes,
			FirstDeployed: timeString(r.Info.FirstDeployed), LastDeployed: timeString(r.Info.LastDeployed),
			Deleted: timeString(r.Info.Deleted), RollbackRevision: r.Info.RollbackRevision, ApplyMethod: r.ApplyMethod,
			Config: r.Config, AllValues: all, Manifest: r.Manifest, Labels: got.(*rspb4.Release).Labels,
			JSONRoundTrip: &same,
		}
		for _, h := range r.Hooks {
			hv := hookView{Name: h.Name, Kind: h.Kind, Path: h.Path, Manifest: h.Manifest, Weight: h.Weight, Phase: h.LastRun.Phase.String()}
			for _, e := range h.Events {
				hv.Events = append(hv.Events, e.String())
			}
			for _, p := range h.DeletePolicies {
				hv.DeletePolicies = append(hv.DeletePolicies, p.String())
			}
			rv.Hooks = append(rv.Hooks, hv)
		}
		v.History = append(v.History, rv)
	}
	return v, nil
}

func view3(s *storage3.Storage, relName string) (*view, error) {
	v := &view{Name: relName}
	dep, err := s.Deployed(relName)
	if err != nil {
		return nil, err
	}
	v.Deployed = dep.Version
	rels, err := s.History(relName)
	if err != nil {
		return nil, err
	}
	sort.Slice(rels, func(i, j int) bool { return rels[i].Version < rels[j].Version })
	for _, r := range rels {
		got, err := s.Get(relName, r.Version)
		if err != nil {
			return nil, err
		}
		all, err := chartutil3.CoalesceValues(r.Chart, r.Config)
		if err != nil {
			return nil, err
		}
		rv := revisionView{
			Version: r.Version, Status: r.Info.Status.String(),
			Chart: r.Chart.Metadata.Name + "-" + r.Chart.Metadata.Version, ChartAPIVersion: r.Chart.Metadata.APIVersion,
			AppVersion: r.Chart.Metadata.AppVersion, Description: r.Info.Description, Notes: r.Info.Notes,
			FirstDeployed: timeString(r.Info.FirstDeployed.Time), LastDeployed: timeString(r.Info.LastDeployed.Time),
			Deleted: timeString(r.Info.Deleted.Time),
			Config:  r.Config, AllValues: all, Manifest: r.Manifest, Labels: got.Labels,
		}
		for _, h := range r.Hooks {
			hv := hookView{Name: h.Name, Kind: h.Kind, Path: h.Path, Manifest: h.Manifest, Weight: h.Weight, Phase: h.LastRun.Phase.String()}
			for _, e := range h.Events {
				hv.Events = append(hv.Events, e.String())
			}
			for _, p := range h.DeletePolicies {
				hv.DeletePolicies = append(hv.DeletePolicies, p.String())
			}
			rv.Hooks = append(rv.Hooks, hv)
		}
		v.History = append(v.History, rv)
	}
	return v, nil
}

func timeString(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// gunzipBase64 is the JSON of a record's data, as Helm's decodeRelease
// reads it (it is unexported).
func gunzipBase64(data []byte) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(string(data))
	if err != nil {
		return nil, err
	}
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(zr)
}

// writeJSON writes v's JSON as json.Marshal writes it (as Helm's
// encodeRelease does), with a final newline.
func writeJSON(file string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return os.WriteFile("../"+file, append(b, '\n'), 0o644)
}

// writeIndented writes v's JSON indented, for a reader.
func writeIndented(file string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile("../"+file, append(b, '\n'), 0o644)
}

func writeYAML(file string, v any) error {
	b, err := yaml.Marshal(v)
	if err != nil {
		return err
	}
	return os.WriteFile("../"+file, b, 0o644)
}
