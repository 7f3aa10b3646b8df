package testregistry

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// Proxy is a loopback HTTP reverse proxy in front of a plain-HTTP registry
// that records the requests it forwards, so that a test can prove what a
// client did not send (a pull served from a cache).
type Proxy struct {
	// Host is the proxy's "127.0.0.1:PORT": use it in references instead of
	// the registry's.
	Host string

	mu       sync.Mutex
	requests []string
}

// NewProxy starts a proxy to r (which must be plain HTTP) until the test ends.
func NewProxy(t testing.TB, r *Registry) *Proxy {
	t.Helper()
	if r.CAFile != "" {
		t.Fatal("testregistry: the proxy forwards to plain-HTTP registries only")
	}
	target := &url.URL{Scheme: "http", Host: r.Host}
	rp := httputil.NewSingleHostReverseProxy(target)
	p := &Proxy{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		p.mu.Lock()
		p.requests = append(p.requests, req.Method+" "+req.URL.RequestURI())
		p.mu.Unlock()
		// The registry builds upload locations from the Host header: keep
		// the proxy's, so that every request comes back through it.
		rp.ServeHTTP(w, req)
	}))
	t.Cleanup(srv.Close)
	p.Host = strings.TrimPrefix(srv.URL, "http://")
	return p
}

// Requests returns the requests forwarded since the last Reset, as
// "METHOD /path?query".
func (p *Proxy) Requests() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.requests...)
}

// Reset forgets the requests recorded so far.
func (p *Proxy) Reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.requests = nil
}
