// Package repotest serves chart repositories over real loopback HTTP(S)
// for tests: chart archives packaged from small generated charts, an
// index.yaml written by repo.IndexDirectory (what `kubectl chart repo
// index` writes), optional basic auth, and a count of the requests of each
// path.
package repotest

import (
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/kubectl-chart/kubectl-chart/pkg/chart/loader"
	"github.com/kubectl-chart/kubectl-chart/pkg/chart/packager"
	"github.com/kubectl-chart/kubectl-chart/pkg/repo"
)

// Chart is a generated chart version.
type Chart struct {
	Name, Version, AppVersion, Description string
	Keywords                               []string
}

// DefaultCharts are the charts of a server without Options.Charts.
var DefaultCharts = []Chart{
	{Name: "alpine", Version: "0.1.0", AppVersion: "3.18", Description: "Deploy a basic Alpine Linux pod", Keywords: []string{"linux", "alpine"}},
	{Name: "alpine", Version: "0.2.0", AppVersion: "3.19", Description: "Deploy a basic Alpine Linux pod", Keywords: []string{"linux", "alpine"}},
	{Name: "alpine", Version: "0.3.0-rc.1", AppVersion: "3.20", Description: "Deploy a basic Alpine Linux pod", Keywords: []string{"linux", "alpine"}},
	{Name: "nginx", Version: "1.0.0", AppVersion: "1.25.0", Description: "A web server and reverse proxy", Keywords: []string{"web", "proxy"}},
	{Name: "nginx", Version: "1.1.0", AppVersion: "1.25.3", Description: "A web server and reverse proxy", Keywords: []string{"web", "proxy"}},
	{Name: "nginx", Version: "2.0.0", AppVersion: "1.27.0", Description: "A web server and reverse proxy", Keywords: []string{"web", "proxy"}},
	{Name: "redis", Version: "5.0.0", AppVersion: "7.2", Description: "An in-memory key-value store used as a cache and message broker by many web applications", Keywords: []string{"database", "cache"}},
}

// Options configure a Server.
type Options struct {
	// Charts are packaged into the repository (default DefaultCharts).
	Charts []Chart
	// TLS serves HTTPS with a certificate that CAFile verifies.
	TLS bool
	// Username and Password, when set, are required on every request.
	Username, Password string
	// AbsoluteURLs writes the archives' absolute URLs into the index
	// (--url); by default they are relative, as `repo index` without --url.
	AbsoluteURLs bool
}

// Server is a chart repository on loopback.
type Server struct {
	// URL is the repository's URL; Dir the folder it serves.
	URL, Dir string
	// CAFile verifies the server's certificate (TLS only).
	CAFile string

	srv    *httptest.Server
	mu     sync.Mutex
	counts map[string]int
	auth   map[string]int
}

// NewServer packages the charts, indexes them and serves the folder until
// the test ends.
func NewServer(t testing.TB, o Options) *Server {
	t.Helper()
	s := &Server{Dir: t.TempDir(), counts: map[string]int{}, auth: map[string]int{}}
	charts := o.Charts
	if charts == nil {
		charts = DefaultCharts
	}
	WriteArchives(t, s.Dir, charts)
	files := http.FileServer(http.Dir(s.Dir))
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.counts[r.URL.Path]++
		if _, _, ok := r.BasicAuth(); ok {
			s.auth[r.URL.Path]++
		}
		s.mu.Unlock()
		if o.Username != "" {
			u, p, ok := r.BasicAuth()
			if !ok || u != o.Username || p != o.Password {
				w.Header().Set("WWW-Authenticate", `Basic realm="charts"`)
				http.Error(w, "unauthorized", http.StatusUnauthorized)
				return
			}
		}
		files.ServeHTTP(w, r)
	})
	if o.TLS {
		s.srv = httptest.NewTLSServer(h)
		s.CAFile = filepath.Join(t.TempDir(), "ca.pem")
		b := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.srv.Certificate().Raw})
		if err := os.WriteFile(s.CAFile, b, 0o644); err != nil {
			t.Fatal(err)
		}
	} else {
		s.srv = httptest.NewServer(h)
	}
	t.Cleanup(s.srv.Close)
	s.URL = s.srv.URL
	base := ""
	if o.AbsoluteURLs {
		base = s.URL
	}
	s.Reindex(t, base)
	return s
}

// Reindex writes index.yaml again, with the archives under baseURL.
func (s *Server) Reindex(t testing.TB, baseURL string) {
	t.Helper()
	i, err := repo.IndexDirectory(s.Dir, baseURL)
	if err != nil {
		t.Fatal(err)
	}
	i.SortEntries()
	if err := i.WriteFile(filepath.Join(s.Dir, "index.yaml"), false); err != nil {
		t.Fatal(err)
	}
}

// Requests is how many requests path ("/index.yaml") got.
func (s *Server) Requests(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[path]
}

// AuthRequests is how many requests of path carried basic auth.
func (s *Server) AuthRequests(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.auth[path]
}

// ArchiveRequests is how many requests of .tgz files the server got.
func (s *Server) ArchiveRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for p, c := range s.counts {
		if strings.HasSuffix(p, ".tgz") {
			n += c
		}
	}
	return n
}

// WriteArchives packages each chart as dir/<name>-<version>.tgz.
func WriteArchives(t testing.TB, dir string, charts []Chart) {
	t.Helper()
	for _, c := range charts {
		src := filepath.Join(t.TempDir(), c.Name)
		if err := os.MkdirAll(filepath.Join(src, "templates"), 0o755); err != nil {
			t.Fatal(err)
		}
		var kw strings.Builder
		if len(c.Keywords) > 0 {
			kw.WriteString("keywords:\n")
			for _, k := range c.Keywords {
				fmt.Fprintf(&kw, "  - %s\n", k)
			}
		}
		chartYAML := fmt.Sprintf("apiVersion: v2\nname: %s\nversion: %s\nappVersion: %q\ndescription: %s\n%s",
			c.Name, c.Version, c.AppVersion, c.Description, kw.String())
		files := map[string]string{
			"Chart.yaml":               chartYAML,
			"values.yaml":              "replicas: 1\n",
			"templates/configmap.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-{{ .Chart.Name }}\ndata:\n  version: {{ .Chart.Version | quote }}\n  replicas: {{ .Values.replicas | quote }}\n",
		}
		for name, content := range files {
			if err := os.WriteFile(filepath.Join(src, name), []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		ch, err := loader.LoadDir(src)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := packager.Save(ch, dir); err != nil {
			t.Fatal(err)
		}
	}
}
