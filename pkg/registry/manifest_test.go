package registry

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/kubectl-chart/kubectl-chart/pkg/chart"
)

// The expectations here are Helm v4.3.1's pkg/registry/chart.go read by
// hand; TestHelmPushSameDigest checks the whole manifest against Helm.
func TestAnnotations(t *testing.T) {
	meta := &chart.Metadata{
		Name: "app", Version: "1.0.0", Description: "d", Home: "https://h",
		Sources:     []string{"https://s1", "https://s2"},
		Maintainers: []*chart.Maintainer{{Name: "Jane", Email: "j@x"}, {Name: "Joe"}, {Email: "only@x"}},
		Annotations: map[string]string{
			ocispec.AnnotationTitle:   "ignored",
			ocispec.AnnotationVersion: "ignored",
			ocispec.AnnotationCreated: "chart wins",
			"example.com/x":           "",
		},
	}
	want := map[string]string{
		ocispec.AnnotationTitle:       "app",
		ocispec.AnnotationVersion:     "1.0.0",
		ocispec.AnnotationDescription: "d",
		ocispec.AnnotationURL:         "https://h",
		ocispec.AnnotationSource:      "https://s1",
		ocispec.AnnotationAuthors:     "Jane (j@x), Joe,  (only@x)",
		ocispec.AnnotationCreated:     "chart wins",
		"example.com/x":               "",
	}
	if diff := cmp.Diff(want, Annotations(meta, "2024-01-01T00:00:00Z")); diff != "" {
		t.Errorf("annotations (-want +got):\n%s", diff)
	}
	if got := Annotations(&chart.Metadata{Name: "a", Version: "1.0.0"}, ""); got[ocispec.AnnotationCreated] == "" {
		t.Error("no creation time when none is given")
	}
}

func TestBuildManifest(t *testing.T) {
	meta := &chart.Metadata{APIVersion: "v2", Name: "app", Version: "1.0.0"}
	m, err := BuildManifest([]byte("archive"), meta, []byte("prov"), "2024-01-01T00:00:00Z")
	if err != nil {
		t.Fatal(err)
	}
	// Key order and the absent mediaType are Helm's: json.Marshal of
	// ocispec.Manifest without MediaType set.
	var keys []string
	dec := json.NewDecoder(bytesReader(m.Manifest))
	if _, err := dec.Token(); err != nil {
		t.Fatal(err)
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	if diff := cmp.Diff([]string{"schemaVersion", "config", "layers", "annotations"}, keys); diff != "" {
		t.Errorf("manifest keys (-want +got):\n%s", diff)
	}
	var got ocispec.Manifest
	if err := json.Unmarshal(m.Manifest, &got); err != nil {
		t.Fatal(err)
	}
	if got.Config.MediaType != ConfigMediaType || got.Config.Digest != m.Config.Digest {
		t.Errorf("config %+v", got.Config)
	}
	if len(got.Layers) != 2 || got.Layers[0].Digest >= got.Layers[1].Digest {
		t.Errorf("layers not sorted by digest: %+v", got.Layers)
	}
	// The config blob is json.Marshal(metadata).
	want, _ := json.Marshal(meta)
	for _, b := range m.blobs {
		if b.desc.Digest == m.Config.Digest && string(b.data) != string(want) {
			t.Errorf("config blob %s, want %s", b.data, want)
		}
	}
	if string(want) != `{"name":"app","version":"1.0.0","apiVersion":"v2"}` {
		t.Errorf("config JSON %s", want)
	}
}
