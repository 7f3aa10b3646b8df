package repo

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/kubectl-chart/kubectl-chart/internal/atomicfile"
)

// Entry is one repository of repositories.yaml, with Helm's field names.
type Entry struct {
	Name     string `json:"name"`
	URL      string `json:"url"`
	Username string `json:"username"`
	Password string `json:"password"`
	// CertFile, KeyFile and CAFile are the TLS files of --cert-file,
	// --key-file and --ca-file.
	CertFile              string `json:"certFile"`
	KeyFile               string `json:"keyFile"`
	CAFile                string `json:"caFile"`
	InsecureSkipTLSVerify bool   `json:"insecure_skip_tls_verify"`
	// PassCredentialsAll sends the credentials to every host, not only to
	// the repository's own (--pass-credentials).
	PassCredentialsAll bool `json:"pass_credentials_all"`
}

// File is repositories.yaml.
type File struct {
	APIVersion   string    `json:"apiVersion"`
	Generated    time.Time `json:"generated"`
	Repositories []*Entry  `json:"repositories"`
}

// LoadFile reads repositories.yaml. A missing file gives an empty File and
// an error that satisfies errors.Is(err, fs.ErrNotExist).
func LoadFile(p string) (*File, error) {
	f := &File{}
	b, err := os.ReadFile(p)
	if err != nil {
		return f, fmt.Errorf("couldn't load repositories file (%s): %w", p, err)
	}
	if err := yaml.Unmarshal(b, f); err != nil {
		return f, fmt.Errorf("%s: %w", p, err)
	}
	return f, nil
}

// Get is the entry named name, or nil.
func (f *File) Get(name string) *Entry {
	for _, e := range f.Repositories {
		if e != nil && e.Name == name {
			return e
		}
	}
	return nil
}

// Update replaces the entry of the same name, or appends e.
func (f *File) Update(e *Entry) {
	for k, r := range f.Repositories {
		if r != nil && r.Name == e.Name {
			f.Repositories[k] = e
			return
		}
	}
	f.Repositories = append(f.Repositories, e)
}

// Remove drops the entry named name and reports whether there was one.
func (f *File) Remove(name string) bool {
	kept := []*Entry{}
	found := false
	for _, r := range f.Repositories {
		if r == nil {
			continue
		}
		if r.Name == name {
			found = true
			continue
		}
		kept = append(kept, r)
	}
	f.Repositories = kept
	return found
}

// WriteFile writes the file as Helm does (sigs.k8s.io/yaml), mode 0600,
// atomically.
func (f *File) WriteFile(p string) error {
	b, err := yaml.Marshal(f)
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(p, b, 0o600)
}

// LockPath is Helm's lock file of repositories.yaml: the same path with
// the extension replaced by .lock (repositories.lock).
func LockPath(repoFile string) string {
	ext := filepath.Ext(repoFile)
	if len(ext) > 0 && len(ext) < len(repoFile) {
		return strings.TrimSuffix(repoFile, ext) + ".lock"
	}
	return repoFile + ".lock"
}

// LockTimeout is how long EditFile waits for another process's lock, as
// Helm's repo add.
const LockTimeout = 30 * time.Second

// ErrLocked is returned when repositories.yaml stays locked by another
// process past LockTimeout.
var ErrLocked = errors.New("repositories file is locked by another process")

// ErrNoChange, returned by the edit function of EditFile, leaves the file
// as it is.
var ErrNoChange = errors.New("no change")

// EditFile changes repositories.yaml under Helm's file lock: it reads the
// file (a missing one is empty, as Helm's repo add starts it), calls edit,
// and writes the result (mode 0600) unless edit fails.
func EditFile(ctx context.Context, p string, edit func(*File) error) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	unlock, err := lockFile(ctx, LockPath(p), LockTimeout)
	if err != nil {
		return err
	}
	defer unlock()
	f := &File{}
	b, err := os.ReadFile(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return err
	default:
		if err := yaml.Unmarshal(b, f); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
	}
	if err := edit(f); err != nil {
		if errors.Is(err, ErrNoChange) {
			return nil
		}
		return err
	}
	return f.WriteFile(p)
}
