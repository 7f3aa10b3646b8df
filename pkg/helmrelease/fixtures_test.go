package helmrelease

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/ (export-*.yaml); then run `go run . check` in testdata/helmoracle")

// The fixtures under testdata/ named helm* were written by Helm's own code
// (testdata/helmoracle, `go run . write`): helm{3,4}-release.json by Helm's
// json.Marshal of its release types, helm4-secrets.yaml and
// helm3-configmaps.yaml by Helm's storage drivers, and
// helm{3,4}-release-allvalues.json by Helm's CoalesceValues (what `helm get
// values --all` prints). The values below mirror the oracle's.
var (
	zone          = time.FixedZone("", 2*60*60)
	firstDeployed = time.Date(2024, 3, 1, 10, 0, 0, 123456789, zone)
	lastDeployed  = time.Date(2024, 3, 2, 11, 30, 0, 5000, zone)
	hookStarted   = time.Date(2024, 3, 2, 11, 31, 0, 0, zone)
	hookCompleted = time.Date(2024, 3, 2, 11, 31, 7, 0, zone)
	modTime       = time.Date(2024, 2, 28, 9, 0, 0, 0, time.UTC)
)

const fixtureManifest = `---
# Source: web/templates/cm.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: web
data:
  tag: "v2"
`

const fixtureTestHook = `apiVersion: v1
kind: Pod
metadata:
  name: web-test
  annotations:
    "helm.sh/hook": test
`

const fixtureMigrateHook = `apiVersion: batch/v1
kind: Job
metadata:
  name: web-migrate
  annotations:
    "helm.sh/hook": pre-install,pre-upgrade
`

// helm4Want is the oracle's release as Decode gives it from Helm 4's JSON.
func helm4Want(version int, status, desc string, rollback int) *Release {
	deps := []*Dependency{{Name: "redis", Version: "17.x", Repository: "https://charts.example.com", Condition: "redis.enabled", ImportValues: []any{"child"}}}
	return &Release{
		Name: "web",
		Info: &Info{
			FirstDeployed:    firstDeployed,
			LastDeployed:     lastDeployed,
			Description:      desc,
			Status:           status,
			RollbackRevision: rollback,
			Notes:            "Visit http://web.example.com\n",
		},
		Chart: &Chart{
			Metadata: &Metadata{
				Name: "web", Home: "https://example.com", Sources: []string{"https://github.com/example/web"},
				Version: "1.2.3", Description: "A web server", Keywords: []string{"web", "nginx"},
				Maintainers: []*Maintainer{{Name: "Ann", Email: "ann@example.com"}},
				APIVersion:  "v2", AppVersion: "4.5", Annotations: map[string]string{"category": "web"},
				KubeVersion: ">=1.28.0-0", Dependencies: deps, Type: "application",
			},
			Lock:          json.RawMessage(`{"generated":"2024-02-28T09:00:00Z","digest":"sha256:0123","dependencies":[{"name":"redis","version":"17.x","repository":"https://charts.example.com","condition":"redis.enabled","import-values":["child"]}]}`),
			Templates:     []*File{{Name: "templates/cm.yaml", Data: []byte("apiVersion: v1\nkind: ConfigMap\n"), ModTime: modTime}},
			Values:        map[string]any{"replicas": 1.0, "image": map[string]any{"repository": "nginx", "tag": "v1"}, "redis": map[string]any{"enabled": false}, "big": 12345678901.0},
			Schema:        []byte(`{"type":"object"}`),
			SchemaModTime: modTime,
			Files:         []*File{{Name: "README.md", Data: []byte("# web\n")}},
			ModTime:       modTime,
		},
		Config:   map[string]any{"replicas": 3.0, "image": map[string]any{"tag": "v2"}, "redis": nil},
		Manifest: fixtureManifest,
		Hooks: []*Hook{
			{
				Name: "web-migrate", Kind: "Job", Path: "web/templates/migrate.yaml", Manifest: fixtureMigrateHook,
				Events: []string{"pre-install", "pre-upgrade"}, Weight: -5,
				DeletePolicies: []string{"before-hook-creation"},
				LastRun:        HookExecution{StartedAt: hookStarted, CompletedAt: hookCompleted, Phase: HookPhaseSucceeded},
			},
			{
				Name: "web-test", Kind: "Pod", Path: "web/templates/tests/test.yaml", Manifest: fixtureTestHook,
				Events:            []string{"test"},
				DeletePolicies:    []string{"hook-succeeded", "hook-failed"},
				OutputLogPolicies: []string{"hook-failed"},
			},
		},
		Version:     version,
		Namespace:   "app",
		ApplyMethod: ApplyMethodServerSide,
	}
}

// helm3Want is helm4Want as Helm 3 writes it: no rollback revision, apply
// method or modification times.
func helm3Want(version int, status, desc string) *Release {
	r := helm4Want(version, status, desc, 0)
	r.ApplyMethod = ""
	r.Chart.Templates[0].ModTime = time.Time{}
	r.Chart.SchemaModTime = time.Time{}
	r.Chart.ModTime = time.Time{}
	return r
}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// encodeAsHelm is what Helm's encodeRelease makes of a release's JSON:
// gzip at BestCompression, then standard base64 (copied from Helm's
// pkg/storage/driver/util.go, which is unexported).
func encodeAsHelm(t testing.TB, js []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(js); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return []byte(base64.StdEncoding.EncodeToString(buf.Bytes()))
}

// helmFixture is testdata/name (a release's JSON as Helm wrote it) encoded
// as Helm encodes it, without the final newline the file has.
func helmFixture(t testing.TB, name string) []byte {
	t.Helper()
	return encodeAsHelm(t, bytes.TrimSuffix(readTestdata(t, name), []byte("\n")))
}

func readSecrets(t testing.TB, name string) []corev1.Secret {
	t.Helper()
	var list corev1.SecretList
	if err := yaml.UnmarshalStrict(readTestdata(t, name), &list); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return list.Items
}

func readConfigMaps(t testing.TB, name string) []corev1.ConfigMap {
	t.Helper()
	var list corev1.ConfigMapList
	if err := yaml.UnmarshalStrict(readTestdata(t, name), &list); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return list.Items
}
