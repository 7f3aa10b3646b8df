package cmd

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kubectl-chart/kubectl-chart/pkg/chart/loader"
)

// TestPackage packages test charts and loads the archives back; with HELM
// set, Helm renders each archive as we render the chart folder, and packs
// the same bytes when SOURCE_DATE_EPOCH fixes the times.
func TestPackage(t *testing.T) {
	root := atRepoRoot(t)
	helm := helmBinary(t)
	tests := []struct {
		name string
		dir  string
		args []string
		// wantFile is the archive's name; wantVersion and wantAppVersion
		// what it holds.
		wantFile, wantVersion, wantAppVersion string
	}{
		{name: "plain", dir: "testdata/charts/lint-good", wantFile: "lint-good-0.1.0.tgz", wantVersion: "0.1.0", wantAppVersion: "1.2.3"},
		{name: "with subchart and crds", dir: "testdata/charts/show-full", wantFile: "show-full-1.0.0.tgz", wantVersion: "1.0.0", wantAppVersion: "2.0"},
		{name: "api v1", dir: "testdata/charts/show-v1", wantFile: "show-v1-0.3.0.tgz", wantVersion: "0.3.0", wantAppVersion: "1.0"},
		{name: "versions set", dir: "testdata/charts/lint-good", args: []string{"--version", "2.0.0-rc.1", "--app-version", "v9"},
			wantFile: "lint-good-2.0.0-rc.1.tgz", wantVersion: "2.0.0-rc.1", wantAppVersion: "v9"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
			dest := t.TempDir()
			args := append([]string{"package", tc.dir, "-d", dest}, tc.args...)
			got := runChart(t, args, "")
			if got.err != nil {
				t.Fatal(got.err)
			}
			archive := filepath.Join(dest, tc.wantFile)
			if diff := cmp.Diff("Successfully packaged chart and saved it to: "+archive+"\n", got.stdout); diff != "" {
				t.Errorf("output (-want +got):\n%s", diff)
			}
			ch, err := loader.Load(archive)
			if err != nil {
				t.Fatal(err)
			}
			if ch.Metadata.Version != tc.wantVersion || ch.AppVersion() != tc.wantAppVersion {
				t.Errorf("archive holds version %q, appVersion %q; want %q, %q", ch.Metadata.Version, ch.AppVersion(), tc.wantVersion, tc.wantAppVersion)
			}
			for _, f := range ch.Raw {
				if f.ModTime.Unix() != 1700000000 {
					t.Errorf("%s: time %v, want SOURCE_DATE_EPOCH", f.Name, f.ModTime)
					break
				}
			}

			// The archive renders as the folder does.
			fromDir := runChart(t, []string{"template", "rel", tc.dir, "-n", "ns1"}, "")
			fromArchive := runChart(t, []string{"template", "rel", archive, "-n", "ns1"}, "")
			if tc.args == nil {
				if diff := cmp.Diff(fromDir.text(), fromArchive.text()); diff != "" {
					t.Errorf("the archive renders differently (-folder +archive):\n%s", diff)
				}
			}

			if helm == "" {
				return
			}
			h := runHelm(t, helm, root, "template", "rel", archive, "-n", "ns1")
			if diff := cmp.Diff(h.text(), fromArchive.text()); diff != "" {
				t.Errorf("helm template of the archive differs (-helm +ours):\n%s", diff)
			}
			helmDest := t.TempDir()
			hp := runHelm(t, helm, root, append([]string{"package", tc.dir, "-d", helmDest}, tc.args...)...)
			if hp.err != nil {
				t.Fatalf("helm package: %v", hp.err)
			}
			if diff := cmp.Diff(strings.ReplaceAll(hp.stdout, helmDest, dest), got.stdout); diff != "" {
				t.Errorf("output differs from helm package (-helm +ours):\n%s", diff)
			}
			helmBytes, err := os.ReadFile(filepath.Join(helmDest, tc.wantFile))
			if err != nil {
				t.Fatal(err)
			}
			ourBytes, err := os.ReadFile(archive)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(helmBytes, ourBytes) {
				t.Errorf("archive differs from Helm's (%d bytes, Helm's %d)", len(ourBytes), len(helmBytes))
			}
		})
	}
}

// With no -d, archives go to the working folder, named by its absolute
// path; several charts are packaged in order.
func TestPackageToWorkingDir(t *testing.T) {
	root := atRepoRoot(t)
	work := t.TempDir()
	t.Chdir(work)
	got := runChart(t, []string{"package", filepath.Join(root, "testdata/charts/lint-good"), filepath.Join(root, "testdata/charts/show-minimal")}, "")
	if got.err != nil {
		t.Fatal(got.err)
	}
	want := "Successfully packaged chart and saved it to: " + filepath.Join(work, "lint-good-0.1.0.tgz") + "\n" +
		"Successfully packaged chart and saved it to: " + filepath.Join(work, "show-minimal-0.0.1.tgz") + "\n"
	if diff := cmp.Diff(want, got.stdout); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
}

func TestPackageErrors(t *testing.T) {
	atRepoRoot(t)
	tests := []struct {
		name    string
		args    []string
		epoch   string
		wantErr string
	}{
		{name: "no such folder", args: []string{"testdata/charts/no-such-chart"}, wantErr: "stat testdata/charts/no-such-chart: no such file or directory"},
		{name: "not a chart", args: []string{"testdata/charts/lint-not-a-chart"}, wantErr: "Chart.yaml file is missing"},
		{name: "chart that does not load", args: []string{"testdata/charts/lint-bad-version"}, wantErr: `validation: chart.metadata.version "not-a-version" is invalid`},
		{name: "missing dependency", args: []string{"testdata/charts/lint-deps"}, wantErr: "found in Chart.yaml, but missing in charts/ directory: missing"},
		{name: "bad --version", args: []string{"testdata/charts/lint-good", "--version", "one"}, wantErr: `--version "one": invalid semantic version`},
		{name: "bad SOURCE_DATE_EPOCH", args: []string{"testdata/charts/lint-good"}, epoch: "yesterday", wantErr: `invalid SOURCE_DATE_EPOCH: strconv.ParseInt: parsing "yesterday": invalid syntax`},
		{name: "negative SOURCE_DATE_EPOCH", args: []string{"testdata/charts/lint-good"}, epoch: "-1", wantErr: "invalid SOURCE_DATE_EPOCH: must not be negative"},
		{name: "destination is a file", args: []string{"testdata/charts/lint-good", "-d", "testdata/charts/lint-good/Chart.yaml"}, wantErr: "failed to save: is not a directory: testdata/charts/lint-good/Chart.yaml"},
		{name: "no argument", args: nil, wantErr: "need at least one argument, the path to the chart"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("SOURCE_DATE_EPOCH", tc.epoch)
			args := append([]string{"package"}, tc.args...)
			if !strings.Contains(strings.Join(tc.args, " "), "-d") {
				args = append(args, "-d", t.TempDir())
			}
			got := runChart(t, args, "")
			if got.exit() != 1 {
				t.Fatalf("exit code %d, want 1; output:\n%s", got.exit(), got.text())
			}
			if diff := cmp.Diff(tc.wantErr, got.err.Error()); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
		})
	}
}
