package provenance

import (
	"bufio"
	"bytes"
	"encoding/binary"
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

// LoadKeyring reads a keyring file, as Helm v4.3.1 does: public keys
// (pubring.gpg, `gpg --export`) or secret keys (secring.gpg,
// `gpg --export-secret-keys`), binary or ASCII-armored, or the public keys
// of a GnuPG keybox (pubring.kbx). The errors are Helm's.
func LoadKeyring(path string) (openpgp.EntityList, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	ring, err := ReadKeyring(data)
	switch {
	case err == nil:
		return ring, nil
	case isKeybox(data):
		return nil, fmt.Errorf("reading keybox %s: %w", path, err)
	case isArmored(data):
		return nil, fmt.Errorf("reading armored keyring %s: %w", path, err)
	}
	return nil, err
}

// ReadKeyring reads keys in any of the forms LoadKeyring accepts. An empty
// binary keyring is no error (as in Helm): nothing verifies with it.
func ReadKeyring(data []byte) (openpgp.EntityList, error) {
	switch {
	case isKeybox(data):
		keys, err := keyboxKeys(data)
		if err != nil {
			return nil, err
		}
		return openpgp.ReadKeyRing(bytes.NewReader(keys))
	case isArmored(data):
		return readArmoredKeyring(data)
	}
	return openpgp.ReadKeyRing(bytes.NewReader(data))
}

// A GnuPG keybox (kbx/keybox-blob.c in GnuPG) is a sequence of blobs, each
// starting with its length (u32, big endian, the header included) and type
// (u8); the first is a header blob with "KBXf" at offset 8. An OpenPGP blob
// holds its flags (u16) at offset 6 and the offset and length (u32 each)
// of its keyblock, relative to the blob, at 8 and 12.
const (
	kbxHeaderBlob  = 1
	kbxOpenPGPBlob = 2
	// kbxEphemeral flags a blob GnuPG does not count as part of the ring.
	kbxEphemeral = 0x0002
)

// isKeybox tells a GnuPG keybox by its header blob.
func isKeybox(data []byte) bool {
	return len(data) >= 12 && data[4] == kbxHeaderBlob && string(data[8:12]) == "KBXf"
}

// keyboxKeys are the OpenPGP keyblocks of a keybox, concatenated, skipping
// other blobs and ephemeral ones as GnuPG does. A malformed keybox is an
// error, never a read out of bounds.
func keyboxKeys(data []byte) ([]byte, error) {
	var keys bytes.Buffer
	for off := 0; off < len(data); {
		rest := data[off:]
		if len(rest) < 5 {
			return nil, fmt.Errorf("truncated blob header at offset %d", off)
		}
		n := binary.BigEndian.Uint32(rest)
		if n < 5 || uint64(n) > uint64(len(rest)) {
			return nil, fmt.Errorf("invalid blob length %d at offset %d", n, off)
		}
		blob := rest[:n]
		if blob[4] == kbxOpenPGPBlob {
			if len(blob) < 16 {
				return nil, fmt.Errorf("OpenPGP blob at offset %d is too short", off)
			}
			flags := binary.BigEndian.Uint16(blob[6:])
			start, size := uint64(binary.BigEndian.Uint32(blob[8:])), uint64(binary.BigEndian.Uint32(blob[12:]))
			if start+size > uint64(len(blob)) {
				return nil, fmt.Errorf("OpenPGP blob at offset %d has its keyblock out of range", off)
			}
			if flags&kbxEphemeral == 0 {
				keys.Write(blob[start : start+size])
			}
		}
		off += int(n)
	}
	if keys.Len() == 0 {
		return nil, errors.New("keybox contains no OpenPGP keys")
	}
	return keys.Bytes(), nil
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
