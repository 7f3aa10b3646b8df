package cmd

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	"github.com/google/go-cmp/cmp"

	"github.com/kubectl-chart/kubectl-chart/pkg/provenance"
	"github.com/kubectl-chart/kubectl-chart/pkg/provenance/provenancetest"
)

const signChart = "pkg/provenance/testdata/signtest"

// verifiedOutput is what helm verify prints for k's signature of archive.
func verifiedOutput(t *testing.T, k *provenancetest.Key, archive string) string {
	t.Helper()
	data, err := os.ReadFile(archive)
	if err != nil {
		t.Fatal(err)
	}
	return "Signed by: " + k.Identity + "\n" +
		"Using Key With Fingerprint: " + k.Fingerprint + "\n" +
		"Chart Hash Verified: sha256:" + provenance.Digest(data) + "\n"
}

// TestPackageSignVerify signs with package --sign, each way of giving the
// passphrase, and verifies with verify and both public keyrings.
func TestPackageSignVerify(t *testing.T) {
	atRepoRoot(t)
	keys := t.TempDir()
	plain := provenancetest.NewKey(t, keys, "Test Signer", "signer@example.com", "")
	locked := provenancetest.NewKey(t, keys, "Locked Signer", "locked@example.com", "s3cret")
	passFile := filepath.Join(keys, "passphrase")
	if err := os.WriteFile(passFile, []byte("s3cret\nignored\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		key   *provenancetest.Key
		args  []string
		stdin string
		env   string
	}{
		{name: "no passphrase", key: plain, args: []string{"--key", "signer@example.com"}},
		{name: "passphrase file", key: locked, args: []string{"--key", "Locked", "--passphrase-file", passFile}},
		{name: "passphrase on stdin", key: locked, args: []string{"--key", "Locked", "--passphrase-file", "-"}, stdin: "s3cret\n"},
		{name: "HELM_KEY_PASSPHRASE", key: locked, args: []string{"--key", "Locked"}, env: "s3cret"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.env != "" {
				t.Setenv("HELM_KEY_PASSPHRASE", tc.env)
			}
			dest := t.TempDir()
			args := append([]string{"package", signChart, "-d", dest, "--sign", "--keyring", tc.key.SecretKeyring}, tc.args...)
			got := runChart(t, args, tc.stdin)
			if got.err != nil {
				t.Fatal(got.err)
			}
			archive := filepath.Join(dest, "signtest-0.1.0.tgz")
			if diff := cmp.Diff("Successfully packaged chart and saved it to: "+archive+"\n", got.stdout); diff != "" {
				t.Errorf("package output (-want +got):\n%s", diff)
			}
			for _, keyring := range []string{tc.key.PublicKeyring, tc.key.ArmoredPublicKeyring} {
				v := runChart(t, []string{"verify", archive, "--keyring", keyring}, "")
				if v.err != nil {
					t.Fatalf("verify with %s: %v", keyring, v.err)
				}
				if diff := cmp.Diff(verifiedOutput(t, tc.key, archive), v.stdout); diff != "" {
					t.Errorf("verify output (-want +got):\n%s", diff)
				}
			}
		})
	}
}

func TestPackageSignErrors(t *testing.T) {
	atRepoRoot(t)
	t.Setenv("HELM_KEY_PASSPHRASE", "")
	os.Unsetenv("HELM_KEY_PASSPHRASE")
	keys := t.TempDir()
	plain := provenancetest.NewKey(t, keys, "Test Signer", "signer@example.com", "")
	locked := provenancetest.NewKey(t, keys, "Locked Signer", "locked@example.com", "s3cret")
	wrongPass := filepath.Join(keys, "wrong")
	if err := os.WriteFile(wrongPass, []byte("wrong\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{name: "no --key", args: []string{"--keyring", plain.SecretKeyring}, wantErr: "--key is required for signing a package"},
		{name: "empty --keyring", args: []string{"--key", "x", "--keyring", ""}, wantErr: "--keyring is required for signing a package"},
		{name: "no such key", args: []string{"--key", "nobody", "--keyring", plain.SecretKeyring}, wantErr: "private key not found"},
		{name: "public keyring", args: []string{"--key", "signer", "--keyring", plain.PublicKeyring}, wantErr: "provided key is not a private key. Try providing a keyring with secret keys"},
		{name: "no keyring file", args: []string{"--key", "signer", "--keyring", filepath.Join(keys, "none.gpg")}, wantErr: "open " + filepath.Join(keys, "none.gpg") + ": no such file or directory"},
		{name: "no passphrase", args: []string{"--key", "Locked", "--keyring", locked.SecretKeyring},
			wantErr: `key "Locked Signer (kubectl-chart test) <locked@example.com>" is protected by a passphrase: give it with --passphrase-file or $HELM_KEY_PASSPHRASE`},
		{name: "wrong passphrase", args: []string{"--key", "Locked", "--keyring", locked.SecretKeyring, "--passphrase-file", wrongPass}, wantErr: "openpgp: invalid data: private key checksum failure"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dest := t.TempDir()
			got := runChart(t, append([]string{"package", signChart, "-d", dest, "--sign"}, tc.args...), "")
			if got.exit() != 1 {
				t.Fatalf("exit code %d, want 1; output:\n%s", got.exit(), got.text())
			}
			if diff := cmp.Diff(tc.wantErr, got.err.Error()); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
			// The key is unlocked before anything is written.
			if entries, _ := os.ReadDir(dest); len(entries) != 0 {
				t.Errorf("%d files written", len(entries))
			}
		})
	}
}

// TestVerifyErrors: a chart that does not verify exits 1 with Helm's
// message.
func TestVerifyErrors(t *testing.T) {
	atRepoRoot(t)
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	keys := t.TempDir()
	k := provenancetest.NewKey(t, keys, "Test Signer", "signer@example.com", "")
	other := provenancetest.NewKey(t, keys, "Other Signer", "other@example.com", "")
	dest := t.TempDir()
	if got := runChart(t, []string{"package", signChart, "-d", dest, "--sign", "--key", "signer", "--keyring", k.SecretKeyring}, ""); got.err != nil {
		t.Fatal(got.err)
	}
	archive := filepath.Join(dest, "signtest-0.1.0.tgz")
	data, err := os.ReadFile(archive)
	if err != nil {
		t.Fatal(err)
	}
	prov, err := os.ReadFile(archive + ".prov")
	if err != nil {
		t.Fatal(err)
	}
	// write puts a copy of the archive and its provenance file in a folder
	// of their own.
	write := func(archiveData, provData []byte) string {
		dir := t.TempDir()
		p := filepath.Join(dir, "signtest-0.1.0.tgz")
		if err := os.WriteFile(p, archiveData, 0o644); err != nil {
			t.Fatal(err)
		}
		if provData != nil {
			if err := os.WriteFile(p+".prov", provData, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return p
	}
	tampered := append(bytes.Clone(data), '\n')
	unsigned := write(data, nil)
	tests := []struct {
		name, archive, keyring, wantErr string
	}{
		{name: "unsigned", archive: unsigned, keyring: k.PublicKeyring,
			wantErr: "could not load provenance file " + unsigned + ".prov: stat " + unsigned + ".prov: no such file or directory"},
		{name: "tampered archive", archive: write(tampered, prov), keyring: k.PublicKeyring,
			wantErr: `sha256 sum does not match for signtest-0.1.0.tgz: "sha256:` + provenance.Digest(data) + `" != "sha256:` + provenance.Digest(tampered) + `"`},
		{name: "tampered provenance", archive: write(data, bytes.Replace(prov, []byte("name: signtest"), []byte("name: signtext"), 1)), keyring: k.PublicKeyring,
			wantErr: "openpgp: invalid signature: RSA verification failure"},
		{name: "not signed", archive: write(data, []byte("name: signtest\n")), keyring: k.PublicKeyring, wantErr: "signature block not found"},
		{name: "wrong keyring", archive: archive, keyring: other.PublicKeyring, wantErr: "openpgp: signature made by unknown entity"},
		{name: "not a tgz", archive: filepath.Join(signChart, "Chart.yaml"), keyring: k.PublicKeyring, wantErr: "chart must be a tgz file"},
		{name: "a folder", archive: signChart, keyring: k.PublicKeyring, wantErr: "unpacked charts cannot be verified"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := runChart(t, []string{"verify", tc.archive, "--keyring", tc.keyring}, "")
			if got.exit() != 1 {
				t.Fatalf("exit code %d, want 1; output:\n%s", got.exit(), got.text())
			}
			if diff := cmp.Diff(tc.wantErr, got.err.Error()); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
			if got.stdout != "" {
				t.Errorf("printed %q", got.stdout)
			}
		})
	}
}

// TestSignHelm checks signing and verifying against Helm v4.3.1 ($HELM):
// a chart signed by helm package --sign verifies with ours, one signed by
// ours verifies with helm verify, both print the same, and Helm's signed
// body is ours byte for byte (the archives are, with SOURCE_DATE_EPOCH).
func TestSignHelm(t *testing.T) {
	root := atRepoRoot(t)
	helm := helmBinary(t)
	if helm == "" {
		t.Skip("HELM is not set: the Helm v4.3.1 oracle is needed to check interoperability")
	}
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	keys := t.TempDir()
	passFile := filepath.Join(keys, "passphrase")
	if err := os.WriteFile(passFile, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, passphrase := range []string{"", "s3cret"} {
		k := provenancetest.NewKey(t, keys, "Test Signer", "signer@example.com", passphrase)
		signArgs := []string{"--sign", "--key", "signer@example.com", "--keyring", k.SecretKeyring}
		if passphrase != "" {
			signArgs = append(signArgs, "--passphrase-file", passFile)
		}
		t.Run("passphrase "+passphrase, func(t *testing.T) {
			helmDest, ourDest := t.TempDir(), t.TempDir()
			hp := runHelm(t, helm, root, append([]string{"package", signChart, "-d", helmDest}, signArgs...)...)
			if hp.err != nil {
				t.Fatalf("helm package --sign: %v", hp.err)
			}
			if got := runChart(t, append([]string{"package", signChart, "-d", ourDest}, signArgs...), ""); got.err != nil {
				t.Fatal(got.err)
			}
			helmArchive := filepath.Join(helmDest, "signtest-0.1.0.tgz")
			ourArchive := filepath.Join(ourDest, "signtest-0.1.0.tgz")

			// Helm's signature verifies with ours, and ours with Helm's.
			ours := runChart(t, []string{"verify", helmArchive, "--keyring", k.PublicKeyring}, "")
			if ours.err != nil {
				t.Fatalf("verifying Helm's signature: %v", ours.err)
			}
			hv := runHelm(t, helm, root, "verify", ourArchive, "--keyring", k.PublicKeyring)
			if hv.err != nil {
				t.Fatalf("helm verify of our signature: %v", hv.err)
			}
			if diff := cmp.Diff(hv.stdout, ours.stdout); diff != "" {
				t.Errorf("verify output (-helm +ours):\n%s", diff)
			}

			// The same body is signed.
			bodies := map[string][]byte{}
			for who, archive := range map[string]string{"helm": helmArchive, "ours": ourArchive} {
				prov, err := os.ReadFile(archive + ".prov")
				if err != nil {
					t.Fatal(err)
				}
				block, _ := clearsign.Decode(prov)
				if block == nil {
					t.Fatalf("%s: no signed message in\n%s", who, prov)
				}
				if h := block.Headers.Get("Hash"); h != "SHA512" {
					t.Errorf("%s: hash %q", who, h)
				}
				bodies[who] = block.Plaintext
			}
			if diff := cmp.Diff(string(bodies["helm"]), string(bodies["ours"])); diff != "" {
				t.Errorf("signed body (-helm +ours):\n%s", diff)
			}
		})
	}

	// Failures are Helm's.
	k := provenancetest.NewKey(t, keys, "Test Signer", "signer@example.com", "")
	other := provenancetest.NewKey(t, keys, "Other Signer", "other@example.com", "")
	dest := t.TempDir()
	if got := runChart(t, []string{"package", signChart, "-d", dest, "--sign", "--key", "signer", "--keyring", k.SecretKeyring}, ""); got.err != nil {
		t.Fatal(got.err)
	}
	archive := filepath.Join(dest, "signtest-0.1.0.tgz")
	unsignedDir := t.TempDir()
	unsigned := filepath.Join(unsignedDir, "signtest-0.1.0.tgz")
	data, err := os.ReadFile(archive)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(unsigned, data, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"verify", archive, "--keyring", other.PublicKeyring},
		{"verify", unsigned, "--keyring", k.PublicKeyring},
	} {
		h := runHelm(t, helm, root, args...)
		ours := runChart(t, args, "")
		if h.err == nil || ours.err == nil {
			t.Fatalf("%s: helm error %v, ours %v", strings.Join(args, " "), h.err, ours.err)
		}
		if diff := cmp.Diff(h.err.Error(), ours.err.Error()); diff != "" {
			t.Errorf("%s: error (-helm +ours):\n%s", strings.Join(args, " "), diff)
		}
	}
}
