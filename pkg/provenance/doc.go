// Package provenance signs and verifies chart archives with provenance files
// (.prov), interoperable with Helm v4.3.1's `helm package --sign`,
// `helm verify` and the --verify flags of pull, install and upgrade.
//
// A provenance file is an OpenPGP clear-signed message (hash SHA512) whose
// body is the chart's Chart.yaml metadata as YAML (as loaded: a v1 chart's
// requirements are its dependencies), the YAML document end marker and the
// archive's SHA-256:
//
//	name: mychart
//	version: 0.1.0
//
//	...
//	files:
//	  mychart-0.1.0.tgz: sha256:8a2f…
//
// Keys come from keyrings as Helm v4.3.1 reads them: legacy GnuPG keyrings
// (secring.gpg for signing, pubring.gpg for verifying), binary as
// `gpg --export` writes them or ASCII-armored (several armored blocks may be
// concatenated), and, for verifying, the public keys of a GnuPG 2.1+ keybox
// (pubring.kbx). A signing key is picked by a substring of one of its
// identities ("Name (comment) <email>"), as Helm does, except that several
// identities of one key matching are not ambiguous.
//
// The package never prints: Verify returns a Verification that the command
// layer prints as Helm does, and its errors carry Helm's messages while
// errors.Is tells their kind (ErrNoSignature, ErrUnknownSigner,
// ErrBadSignature, ErrHashMismatch, ErrMalformed).
package provenance
