package cmd

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kubectl-chart/kubectl-chart/pkg/chart"
	"github.com/kubectl-chart/kubectl-chart/pkg/chart/packager"
)

// showCase is one `kubectl chart show` run; args follow "show". $TGZ stands
// for a packaged copy of testdata/charts/show-full.
type showCase struct {
	name     string
	args     []string
	wantExit int
	// helmDiffers, when set, says why `helm show` does otherwise.
	helmDiffers string
}

const showFull = "testdata/charts/show-full"

var showCases = []showCase{
	{name: "all-full", args: []string{"all", showFull}},
	{name: "chart-full", args: []string{"chart", showFull}},
	{name: "values-full", args: []string{"values", showFull}},
	{name: "readme-full", args: []string{"readme", showFull}},
	{name: "crds-full", args: []string{"crds", showFull}},
	{name: "all-archive", args: []string{"all", "$TGZ"}},
	{name: "values-jsonpath", args: []string{"values", showFull, "--jsonpath", "{.image.repository}:{.image.tag}"}},
	{name: "values-jsonpath-table", args: []string{"values", showFull, "--jsonpath", "{.image}"}},
	{name: "values-jsonpath-missing", args: []string{"values", showFull, "--jsonpath", "{.nope}"}},
	{name: "all-minimal", args: []string{"all", "testdata/charts/show-minimal"}},
	{name: "values-minimal", args: []string{"values", "testdata/charts/show-minimal"}},
	{name: "readme-minimal", args: []string{"readme", "testdata/charts/show-minimal"}},
	{name: "crds-minimal", args: []string{"crds", "testdata/charts/show-minimal"}},
	{name: "chart-v1", args: []string{"chart", "testdata/charts/show-v1"}},
	{name: "err-not-a-chart", args: []string{"chart", "testdata/charts/lint-not-a-chart"}, wantExit: 1},
	{name: "err-no-such-chart", args: []string{"all", "testdata/charts/show-no-such-chart"}, wantExit: 1},
	{name: "err-bad-chart", args: []string{"chart", "testdata/charts/lint-bad-version"}, wantExit: 1},
	{name: "err-jsonpath-syntax", args: []string{"values", showFull, "--jsonpath", "{.image"}, wantExit: 1},
	{name: "err-jsonpath-index", args: []string{"values", showFull, "--jsonpath", "{.ports[3]}"}, wantExit: 1,
		helmDiffers: "Helm ignores JSONPath execution errors and prints nothing"},
	{name: "err-two-charts", args: []string{"chart", showFull, showFull}, wantExit: 1},
	{name: "err-no-chart", args: []string{"values"}, wantExit: 1},
	{name: "err-unknown-format", args: []string{"templates", showFull}, wantExit: 1,
		helmDiffers: "Helm prints the help of show and succeeds"},
}

// TestShow runs each case and compares the output with
// testdata/golden/show (absolute paths replaced). With HELM set, `helm show` must print the same
// byte for byte, and fail where we fail.
func TestShow(t *testing.T) {
	root := atRepoRoot(t)
	helm := helmBinary(t)
	tmp := t.TempDir()
	tgz, err := packager.PackageDir(showFull, tmp)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range showCases {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"show"}
			for _, a := range tc.args {
				args = append(args, strings.ReplaceAll(a, "$TGZ", tgz))
			}
			got := runChart(t, args, "")
			if got.exit() != tc.wantExit {
				t.Errorf("exit code %d, want %d; output:\n%s", got.exit(), tc.wantExit, got.text())
			}
			text := strings.ReplaceAll(got.text(), tmp, "$TMP")
			checkGolden(t, filepath.Join("testdata", "golden", "show", tc.name+".golden"), strings.ReplaceAll(text, root, "$ROOT"))

			if helm == "" {
				return
			}
			h := runHelm(t, helm, ".", args...)
			if (h.err != nil) != (got.err != nil) {
				if tc.helmDiffers != "" {
					t.Logf("known difference (%s): helm error %v, ours %v", tc.helmDiffers, h.err, got.err)
					return
				}
				t.Errorf("helm show: error %v, ours %v", h.err, got.err)
			}
			if got.err == nil {
				if diff := cmp.Diff(h.stdout, got.stdout); diff != "" {
					t.Errorf("output differs from helm show (-helm +ours):\n%s", diff)
				}
			}
		})
	}
}

// TestShowCorpus compares every format of `show` with Helm's, byte for
// byte, for a few charts of the shared corpus. It needs HELM and the corpus.
func TestShowCorpus(t *testing.T) {
	helm := helmBinary(t)
	if helm == "" {
		t.Skip("HELM is not set")
	}
	corpus := lintCorpusDir(t)
	t.Chdir(corpus)
	for _, dir := range []string{"bitnami/nginx", "cert-manager/cert-manager", "ingress-nginx/ingress-nginx", "prometheus-community/prometheus-operator-crds", "jenkins/jenkins"} {
		for _, format := range []string{"all", "chart", "values", "readme", "crds"} {
			t.Run(dir+"/"+format, func(t *testing.T) {
				args := []string{"show", format, dir}
				got := runChart(t, args, "")
				if got.err != nil {
					t.Fatal(got.err)
				}
				h := runHelm(t, helm, corpus, args...)
				if diff := cmp.Diff(h.text(), got.text()); diff != "" {
					t.Errorf("output differs from helm show (-helm +ours):\n%s", diff)
				}
			})
		}
	}
}

func TestFindReadme(t *testing.T) {
	for _, tc := range []struct {
		names []string
		want  string
	}{
		{names: []string{"a.txt", "README.md"}, want: "README.md"},
		{names: []string{"Readme.TXT", "README.md"}, want: "Readme.TXT"},
		{names: []string{"docs/README.md", "readme"}, want: "readme"},
		{names: []string{"README.rst"}, want: ""},
	} {
		var files []*chart.File
		for _, n := range tc.names {
			files = append(files, &chart.File{Name: n})
		}
		got := ""
		if f := findReadme(files); f != nil {
			got = f.Name
		}
		if got != tc.want {
			t.Errorf("findReadme(%q) = %q, want %q", tc.names, got, tc.want)
		}
	}
}
