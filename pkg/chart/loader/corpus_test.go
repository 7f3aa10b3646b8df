package loader

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// corpusDir is the folder of real-world charts, <org>/<chart>:
// $KUBECTL_CHART_CORPUS or the shared corpus next to the repository.
func corpusDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("KUBECTL_CHART_CORPUS")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "..", "shared", "charts")
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		t.Skipf("no chart corpus at %s: set KUBECTL_CHART_CORPUS to a folder of <org>/<chart> chart folders", dir)
	}
	return dir
}

func TestLoadCorpus(t *testing.T) {
	root := corpusDir(t)
	charts, err := filepath.Glob(filepath.Join(root, "*", "*", "Chart.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(charts) == 0 {
		t.Skipf("no <org>/<chart>/Chart.yaml under %s", root)
	}
	for _, f := range charts {
		dir := filepath.Dir(f)
		name, _ := filepath.Rel(root, dir)
		t.Run(name, func(t *testing.T) {
			c, err := Load(dir)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			// Loaded again from an archive of the same files, the chart has
			// the same templates and subcharts.
			if _, err := os.Stat(filepath.Join(dir, ".helmignore")); err == nil {
				return
			}
			a, err := LoadArchive(bytes.NewReader(archiveDir(t, dir, c.Name())))
			if err != nil {
				t.Fatalf("LoadArchive: %v", err)
			}
			if got, want := len(a.Templates), len(c.Templates); got != want {
				t.Errorf("archive: %d templates, want %d", got, want)
			}
			if got, want := len(a.Dependencies()), len(c.Dependencies()); got != want {
				t.Errorf("archive: %d subcharts, want %d", got, want)
			}
		})
	}
}
