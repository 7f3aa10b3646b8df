// Package transport is the one place kubectl chart builds HTTP clients for
// chart repositories, chart URLs and OCI registries: TLS from the flags Helm
// has (--ca-file, --cert-file, --key-file, --insecure-skip-tls-verify), a
// bounded number of redirects, an overall timeout, and reads bounded in size so
// that a server that sends too much, or never stops, cannot exhaust memory.
package transport

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/kubectl-chart/kubectl-chart/internal/version"
)

// MaxRedirects is how many redirects a request follows before it fails.
const MaxRedirects = 10

// TLSOptions are the TLS flags of Helm's repo, pull and registry commands.
type TLSOptions struct {
	// CAFile verifies the server with this CA bundle (PEM) in addition to
	// the system's roots.
	CAFile string
	// CertFile and KeyFile identify the client (PEM).
	CertFile string
	KeyFile  string
	// InsecureSkipVerify skips verification of the server's certificate.
	InsecureSkipVerify bool
}

// Config builds the TLS configuration, or nil when no option is set.
func (o TLSOptions) Config() (*tls.Config, error) {
	if o == (TLSOptions{}) {
		return nil, nil
	}
	cfg := &tls.Config{InsecureSkipVerify: o.InsecureSkipVerify, MinVersion: tls.VersionTLS12} //nolint:gosec // the user asked for it
	if o.CertFile != "" || o.KeyFile != "" {
		if o.CertFile == "" || o.KeyFile == "" {
			return nil, errors.New("--cert-file and --key-file must be given together")
		}
		pair, err := tls.LoadX509KeyPair(o.CertFile, o.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("can't load client certificate %s: %w", o.CertFile, err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	if o.CAFile != "" {
		pem, err := os.ReadFile(o.CAFile)
		if err != nil {
			return nil, fmt.Errorf("can't read CA file: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s: no PEM certificate found", o.CAFile)
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}

// Options configure a client.
type Options struct {
	TLS TLSOptions
	// Timeout bounds each request from dial to the last byte of the body
	// (0: no bound but the caller's context).
	Timeout time.Duration
}

// NewClient builds an HTTP client with the options: proxies from the
// environment, at most MaxRedirects redirects, kubectl chart's User-Agent.
func NewClient(o Options) (*http.Client, error) {
	tlsConfig, err := o.TLS.Config()
	if err != nil {
		return nil, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tlsConfig
	tr.ResponseHeaderTimeout = 0
	return &http.Client{
		Transport: userAgent{tr},
		Timeout:   o.Timeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= MaxRedirects {
				return fmt.Errorf("stopped after %d redirects (a redirect loop?)", MaxRedirects)
			}
			return nil
		},
	}, nil
}

// UserAgent is what every request of kubectl chart says it is.
func UserAgent() string { return "kubectl-chart/" + version.Version }

type userAgent struct{ rt http.RoundTripper }

func (u userAgent) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Header.Get("User-Agent") == "" {
		req = req.Clone(req.Context())
		req.Header.Set("User-Agent", UserAgent())
	}
	return u.rt.RoundTrip(req)
}

// ErrTooLarge is returned by ReadAllLimited when the body exceeds its bound.
var ErrTooLarge = errors.New("response too large")

// ReadAllLimited reads r to the end, failing with ErrTooLarge past limit bytes.
func ReadAllLimited(r io.Reader, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, limit)
	}
	return b, nil
}
