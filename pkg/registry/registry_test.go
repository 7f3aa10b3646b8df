package registry

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/kubectl-chart/kubectl-chart/internal/chartcache"
	"github.com/kubectl-chart/kubectl-chart/internal/testregistry"
	"github.com/kubectl-chart/kubectl-chart/internal/transport"
)

// Every test here talks to the real registry (internal/testregistry).

func TestPushPullRoundtrip(t *testing.T) {
	isolate(t)
	reg := testregistry.Start(t, testregistry.Options{})
	ctx := context.Background()
	opts := Options{PlainHTTP: true}
	remote := "oci://" + reg.Host + "/charts"

	pushed := map[string]*PushResult{}
	archives := map[string]string{}
	for _, v := range []string{"0.1.0", "0.2.0", "1.0.0", "1.1.0-rc.1", "1.0.1+build.5"} {
		p := makeChart(t, "app", v)
		res, err := Push(ctx, p, remote, PushOptions{Options: opts})
		if err != nil {
			t.Fatalf("push %s: %v", v, err)
		}
		pushed[v], archives[v] = res, p
	}
	if got, want := pushed["1.0.1+build.5"].Ref, reg.Host+"/charts/app:1.0.1_build.5"; got != want {
		t.Errorf("ref %q, want %q", got, want)
	}
	// The registry holds exactly the manifest we built.
	res := pushed["0.1.0"]
	if got := getManifest(t, reg.Host, "charts/app", "0.1.0"); string(got) != string(res.Manifest) {
		t.Errorf("stored manifest\n%s\nwant\n%s", got, res.Manifest)
	}

	tags, err := Tags(ctx, remote+"/app", opts)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"1.1.0-rc.1", "1.0.1+build.5", "1.0.0", "0.2.0", "0.1.0"}, tags); diff != "" {
		t.Errorf("tags (-want +got):\n%s", diff)
	}

	cases := []struct {
		name, ref, version, want string
		devel                    bool
	}{
		{name: "devel", ref: remote + "/app", devel: true, want: "1.1.0-rc.1"},
		{name: "devel with a tag", ref: remote + "/app:1.0.0", devel: true, want: "1.0.0"},
		{name: "exact version", ref: remote + "/app", version: "0.2.0", want: "0.2.0"},
		{name: "caret", ref: remote + "/app", version: "^0.1", want: "0.1.0"},
		{name: "constraint", ref: remote + "/app", version: "^0", want: "0.2.0"},
		{name: "range", ref: remote + "/app", version: ">=0.1.0 <1.0.0", want: "0.2.0"},
		{name: "highest stable", ref: remote + "/app", want: "1.0.1+build.5"},
		{name: "prerelease constraint", ref: remote + "/app", version: ">=1.1.0-0", want: "1.1.0-rc.1"},
		{name: "build metadata", ref: remote + "/app", version: "1.0.1+build.5", want: "1.0.1+build.5"},
		{name: "tag", ref: remote + "/app:1.0.0", want: "1.0.0"},
		{name: "tag with build metadata", ref: remote + "/app:1.0.1_build.5", want: "1.0.1+build.5"},
		{name: "tag with plus", ref: remote + "/app:1.0.1+build.5", want: "1.0.1+build.5"},
		{name: "tag and same version", ref: remote + "/app:1.0.0", version: "1.0.0", want: "1.0.0"},
		{name: "digest", ref: remote + "/app@" + pushed["0.1.0"].Digest, want: "0.1.0"},
		{name: "digest and matching version", ref: remote + "/app@" + pushed["1.0.0"].Digest, version: "1.0.0", want: "1.0.0"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Pull(ctx, tc.ref, PullOptions{Options: opts, Version: tc.version, Devel: tc.devel, Cache: newCache(t)})
			if err != nil {
				t.Fatal(err)
			}
			if got.Version != tc.want {
				t.Fatalf("version %q, want %q", got.Version, tc.want)
			}
			if got.Digest != pushed[tc.want].Digest {
				t.Errorf("digest %s, want %s", got.Digest, pushed[tc.want].Digest)
			}
			if string(readFile(t, got.ArchivePath)) != string(readFile(t, archives[tc.want])) {
				t.Error("pulled archive differs from the pushed one")
			}
			if got.ChartDigest != pushed[tc.want].ChartDigest || got.Prov != nil || got.Name != "app" {
				t.Errorf("result %+v", got)
			}
			r, err := Resolve(ctx, tc.ref, PullOptions{Options: opts, Version: tc.version, Devel: tc.devel})
			if err != nil {
				t.Fatal(err)
			}
			if r.Digest != got.Digest || r.Ref.String() != got.Ref {
				t.Errorf("Resolve = %+v, Pull = %s %s", r, got.Ref, got.Digest)
			}
		})
	}
}

func TestPushWithProvenance(t *testing.T) {
	isolate(t)
	reg := testregistry.Start(t, testregistry.Options{})
	ctx := context.Background()
	p := makeChart(t, "signed", "1.0.0")
	prov := "-----BEGIN PGP SIGNED MESSAGE-----\nnot really\n"
	write(t, p+".prov", prov)
	res, err := Push(ctx, p, "oci://"+reg.Host+"/charts", PushOptions{Options: Options{PlainHTTP: true}})
	if err != nil {
		t.Fatal(err)
	}
	if res.ProvDigest == "" {
		t.Fatal("ARCHIVE.prov was not pushed")
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(getManifest(t, reg.Host, "charts/signed", "1.0.0"), &m); err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, l := range m.Layers {
		types = append(types, l.MediaType)
	}
	if len(types) != 2 || m.Layers[0].Digest > m.Layers[1].Digest {
		t.Errorf("layers %+v", m.Layers)
	}
	got, err := Pull(ctx, "oci://"+reg.Host+"/charts/signed", PullOptions{Options: Options{PlainHTTP: true}, Version: "1.0.0", Cache: newCache(t)})
	if err != nil {
		t.Fatal(err)
	}
	if string(got.Prov) != prov || got.ProvDigest != res.ProvDigest {
		t.Errorf("prov %q (%s)", got.Prov, got.ProvDigest)
	}
}

func TestPushErrors(t *testing.T) {
	isolate(t)
	ctx := context.Background()
	p := makeChart(t, "app", "1.0.0")
	cases := []struct {
		name, archive, remote, want string
	}{
		{name: "missing archive", archive: filepath.Join(t.TempDir(), "nope.tgz"), remote: "oci://r.io/x", want: "nope.tgz: no such file"},
		{name: "directory", archive: t.TempDir(), remote: "oci://r.io/x", want: "cannot push directory, must provide chart archive (.tgz)"},
		{name: "no scheme", archive: p, remote: "r.io/x", want: `scheme prefix missing from remote (e.g. "oci://")`},
		{name: "other scheme", archive: p, remote: "https://r.io/x", want: `scheme "https" not supported`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Push(ctx, tc.archive, tc.remote, PushOptions{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err %v, want %q", err, tc.want)
			}
		})
	}
}

func TestPullErrors(t *testing.T) {
	isolate(t)
	reg := testregistry.Start(t, testregistry.Options{})
	ctx := context.Background()
	opts := Options{PlainHTTP: true}
	remote := "oci://" + reg.Host + "/charts"
	a, err := Push(ctx, makeChart(t, "app", "1.0.0"), remote, PushOptions{Options: opts})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Push(ctx, makeChart(t, "app", "2.0.0"), remote, PushOptions{Options: opts})
	if err != nil {
		t.Fatal(err)
	}

	var notFound *NotFoundError
	cases := []struct {
		name, ref, version, want string
		is                       any
	}{
		{name: "missing tag", ref: remote + "/app", version: "9.9.9", want: reg.Host + "/charts/app:9.9.9: not found", is: &notFound},
		{name: "missing repository", ref: remote + "/nope", want: "charts/nope: not found", is: &notFound},
		{name: "no matching version", ref: remote + "/app", version: "^3", want: "could not locate a version matching provided version string ^3"},
		{name: "tag and version differ", ref: remote + "/app:1.0.0", version: "2.0.0", want: "chart reference and version mismatch: 2.0.0 is not 1.0.0"},
		{name: "digest and tag differ", ref: remote + "/app@" + a.Digest, version: "2.0.0", want: "chart reference digest mismatch: " + b.Digest + " is not " + a.Digest},
		{name: "unknown digest", ref: remote + "/app@sha256:" + strings.Repeat("0", 64), want: "not found", is: &notFound},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cache := newCache(t)
			_, err := Pull(ctx, tc.ref, PullOptions{Options: opts, Version: tc.version, Cache: cache})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want %q", err, tc.want)
			}
			if tc.is != nil && !errors.As(err, tc.is) {
				t.Errorf("err %T %v is not a %T", err, err, tc.is)
			}
			assertNoBlobs(t, cache)
		})
	}
}

// A registry that serves a corrupted layer: the pull fails with a digest
// mismatch and leaves no archive in the cache.
func TestPullDigestMismatch(t *testing.T) {
	isolate(t)
	reg := testregistry.Start(t, testregistry.Options{})
	ctx := context.Background()
	opts := Options{PlainHTTP: true}
	res, err := Push(ctx, makeChart(t, "app", "1.0.0"), "oci://"+reg.Host+"/charts", PushOptions{Options: opts})
	if err != nil {
		t.Fatal(err)
	}
	hex := strings.TrimPrefix(res.ChartDigest, "sha256:")
	data := filepath.Join(reg.Dir, "storage", "docker", "registry", "v2", "blobs", "sha256", hex[:2], hex, "data")
	b := readFile(t, data)
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(data, b, 0o600); err != nil {
		t.Fatal(err)
	}
	cache := newCache(t)
	_, err = Pull(ctx, "oci://"+reg.Host+"/charts/app", PullOptions{Options: opts, Version: "1.0.0", Cache: cache})
	var mismatch *chartcache.DigestMismatchError
	if !errors.As(err, &mismatch) {
		t.Fatalf("err %v, want a digest mismatch", err)
	}
	if _, ok := cache.Lookup(res.ChartDigest); ok {
		t.Error("the corrupted layer is in the cache")
	}
	if entries, _ := filepath.Glob(filepath.Join(cache.Root(), "blobs", "sha256", ".incoming-*")); len(entries) > 0 {
		t.Errorf("partial files left: %v", entries)
	}
}

func assertNoBlobs(t *testing.T, c *chartcache.Cache) {
	t.Helper()
	entries, _ := filepath.Glob(filepath.Join(c.Root(), "blobs", "sha256", "*"))
	for _, e := range entries {
		// A manifest or config fetched before the failure may stay: it is
		// whole and verified. Partial downloads may not.
		if strings.HasPrefix(filepath.Base(e), ".incoming-") {
			t.Errorf("partial file left: %s", e)
		}
	}
}

// Requests counted by a loopback proxy in front of the registry: a pull whose
// blobs are cached sends at most one request, none by digest.
func TestPullCache(t *testing.T) {
	isolate(t)
	reg := testregistry.Start(t, testregistry.Options{})
	proxy := testregistry.NewProxy(t, reg)
	ctx := context.Background()
	opts := Options{PlainHTTP: true}
	remote := "oci://" + proxy.Host + "/charts"
	res, err := Push(ctx, makeChart(t, "app", "1.0.0"), remote, PushOptions{Options: opts})
	if err != nil {
		t.Fatal(err)
	}
	cache := newCache(t)
	pull := func(ref, version string) (*PullResult, []string) {
		t.Helper()
		proxy.Reset()
		got, err := Pull(ctx, ref, PullOptions{Options: opts, Version: version, Cache: cache})
		if err != nil {
			t.Fatal(err)
		}
		return got, proxy.Requests()
	}
	byDigest := remote + "/app@" + res.Digest
	first, reqs := pull(byDigest, "")
	if len(reqs) != 3 {
		t.Errorf("cold pull by digest: %d requests, want 3 (manifest, config, layer): %v", len(reqs), reqs)
	}
	if _, reqs := pull(byDigest, ""); len(reqs) != 0 {
		t.Errorf("cached pull by digest: %v, want no request", reqs)
	}
	if _, reqs := pull(remote+"/app", "1.0.0"); len(reqs) != 1 {
		t.Errorf("cached pull by version: %v, want one request (the manifest)", reqs)
	}
	again, reqs := pull(remote+"/app:1.0.0", "")
	if len(reqs) != 1 {
		t.Errorf("cached pull by tag: %v, want one request", reqs)
	}
	if again.ArchivePath != first.ArchivePath || again.Digest != first.Digest {
		t.Errorf("cached pull %+v, first %+v", again, first)
	}
}

// TLS with a test CA and htpasswd basic auth: refused without credentials,
// with wrong ones, and without the CA; login stores docker's format; push and
// pull then work; logout removes the entry.
func TestAuthTLS(t *testing.T) {
	config := isolate(t)
	reg := testregistry.Start(t, testregistry.Options{TLS: true, Users: map[string]string{"alice": "s3cret"}})
	ctx := context.Background()
	tlsOpts := transport.TLSOptions{CAFile: reg.CAFile}
	opts := Options{RegistryConfig: config, TLS: tlsOpts}
	remote := "oci://" + reg.Host + "/charts"
	p := makeChart(t, "app", "1.0.0")

	_, err := Push(ctx, p, remote, PushOptions{Options: opts})
	var authErr *AuthError
	if !errors.As(err, &authErr) || authErr.CredentialsSent || authErr.StatusCode != 401 || authErr.Registry != reg.Host {
		t.Fatalf("push without login: %v", err)
	}
	if !strings.Contains(err.Error(), "registry "+reg.Host+" answered 401 Unauthorized: no credentials were sent") {
		t.Errorf("message %q", err)
	}

	_, err = Pull(ctx, remote+"/app", PullOptions{Options: Options{RegistryConfig: config}, Version: "1.0.0", Cache: newCache(t)})
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("pull without the CA: %v", err)
	}

	bad := opts
	bad.Username, bad.Password = "alice", "wrong"
	err = Login(ctx, reg.Host, bad)
	if !errors.As(err, &authErr) || !authErr.CredentialsSent {
		t.Fatalf("login with a wrong password: %v", err)
	}
	if _, statErr := os.Stat(config); statErr == nil {
		t.Error("a failed login wrote the credentials file")
	}

	good := opts
	good.Username, good.Password = "alice", "s3cret"
	if err := Login(ctx, reg.Host, good); err != nil {
		t.Fatal(err)
	}
	// Docker's format (docker login writes the same): tab-indented, one
	// base64 "user:password" per server address.
	want := "{\n\t\"auths\": {\n\t\t\"" + reg.Host + "\": {\n\t\t\t\"auth\": \"" +
		base64.StdEncoding.EncodeToString([]byte("alice:s3cret")) + "\"\n\t\t}\n\t}\n}"
	if got := string(readFile(t, config)); got != want {
		t.Errorf("config.json\n%s\nwant\n%s", got, want)
	}

	res, err := Push(ctx, p, remote, PushOptions{Options: opts})
	if err != nil {
		t.Fatalf("push after login: %v", err)
	}
	got, err := Pull(ctx, remote+"/app", PullOptions{Options: opts, Version: "1.0.0", Cache: newCache(t)})
	if err != nil {
		t.Fatalf("pull after login: %v", err)
	}
	if got.Digest != res.Digest {
		t.Errorf("pulled %s, pushed %s", got.Digest, res.Digest)
	}

	// --username/--password without a login.
	if err := Logout(ctx, reg.Host, opts); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(readFile(t, config)), reg.Host) {
		t.Errorf("logout left the entry: %s", readFile(t, config))
	}
	if _, err := Pull(ctx, remote+"/app", PullOptions{Options: good, Version: "1.0.0", Cache: newCache(t)}); err != nil {
		t.Errorf("pull with --username/--password: %v", err)
	}
	if err := Logout(ctx, reg.Host, opts); err != nil {
		t.Errorf("second logout: %v", err)
	}
}
