// Package chartcache is kubectl chart's content-addressed store of chart
// archives (and of the other blobs commands download, such as provenance
// files): a blob is kept under its sha256 digest, so a chart version that was
// downloaded once is never downloaded again, whatever repository, URL or
// registry it came from, and two commands that fetch the same archive at once
// cannot corrupt each other.
//
// Writes are atomic: a blob is written to a temporary file in the same folder,
// its digest checked against the expected one when the caller knows it, and
// only then renamed into place. A download that fails, is too large or does not
// match leaves nothing behind.
//
// Layout under the root (helmpath.Paths.ContentCache): blobs/sha256/<hex>, and
// refs/<sha256 of a key>: small files naming the digest a mutable reference
// (a repository URL and version, an OCI tag) resolved to when it was pulled.
package chartcache

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/kubectl-chart/kubectl-chart/internal/atomicfile"
)

// Cache is a content-addressed blob store rooted at a folder.
type Cache struct {
	root string
}

// New returns the cache rooted at dir (created on first write).
func New(dir string) *Cache { return &Cache{root: dir} }

// Root is the cache's folder.
func (c *Cache) Root() string { return c.root }

// DigestMismatchError is returned when a blob's content does not have the
// digest its source announced (a repository index, an OCI manifest).
type DigestMismatchError struct {
	Want, Got string
}

func (e *DigestMismatchError) Error() string {
	return fmt.Sprintf("digest mismatch: expected %s, got %s", e.Want, e.Got)
}

// ParseDigest accepts "sha256:<hex>" or a bare 64-character hex digest and
// returns the lower-case hex.
func ParseDigest(d string) (string, error) {
	h := strings.TrimPrefix(strings.ToLower(d), "sha256:")
	if len(h) != sha256.Size*2 {
		return "", fmt.Errorf("invalid sha256 digest %q", d)
	}
	if _, err := hex.DecodeString(h); err != nil {
		return "", fmt.Errorf("invalid sha256 digest %q", d)
	}
	return h, nil
}

// Path is where the blob with digest d is (or would be) stored.
func (c *Cache) Path(d string) (string, error) {
	h, err := ParseDigest(d)
	if err != nil {
		return "", err
	}
	return filepath.Join(c.root, "blobs", "sha256", h), nil
}

// Lookup returns the path of the blob with digest d and whether it is cached.
func (c *Cache) Lookup(d string) (string, bool) {
	p, err := c.Path(d)
	if err != nil {
		return "", false
	}
	if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
		return p, true
	}
	return p, false
}

// Put stores what r yields, at most limit bytes (0: no bound). When want is
// not empty, the content must have that digest, or nothing is stored and a
// *DigestMismatchError is returned. It returns the digest ("sha256:<hex>") and
// the blob's path.
func (c *Cache) Put(r io.Reader, want string, limit int64) (digest, path string, err error) {
	if want != "" {
		if _, err := ParseDigest(want); err != nil {
			return "", "", err
		}
	}
	dir := filepath.Join(c.root, "blobs", "sha256")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", err
	}
	tmp, err := os.CreateTemp(dir, ".incoming-*")
	if err != nil {
		return "", "", err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	h := sha256.New()
	src := r
	if limit > 0 {
		src = io.LimitReader(r, limit+1)
	}
	n, err := io.Copy(io.MultiWriter(tmp, h), src)
	if err != nil {
		return "", "", err
	}
	if limit > 0 && n > limit {
		return "", "", fmt.Errorf("larger than %d bytes", limit)
	}
	got := hex.EncodeToString(h.Sum(nil))
	if want != "" {
		if w, _ := ParseDigest(want); w != got {
			return "", "", &DigestMismatchError{Want: "sha256:" + w, Got: "sha256:" + got}
		}
	}
	if err = tmp.Close(); err != nil {
		return "", "", err
	}
	path = filepath.Join(dir, got)
	if err = os.Rename(tmp.Name(), path); err != nil {
		return "", "", err
	}
	return "sha256:" + got, path, nil
}

// PutBytes stores b (see Put).
func (c *Cache) PutBytes(b []byte, want string) (digest, path string, err error) {
	return c.Put(bytes.NewReader(b), want, 0)
}

func (c *Cache) refPath(key string) string {
	sum := sha256.Sum256([]byte(key))
	return filepath.Join(c.root, "refs", hex.EncodeToString(sum[:]))
}

// SetRef records that the mutable reference key (for example
// "https://charts.example/|nginx|1.2.3") resolved to digest d.
func (c *Cache) SetRef(key, d string) error {
	if _, err := ParseDigest(d); err != nil {
		return err
	}
	return atomicfile.WriteFile(c.refPath(key), []byte(d+"\n"+key+"\n"), 0o644)
}

// Ref returns the digest key resolved to, when it was recorded and the blob is
// still cached.
func (c *Cache) Ref(key string) (digest, path string, ok bool) {
	b, err := os.ReadFile(c.refPath(key))
	if err != nil {
		return "", "", false
	}
	lines := strings.SplitN(string(b), "\n", 3)
	if len(lines) < 2 || lines[1] != key {
		return "", "", false
	}
	p, ok := c.Lookup(lines[0])
	if !ok {
		return "", "", false
	}
	return lines[0], p, true
}

// IsNotCached reports whether err says a blob is missing.
func IsNotCached(err error) bool { return errors.Is(err, fs.ErrNotExist) }
