package repo_test

import (
	"context"
	"errors"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kubectl-chart/kubectl-chart/internal/chartcache"
	"github.com/kubectl-chart/kubectl-chart/internal/helmpath"
	"github.com/kubectl-chart/kubectl-chart/pkg/chart/loader"
	"github.com/kubectl-chart/kubectl-chart/pkg/repo"
	"github.com/kubectl-chart/kubectl-chart/pkg/repo/repotest"
)

// testPaths points every Helm path and our cache at a temporary folder.
func testPaths(t *testing.T) helmpath.Paths {
	home := t.TempDir()
	env := map[string]string{
		"HOME":             home,
		"HELM_CONFIG_HOME": filepath.Join(home, "config"),
		"HELM_CACHE_HOME":  filepath.Join(home, "cache"),
		"HELM_DATA_HOME":   filepath.Join(home, "data"),
	}
	return helmpath.FromEnv(func(k string) string { return env[k] })
}

// addRepo records a repository and fetches its index, as repo add does.
func addRepo(t *testing.T, r *repo.Resolver, e repo.Entry) {
	t.Helper()
	err := repo.EditFile(t.Context(), r.Paths.RepositoryConfig(), func(f *repo.File) error {
		if _, err := r.DownloadIndex(t.Context(), e); err != nil {
			return err
		}
		f.Update(&e)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// blobs lists the archives in the content cache.
func blobs(t *testing.T, paths helmpath.Paths) []string {
	t.Helper()
	var got []string
	filepath.WalkDir(filepath.Join(paths.ContentCache(), "blobs"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			got = append(got, filepath.Base(p))
		}
		return nil
	})
	return got
}

func TestLocateNamedRepoOverTLSWithBasicAuth(t *testing.T) {
	srv := repotest.NewServer(t, repotest.Options{TLS: true, Username: "user", Password: "pass"})
	r := repo.NewResolver(testPaths(t))
	addRepo(t, r, repo.Entry{Name: "stable", URL: srv.URL, Username: "user", Password: "pass", CAFile: srv.CAFile})

	tests := []struct {
		name, version string
		devel         bool
		want          string
	}{
		{name: "latest stable", want: "2.0.0"},
		{name: "exact", version: "1.0.0", want: "1.0.0"},
		{name: "constraint", version: "^1.0.0", want: "1.1.0"},
		{name: "tilde", version: "~1.0", want: "1.0.0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			loc, err := r.Locate(t.Context(), repo.LocateOptions{RepoName: "stable", Chart: "nginx", Version: tc.version, Devel: tc.devel})
			if err != nil {
				t.Fatal(err)
			}
			if loc.Version != tc.want {
				t.Errorf("version %s, want %s", loc.Version, tc.want)
			}
			ch, err := loader.Load(loc.ArchivePath)
			if err != nil {
				t.Fatal(err)
			}
			if ch.Metadata.Version != tc.want {
				t.Errorf("archive holds %s", ch.Metadata.Version)
			}
			if want := srv.URL + "/nginx-" + tc.want + ".tgz"; loc.URL != want {
				t.Errorf("URL %s, want %s", loc.URL, want)
			}
		})
	}

	devel, err := r.Locate(t.Context(), repo.LocateOptions{RepoName: "stable", Chart: "alpine", Devel: true})
	if err != nil || devel.Version != "0.3.0-rc.1" {
		t.Errorf("--devel: %v %v", devel, err)
	}

	// The second download of a version makes no request for the archive.
	before := srv.ArchiveRequests()
	loc, err := r.Locate(t.Context(), repo.LocateOptions{RepoName: "stable", Chart: "nginx", Version: "1.0.0"})
	if err != nil {
		t.Fatal(err)
	}
	if got := srv.ArchiveRequests() - before; got != 0 || loc.Downloaded {
		t.Errorf("second locate of nginx 1.0.0: %d archive requests (downloaded %v), want 0", got, loc.Downloaded)
	}
	if srv.AuthRequests("/nginx-1.0.0.tgz") != 1 {
		t.Errorf("archive requests with credentials: %d, want 1", srv.AuthRequests("/nginx-1.0.0.tgz"))
	}
}

func TestLocateByURL(t *testing.T) {
	srv := repotest.NewServer(t, repotest.Options{})
	r := repo.NewResolver(testPaths(t))
	loc, err := r.Locate(t.Context(), repo.LocateOptions{RepoURL: srv.URL, Chart: "redis"})
	if err != nil {
		t.Fatal(err)
	}
	if loc.Version != "5.0.0" || !loc.Downloaded || loc.Metadata.AppVersion != "7.2" {
		t.Errorf("got %+v", loc)
	}
	// Nothing is added to repositories.yaml or to Helm's repository cache.
	if _, err := os.Stat(r.Paths.RepositoryConfig()); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("repositories.yaml written: %v", err)
	}
	if entries, _ := os.ReadDir(r.Paths.RepositoryCache()); len(entries) != 0 {
		t.Errorf("repository cache written: %v", entries)
	}
	again, err := r.Locate(t.Context(), repo.LocateOptions{RepoURL: srv.URL, Chart: "redis"})
	if err != nil {
		t.Fatal(err)
	}
	if again.Downloaded || srv.Requests("/redis-5.0.0.tgz") != 1 || again.Digest != loc.Digest {
		t.Errorf("second locate downloaded again: %+v, %d requests", again, srv.Requests("/redis-5.0.0.tgz"))
	}
}

func TestLocateNotFound(t *testing.T) {
	srv := repotest.NewServer(t, repotest.Options{})
	r := repo.NewResolver(testPaths(t))
	addRepo(t, r, repo.Entry{Name: "stable", URL: srv.URL})
	tests := []struct {
		name string
		o    repo.LocateOptions
		want string
	}{
		{name: "no such chart", o: repo.LocateOptions{RepoName: "stable", Chart: "nope"},
			want: `chart "nope" not found in repo stable (try 'kubectl chart repo update stable')`},
		{name: "no such version", o: repo.LocateOptions{RepoName: "stable", Chart: "nginx", Version: "1.0.5"},
			want: `chart "nginx" version "1.0.5" not found in repo stable; nearest available versions: 2.0.0, 1.1.0, 1.0.0 (try 'kubectl chart repo update stable')`},
		{name: "no version satisfies", o: repo.LocateOptions{RepoName: "stable", Chart: "nginx", Version: ">=3"},
			want: `chart "nginx" version ">=3" not found in repo stable; nearest available versions: 2.0.0, 1.1.0, 1.0.0 (try 'kubectl chart repo update stable')`},
		{name: "only pre-releases", o: repo.LocateOptions{RepoURL: srv.URL, Chart: "alpine", Version: "0.3.x"},
			want: `chart "alpine" version "0.3.x" not found in repo ` + srv.URL + `; nearest available versions: 0.3.0-rc.1, 0.2.0, 0.1.0`},
		{name: "no such repo", o: repo.LocateOptions{RepoName: "other", Chart: "nginx"},
			want: `repo other not found`},
		{name: "invalid constraint", o: repo.LocateOptions{RepoName: "stable", Chart: "nginx", Version: "not a version"},
			want: `invalid version constraint "not a version": improper constraint: "not a version"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := r.Locate(t.Context(), tc.o)
			if err == nil {
				t.Fatal("no error")
			}
			if diff := cmp.Diff(tc.want, err.Error()); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
		})
	}
	if got := blobs(t, r.Paths); len(got) != 0 {
		t.Errorf("cached: %v", got)
	}
}

func TestLocateDigestMismatchStoresNothing(t *testing.T) {
	srv := repotest.NewServer(t, repotest.Options{})
	r := repo.NewResolver(testPaths(t))
	addRepo(t, r, repo.Entry{Name: "stable", URL: srv.URL})
	// The archive changes after the index was fetched.
	repotest.WriteArchives(t, srv.Dir, []repotest.Chart{{Name: "nginx", Version: "2.0.0", AppVersion: "x", Description: "changed"}})
	_, err := r.Locate(t.Context(), repo.LocateOptions{RepoName: "stable", Chart: "nginx"})
	var mm *chartcache.DigestMismatchError
	if !errors.As(err, &mm) {
		t.Fatalf("got %v, want a digest mismatch", err)
	}
	if !strings.Contains(err.Error(), srv.URL+"/nginx-2.0.0.tgz") {
		t.Errorf("error does not name the URL: %v", err)
	}
	if got := blobs(t, r.Paths); len(got) != 0 {
		t.Errorf("cached after a mismatch: %v", got)
	}
}

// TestCredentialsOnlyToTheRepoHost: an index on one host pointing at
// archives on another sends the credentials there only with
// PassCredentialsAll, as Helm.
func TestCredentialsOnlyToTheRepoHost(t *testing.T) {
	archives := repotest.NewServer(t, repotest.Options{AbsoluteURLs: true})
	var sawAuth bool
	index := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if _, _, ok := req.BasicAuth(); ok {
			sawAuth = true
		}
		http.ServeFile(w, req, filepath.Join(archives.Dir, "index.yaml"))
	}))
	defer index.Close()
	for _, pass := range []bool{false, true} {
		r := repo.NewResolver(testPaths(t))
		addRepo(t, r, repo.Entry{Name: "split", URL: index.URL, Username: "u", Password: "p", PassCredentialsAll: pass})
		before := archives.AuthRequests("/nginx-2.0.0.tgz")
		if _, err := r.Locate(t.Context(), repo.LocateOptions{RepoName: "split", Chart: "nginx"}); err != nil {
			t.Fatal(err)
		}
		if sent := archives.AuthRequests("/nginx-2.0.0.tgz") > before; sent != pass {
			t.Errorf("pass_credentials_all %v: credentials sent to the archive host: %v", pass, sent)
		}
	}
	if !sawAuth {
		t.Error("the index host got no credentials")
	}
}

func TestDownloadIndexErrors(t *testing.T) {
	html := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte("<!DOCTYPE html>\n<html><body>Sign in</body></html>\n"))
	}))
	defer html.Close()
	notIndex := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Write([]byte("hello: world\n"))
	}))
	defer notIndex.Close()
	huge := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Write([]byte("apiVersion: v1\nentries: {}\n# " + strings.Repeat("x", 4096) + "\n"))
	}))
	defer huge.Close()
	loop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		http.Redirect(w, req, req.URL.Path, http.StatusFound)
	}))
	defer loop.Close()
	release := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		select {
		case <-release:
		case <-req.Context().Done():
		}
	}))
	defer hang.Close()
	defer close(release)
	auth := repotest.NewServer(t, repotest.Options{Username: "user", Password: "pass"})

	tests := []struct {
		name  string
		entry repo.Entry
		want  []string
	}{
		{name: "html", entry: repo.Entry{Name: "h", URL: html.URL}, want: []string{html.URL, "HTML"}},
		{name: "not an index", entry: repo.Entry{Name: "n", URL: notIndex.URL}, want: []string{notIndex.URL, "error unmarshaling JSON"}},
		{name: "huge", entry: repo.Entry{Name: "b", URL: huge.URL}, want: []string{huge.URL, "index is larger than 1024 bytes"}},
		{name: "redirect loop", entry: repo.Entry{Name: "l", URL: loop.URL}, want: []string{loop.URL, "redirect loop"}},
		{name: "hanging server", entry: repo.Entry{Name: "s", URL: hang.URL}, want: []string{hang.URL, "timed out after 300ms"}},
		{name: "401 without credentials", entry: repo.Entry{Name: "a", URL: auth.URL},
			want: []string{"401 Unauthorized", `repo "a" (` + auth.URL + `): no credentials were sent`}},
		{name: "401 with wrong credentials", entry: repo.Entry{Name: "a", URL: auth.URL, Username: "user", Password: "wrong"},
			want: []string{"401 Unauthorized", "the credentials sent were refused"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := repo.NewResolver(testPaths(t))
			r.MaxIndexSize = 1024
			r.Timeout = 300 * time.Millisecond
			_, err := r.DownloadIndex(t.Context(), tc.entry)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			for _, dir := range []string{r.Paths.RepositoryCache(), r.Paths.ContentCache()} {
				if entries, _ := os.ReadDir(dir); len(entries) != 0 {
					t.Errorf("%s holds %v after a failed download", dir, entries)
				}
			}
		})
	}
	var he *repo.HTTPError
	r := repo.NewResolver(testPaths(t))
	if _, err := r.DownloadIndex(context.Background(), repo.Entry{URL: auth.URL}); !errors.As(err, &he) || he.StatusCode != 401 {
		t.Errorf("got %v, want an *HTTPError 401", err)
	}
}
