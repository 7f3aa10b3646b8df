// Package provenancetest makes OpenPGP keys for tests of signing and
// verifying charts, written as GnuPG's legacy keyrings (secring.gpg,
// pubring.gpg) as `gpg --export-secret-keys` and `gpg --export` write them.
package provenancetest

import (
	"bytes"
	"crypto"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// Key is a generated key and the keyring files that hold it.
type Key struct {
	// Identity is the key's only identity, "Name (comment) <email>".
	Identity string
	// Fingerprint is the primary key's fingerprint in upper-case hex.
	Fingerprint string
	// SecretKeyring is a binary keyring with the secret key, protected by
	// the passphrase when one was given; PublicKeyring a binary keyring
	// with the public key; ArmoredPublicKeyring the same, ASCII-armored.
	SecretKeyring, PublicKeyring, ArmoredPublicKeyring string
	// Secret and Public are the bytes of SecretKeyring and PublicKeyring.
	Secret, Public []byte
}

// generated caches keys by identity: RSA generation takes a while, and a
// test binary asks for the same few keys many times.
var (
	mu        sync.Mutex
	generated = map[string][]byte{}
)

// NewKey writes the keyrings of a 2048-bit RSA key (GnuPG's usual kind) for
// name and email into dir: <base>.secring.gpg, <base>.pubring.gpg and
// <base>.pubring.asc, base being email's user part. A non-empty passphrase
// protects the secret key. Keys are cached by identity within the test
// binary.
func NewKey(t testing.TB, dir, name, email, passphrase string) *Key {
	t.Helper()
	identity := fmt.Sprintf("%s (kubectl-chart test) <%s>", name, email)
	secret := secretKey(t, name, email, identity)
	ring, err := openpgp.ReadKeyRing(bytes.NewReader(secret))
	if err != nil {
		t.Fatal(err)
	}
	e := ring[0]
	var pub bytes.Buffer
	if err := e.Serialize(&pub); err != nil {
		t.Fatal(err)
	}
	if passphrase != "" {
		if err := e.EncryptPrivateKeys([]byte(passphrase), nil); err != nil {
			t.Fatal(err)
		}
		var sec bytes.Buffer
		if err := e.SerializePrivateWithoutSigning(&sec, nil); err != nil {
			t.Fatal(err)
		}
		secret = sec.Bytes()
	}
	var armored bytes.Buffer
	w, err := armor.Encode(&armored, openpgp.PublicKeyType, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(pub.Bytes()); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	armored.WriteString("\n")

	base := email
	if i := bytes.IndexByte([]byte(email), '@'); i > 0 {
		base = email[:i]
	}
	k := &Key{
		Identity:             identity,
		Fingerprint:          fmt.Sprintf("%X", e.PrimaryKey.Fingerprint),
		SecretKeyring:        filepath.Join(dir, base+".secring.gpg"),
		PublicKeyring:        filepath.Join(dir, base+".pubring.gpg"),
		ArmoredPublicKeyring: filepath.Join(dir, base+".pubring.asc"),
		Secret:               secret,
		Public:               pub.Bytes(),
	}
	for path, data := range map[string][]byte{k.SecretKeyring: secret, k.PublicKeyring: pub.Bytes(), k.ArmoredPublicKeyring: armored.Bytes()} {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return k
}

// secretKey is the unprotected secret key of identity, generated once.
func secretKey(t testing.TB, name, email, identity string) []byte {
	t.Helper()
	mu.Lock()
	defer mu.Unlock()
	if b, ok := generated[identity]; ok {
		return b
	}
	cfg := &packet.Config{Algorithm: packet.PubKeyAlgoRSA, RSABits: 2048, DefaultHash: crypto.SHA512}
	e, err := openpgp.NewEntity(name, "kubectl-chart test", email, cfg)
	if err != nil {
		t.Fatal(err)
	}
	var sec bytes.Buffer
	if err := e.SerializePrivate(&sec, nil); err != nil {
		t.Fatal(err)
	}
	generated[identity] = sec.Bytes()
	return sec.Bytes()
}
