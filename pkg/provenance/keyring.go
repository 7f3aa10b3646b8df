package provenance

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
)

// DefaultKeyring is Helm's default keyring: $GNUPGHOME/pubring.gpg, or
// ~/.gnupg/pubring.gpg.
func DefaultKeyring() string {
	if v, ok := os.LookupEnv("GNUPGHOME"); ok {
		return filepath.Join(v, "pubring.gpg")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		home = ""
	}
	return filepath.Join(home, ".gnupg", "pubring.gpg")
}

// LoadKeyring reads a keyring file: public keys (pubring.gpg, `gpg --export`)
// or secret keys (secring.gpg, `gpg --export-secret-keys`), binary or
// ASCII-armored.
func LoadKeyring(path string) (openpgp.EntityList, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	ring, err := ReadKeyring(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return ring, nil
}

// ReadKeyring reads keys in any of the forms LoadKeyring accepts.
func ReadKeyring(data []byte) (openpgp.EntityList, error) {
	switch {
	case isKeybox(data):
		return nil, errors.New("a GnuPG keybox (.kbx) is not supported: export the keys with " +
			"'gpg --export > pubring.gpg' (or 'gpg --export-secret-keys > secring.gpg' to sign)")
	case isArmored(data):
		return readArmoredKeyring(data)
	}
	ring, err := openpgp.ReadKeyRing(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	if len(ring) == 0 {
		return nil, errors.New("no keys found")
	}
	return ring, nil
}

// isKeybox tells a GnuPG keybox by the magic of its first (header) blob.
func isKeybox(data []byte) bool {
	return len(data) >= 12 && string(data[8:12]) == "KBXf"
}

func isArmored(data []byte) bool {
	return bytes.HasPrefix(bytes.TrimLeft(data, " \t\r\n"), []byte("-----BEGIN PGP"))
}

// readArmoredKeyring reads every armored block of data: keyrings are often
// concatenated exports, which openpgp.ReadArmoredKeyRing reads only the
// first of.
func readArmoredKeyring(data []byte) (openpgp.EntityList, error) {
	var ring openpgp.EntityList
	// armor.Decode reads through a bufio.Reader of at least 100 bytes, and
	// reuses ours: what it reads ahead of one block stays for the next.
	r := bufio.NewReader(bytes.NewReader(data))
	for {
		block, err := armor.Decode(r)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		if block.Type != openpgp.PublicKeyType && block.Type != openpgp.PrivateKeyType {
			return nil, fmt.Errorf("expected a public or private key block, got %q", block.Type)
		}
		entities, err := openpgp.ReadKeyRing(block.Body)
		if err != nil {
			return nil, err
		}
		ring = append(ring, entities...)
	}
	if len(ring) == 0 {
		return nil, errors.New("no keys found")
	}
	return ring, nil
}

// FindKey picks the key of ring one of whose identities is id or, failing
// that, contains it, as Helm (and GnuPG) pick a --key: an identity equal to
// id wins; two keys that merely contain it are an error.
func FindKey(ring openpgp.EntityList, id string) (*openpgp.Entity, error) {
	var candidate *openpgp.Entity
	vague := false
	for _, e := range ring {
		for _, n := range identityNames(e) {
			if n == id {
				return e, nil
			}
			if strings.Contains(n, id) {
				if candidate != nil && candidate != e {
					vague = true
				}
				candidate = e
			}
		}
	}
	switch {
	case vague:
		return nil, fmt.Errorf("more than one key contain the id %q", id)
	case candidate == nil:
		return nil, errors.New("private key not found")
	}
	return candidate, nil
}

// PassphraseFunc returns the passphrase of the key with the given identity
// ("Name (comment) <email>").
type PassphraseFunc func(identity string) ([]byte, error)

// Unlock makes a signing key usable: it checks that e holds a private key
// and decrypts it with the passphrase from fetch when it is protected (fetch
// is not called otherwise).
func Unlock(e *openpgp.Entity, fetch PassphraseFunc) error {
	if e == nil {
		return errors.New("private key not found")
	}
	if e.PrivateKey == nil {
		return errors.New("provided key is not a private key. Try providing a keyring with secret keys")
	}
	if !e.PrivateKey.Encrypted {
		return nil
	}
	name := "Unknown"
	if names := identityNames(e); len(names) > 0 {
		name = names[0]
	}
	if fetch == nil {
		return fmt.Errorf("key %q is protected by a passphrase", name)
	}
	p, err := fetch(name)
	if err != nil {
		return err
	}
	return e.PrivateKey.Decrypt(p)
}

// identityNames are e's identities, sorted.
func identityNames(e *openpgp.Entity) []string {
	names := make([]string, 0, len(e.Identities))
	for n := range e.Identities {
		if n != "" {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}
