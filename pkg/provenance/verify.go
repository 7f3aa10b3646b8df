package provenance

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	pgperrors "github.com/ProtonMail/go-crypto/openpgp/errors"
	"sigs.k8s.io/yaml"
)

// The kinds of verification failure, for errors.Is; the errors themselves
// carry Helm's messages.
var (
	// ErrNoSignature: there is no provenance file, or it holds no
	// clear-signed message.
	ErrNoSignature = errors.New("no signature")
	// ErrUnknownSigner: the signing key is not in the keyring.
	ErrUnknownSigner = errors.New("signer not in keyring")
	// ErrBadSignature: the signature does not match the signed message
	// (the provenance file was changed), or its key has expired or been
	// revoked.
	ErrBadSignature = errors.New("bad signature")
	// ErrHashMismatch: the archive is not the one the provenance file
	// signs: it has no hash for the archive's name, or another one.
	ErrHashMismatch = errors.New("hash mismatch")
	// ErrMalformed: the signed message is not a provenance body.
	ErrMalformed = errors.New("malformed provenance")
)

// verifyError is a verification failure: Helm's message, and its kind for
// errors.Is.
type verifyError struct {
	kind error
	err  error
}

func (e *verifyError) Error() string   { return e.err.Error() }
func (e *verifyError) Unwrap() []error { return []error{e.kind, e.err} }

func failed(kind, err error) error { return &verifyError{kind: kind, err: err} }

// Verification is what a verified provenance file says.
type Verification struct {
	// SignedBy are the identities of the signing key ("Name (comment)
	// <email>"), sorted.
	SignedBy []string
	// Fingerprint is the signing key's primary key fingerprint in upper-case
	// hex, as `helm verify` prints it.
	Fingerprint string
	// FileHash is the archive's verified hash, "sha256:<hex>".
	FileHash string
	// FileName is the archive's name the hash is signed for.
	FileName string
	// Signer is the signing key, from the keyring.
	Signer *openpgp.Entity
}

// Verify checks that prov is a provenance file signed by a key of ring and
// that it signs archive under filename (the archive's base name), as Helm
// does: the signature first, then the hash. The errors carry Helm's messages
// and one of the Err kinds.
func Verify(archive []byte, filename string, prov []byte, ring openpgp.EntityList) (*Verification, error) {
	block, _ := clearsign.Decode(prov)
	if block == nil {
		return nil, failed(ErrNoSignature, errors.New("signature block not found"))
	}
	signer, err := openpgp.CheckDetachedSignature(ring, bytes.NewReader(block.Bytes), block.ArmoredSignature.Body, pgpConfig())
	if err != nil {
		return nil, failed(signatureErrorKind(err), err)
	}

	parts := bytes.Split(block.Plaintext, []byte(bodySeparator))
	if len(parts) < 2 {
		return nil, failed(ErrMalformed, errors.New("message block must have at least two parts"))
	}
	var s sums
	if err := yaml.Unmarshal(parts[1], &s); err != nil {
		return nil, failed(ErrMalformed, err)
	}
	sum := "sha256:" + Digest(archive)
	signed, ok := s.Files[filename]
	switch {
	case !ok:
		return nil, failed(ErrHashMismatch, fmt.Errorf("provenance does not contain a SHA for a file named %q", filename))
	case signed != sum:
		return nil, failed(ErrHashMismatch, fmt.Errorf("sha256 sum does not match for %s: %q != %q", filename, signed, sum))
	}
	return &Verification{
		SignedBy:    identityNames(signer),
		Fingerprint: fmt.Sprintf("%X", signer.PrimaryKey.Fingerprint),
		FileHash:    sum,
		FileName:    filename,
		Signer:      signer,
	}, nil
}

// signatureErrorKind sorts go-crypto's errors: an unknown issuer, a bad or
// no longer valid signature, or anything else (unparsable packets).
func signatureErrorKind(err error) error {
	var sigErr pgperrors.SignatureError
	switch {
	case errors.Is(err, pgperrors.ErrUnknownIssuer):
		return ErrUnknownSigner
	case errors.As(err, &sigErr),
		errors.Is(err, pgperrors.ErrSignatureExpired),
		errors.Is(err, pgperrors.ErrKeyExpired),
		errors.Is(err, pgperrors.ErrKeyRevoked):
		return ErrBadSignature
	}
	return ErrMalformed
}

// VerifyFile verifies the chart archive at archivePath with its provenance
// file and a keyring file, as `helm verify` and the --verify flags do:
// provPath "" is archivePath + ".prov", keyringPath "" is DefaultKeyring().
// The archive must be a .tgz file; the errors are Helm's.
func VerifyFile(ctx context.Context, archivePath, provPath, keyringPath string) (*Verification, error) {
	return VerifyFileAs(ctx, archivePath, filepath.Base(archivePath), provPath, keyringPath)
}

// VerifyFileAs is VerifyFile for an archive stored under another name than
// the one its provenance file signs (fileName, <name>-<version>.tgz): a
// downloaded chart kept in the cache under its digest.
func VerifyFileAs(ctx context.Context, archivePath, fileName, provPath, keyringPath string) (*Verification, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	switch fi, err := os.Stat(archivePath); {
	case err != nil:
		return nil, err
	case fi.IsDir():
		return nil, errors.New("unpacked charts cannot be verified")
	case !strings.EqualFold(filepath.Ext(fileName), ".tgz"):
		return nil, errors.New("chart must be a tgz file")
	}
	if provPath == "" {
		provPath = archivePath + ".prov"
	}
	if keyringPath == "" {
		keyringPath = DefaultKeyring()
	}
	if _, err := os.Stat(provPath); err != nil {
		return nil, failed(ErrNoSignature, fmt.Errorf("could not load provenance file %s: %w", provPath, err))
	}
	ring, err := LoadKeyring(keyringPath)
	if err != nil {
		return nil, fmt.Errorf("failed to load keyring: %w", err)
	}
	archive, err := os.ReadFile(archivePath)
	if err != nil {
		return nil, fmt.Errorf("failed to read chart archive: %w", err)
	}
	prov, err := os.ReadFile(provPath)
	if err != nil {
		return nil, fmt.Errorf("failed to read provenance file: %w", err)
	}
	return Verify(archive, fileName, prov, ring)
}
