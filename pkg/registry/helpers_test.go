package registry

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kubectl-chart/kubectl-chart/internal/chartcache"
	"github.com/kubectl-chart/kubectl-chart/pkg/chart/packager"
)

// chartYAML is a Chart.yaml with every field the manifest annotations read.
const chartYAML = `apiVersion: v2
name: %s
version: %s
description: A chart for registry tests
home: https://example.com/home
sources:
  - https://example.com/src
  - https://example.com/src2
maintainers:
  - name: Jane
    email: jane@example.com
  - name: Joe
annotations:
  org.opencontainers.image.title: not-the-name
  example.com/team: charts
appVersion: "2.0"
keywords: [a, b]
`

// makeChart packages a small chart NAME-VERSION.tgz into a new folder and
// returns its path. The archive's time is fixed, so that the manifest does
// not depend on when the test ran.
func makeChart(t *testing.T, name, version string) string {
	t.Helper()
	src := filepath.Join(t.TempDir(), name)
	write(t, filepath.Join(src, "Chart.yaml"), fmt.Sprintf(chartYAML, name, version))
	write(t, filepath.Join(src, "values.yaml"), "greeting: hello\n")
	write(t, filepath.Join(src, "templates", "cm.yaml"),
		"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-cm\ndata:\n  greeting: {{ .Values.greeting }}\n  version: {{ .Chart.Version }}\n")
	out := t.TempDir()
	p, err := packager.PackageDir(src, out)
	if err != nil {
		t.Fatal(err)
	}
	mtime := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	if err := os.Chtimes(p, mtime, mtime); err != nil {
		t.Fatal(err)
	}
	return p
}

func write(t *testing.T, path, s string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// isolate points credentials at a fresh config.json and Docker's fallback at
// an empty folder, and returns the config path.
func isolate(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("DOCKER_CONFIG", filepath.Join(dir, "docker"))
	t.Setenv("HELM_REGISTRY_CONFIG", filepath.Join(dir, "registry", "config.json"))
	return filepath.Join(dir, "registry", "config.json")
}

func newCache(t *testing.T) *chartcache.Cache { return chartcache.New(t.TempDir()) }

// helmBinary returns $HELM (the Helm v4.3.1 oracle), skipping when unset.
func helmBinary(t *testing.T) string {
	t.Helper()
	h := os.Getenv("HELM")
	if h == "" {
		t.Skip("$HELM is not set: build the oracle with `make helm` to compare with Helm")
	}
	return h
}

// helm runs the oracle with Helm's folders under home and the given
// credentials file.
func helm(t *testing.T, home, registryConfig string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, helmBinary(t), args...)
	cmd.Env = append(os.Environ(),
		"HELM_CONFIG_HOME="+filepath.Join(home, "config"),
		"HELM_CACHE_HOME="+filepath.Join(home, "cache"),
		"HELM_DATA_HOME="+filepath.Join(home, "data"),
		"HELM_REGISTRY_CONFIG="+registryConfig,
		"DOCKER_CONFIG="+filepath.Join(home, "docker"),
	)
	if helmStdin != nil {
		cmd.Stdin = helmStdin
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// helmStdin is the oracle's standard input (nil: none).
var helmStdin *os.File

// getManifest fetches a manifest's bytes from a plain-HTTP registry.
func getManifest(t *testing.T, host, repo, ref string) []byte {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://"+host+"/v2/"+repo+"/manifests/"+ref, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "application/vnd.oci.image.manifest.v1+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	if _, err := io.Copy(&b, resp.Body); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET manifest %s/%s: %s %s", repo, ref, resp.Status, b.String())
	}
	return []byte(b.String())
}

func bytesReader(b []byte) io.Reader { return strings.NewReader(string(b)) }
