package registry

import (
	"context"
	"fmt"
	"strings"

	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/credentials"
)

// Login checks o.Username and o.Password against the registry host and, when
// it accepts them, stores them in o.RegistryConfig under the key Docker and
// Helm use (docker.io is https://index.docker.io/v1/), or in the credential
// helper the file names. As in Helm, only a host is meaningful: a path after
// it is ignored by the check (HostHasPath tells the caller to warn).
func Login(ctx context.Context, host string, o Options) error {
	c, err := newClient(o)
	if err != nil {
		return err
	}
	reg, err := remote.NewRegistry(host)
	if err != nil {
		return err
	}
	reg.PlainHTTP = o.PlainHTTP
	cred := auth.Credential{Username: o.Username, Password: o.Password}
	stored := c.auth.Credential
	c.auth.Credential = func(ctx context.Context, hostport string) (auth.Credential, error) {
		if hostport != reg.Reference.Registry {
			return stored(ctx, hostport)
		}
		c.mu.Lock()
		c.sent[hostport] = cred != auth.EmptyCredential
		c.mu.Unlock()
		return cred, nil
	}
	reg.Client = c.auth

	// As Helm: try an OAuth2 token request first (registries that only hand
	// tokens to POST), then the default (GET with basic auth).
	c.auth.ForceAttemptOAuth2 = true
	if err := reg.Ping(ctx); err != nil {
		c.auth.ForceAttemptOAuth2 = false
		if err := reg.Ping(ctx); err != nil {
			return fmt.Errorf("authenticating to %q: %w", host, c.classify(err, reg.Reference.Registry, host))
		}
	}
	c.auth.ForceAttemptOAuth2 = false

	key := credentials.ServerAddressFromHostname(credentials.ServerAddressFromRegistry(host))
	if err := c.store.Put(ctx, key, cred); err != nil {
		return fmt.Errorf("store credentials for %s in %s: %w", key, c.opts.RegistryConfig, err)
	}
	return nil
}

// Logout removes the credentials stored for host. Removing credentials that
// are not there is not an error (Helm says it removed them either way).
func Logout(ctx context.Context, host string, o Options) error {
	c, err := newClient(o)
	if err != nil {
		return err
	}
	return credentials.Logout(ctx, c.store, host)
}

// HostHasPath reports whether a login host has a repository path after the
// host name (registry login only supports a host), and the host alone.
func HostHasPath(host string) (bool, string) {
	h, _, found := strings.Cut(host, "/")
	return found, h
}
