//go:build unix

package loader

import (
	"path/filepath"
	"syscall"
	"testing"
)

func TestLoadDirIrregularFile(t *testing.T) {
	dir := writeTree(t, map[string]string{"Chart.yaml": chartYAML})
	fifo := filepath.Join(dir, "pipe")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skipf("no fifo: %v", err)
	}
	_, err := LoadDir(dir)
	want := "cannot load irregular file " + fifo + " as it has file mode type bits set"
	if got := errString(err); got != want {
		t.Errorf("error = %q, want %q", got, want)
	}
}
