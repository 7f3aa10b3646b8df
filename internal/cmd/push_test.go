package cmd

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kubectl-chart/kubectl-chart/internal/testregistry"
	"github.com/kubectl-chart/kubectl-chart/pkg/chart/packager"
	"github.com/kubectl-chart/kubectl-chart/pkg/registry"
)

// registryEnv isolates Helm's and Docker's credentials files for a test and
// returns the registry config path.
func registryEnv(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("DOCKER_CONFIG", filepath.Join(dir, "docker"))
	config := filepath.Join(dir, "registry", "config.json")
	t.Setenv("HELM_REGISTRY_CONFIG", config)
	t.Setenv("HELM_CACHE_HOME", filepath.Join(dir, "cache"))
	return config
}

// packageTestChart packages a chart NAME-VERSION.tgz with a fixed file time.
func packageTestChart(t *testing.T, name, version string) string {
	t.Helper()
	src := filepath.Join(t.TempDir(), name)
	files := map[string]string{
		"Chart.yaml":        "apiVersion: v2\nname: " + name + "\nversion: " + version + "\ndescription: push test\n",
		"values.yaml":       "x: 1\n",
		"templates/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\n",
	}
	for f, body := range files {
		p := filepath.Join(src, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	archive, err := packager.PackageDir(src, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	mtime := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	if err := os.Chtimes(archive, mtime, mtime); err != nil {
		t.Fatal(err)
	}
	return archive
}

// runHelmRegistry runs the oracle with the test's registry config.
func runHelmRegistry(t *testing.T, helm, config, stdin string, args ...string) chartRun {
	t.Helper()
	home := t.TempDir()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, helm, args...)
	cmd.Env = []string{
		"HOME=" + home,
		"PATH=" + os.Getenv("PATH"),
		"HELM_CACHE_HOME=" + filepath.Join(home, "cache"),
		"HELM_CONFIG_HOME=" + filepath.Join(home, "config"),
		"HELM_DATA_HOME=" + filepath.Join(home, "data"),
		"HELM_REGISTRY_CONFIG=" + config,
		"DOCKER_CONFIG=" + filepath.Join(home, "docker"),
	}
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	return chartRun{stdout: out.String(), stderr: errOut.String(), err: err}
}

// TestPush checks the output against the registry's manifest digest and, with
// $HELM, against helm push of the same archive (whole output, so the same
// digest).
func TestPush(t *testing.T) {
	registryEnv(t)
	reg := testregistry.Start(t, testregistry.Options{})
	helm := helmBinary(t)
	cases := []struct {
		name, version, tag string
	}{
		{name: "plain version", version: "0.1.0", tag: "0.1.0"},
		{name: "build metadata", version: "1.0.0+b.2", tag: "1.0.0_b.2"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			archive := packageTestChart(t, "pushme", tc.version)
			got := runChart(t, []string{"push", archive, "oci://" + reg.Host + "/ours", "--plain-http"}, "")
			if got.err != nil {
				t.Fatal(got.err)
			}
			res, err := registry.Resolve(t.Context(), "oci://"+reg.Host+"/ours/pushme:"+tc.tag, registry.PullOptions{Options: registry.Options{PlainHTTP: true}})
			if err != nil {
				t.Fatal(err)
			}
			ref := reg.Host + "/ours/pushme:" + tc.tag
			want := "Pushed: " + ref + "\nDigest: " + res.Digest + "\n"
			if strings.Contains(tc.tag, "_") {
				want += ref + " contains an underscore.\n" + registryUnderscoreMessage + "\n"
			}
			if diff := cmp.Diff(want, got.stdout); diff != "" {
				t.Errorf("output (-want +got):\n%s", diff)
			}
			if helm == "" {
				return
			}
			h := runHelmRegistry(t, helm, filepath.Join(t.TempDir(), "c.json"), "", "push", archive, "oci://"+reg.Host+"/ours", "--plain-http")
			if h.err != nil {
				t.Fatalf("helm push: %v\n%s", h.err, h.stderr)
			}
			if diff := cmp.Diff(h.stdout, got.stdout); diff != "" {
				t.Errorf("output against helm push (-helm +ours):\n%s", diff)
			}
		})
	}
}

func TestPushErrorsCmd(t *testing.T) {
	registryEnv(t)
	archive := packageTestChart(t, "pushme", "0.1.0")
	cases := []struct {
		name string
		args []string
		want string
	}{
		{name: "one argument", args: []string{"push", archive}, want: "\"kubectl chart push\" requires at least 2 arguments"},
		{name: "no scheme", args: []string{"push", archive, "example.com/charts"}, want: `scheme prefix missing from remote (e.g. "oci://")`},
		{name: "cert without key", args: []string{"push", archive, "oci://example.com/c", "--cert-file", "x"}, want: "--cert-file and --key-file must be given together"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := runChart(t, tc.args, "")
			if got.err == nil || !strings.Contains(got.err.Error(), tc.want) {
				t.Errorf("err %v, want %q", got.err, tc.want)
			}
		})
	}
}
