package loader

import (
	"archive/tar"
	"bytes"
	"path/filepath"
	"testing"
)

// FuzzLoadArchive feeds arbitrary bytes to LoadArchive: errors are fine,
// panics and unbounded work are not.
func FuzzLoadArchive(f *testing.F) {
	f.Add(makeArchive(f, entry{name: "demo/Chart.yaml", body: chartYAML}))
	f.Add(makeArchive(f,
		entry{name: "demo/Chart.yaml", body: "name: demo\nversion: 1.0.0\n"},
		entry{name: "demo/requirements.yaml", body: "dependencies:\n- name: sub\n"},
		entry{name: "demo/values.yaml", body: "a: 1\n---\nb: [1, 2]\n"},
		entry{name: "demo/templates/x.yaml", body: "kind: {{ .Values.a }}\n"},
		entry{name: "demo/charts/sub/Chart.yaml", body: "apiVersion: v2\nname: sub\nversion: 0.1.0\n"},
	))
	f.Add(makeArchive(f,
		entry{name: "demo/Chart.yaml", body: chartYAML},
		entry{name: "demo/charts/sub-1.0.0.tgz", body: string(makeArchive(f,
			entry{name: "sub/Chart.yaml", body: "apiVersion: v2\nname: sub\nversion: 1.0.0\n"},
		))},
	))
	f.Add(makeArchive(f, entry{name: "demo/x", typeflag: tar.TypeSymlink, linkname: "../../etc"}))
	f.Add(archiveDir(f, filepath.Join("testdata", "v1chart"), "v1chart"))
	f.Add([]byte{})
	f.Add([]byte("\x1F\x8B\x08\x00\x00\x00\x00\x00\x00\xFF"))

	opts := Options{MaxChartSize: 1 << 20, MaxFileSize: 1 << 18, MaxFiles: 1000}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := New(opts).LoadArchive(bytes.NewReader(data))
		if err == nil && c.Metadata == nil {
			t.Fatal("chart without metadata and no error")
		}
	})
}
