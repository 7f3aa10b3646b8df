package cmd

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kubectl-chart/kubectl-chart/internal/testregistry"
)

// TestRegistryLoginLogout logs in to a TLS registry with basic auth, pushes,
// logs out; with $HELM, helm's output and credentials file must be ours.
func TestRegistryLoginLogout(t *testing.T) {
	config := registryEnv(t)
	reg := testregistry.Start(t, testregistry.Options{TLS: true, Users: map[string]string{"bob": "pa55"}})
	archive := packageTestChart(t, "secure", "0.1.0")

	// Without a login, the push is refused, naming the registry.
	got := runChart(t, []string{"push", archive, "oci://" + reg.Host + "/c", "--ca-file", reg.CAFile}, "")
	if got.err == nil || !strings.Contains(got.err.Error(), "registry "+reg.Host+" answered 401 Unauthorized: no credentials were sent") {
		t.Fatalf("push without login: %v", got.err)
	}

	got = runChart(t, []string{"registry", "login", reg.Host, "-u", "bob", "--password-stdin", "--ca-file", reg.CAFile}, "wrong\n")
	if got.err == nil || !strings.Contains(got.err.Error(), "the credentials sent were rejected") {
		t.Fatalf("login with a wrong password: %v", got.err)
	}

	got = runChart(t, []string{"registry", "login", reg.Host, "-u", "bob", "--password-stdin", "--ca-file", reg.CAFile}, "pa55\n")
	if got.err != nil {
		t.Fatal(got.err)
	}
	if diff := cmp.Diff("Login Succeeded\n", got.stdout); diff != "" {
		t.Errorf("login output (-want +got):\n%s", diff)
	}
	wantFile := "{\n\t\"auths\": {\n\t\t\"" + reg.Host + "\": {\n\t\t\t\"auth\": \"" + base64.StdEncoding.EncodeToString([]byte("bob:pa55")) + "\"\n\t\t}\n\t}\n}"
	ours, err := os.ReadFile(config)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(wantFile, string(ours)); diff != "" {
		t.Errorf("config.json (-want +got):\n%s", diff)
	}

	got = runChart(t, []string{"push", archive, "oci://" + reg.Host + "/c", "--ca-file", reg.CAFile}, "")
	if got.err != nil {
		t.Fatalf("push after login: %v", got.err)
	}

	// Prompted credentials: username and password from standard input.
	got = runChart(t, []string{"registry", "login", reg.Host, "--ca-file", reg.CAFile}, "bob\npa55\n")
	if got.err != nil || got.stdout != "Username: Password: Login Succeeded\n" {
		t.Errorf("prompted login: %v %q", got.err, got.stdout)
	}

	got = runChart(t, []string{"registry", "logout", reg.Host}, "")
	if got.err != nil {
		t.Fatal(got.err)
	}
	if diff := cmp.Diff("Removing login credentials for "+reg.Host+"\n", got.stdout); diff != "" {
		t.Errorf("logout output (-want +got):\n%s", diff)
	}
	if b, _ := os.ReadFile(config); strings.Contains(string(b), reg.Host) {
		t.Errorf("logout left %s", b)
	}

	helm := helmBinary(t)
	if helm == "" {
		return
	}
	helmConfig := filepath.Join(t.TempDir(), "config.json")
	h := runHelmRegistry(t, helm, helmConfig, "pa55\n", "registry", "login", reg.Host, "-u", "bob", "--password-stdin", "--ca-file", reg.CAFile)
	if h.err != nil {
		t.Fatalf("helm registry login: %v\n%s", h.err, h.stderr)
	}
	if h.stdout != "Login Succeeded\n" {
		t.Errorf("helm login said %q", h.stdout)
	}
	if b, _ := os.ReadFile(helmConfig); string(b) != wantFile {
		t.Errorf("helm's config.json:\n%s\nwant (ours):\n%s", b, wantFile)
	}
	// Our push with helm's login.
	got = runChart(t, []string{"push", archive, "oci://" + reg.Host + "/c2", "--ca-file", reg.CAFile, "--registry-config", helmConfig}, "")
	if got.err != nil {
		t.Errorf("push with helm's login: %v", got.err)
	}
	h = runHelmRegistry(t, helm, helmConfig, "", "registry", "logout", reg.Host)
	if h.err != nil || h.stdout != "Removing login credentials for "+reg.Host+"\n" {
		t.Errorf("helm logout: %v %q", h.err, h.stdout)
	}
}
