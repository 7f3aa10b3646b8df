package provenance

import (
	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/kubectl-chart/kubectl-chart/pkg/chart"
	"github.com/kubectl-chart/kubectl-chart/pkg/chart/loader"
	"github.com/kubectl-chart/kubectl-chart/pkg/chart/packager"
	"github.com/kubectl-chart/kubectl-chart/pkg/provenance/provenancetest"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// packageChart packs testdata/signtest into dir with every file stamped
// 2023-11-14 (SOURCE_DATE_EPOCH=1700000000), so the archive's bytes, and
// its hash, are always the same.
func packageChart(t *testing.T, dir string) string {
	t.Helper()
	ch, err := loader.LoadDir("testdata/signtest")
	if err != nil {
		t.Fatal(err)
	}
	stamp(ch, time.Unix(1700000000, 0).UTC())
	name, err := packager.Save(ch, dir)
	if err != nil {
		t.Fatal(err)
	}
	return name
}

func stamp(ch *chart.Chart, t time.Time) {
	for _, files := range [][]*chart.File{ch.Raw, ch.Templates, ch.Files} {
		for _, f := range files {
			f.ModTime = t
		}
	}
	for _, d := range ch.Dependencies() {
		stamp(d, t)
	}
}

// signer is the unlocked key of k, read from its secret keyring.
func signer(t *testing.T, k *provenancetest.Key, passphrase string) *openpgp.Entity {
	t.Helper()
	ring, err := LoadKeyring(k.SecretKeyring)
	if err != nil {
		t.Fatal(err)
	}
	e, err := FindKey(ring, k.Identity)
	if err != nil {
		t.Fatal(err)
	}
	if err := Unlock(e, func(string) ([]byte, error) { return []byte(passphrase), nil }); err != nil {
		t.Fatal(err)
	}
	return e
}

func checkGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to write it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", path, diff)
	}
}

// TestSignVerify signs a packaged chart and verifies it, with the binary and
// the armored public keyring. The signed body is compared with a golden file
// written from our own output: that it is Helm's body is shown by
// internal/cmd's TestSignHelm, which runs Helm on the same chart and time.
func TestSignVerify(t *testing.T) {
	dir := t.TempDir()
	k := provenancetest.NewKey(t, dir, "Test Signer", "signer@example.com", "")
	archive := packageChart(t, dir)
	prov, err := Sign(t.Context(), archive, signer(t, k, ""))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := clearsign.Decode(prov)
	if block == nil {
		t.Fatalf("not a clear-signed message:\n%s", prov)
	}
	if got := block.Headers.Get("Hash"); got != "SHA512" {
		t.Errorf("hash %q, want SHA512", got)
	}
	checkGolden(t, "testdata/signtest-0.1.0.tgz.prov.body", block.Plaintext)

	if err := os.WriteFile(archive+".prov", prov, 0o644); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(archive)
	if err != nil {
		t.Fatal(err)
	}
	want := &Verification{
		SignedBy:    []string{"Test Signer (kubectl-chart test) <signer@example.com>"},
		Fingerprint: k.Fingerprint,
		FileHash:    "sha256:" + Digest(data),
		FileName:    "signtest-0.1.0.tgz",
	}
	for _, keyring := range []string{k.PublicKeyring, k.ArmoredPublicKeyring, k.SecretKeyring} {
		got, err := VerifyFile(t.Context(), archive, "", keyring)
		if err != nil {
			t.Fatalf("%s: %v", keyring, err)
		}
		if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(Verification{}, "Signer")); diff != "" {
			t.Errorf("%s: verification (-want +got):\n%s", keyring, diff)
		}
	}
}

// TestMessageBody is the body of a chart with every kind of field: keys
// sorted, lists dash-escaped by the clear-signing only. Golden from our own
// output (Helm's marshalling: sigs.k8s.io/yaml of the metadata).
func TestMessageBody(t *testing.T) {
	md := &chart.Metadata{
		APIVersion:  "v2",
		Name:        "full",
		Version:     "1.2.3-rc.1",
		AppVersion:  "v4",
		Description: "Everything: quotes \"and\" colons: here",
		Home:        "https://example.com",
		Sources:     []string{"https://example.com/src"},
		Keywords:    []string{"a", "b"},
		Maintainers: []*chart.Maintainer{{Name: "M", Email: "m@example.com", URL: "https://m.example.com"}},
		Icon:        "https://example.com/icon.png",
		Annotations: map[string]string{"z": "last", "a": "first"},
		KubeVersion: ">=1.28.0-0",
		Deprecated:  true,
		Type:        "application",
		Dependencies: []*chart.Dependency{
			{Name: "dep", Version: "~1.0", Repository: "https://charts.example.com", Condition: "dep.enabled", Tags: []string{"t"}, Alias: "d", ImportValues: []any{"data"}},
		},
	}
	body, err := MessageBody(md, "full-1.2.3-rc.1.tgz", []byte("archive bytes"))
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "testdata/full.body", body)
}

func TestVerifyFails(t *testing.T) {
	dir := t.TempDir()
	k := provenancetest.NewKey(t, dir, "Test Signer", "signer@example.com", "")
	other := provenancetest.NewKey(t, dir, "Other Signer", "other@example.com", "")
	archivePath := packageChart(t, dir)
	archive, err := os.ReadFile(archivePath)
	if err != nil {
		t.Fatal(err)
	}
	e := signer(t, k, "")
	ch, err := loader.LoadFile(archivePath)
	if err != nil {
		t.Fatal(err)
	}
	prov, err := SignArchive(ch.Metadata, "signtest-0.1.0.tgz", archive, e)
	if err != nil {
		t.Fatal(err)
	}
	ring, err := LoadKeyring(k.PublicKeyring)
	if err != nil {
		t.Fatal(err)
	}
	otherRing, err := LoadKeyring(other.PublicKeyring)
	if err != nil {
		t.Fatal(err)
	}
	tampered := append(bytes.Clone(archive), 0)
	// A clear-signed message that is not a provenance body.
	var notBody bytes.Buffer
	w, err := clearsign.Encode(&notBody, e.PrivateKey, pgpConfig())
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("name: signtest\n")) //nolint:errcheck // A bytes.Buffer.
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	sum := "sha256:" + Digest(archive)
	tests := []struct {
		name     string
		archive  []byte
		filename string
		prov     []byte
		ring     openpgp.EntityList
		wantKind error
		wantErr  string
	}{
		{name: "tampered archive", archive: tampered, prov: prov, ring: ring, wantKind: ErrHashMismatch,
			wantErr: `sha256 sum does not match for signtest-0.1.0.tgz: "` + sum + `" != "sha256:` + Digest(tampered) + `"`},
		{name: "tampered provenance", archive: archive, prov: bytes.Replace(prov, []byte("version: 0.1.0"), []byte("version: 0.1.1"), 1), ring: ring,
			wantKind: ErrBadSignature, wantErr: "openpgp: invalid signature: RSA verification failure"},
		{name: "tampered hash in provenance", archive: tampered, prov: bytes.Replace(prov, []byte(sum), []byte("sha256:"+Digest(tampered)), 1), ring: ring,
			wantKind: ErrBadSignature, wantErr: "openpgp: invalid signature: RSA verification failure"},
		{name: "wrong keyring", archive: archive, prov: prov, ring: otherRing, wantKind: ErrUnknownSigner, wantErr: "openpgp: signature made by unknown entity"},
		{name: "empty keyring", archive: archive, prov: prov, ring: nil, wantKind: ErrUnknownSigner, wantErr: "openpgp: signature made by unknown entity"},
		{name: "unsigned", archive: archive, prov: []byte("name: signtest\n...\nfiles: {}\n"), ring: ring, wantKind: ErrNoSignature, wantErr: "signature block not found"},
		{name: "empty provenance", archive: archive, prov: nil, ring: ring, wantKind: ErrNoSignature, wantErr: "signature block not found"},
		{name: "renamed archive", archive: archive, filename: "signtest-0.2.0.tgz", prov: prov, ring: ring, wantKind: ErrHashMismatch,
			wantErr: `provenance does not contain a SHA for a file named "signtest-0.2.0.tgz"`},
		{name: "not a provenance body", archive: archive, prov: notBody.Bytes(), ring: ring, wantKind: ErrMalformed, wantErr: "message block must have at least two parts"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			filename := tc.filename
			if filename == "" {
				filename = "signtest-0.1.0.tgz"
			}
			v, err := Verify(tc.archive, filename, tc.prov, tc.ring)
			if err == nil {
				t.Fatalf("verified: %+v", v)
			}
			if diff := cmp.Diff(tc.wantErr, err.Error()); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
			for _, kind := range []error{ErrNoSignature, ErrUnknownSigner, ErrBadSignature, ErrHashMismatch, ErrMalformed} {
				if got, want := errors.Is(err, kind), kind == tc.wantKind; got != want {
					t.Errorf("errors.Is(err, %v) = %v, want %v", kind, got, want)
				}
			}
		})
	}
}

func TestVerifyFileFails(t *testing.T) {
	dir := t.TempDir()
	k := provenancetest.NewKey(t, dir, "Test Signer", "signer@example.com", "")
	archive := packageChart(t, dir)
	notTgz := filepath.Join(dir, "chart.tar")
	if err := os.WriteFile(notTgz, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, archive, prov, keyring string
		wantNoSignature              bool
		wantErr                      string
	}{
		{name: "unsigned", archive: archive, keyring: k.PublicKeyring, wantNoSignature: true,
			wantErr: "could not load provenance file " + archive + ".prov: stat " + archive + ".prov: no such file or directory"},
		{name: "no archive", archive: filepath.Join(dir, "none.tgz"), keyring: k.PublicKeyring,
			wantErr: "stat " + filepath.Join(dir, "none.tgz") + ": no such file or directory"},
		{name: "a folder", archive: dir, keyring: k.PublicKeyring, wantErr: "unpacked charts cannot be verified"},
		{name: "not a .tgz", archive: notTgz, keyring: k.PublicKeyring, wantErr: "chart must be a tgz file"},
		{name: "no keyring", archive: archive, prov: archive, keyring: filepath.Join(dir, "none.gpg"),
			wantErr: "failed to load keyring: open " + filepath.Join(dir, "none.gpg") + ": no such file or directory"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := VerifyFile(t.Context(), tc.archive, tc.prov, tc.keyring)
			if err == nil {
				t.Fatal("verified")
			}
			if diff := cmp.Diff(tc.wantErr, err.Error()); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
			if got := errors.Is(err, ErrNoSignature); got != tc.wantNoSignature {
				t.Errorf("errors.Is(err, ErrNoSignature) = %v", got)
			}
			if tc.wantNoSignature && !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("errors.Is(err, fs.ErrNotExist) = false")
			}
		})
	}
}

func TestLoadKeyring(t *testing.T) {
	dir := t.TempDir()
	a := provenancetest.NewKey(t, dir, "Test Signer", "signer@example.com", "")
	b := provenancetest.NewKey(t, dir, "Other Signer", "other@example.com", "secret")
	read := func(p string) []byte {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	keybox := makeKeybox(a.Public, nil)
	keybox = append(keybox, makeKeybox(nil, b.Public)[32:]...)
	tests := []struct {
		name    string
		data    []byte
		want    []string
		wantErr string
	}{
		{name: "binary public", data: a.Public, want: []string{a.Identity}},
		{name: "binary secret", data: a.Secret, want: []string{a.Identity}},
		{name: "protected secret", data: b.Secret, want: []string{b.Identity}},
		{name: "concatenated binary", data: append(bytes.Clone(a.Public), b.Public...), want: []string{a.Identity, b.Identity}},
		{name: "armored", data: read(a.ArmoredPublicKeyring), want: []string{a.Identity}},
		{name: "concatenated armored", data: append(read(a.ArmoredPublicKeyring), read(b.ArmoredPublicKeyring)...), want: []string{a.Identity, b.Identity}},
		{name: "keybox, an ephemeral key skipped", data: keybox, want: []string{a.Identity}},
		{name: "keybox without keys", data: makeKeybox(nil, b.Public), wantErr: "keybox contains no OpenPGP keys"},
		{name: "truncated keybox", data: keybox[:len(keybox)-1], wantErr: "invalid blob length " + strconv.Itoa(16+len(b.Public)) + " at offset " + strconv.Itoa(32+16+len(a.Public))},
		{name: "armored message", data: []byte("-----BEGIN PGP MESSAGE-----\n\nxA0DAAoW\n=AAAA\n-----END PGP MESSAGE-----\n"), wantErr: "expected a public or private key block, got \"PGP MESSAGE\""},
		{name: "empty binary keyring", data: nil},
		{name: "empty armored keyring", data: []byte("-----BEGIN PGP PUBLIC KEY BLOCK-----\n"), wantErr: "no keys found"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ring, err := ReadKeyring(tc.data)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range ring {
				got = append(got, identityNames(e)...)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("identities (-want +got):\n%s", diff)
			}
		})
	}
}

// makeKeybox is a GnuPG keybox: its header blob, then an OpenPGP blob
// holding key unless it is nil, and one flagged ephemeral holding
// ephemeral unless it is nil.
func makeKeybox(key, ephemeral []byte) []byte {
	kbx := make([]byte, 32)
	binary.BigEndian.PutUint32(kbx, 32)
	kbx[4], kbx[5] = 1, 1
	copy(kbx[8:], "KBXf")
	for _, blob := range []struct {
		data  []byte
		flags uint16
	}{{key, 0}, {ephemeral, 2}} {
		if blob.data == nil {
			continue
		}
		h := make([]byte, 16)
		binary.BigEndian.PutUint32(h, uint32(16+len(blob.data)))
		h[4], h[5] = 2, 1
		binary.BigEndian.PutUint16(h[6:], blob.flags)
		binary.BigEndian.PutUint32(h[8:], 16)
		binary.BigEndian.PutUint32(h[12:], uint32(len(blob.data)))
		kbx = append(append(kbx, h...), blob.data...)
	}
	return kbx
}

func TestFindKeyUnlock(t *testing.T) {
	dir := t.TempDir()
	a := provenancetest.NewKey(t, dir, "Test Signer", "signer@example.com", "")
	b := provenancetest.NewKey(t, dir, "Other Signer", "other@example.com", "secret")
	// Unlocking changes a key: each case reads its keyring anew.
	secrets := append(bytes.Clone(a.Secret), b.Secret...)
	pass := func(p string) PassphraseFunc {
		return func(string) ([]byte, error) { return []byte(p), nil }
	}
	tests := []struct {
		name, id   string
		keyring    []byte
		passphrase PassphraseFunc
		want       string
		wantErr    string
	}{
		{name: "whole identity", id: a.Identity, want: a.Identity},
		{name: "email", id: "signer@example.com", want: a.Identity},
		{name: "part of a name", id: "Other", passphrase: pass("secret"), want: b.Identity},
		{name: "ambiguous", id: "Signer", wantErr: `more than one key contain the id "Signer"`},
		{name: "not found", id: "nobody", wantErr: "private key not found"},
		{name: "public key only", id: "signer", keyring: a.Public, wantErr: "provided key is not a private key. Try providing a keyring with secret keys"},
		{name: "wrong passphrase", id: "Other", passphrase: pass("wrong"), wantErr: "openpgp: invalid data: private key checksum failure"},
		{name: "no passphrase", id: "Other", wantErr: `key "` + b.Identity + `" is protected by a passphrase`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			keyring := tc.keyring
			if keyring == nil {
				keyring = secrets
			}
			ring, err := ReadKeyring(keyring)
			if err != nil {
				t.Fatal(err)
			}
			e, err := FindKey(ring, tc.id)
			if err == nil {
				err = Unlock(e, tc.passphrase)
			}
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]string{tc.want}, identityNames(e)); diff != "" {
				t.Errorf("key (-want +got):\n%s", diff)
			}
			if _, err := SignArchive(&chart.Metadata{Name: "x", Version: "1.0.0"}, "x-1.0.0.tgz", []byte("x"), e); err != nil {
				t.Errorf("signing with the unlocked key: %v", err)
			}
		})
	}
}

// TestGnuPG checks our provenance files against GnuPG, when gpg is
// installed: gpg verifies what we sign, and a key generated and exported by
// gpg (the legacy keyrings Helm documents) signs and verifies with ours.
func TestGnuPG(t *testing.T) {
	gpg, err := exec.LookPath("gpg")
	if err != nil {
		t.Skip("gpg is not installed: skipping the GnuPG checks")
	}
	dir := t.TempDir()
	home := filepath.Join(dir, "gnupg")
	if err := os.Mkdir(home, 0o700); err != nil {
		t.Fatal(err)
	}
	run := func(stdin []byte, args ...string) []byte {
		t.Helper()
		cmd := exec.Command(gpg, append([]string{"--homedir", home, "--batch", "--yes", "--pinentry-mode", "loopback"}, args...)...)
		cmd.Stdin = bytes.NewReader(stdin)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("gpg %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
		}
		return out
	}
	archive := packageChart(t, dir)

	// gpg verifies a provenance file of ours.
	k := provenancetest.NewKey(t, dir, "Test Signer", "signer@example.com", "")
	prov, err := Sign(t.Context(), archive, signer(t, k, ""))
	if err != nil {
		t.Fatal(err)
	}
	run(k.Public, "--import")
	provPath := filepath.Join(dir, "ours.prov")
	if err := os.WriteFile(provPath, prov, 0o644); err != nil {
		t.Fatal(err)
	}
	run(nil, "--verify", provPath)

	// A key of gpg's, with a passphrase, exported as Helm's docs say.
	run(nil, "--passphrase", "gpg-secret", "--quick-gen-key", "GnuPG Signer <gpg@example.com>", "rsa2048", "sign", "never")
	secring := filepath.Join(dir, "secring.gpg")
	pubring := filepath.Join(dir, "pubring.gpg")
	if err := os.WriteFile(secring, run(nil, "--passphrase", "gpg-secret", "--export-secret-keys", "gpg@example.com"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pubring, run(nil, "--export", "gpg@example.com"), 0o600); err != nil {
		t.Fatal(err)
	}
	ring, err := LoadKeyring(secring)
	if err != nil {
		t.Fatal(err)
	}
	e, err := FindKey(ring, "gpg@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if err := Unlock(e, func(string) ([]byte, error) { return []byte("gpg-secret"), nil }); err != nil {
		t.Fatal(err)
	}
	prov, err = Sign(t.Context(), archive, e)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(archive+".prov", prov, 0o644); err != nil {
		t.Fatal(err)
	}
	v, err := VerifyFile(t.Context(), archive, "", pubring)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"GnuPG Signer <gpg@example.com>"}, v.SignedBy); diff != "" {
		t.Errorf("signed by (-want +got):\n%s", diff)
	}
	run(nil, "--verify", archive+".prov")

	// GnuPG 2.1+'s own keybox verifies too.
	if _, err := os.Stat(filepath.Join(home, "pubring.kbx")); err != nil {
		t.Fatalf("gpg made no keybox: %v", err)
	}
	v, err = VerifyFile(t.Context(), archive, "", filepath.Join(home, "pubring.kbx"))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"GnuPG Signer <gpg@example.com>"}, v.SignedBy); diff != "" {
		t.Errorf("signed by, keybox (-want +got):\n%s", diff)
	}
}

// FuzzVerify: any provenance file is verified or refused, never a panic.
func FuzzVerify(f *testing.F) {
	f.Add([]byte("-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\nname: x\n...\nfiles:\n  x.tgz: sha256:00\n-----BEGIN PGP SIGNATURE-----\n\nwsBcBAEBCgAQBQJl\n=AAAA\n-----END PGP SIGNATURE-----\n"))
	f.Add([]byte("not a provenance file"))
	f.Fuzz(func(t *testing.T, prov []byte) {
		v, err := Verify([]byte("archive"), "x.tgz", prov, nil)
		if err == nil {
			t.Errorf("verified with an empty keyring: %+v", v)
		}
	})
}

// FuzzReadKeyring: any keyring, keybox or armored block is read or refused,
// never a panic nor a read out of bounds.
func FuzzReadKeyring(f *testing.F) {
	f.Add(makeKeybox([]byte("not a key"), []byte("ephemeral")))
	f.Add([]byte("-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nxsBN\n-----END PGP PUBLIC KEY BLOCK-----\n"))
	f.Add([]byte{0x99, 0x01, 0x0d})
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = ReadKeyring(data)
	})
}
