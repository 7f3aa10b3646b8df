package registry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/credentials"
	"oras.land/oras-go/v2/registry/remote/errcode"
	"oras.land/oras-go/v2/registry/remote/retry"

	"github.com/kubectl-chart/kubectl-chart/internal/helmpath"
	"github.com/kubectl-chart/kubectl-chart/internal/transport"
)

// Options say how to reach a registry; every operation takes them.
type Options struct {
	// RegistryConfig is the docker-style credentials file (config.json).
	// Empty: Helm's, helmpath's RegistryConfig ($HELM_REGISTRY_CONFIG).
	RegistryConfig string
	// Username and Password, when both are set, are sent instead of the
	// stored credentials (--username/--password).
	Username string
	Password string
	// PlainHTTP talks HTTP instead of HTTPS (--plain-http).
	PlainHTTP bool
	// TLS are the --ca-file, --cert-file, --key-file and
	// --insecure-skip-tls-verify flags.
	TLS transport.TLSOptions
	// Timeout bounds each HTTP request (0: only the context bounds it).
	Timeout time.Duration
}

// DefaultOptions are the options with Helm's credentials file.
func DefaultOptions() Options {
	return Options{RegistryConfig: helmpath.New().RegistryConfig()}
}

// client is one operation's connection state: HTTP client, credentials,
// token cache, and which registries it sent credentials to.
type client struct {
	opts  Options
	store credentials.Store
	auth  *auth.Client

	mu   sync.Mutex
	sent map[string]bool
}

func newClient(o Options) (*client, error) {
	if o.RegistryConfig == "" {
		o.RegistryConfig = helmpath.New().RegistryConfig()
	}
	hc, err := transport.NewClient(transport.Options{TLS: o.TLS, Timeout: o.Timeout})
	if err != nil {
		return nil, err
	}
	hc.Transport = retry.NewTransport(hc.Transport)
	store, err := openStore(o.RegistryConfig)
	if err != nil {
		return nil, err
	}
	c := &client{opts: o, store: store, sent: map[string]bool{}}
	stored := credentials.Credential(store)
	c.auth = &auth.Client{
		Client: hc,
		Cache:  auth.NewCache(),
		Credential: func(ctx context.Context, hostport string) (auth.Credential, error) {
			cred := auth.Credential{Username: o.Username, Password: o.Password}
			if o.Username == "" || o.Password == "" {
				var err error
				if cred, err = stored(ctx, hostport); err != nil {
					return auth.EmptyCredential, fmt.Errorf("credentials for %s from %s: %w", hostport, o.RegistryConfig, err)
				}
			}
			if cred != auth.EmptyCredential {
				c.mu.Lock()
				c.sent[hostport] = true
				c.mu.Unlock()
			}
			return cred, nil
		},
	}
	c.auth.SetUserAgent(transport.UserAgent())
	return c, nil
}

// openStore opens the credentials file as Helm does: plaintext entries
// allowed, the platform's docker-credential helper used when the file names
// none and one is installed, Docker's own config.json as a fallback for
// reading.
func openStore(path string) (credentials.Store, error) {
	opts := credentials.StoreOptions{AllowPlaintextPut: true, DetectDefaultNativeStore: true}
	store, err := credentials.NewStore(path, opts)
	if err != nil {
		return nil, fmt.Errorf("registry config %s: %w", path, err)
	}
	docker, err := credentials.NewStoreFromDocker(opts)
	if err != nil {
		// Only when the home folder is unknown.
		return store, nil
	}
	return credentials.NewStoreWithFallbacks(store, docker), nil
}

func (c *client) repository(r Reference) (*remote.Repository, error) {
	repo, err := remote.NewRepository(r.Repo())
	if err != nil {
		return nil, err
	}
	repo.PlainHTTP = c.opts.PlainHTTP
	repo.Client = c.auth
	return repo, nil
}

func (c *client) credentialsSent(host string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sent[host]
}

// AuthError is a registry's 401 or 403.
type AuthError struct {
	// Registry is the host that refused.
	Registry string
	// StatusCode is 401 or 403.
	StatusCode int
	// CredentialsSent says whether credentials (stored, or --username and
	// --password) were sent; false means there were none for the registry.
	CredentialsSent bool
	// Err is the registry's answer.
	Err error
}

func (e *AuthError) Error() string {
	what := "no credentials were sent (none given or stored for it: log in first)"
	if e.CredentialsSent {
		what = "the credentials sent were rejected"
		if e.StatusCode == http.StatusForbidden {
			what = "the credentials sent do not grant access"
		}
	}
	return fmt.Sprintf("registry %s answered %d %s: %s: %v", e.Registry, e.StatusCode, http.StatusText(e.StatusCode), what, e.Err)
}

func (e *AuthError) Unwrap() error { return e.Err }

// NotFoundError says a repository, tag, manifest or blob is not in the registry.
type NotFoundError struct {
	// Ref is what was looked for (host/path/chart:tag, …@sha256:…).
	Ref string
	Err error
}

func (e *NotFoundError) Error() string { return fmt.Sprintf("%s: not found", e.Ref) }

func (e *NotFoundError) Unwrap() error { return e.Err }

// classify turns oras-go's errors for host into AuthError and NotFoundError.
func (c *client) classify(err error, host, ref string) error {
	if err == nil {
		return nil
	}
	var resp *errcode.ErrorResponse
	if errors.As(err, &resp) {
		switch resp.StatusCode {
		case http.StatusUnauthorized, http.StatusForbidden:
			return &AuthError{Registry: host, StatusCode: resp.StatusCode, CredentialsSent: c.credentialsSent(host), Err: err}
		case http.StatusNotFound:
			return &NotFoundError{Ref: ref, Err: err}
		}
	}
	if errors.Is(err, auth.ErrBasicCredentialNotFound) {
		// oras-go gives up before sending anything when a registry asks
		// for basic auth and there are no credentials.
		return &AuthError{Registry: host, StatusCode: http.StatusUnauthorized, Err: err}
	}
	if errors.Is(err, errdef.ErrNotFound) {
		return &NotFoundError{Ref: ref, Err: err}
	}
	return err
}
