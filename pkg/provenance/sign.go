package provenance

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-chart/kubectl-chart/pkg/chart"
	"github.com/kubectl-chart/kubectl-chart/pkg/chart/loader"
)

// pgpConfig is Helm's: signatures hash with SHA512.
func pgpConfig() *packet.Config { return &packet.Config{DefaultHash: crypto.SHA512} }

// sums is the second YAML document of a provenance body: Helm's
// SumCollection.
type sums struct {
	Files  map[string]string `json:"files"`
	Images map[string]string `json:"images,omitempty"`
}

// bodySeparator ends the metadata document: "---" may not start a line of
// a clear-signed message, so Helm uses YAML's document end marker.
const bodySeparator = "\n...\n"

// Digest is the SHA-256 of data in hex, as the provenance file and a
// repository index give it (without "sha256:").
func Digest(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// MessageBody is what a provenance file signs for the archive named
// filename with the given content: the metadata as YAML (keys sorted, as
// Helm marshals it), "...", and the archive's hash.
func MessageBody(md *chart.Metadata, filename string, archive []byte) ([]byte, error) {
	meta, err := yaml.Marshal(md)
	if err != nil {
		return nil, fmt.Errorf("failed to marshal chart metadata: %w", err)
	}
	files, err := yaml.Marshal(&sums{Files: map[string]string{filename: "sha256:" + Digest(archive)}})
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.Write(meta)
	b.WriteString(bodySeparator)
	b.Write(files)
	return b.Bytes(), nil
}

// SignArchive clear-signs the message body of an archive with signer's
// private key, which Unlock has made usable; it returns the provenance
// file.
func SignArchive(md *chart.Metadata, filename string, archive []byte, signer *openpgp.Entity) ([]byte, error) {
	if signer == nil {
		return nil, errors.New("private key not found")
	}
	if signer.PrivateKey == nil {
		return nil, errors.New("provided key is not a private key. Try providing a keyring with secret keys")
	}
	body, err := MessageBody(md, filename, archive)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	w, err := clearsign.Encode(&out, signer.PrivateKey, pgpConfig())
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(body); err != nil {
		// Close would sign what was written so far: leave it.
		return nil, fmt.Errorf("failed to write to clearsign encoder: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("failed to either sign or armor message block: %w", err)
	}
	return out.Bytes(), nil
}

// Sign returns the provenance file of the chart archive at archivePath,
// signed by signer (see FindKey and Unlock): the chart is loaded for its
// metadata, as `helm package --sign` does. The caller writes it to
// archivePath + ".prov".
func Sign(ctx context.Context, archivePath string, signer *openpgp.Entity) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ch, err := loader.LoadFile(archivePath)
	if err != nil {
		return nil, fmt.Errorf("failed to load chart for signing: %w", err)
	}
	archive, err := os.ReadFile(archivePath)
	if err != nil {
		return nil, fmt.Errorf("failed to read chart archive: %w", err)
	}
	return SignArchive(ch.Metadata, filepath.Base(archivePath), archive, signer)
}
