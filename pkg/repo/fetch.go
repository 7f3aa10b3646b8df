package repo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/kubectl-chart/kubectl-chart/internal/transport"
)

// HTTPError is a response other than 200 OK from a repository.
type HTTPError struct {
	// URL is what was requested; Repo names the repository (its name, or
	// its URL).
	URL, Repo string
	// StatusCode and Status are the response's.
	StatusCode int
	Status     string
	// CredentialsSent tells whether basic-auth credentials went with the
	// request.
	CredentialsSent bool
	// HasCredentials tells whether the repository has credentials at all.
	HasCredentials bool
}

func (e *HTTPError) Error() string {
	msg := fmt.Sprintf("failed to fetch %s : %s", e.URL, e.Status)
	if e.StatusCode != http.StatusUnauthorized && e.StatusCode != http.StatusForbidden {
		return msg
	}
	switch {
	case e.CredentialsSent:
		return fmt.Sprintf("%s (repo %s: the credentials sent were refused)", msg, e.Repo)
	case e.HasCredentials:
		return fmt.Sprintf("%s (repo %s: no credentials were sent, as %s is not on the repository's host; --pass-credentials sends them to every host)", msg, e.Repo, e.URL)
	default:
		return fmt.Sprintf("%s (repo %s: no credentials were sent; give --username and --password)", msg, e.Repo)
	}
}

// getter downloads from one repository with its credentials and TLS files.
type getter struct {
	client *http.Client
	entry  Entry
	// label names the repository in errors.
	label   string
	timeout time.Duration
}

func newGetter(e Entry, label string, timeout time.Duration) (*getter, error) {
	c, err := transport.NewClient(transport.Options{
		TLS: transport.TLSOptions{
			CAFile: e.CAFile, CertFile: e.CertFile, KeyFile: e.KeyFile, InsecureSkipVerify: e.InsecureSkipTLSVerify,
		},
		Timeout: timeout,
	})
	if err != nil {
		return nil, fmt.Errorf("repo %s: %w", label, err)
	}
	return &getter{client: c, entry: e, label: label, timeout: timeout}, nil
}

// sendsCredentials is Helm's rule: credentials go to the repository's own
// scheme and host (port included), or everywhere with PassCredentialsAll.
func (g *getter) sendsCredentials(href string) bool {
	if g.entry.Username == "" || g.entry.Password == "" {
		return false
	}
	if g.entry.PassCredentialsAll {
		return true
	}
	u1, err1 := url.Parse(g.entry.URL)
	u2, err2 := url.Parse(href)
	return err1 == nil && err2 == nil && u1.Scheme == u2.Scheme && u1.Host == u2.Host
}

// get starts a GET of href; the caller closes the body.
func (g *getter) get(ctx context.Context, href string) (io.ReadCloser, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, href, nil)
	if err != nil {
		return nil, err
	}
	sent := g.sendsCredentials(href)
	if sent {
		req.SetBasicAuth(g.entry.Username, g.entry.Password)
	}
	resp, err := g.client.Do(req)
	if err != nil {
		return nil, g.timedOut(ctx, err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, &HTTPError{
			URL: href, Repo: g.label, StatusCode: resp.StatusCode, Status: resp.Status,
			CredentialsSent: sent, HasCredentials: g.entry.Username != "" && g.entry.Password != "",
		}
	}
	return resp.Body, nil
}

// fetchIndex downloads the repository's index.yaml, at most limit bytes.
func (g *getter) fetchIndex(ctx context.Context, limit int64) ([]byte, error) {
	indexURL, err := ResolveReferenceURL(g.entry.URL, "index.yaml")
	if err != nil {
		return nil, err
	}
	body, err := g.get(ctx, indexURL)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	b, err := transport.ReadAllLimited(body, limit)
	if err != nil {
		if isTooLarge(err) {
			return nil, fmt.Errorf("%s: %w", indexURL, &IndexTooLargeError{Limit: limit})
		}
		return nil, fmt.Errorf("%s: %w", indexURL, g.timedOut(ctx, err))
	}
	return b, nil
}

// timedOut says so when err is the client's timeout (not the caller's
// cancellation).
func (g *getter) timedOut(ctx context.Context, err error) error {
	var ne net.Error
	if ctx.Err() == nil && errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("%w (timed out after %s)", err, g.timeout)
	}
	return err
}
