package cmd

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kubectl-chart/kubectl-chart/internal/helmpath"
	"github.com/kubectl-chart/kubectl-chart/pkg/repo"
	"github.com/kubectl-chart/kubectl-chart/pkg/repo/repotest"
)

// repoHome points Helm's paths (and so ours) at a temporary home and
// returns it.
func repoHome(t *testing.T) helmpath.Paths {
	t.Helper()
	home := t.TempDir()
	t.Setenv("HOME", home)
	for k, v := range map[string]string{
		"HELM_CONFIG_HOME": filepath.Join(home, "config"),
		"HELM_CACHE_HOME":  filepath.Join(home, "cache"),
		"HELM_DATA_HOME":   filepath.Join(home, "data"),
	} {
		t.Setenv(k, v)
	}
	for _, k := range []string{"HELM_REPOSITORY_CONFIG", "HELM_REPOSITORY_CACHE", "KUBECTL_CHART_CACHE", "XDG_CONFIG_HOME", "XDG_CACHE_HOME"} {
		t.Setenv(k, "")
	}
	return helmpath.New()
}

func mustRun(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	r := runChart(t, args, stdin)
	if r.err != nil {
		t.Fatalf("kubectl chart %s: %v\n%s", strings.Join(args, " "), r.err, r.stderr)
	}
	return r.stdout
}

// TestRepoCommands runs the repository commands as a user would, against
// an HTTPS repository with basic auth on loopback. The expected outputs
// are Helm's wording and layout, written by hand.
func TestRepoCommands(t *testing.T) {
	paths := repoHome(t)
	srv := repotest.NewServer(t, repotest.Options{TLS: true, Username: "user", Password: "s3cret"})

	add := []string{"repo", "add", "stable", srv.URL, "--ca-file", srv.CAFile, "--username", "user", "--password-stdin"}
	if diff := cmp.Diff("\"stable\" has been added to your repositories\n", mustRun(t, "s3cret\n", add...)); diff != "" {
		t.Errorf("repo add (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff("\"stable\" already exists with the same configuration, skipping\n", mustRun(t, "s3cret\n", add...)); diff != "" {
		t.Errorf("repo add again (-want +got):\n%s", diff)
	}
	if r := runChart(t, []string{"repo", "add", "stable", srv.URL + "/other"}, ""); r.err == nil ||
		r.err.Error() != "repository name (stable) already exists, please specify a different name" {
		t.Errorf("repo add of another URL under the same name: %v", r.err)
	}
	fi, err := os.Stat(paths.RepositoryConfig())
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("repositories.yaml: %v %v", fi, err)
	}
	f, _ := repo.LoadFile(paths.RepositoryConfig())
	if e := f.Get("stable"); e == nil || e.Password != "s3cret" || e.CAFile != srv.CAFile {
		t.Errorf("entry %+v", e)
	}

	wantList := "NAME  \tURL" + strings.Repeat(" ", len(srv.URL)-len("URL")) + "\nstable\t" + srv.URL + "\n"
	if diff := cmp.Diff(wantList, mustRun(t, "", "repo", "list")); diff != "" {
		t.Errorf("repo list (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(`[{"name":"stable","url":"`+srv.URL+`"}]`+"\n", mustRun(t, "", "repo", "list", "-o", "json")); diff != "" {
		t.Errorf("repo list -o json (-want +got):\n%s", diff)
	}

	searches := []struct {
		args []string
		want string
	}{
		{args: []string{"nginx"}, want: "" +
			"NAME        \tCHART VERSION\tAPP VERSION\tDESCRIPTION                   \n" +
			"stable/nginx\t2.0.0        \t1.27.0     \tA web server and reverse proxy\n"},
		{args: []string{"web"}, want: "" +
			"NAME        \tCHART VERSION\tAPP VERSION\tDESCRIPTION                                       \n" +
			"stable/nginx\t2.0.0        \t1.27.0     \tA web server and reverse proxy                    \n" +
			"stable/redis\t5.0.0        \t7.2        \tAn in-memory key-value store used as a cache an...\n"},
		{args: []string{"alpine", "--versions", "--devel"}, want: "" +
			"NAME         \tCHART VERSION\tAPP VERSION\tDESCRIPTION                    \n" +
			"stable/alpine\t0.3.0-rc.1   \t3.20       \tDeploy a basic Alpine Linux pod\n" +
			"stable/alpine\t0.2.0        \t3.19       \tDeploy a basic Alpine Linux pod\n" +
			"stable/alpine\t0.1.0        \t3.18       \tDeploy a basic Alpine Linux pod\n"},
		{args: []string{"nginx", "--version", "^1", "-o", "json"},
			want: `[{"name":"stable/nginx","version":"1.1.0","app_version":"1.25.3","description":"A web server and reverse proxy"}]` + "\n"},
		{args: []string{"nginx", "--version", "~1.0", "-o", "yaml"},
			want: "- app_version: 1.25.0\n  description: A web server and reverse proxy\n  name: stable/nginx\n  version: 1.0.0\n"},
		{args: []string{"postgres"}, want: "No results found\n"},
		{args: []string{"postgres", "-o", "json"}, want: "[]\n"},
	}
	for _, s := range searches {
		got := mustRun(t, "", append([]string{"search", "repo"}, s.args...)...)
		if diff := cmp.Diff(s.want, got); diff != "" {
			t.Errorf("search repo %s (-want +got):\n%s", strings.Join(s.args, " "), diff)
		}
	}
	if r := runChart(t, []string{"search", "repo", "postgres", "--fail-on-no-result"}, ""); r.err == nil || r.err.Error() != "no results found" {
		t.Errorf("--fail-on-no-result: %v", r.err)
	}

	// A new chart appears after repo update.
	repotest.WriteArchives(t, srv.Dir, []repotest.Chart{{Name: "postgres", Version: "1.0.0", AppVersion: "16", Description: "PostgreSQL"}})
	srv.Reindex(t, "")
	wantUpdate := "Hang tight while we grab the latest from your chart repositories...\n" +
		"...Successfully got an update from the \"stable\" chart repository\n" +
		"Update Complete. ⎈Happy Helming!⎈\n"
	if diff := cmp.Diff(wantUpdate, mustRun(t, "", "repo", "update")); diff != "" {
		t.Errorf("repo update (-want +got):\n%s", diff)
	}
	if got := mustRun(t, "", "search", "repo", "postgres"); !strings.Contains(got, "stable/postgres\t1.0.0") {
		t.Errorf("search after update:\n%s", got)
	}
	if r := runChart(t, []string{"repo", "update", "nope"}, ""); r.err == nil ||
		r.err.Error() != "no repositories found matching 'nope'.  Nothing will be updated" {
		t.Errorf("repo update nope: %v", r.err)
	}

	// The chart resolves through the added repository, and a second
	// resolution makes no archive request.
	res := repo.NewResolver(paths)
	loc, err := res.Locate(t.Context(), repo.LocateOptions{RepoName: "stable", Chart: "nginx", Version: "1.1.0"})
	if err != nil {
		t.Fatal(err)
	}
	before := srv.ArchiveRequests()
	if _, err := res.Locate(t.Context(), repo.LocateOptions{RepoName: "stable", Chart: "nginx", Version: "1.1.0"}); err != nil {
		t.Fatal(err)
	}
	if n := srv.ArchiveRequests() - before; n != 0 {
		t.Errorf("second download made %d archive requests", n)
	}
	if !strings.HasPrefix(loc.ArchivePath, paths.ContentCache()) {
		t.Errorf("archive %s outside the content cache", loc.ArchivePath)
	}

	if diff := cmp.Diff("\"stable\" has been removed from your repositories\n", mustRun(t, "", "repo", "remove", "stable")); diff != "" {
		t.Errorf("repo remove (-want +got):\n%s", diff)
	}
	for _, p := range []string{res.IndexPath("stable"), res.ChartsPath("stable")} {
		if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s left after remove: %v", p, err)
		}
	}
	if r := runChart(t, []string{"repo", "remove", "stable"}, ""); r.err == nil || r.err.Error() != "no repositories configured" {
		t.Errorf("repo remove again: %v", r.err)
	}
	if diff := cmp.Diff("no repositories to show\n", mustRun(t, "", "repo", "list")); diff != "" {
		t.Errorf("empty repo list (-want +got):\n%s", diff)
	}
	if r := runChart(t, []string{"search", "repo", "x"}, ""); r.err == nil || r.err.Error() != "no repositories configured" {
		t.Errorf("search without repositories: %v", r.err)
	}
}

// TestRepoAddErrors: a repository that cannot be added leaves nothing in
// repositories.yaml or in the caches.
func TestRepoAddErrors(t *testing.T) {
	srv := repotest.NewServer(t, repotest.Options{TLS: true, Username: "user", Password: "s3cret"})
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{name: "no credentials", args: []string{"repo", "add", "x", srv.URL, "--ca-file", srv.CAFile},
			want: []string{`looks like "` + srv.URL + `" is not a valid chart repository or cannot be reached`, "401 Unauthorized", "no credentials were sent"}},
		{name: "wrong password", args: []string{"repo", "add", "x", srv.URL, "--ca-file", srv.CAFile, "--username", "user", "--password", "no"},
			want: []string{"401 Unauthorized", "the credentials sent were refused"}},
		{name: "unknown CA", args: []string{"repo", "add", "x", srv.URL, "--username", "user", "--password", "s3cret"},
			want: []string{"certificate"}},
		{name: "slash in name", args: []string{"repo", "add", "a/b", srv.URL},
			want: []string{"repository name (a/b) contains '/', please specify a different name without '/'"}},
		{name: "deprecated", args: []string{"repo", "add", "old", "https://kubernetes-charts.storage.googleapis.com"},
			want: []string{`try "https://charts.helm.sh/stable" instead`}},
		{name: "username without password", args: []string{"repo", "add", "x", srv.URL, "--username", "user"},
			want: []string{"--password-stdin"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			paths := repoHome(t)
			r := runChart(t, tc.args, "")
			if r.err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(r.err.Error(), w) {
					t.Errorf("error %q does not contain %q", r.err, w)
				}
			}
			if f, _ := repo.LoadFile(paths.RepositoryConfig()); len(f.Repositories) != 0 {
				t.Errorf("repositories.yaml holds %v", f.Repositories)
			}
			for _, dir := range []string{paths.RepositoryCache(), paths.ContentCache()} {
				if entries, _ := os.ReadDir(dir); len(entries) != 0 {
					t.Errorf("%s holds %v", dir, entries)
				}
			}
		})
	}
}

func TestRepoIndex(t *testing.T) {
	dir := t.TempDir()
	repotest.WriteArchives(t, dir, repotest.DefaultCharts)
	if err := os.MkdirAll(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	repotest.WriteArchives(t, filepath.Join(dir, "sub"), []repotest.Chart{{Name: "zeta", Version: "0.0.1", Description: "in a subfolder"}})
	os.WriteFile(filepath.Join(dir, "broken-1.0.0.tgz"), []byte("not a chart"), 0o644)

	mustRun(t, "", "repo", "index", dir, "--url", "https://charts.example.com/base")
	i, err := repo.LoadIndexFile(filepath.Join(dir, "index.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	got := indexSummary(i)
	want := []string{
		"alpine 0.3.0-rc.1 https://charts.example.com/base/alpine-0.3.0-rc.1.tgz",
		"alpine 0.2.0 https://charts.example.com/base/alpine-0.2.0.tgz",
		"alpine 0.1.0 https://charts.example.com/base/alpine-0.1.0.tgz",
		"nginx 2.0.0 https://charts.example.com/base/nginx-2.0.0.tgz",
		"nginx 1.1.0 https://charts.example.com/base/nginx-1.1.0.tgz",
		"nginx 1.0.0 https://charts.example.com/base/nginx-1.0.0.tgz",
		"redis 5.0.0 https://charts.example.com/base/redis-5.0.0.tgz",
		"zeta 0.0.1 https://charts.example.com/base/sub/zeta-0.0.1.tgz",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("entries (-want +got):\n%s", diff)
	}
	for _, cvs := range i.Entries {
		for _, cv := range cvs {
			if len(cv.Digest) != 64 {
				t.Errorf("%s %s: digest %q", cv.Name, cv.Version, cv.Digest)
			}
		}
	}

	// --merge keeps the existing entries of versions not present here.
	old := repo.NewIndexFile()
	old.Entries["legacy"] = repo.ChartVersions{}
	mergeDir := t.TempDir()
	oldIdx := `apiVersion: v1
entries:
  legacy:
  - apiVersion: v2
    name: legacy
    version: 0.0.9
    urls: [https://old.example/legacy-0.0.9.tgz]
generated: "2020-01-01T00:00:00Z"
`
	os.WriteFile(filepath.Join(mergeDir, "old.yaml"), []byte(oldIdx), 0o644)
	mustRun(t, "", "repo", "index", dir, "--merge", filepath.Join(mergeDir, "old.yaml"), "--json")
	b, _ := os.ReadFile(filepath.Join(dir, "index.yaml"))
	if !json.Valid(b) {
		t.Errorf("--json wrote %q…", b[:min(40, len(b))])
	}
	merged, err := repo.LoadIndexFile(filepath.Join(dir, "index.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(indexSummary(merged), "legacy 0.0.9 https://old.example/legacy-0.0.9.tgz") {
		t.Errorf("merge lost the old entry: %v", indexSummary(merged))
	}
}

// indexSummary lists "name version url" of an index, names sorted, versions
// in the index's order.
func indexSummary(i *repo.IndexFile) []string {
	var names []string
	for n := range i.Entries {
		names = append(names, n)
	}
	slices.Sort(names)
	var out []string
	for _, n := range names {
		for _, cv := range i.Entries[n] {
			out = append(out, n+" "+cv.Version+" "+strings.Join(cv.URLs, ","))
		}
	}
	return out
}

// runHelmHome runs the Helm oracle with HOME and HELM_*_HOME of the test
// (those repoHome set), so that Helm and we share repositories.
func runHelmHome(t *testing.T, helm string, args ...string) string {
	t.Helper()
	cmd := exec.Command(helm, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	for _, k := range []string{"HOME", "HELM_CONFIG_HOME", "HELM_CACHE_HOME", "HELM_DATA_HOME"} {
		cmd.Env = append(cmd.Env, k+"="+os.Getenv(k))
	}
	cmd.Env = append(cmd.Env, "KUBECONFIG="+filepath.Join(os.Getenv("HOME"), "no-kubeconfig"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("helm %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func requireHelm(t *testing.T) string {
	t.Helper()
	helm := os.Getenv("HELM")
	if helm == "" {
		t.Skip("HELM is not set (path to the Helm v4.3.1 oracle, make helm builds it): skipping the comparison with Helm")
	}
	return helm
}

// TestRepoIndexAgainstHelm (oracle: Helm itself, run in the test): helm
// repo index and ours list the same entries, metadata, URLs and digests
// for the same archives, with and without --url.
func TestRepoIndexAgainstHelm(t *testing.T) {
	helm := requireHelm(t)
	repoHome(t)
	src := t.TempDir()
	repotest.WriteArchives(t, src, repotest.DefaultCharts)
	os.MkdirAll(filepath.Join(src, "sub"), 0o755)
	repotest.WriteArchives(t, filepath.Join(src, "sub"), []repotest.Chart{{Name: "zeta", Version: "0.0.1", Description: "sub"}})
	for _, url := range []string{"", "https://charts.example.com/x"} {
		ours, theirs := copyDir(t, src), copyDir(t, src)
		args := []string{"repo", "index"}
		if url != "" {
			args = append(args, "--url", url)
		}
		mustRun(t, "", append(args, ours)...)
		runHelmHome(t, helm, append(args, theirs)...)
		a, err := repo.LoadIndexFile(filepath.Join(ours, "index.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		b, err := repo.LoadIndexFile(filepath.Join(theirs, "index.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		for _, i := range []*repo.IndexFile{a, b} {
			i.Generated = time.Time{}
			for _, cvs := range i.Entries {
				for _, cv := range cvs {
					cv.Created = time.Time{}
				}
			}
		}
		if diff := cmp.Diff(b, a); diff != "" {
			t.Errorf("--url %q: index differs (-helm +ours):\n%s", url, diff)
		}
	}
}

// TestRepoInteropWithHelm (oracle: Helm itself): a repository added with
// helm repo add is listed, searched and downloaded by us with no other
// step, and one added by us works with helm search repo and helm pull.
func TestRepoInteropWithHelm(t *testing.T) {
	helm := requireHelm(t)
	paths := repoHome(t)
	srv := repotest.NewServer(t, repotest.Options{Username: "user", Password: "s3cret"})
	runHelmHome(t, helm, "repo", "add", "byhelm", srv.URL, "--username", "user", "--password", "s3cret")

	if got := mustRun(t, "", "repo", "list"); !strings.Contains(got, "byhelm\t"+srv.URL) {
		t.Errorf("repo list:\n%s", got)
	}
	for _, args := range [][]string{{"nginx"}, {"web"}, {"alpine", "--versions", "--devel"}, {"nginx", "--version", "^1", "-o", "json"}, {}} {
		h := runHelmHome(t, helm, append([]string{"search", "repo"}, args...)...)
		o := mustRun(t, "", append([]string{"search", "repo"}, args...)...)
		if diff := cmp.Diff(h, o); diff != "" {
			t.Errorf("search repo %v (-helm +ours):\n%s", args, diff)
		}
	}
	loc, err := repo.NewResolver(paths).Locate(t.Context(), repo.LocateOptions{RepoName: "byhelm", Chart: "nginx"})
	if err != nil {
		t.Fatal(err)
	}
	if loc.Version != "2.0.0" {
		t.Errorf("located %s", loc.Version)
	}

	mustRun(t, "", "repo", "add", "byus", srv.URL, "--username", "user", "--password", "s3cret")
	h := runHelmHome(t, helm, "search", "repo", "byus/redis")
	if !strings.Contains(h, "byus/redis\t5.0.0") {
		t.Errorf("helm search repo byus/redis:\n%s", h)
	}
	dest := t.TempDir()
	runHelmHome(t, helm, "pull", "byus/nginx", "--version", "1.1.0", "-d", dest)
	if _, err := os.Stat(filepath.Join(dest, "nginx-1.1.0.tgz")); err != nil {
		t.Errorf("helm pull byus/nginx: %v", err)
	}
	// Both wrote the same repositories.yaml entries; update works for Helm
	// on our file too.
	runHelmHome(t, helm, "repo", "update")
	mustRun(t, "", "repo", "update")
	mustRun(t, "", "repo", "remove", "byhelm")
	if got := runHelmHome(t, helm, "repo", "list"); strings.Contains(got, "byhelm") || !strings.Contains(got, "byus") {
		t.Errorf("helm repo list after our remove:\n%s", got)
	}
}

func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	return dst
}
