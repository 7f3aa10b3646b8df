package registry

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/kubectl-chart/kubectl-chart/internal/testregistry"
	"github.com/kubectl-chart/kubectl-chart/internal/transport"
)

// The tests in this file compare with the Helm v4.3.1 oracle ($HELM) on the
// real registry; they skip when $HELM is unset.

var digestLine = regexp.MustCompile(`(?m)^Digest: (sha256:[0-9a-f]{64})$`)

func helmPushDigest(t *testing.T, out string) string {
	t.Helper()
	m := digestLine.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no digest in helm push output:\n%s", out)
	}
	return m[1]
}

// helm push and Push of the same archive (with and without a provenance
// file) give the same manifest, byte for byte: Helm stamps
// org.opencontainers.image.created from the archive's modification time, which
// both read.
func TestHelmPushSameDigest(t *testing.T) {
	helmBinary(t)
	config := isolate(t)
	reg := testregistry.Start(t, testregistry.Options{})
	ctx := context.Background()
	for _, withProv := range []bool{false, true} {
		name := "plain"
		if withProv {
			name = "prov"
		}
		t.Run(name, func(t *testing.T) {
			p := makeChart(t, "app", "1.2.3+meta.1")
			if withProv {
				write(t, p+".prov", "-----BEGIN PGP SIGNED MESSAGE-----\nnot really\n")
			}
			out, err := helm(t, t.TempDir(), config, "push", p, "oci://"+reg.Host+"/helm-"+name, "--plain-http")
			if err != nil {
				t.Fatalf("helm push: %v\n%s", err, out)
			}
			helmDigest := helmPushDigest(t, out)
			ours, err := Push(ctx, p, "oci://"+reg.Host+"/ours-"+name, PushOptions{Options: Options{PlainHTTP: true}})
			if err != nil {
				t.Fatal(err)
			}
			if ours.Digest != helmDigest {
				t.Errorf("digest %s, helm %s\nours: %s\nhelm: %s", ours.Digest, helmDigest, ours.Manifest,
					getManifest(t, reg.Host, "helm-"+name+"/app", "1.2.3_meta.1"))
			}
			if !strings.Contains(out, "Pushed: "+reg.Host+"/helm-"+name+"/app:1.2.3_meta.1\n") {
				t.Errorf("helm push said:\n%s", out)
			}
		})
	}
}

func TestHelmPushWePull(t *testing.T) {
	helmBinary(t)
	config := isolate(t)
	reg := testregistry.Start(t, testregistry.Options{})
	p := makeChart(t, "app", "0.3.0")
	out, err := helm(t, t.TempDir(), config, "push", p, "oci://"+reg.Host+"/charts", "--plain-http")
	if err != nil {
		t.Fatalf("helm push: %v\n%s", err, out)
	}
	got, err := Pull(context.Background(), "oci://"+reg.Host+"/charts/app", PullOptions{
		Options: Options{PlainHTTP: true}, Version: "0.3.0", Cache: newCache(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	if got.Digest != helmPushDigest(t, out) {
		t.Errorf("digest %s, helm pushed %s", got.Digest, helmPushDigest(t, out))
	}
	if string(readFile(t, got.ArchivePath)) != string(readFile(t, p)) {
		t.Error("pulled archive differs from the one helm pushed")
	}
}

func TestWePushHelmPulls(t *testing.T) {
	helmBinary(t)
	config := isolate(t)
	reg := testregistry.Start(t, testregistry.Options{})
	p := makeChart(t, "app", "0.4.0")
	res, err := Push(context.Background(), p, "oci://"+reg.Host+"/charts", PushOptions{Options: Options{PlainHTTP: true}})
	if err != nil {
		t.Fatal(err)
	}
	dest := t.TempDir()
	home := t.TempDir()
	out, err := helm(t, home, config, "pull", "oci://"+reg.Host+"/charts/app", "--version", "0.4.0", "--plain-http", "-d", dest)
	if err != nil {
		t.Fatalf("helm pull: %v\n%s", err, out)
	}
	if !strings.Contains(out, "Digest: "+res.Digest) {
		t.Errorf("helm pull said:\n%s\nwant digest %s", out, res.Digest)
	}
	if string(readFile(t, filepath.Join(dest, "app-0.4.0.tgz"))) != string(readFile(t, p)) {
		t.Error("helm pulled another archive")
	}
	out, err = helm(t, home, config, "template", "rel", "oci://"+reg.Host+"/charts/app", "--version", "0.4.0", "--plain-http")
	if err != nil {
		t.Fatalf("helm template: %v\n%s", err, out)
	}
	if !strings.Contains(out, "name: rel-cm") || !strings.Contains(out, "version: 0.4.0") {
		t.Errorf("helm template:\n%s", out)
	}
}

// A login made by helm registry login is used by Push, one made by Login by
// helm pull; both write the same file; helm registry logout undoes Login.
func TestHelmLoginInterop(t *testing.T) {
	helmBinary(t)
	isolate(t)
	reg := testregistry.Start(t, testregistry.Options{TLS: true, Users: map[string]string{"alice": "s3cret"}})
	ctx := context.Background()
	dir := t.TempDir()
	helmConfig, ourConfig := filepath.Join(dir, "helm.json"), filepath.Join(dir, "ours.json")

	cmdHome := t.TempDir()
	out, err := helmWithStdin(t, cmdHome, helmConfig, "s3cret\n", "registry", "login", reg.Host, "-u", "alice", "--password-stdin", "--ca-file", reg.CAFile)
	if err != nil || !strings.Contains(out, "Login Succeeded") {
		t.Fatalf("helm registry login: %v\n%s", err, out)
	}
	p := makeChart(t, "app", "1.0.0")
	if _, err := Push(ctx, p, "oci://"+reg.Host+"/charts", PushOptions{Options: Options{
		RegistryConfig: helmConfig, TLS: transport.TLSOptions{CAFile: reg.CAFile},
	}}); err != nil {
		t.Fatalf("push with helm's login: %v", err)
	}

	if err := Login(ctx, reg.Host, Options{RegistryConfig: ourConfig, Username: "alice", Password: "s3cret", TLS: transport.TLSOptions{CAFile: reg.CAFile}}); err != nil {
		t.Fatal(err)
	}
	if h, o := readFile(t, helmConfig), readFile(t, ourConfig); string(h) != string(o) {
		t.Errorf("credentials files differ:\nhelm:\n%s\nours:\n%s", h, o)
	}
	out, err = helm(t, cmdHome, ourConfig, "pull", "oci://"+reg.Host+"/charts/app", "--version", "1.0.0", "--ca-file", reg.CAFile, "-d", t.TempDir())
	if err != nil {
		t.Fatalf("helm pull with our login: %v\n%s", err, out)
	}
	out, err = helm(t, cmdHome, ourConfig, "registry", "logout", reg.Host)
	if err != nil {
		t.Fatalf("helm registry logout: %v\n%s", err, out)
	}
	if strings.Contains(string(readFile(t, ourConfig)), reg.Host) {
		t.Errorf("helm logout left our entry: %s", readFile(t, ourConfig))
	}
}

func helmWithStdin(t *testing.T, home, registryConfig, stdin string, args ...string) (string, error) {
	t.Helper()
	f := filepath.Join(t.TempDir(), "stdin")
	write(t, f, stdin)
	in, err := os.Open(f)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	old := helmStdin
	helmStdin = in
	defer func() { helmStdin = old }()
	return helm(t, home, registryConfig, args...)
}
