package chartsource

import (
	"context"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kubectl-chart/kubectl-chart/internal/chartcache"
	"github.com/kubectl-chart/kubectl-chart/internal/helmpath"
	"github.com/kubectl-chart/kubectl-chart/internal/transport"
	"github.com/kubectl-chart/kubectl-chart/pkg/chart/loader"
	"github.com/kubectl-chart/kubectl-chart/pkg/chart/packager"
	"github.com/kubectl-chart/kubectl-chart/pkg/release"
	"github.com/kubectl-chart/kubectl-chart/pkg/repo"
)

// packDemo packages the repository's demo chart and returns the archive bytes.
func packDemo(t *testing.T) []byte {
	t.Helper()
	out := t.TempDir()
	path, err := packager.PackageDir(filepath.Join("..", "..", "testdata", "charts", "demo-app"), out)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestClassify(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		req  Request
		want Kind
	}{
		{Request{Ref: dir}, KindLocal},
		{Request{Ref: "./missing"}, KindLocal},
		{Request{Ref: "/abs/missing"}, KindLocal},
		{Request{Ref: "nginx", RepoURL: "https://charts.example"}, KindRepo},
		{Request{Ref: "bitnami/nginx"}, KindRepo},
		{Request{Ref: "oci://registry.example/charts/redis"}, KindOCI},
		{Request{Ref: "https://charts.example/web-1.0.0.tgz"}, KindURL},
		{Request{Ref: "http://charts.example/web-1.0.0.tgz"}, KindURL},
	}
	for _, tt := range tests {
		if got := Classify(tt.req); got != tt.want {
			t.Errorf("Classify(%+v) = %s, want %s", tt.req, got, tt.want)
		}
	}
}

func TestResolveErrors(t *testing.T) {
	r := &Resolver{}
	tests := []struct {
		name string
		req  Request
		want string
	}{
		{"missing path", Request{Ref: "./nope"}, `path "./nope" not found`},
		{"bare name", Request{Ref: "nginx"}, "non-absolute URLs should be in form of repo_name/path_to_chart, got: nginx"},
		{"verify a folder", Request{Ref: "../../testdata/charts/demo-app", Verify: true}, "cannot verify a chart folder"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := r.Resolve(context.Background(), tt.req)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestResolveURL(t *testing.T) {
	archive := packDemo(t)
	var hits atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("/charts/demo-app-0.1.0.tgz", func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Write(archive)
	})
	mux.HandleFunc("/private/demo-app-0.1.0.tgz", func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "alice" || p != "secret" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Write(archive)
	})
	mux.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/loop", http.StatusFound) })
	mux.HandleFunc("/hang", func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	srv := httptest.NewTLSServer(mux)
	defer srv.Close()
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	writeCA(t, srv, caFile)

	cacheDir := t.TempDir()
	r := &Resolver{Repos: repoDownloads{cacheDir}}
	ctx := context.Background()
	base := Request{TLS: tlsWithCA(caFile), Timeout: 10 * time.Second}

	req := base
	req.Ref = srv.URL + "/charts/demo-app-0.1.0.tgz"
	got, err := r.Resolve(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := loader.Load(got.Path); err != nil {
		t.Fatalf("downloaded chart does not load: %v", err)
	}
	wantDigest, _, _ := chartcache.New(t.TempDir()).PutBytes(archive, "")
	if diff := cmp.Diff(release.ChartOrigin{Source: req.Ref, Reference: req.Ref, Digest: wantDigest}, got.Origin); diff != "" {
		t.Errorf("origin (-want +got):\n%s", diff)
	}

	t.Run("basic auth", func(t *testing.T) {
		req := base
		req.Ref = srv.URL + "/private/demo-app-0.1.0.tgz"
		_, err := r.Resolve(ctx, req)
		if err == nil || !strings.Contains(err.Error(), "no credentials were sent") {
			t.Fatalf("without credentials: %v", err)
		}
		req.Username, req.Password = "alice", "wrong"
		_, err = r.Resolve(ctx, req)
		if err == nil || !strings.Contains(err.Error(), "credentials sent were refused") {
			t.Fatalf("wrong credentials: %v", err)
		}
		req.Password = "secret"
		if _, err := r.Resolve(ctx, req); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("untrusted server", func(t *testing.T) {
		req := Request{Ref: srv.URL + "/charts/demo-app-0.1.0.tgz", Timeout: 10 * time.Second}
		if _, err := r.Resolve(ctx, req); err == nil || !strings.Contains(err.Error(), "certificate") {
			t.Fatalf("got %v, want a certificate error", err)
		}
	})
	t.Run("redirect loop", func(t *testing.T) {
		req := base
		req.Ref = srv.URL + "/loop"
		if _, err := r.Resolve(ctx, req); err == nil || !strings.Contains(err.Error(), "redirect") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("hanging server bounded by the timeout", func(t *testing.T) {
		req := base
		req.Ref, req.Timeout = srv.URL+"/hang", 300*time.Millisecond
		start := time.Now()
		_, err := r.Resolve(ctx, req)
		if err == nil || time.Since(start) > 5*time.Second {
			t.Fatalf("got %v after %s", err, time.Since(start))
		}
	})
	t.Run("verify without a provenance file", func(t *testing.T) {
		req := base
		req.Ref, req.Verify = srv.URL+"/charts/demo-app-0.1.0.tgz", true
		if _, err := r.Resolve(ctx, req); !errors.Is(err, ErrVerificationRequired) {
			t.Fatalf("got %v, want ErrVerificationRequired", err)
		}
	})
	// Nothing but whole, verified blobs in the cache.
	filepath.WalkDir(cacheDir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasPrefix(d.Name(), ".incoming") {
			t.Errorf("partial file left in the cache: %s", p)
		}
		return nil
	})
}

func writeCA(t *testing.T, srv *httptest.Server, path string) {
	t.Helper()
	b := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func tlsWithCA(caFile string) transport.TLSOptions { return transport.TLSOptions{CAFile: caFile} }

// fakeRepos and fakeRegistry stand for pkg/repo and pkg/registry in tests of
// the engine's own logic (their real tests run against real servers).
type fakeRepos struct {
	got RepoRequest
	loc *Located
}

func (f *fakeRepos) Locate(_ context.Context, req RepoRequest) (*Located, error) {
	f.got = req
	return f.loc, nil
}

func (f *fakeRepos) FetchURL(_ context.Context, _ string, req RepoRequest) (*Located, error) {
	f.got = req
	return f.loc, nil
}

// repoDownloads is pkg/repo's real client behind RepoLocator.FetchURL, with
// its content cache in dir (the command layer's adapter, in small).
type repoDownloads struct{ dir string }

func (repoDownloads) Locate(context.Context, RepoRequest) (*Located, error) {
	return nil, errors.New("no repositories in this test")
}

func (d repoDownloads) FetchURL(ctx context.Context, href string, req RepoRequest) (*Located, error) {
	r := repo.NewResolver(helmpath.FromEnv(func(k string) string {
		return map[string]string{"HOME": d.dir, "KUBECTL_CHART_CACHE": d.dir}[k]
	}))
	r.Timeout = req.Timeout
	loc, err := r.FetchURL(ctx, href, repo.LocateOptions{Username: req.Username, Password: req.Password,
		PassCredentials: req.PassCredentials, TLS: req.TLS, WantProv: req.WantProv})
	if err != nil {
		return nil, err
	}
	return &Located{ArchivePath: loc.ArchivePath, Digest: loc.Digest, URL: loc.URL, ProvPath: loc.ProvPath}, nil
}

type fakeRegistry struct {
	got OCIRequest
	loc *Located
}

func (f *fakeRegistry) Pull(_ context.Context, req OCIRequest) (*Located, error) {
	f.got = req
	return f.loc, nil
}

type fakeVerifier struct{ fileName, provPath string }

func (f *fakeVerifier) Verify(_ context.Context, _, fileName, provPath, _ string) (*Verification, error) {
	f.fileName, f.provPath = fileName, provPath
	return &Verification{SignedBy: []string{"Signer"}}, nil
}

func TestResolveRemoteOrigins(t *testing.T) {
	dir := t.TempDir()
	archive, prov := filepath.Join(dir, "blob"), filepath.Join(dir, "prov")
	os.WriteFile(archive, []byte("x"), 0o644)
	os.WriteFile(prov, []byte("x"), 0o644)
	loc := &Located{ArchivePath: archive, Version: "1.2.3", Digest: "sha256:ab", URL: "https://charts.example/web-1.2.3.tgz", ProvPath: prov, FileName: "web-1.2.3.tgz"}
	repos, reg, ver := &fakeRepos{loc: loc}, &fakeRegistry{loc: loc}, &fakeVerifier{}
	r := &Resolver{Repos: repos, Registry: reg, Verifier: ver}
	ctx := context.Background()

	tests := []struct {
		name     string
		req      Request
		wantKind Kind
		want     release.ChartOrigin
	}{
		{"added repository", Request{Ref: "charts/web", Version: "^1"}, KindRepo,
			release.ChartOrigin{Source: loc.URL, Reference: "charts/web", Digest: "sha256:ab"}},
		{"--repo URL", Request{Ref: "web", RepoURL: "https://charts.example"}, KindRepo,
			release.ChartOrigin{Source: loc.URL, Reference: "web", RepoURL: "https://charts.example", Digest: "sha256:ab"}},
		{"OCI", Request{Ref: "oci://r.example/charts/web", Version: "1.2.3", Verify: true}, KindOCI,
			release.ChartOrigin{Source: loc.URL, Reference: "oci://r.example/charts/web", Digest: "sha256:ab"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := r.Resolve(ctx, tt.req)
			if err != nil {
				t.Fatal(err)
			}
			if got.Kind != tt.wantKind || got.Version != "1.2.3" || got.Path != archive {
				t.Errorf("resolved %+v", got)
			}
			if diff := cmp.Diff(tt.want, got.Origin); diff != "" {
				t.Errorf("origin (-want +got):\n%s", diff)
			}
		})
	}
	if repos.got.RepoName != "" || repos.got.RepoURL != "https://charts.example" || repos.got.Chart != "web" {
		t.Errorf("--repo request: %+v", repos.got)
	}
	if !reg.got.WantProv || reg.got.Version != "1.2.3" {
		t.Errorf("OCI request with --verify: %+v", reg.got)
	}
	// The archive is verified under its own name, not the cache's.
	if ver.fileName != "web-1.2.3.tgz" || ver.provPath != prov {
		t.Errorf("verified as %q with %q", ver.fileName, ver.provPath)
	}
	// A repository request splits REPO/CHART.
	if _, err := r.Resolve(ctx, Request{Ref: "charts/web"}); err != nil || repos.got.RepoName != "charts" || repos.got.Chart != "web" {
		t.Errorf("REPO/CHART request: %+v, %v", repos.got, err)
	}
}
