// Package atomicfile writes files so that a reader never sees half of one: the
// content goes to a temporary file in the same folder, which is renamed over
// the target only once it is complete. A write that fails leaves the old file
// (or none) and no temporary file behind. It is the one way the project writes
// files that other commands, or Helm, read concurrently: repository indexes,
// pulled charts, cache references, certificates.
package atomicfile

import (
	"errors"
	"os"
	"path/filepath"
)

// WriteFile writes data to name with mode perm, creating its folder (0755)
// when it is missing.
func WriteFile(name string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(name)+".*")
	if err != nil {
		return err
	}
	_, werr := tmp.Write(data)
	cerr := tmp.Close()
	if err := errors.Join(werr, cerr, os.Chmod(tmp.Name(), perm)); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	if err := os.Rename(tmp.Name(), name); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return nil
}
