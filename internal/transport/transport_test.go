package transport

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestRedirectLoopIsBounded(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, r.URL.Path, http.StatusFound)
	}))
	defer srv.Close()
	c, err := NewClient(Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Get(srv.URL + "/loop")
	if err == nil || !strings.Contains(err.Error(), "redirect loop") {
		t.Fatalf("got %v, want a redirect loop error", err)
	}
}

func TestUserAgent(t *testing.T) {
	var got string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = r.UserAgent() }))
	defer srv.Close()
	c, _ := NewClient(Options{})
	resp, err := c.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if !strings.HasPrefix(got, "kubectl-chart/") {
		t.Errorf("User-Agent %q", got)
	}
}

func TestReadAllLimited(t *testing.T) {
	if _, err := ReadAllLimited(strings.NewReader("12345"), 4); !errors.Is(err, ErrTooLarge) {
		t.Errorf("5 bytes with limit 4: %v", err)
	}
	if b, err := ReadAllLimited(strings.NewReader("1234"), 4); err != nil || string(b) != "1234" {
		t.Errorf("4 bytes with limit 4: %q %v", b, err)
	}
}

func TestTLSOptionsErrors(t *testing.T) {
	if _, err := (TLSOptions{CertFile: "x"}).Config(); err == nil {
		t.Error("cert without key accepted")
	}
	if _, err := (TLSOptions{CAFile: "/does/not/exist"}).Config(); err == nil {
		t.Error("missing CA file accepted")
	}
	if c, err := (TLSOptions{}).Config(); c != nil || err != nil {
		t.Errorf("no options: %v %v", c, err)
	}
}
