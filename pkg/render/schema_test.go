package render

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// TestDefsAsDefinitions checks that compiling a draft-07 schema's $defs as
// definitions changes no validation result: cert-manager's schema (from
// the corpus, if present) and the test charts' schemas, against values
// that break it in one place each, with and without the rewrite.
func TestDefsAsDefinitions(t *testing.T) {
	schemas := map[string]string{
		"feat-schema-defs":   filepath.Join("..", "..", "testdata", "charts", "feat-schema-defs", "values.schema.json"),
		"sub-unused-invalid": filepath.Join("..", "..", "testdata", "charts", "feat-schema-defs", "charts", "sub", "values.schema.json"),
		"err-schema-defs":    filepath.Join("..", "..", "testdata", "charts", "err-schema-defs", "values.schema.json"),
	}
	corpus := corpusPath()
	if _, err := os.Stat(filepath.Join(corpus, "cert-manager", "cert-manager", "values.schema.json")); err == nil {
		schemas["cert-manager"] = filepath.Join(corpus, "cert-manager", "cert-manager", "values.schema.json")
	} else {
		t.Logf("chart corpus not found (set KUBECTL_CHART_CORPUS): cert-manager's schema not checked")
	}
	values := []map[string]any{
		{},
		{"replicas": 0},
		{"image": map[string]any{"tag": 5}},
		{"image": map[string]any{"tag": "x"}},
		{"ports": []any{80, 70000}},
		{"extra": 1},
		{"enabled": "x"},
		{"port": 80},
		{"replicaCount": "x"},
		{"global": map[string]any{"logLevel": "x"}},
		{"webhook": map[string]any{"timeoutSeconds": "x"}},
		{"webhook": map[string]any{"unknown": true}},
		{"podDnsConfig": map[string]any{"nameservers": "x"}},
		{"prometheus": map[string]any{"servicemonitor": map[string]any{"interval": 5}}},
		{"crds": map[string]any{"enabled": "yes"}},
		{"featureGates": 1},
	}
	for name, file := range schemas {
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		if !defsAsDefinitions(doc, raw) {
			t.Errorf("%s: the rewrite was not applied", name)
		}
		for _, v := range values {
			fast, slow := validateSingleSchema(v, raw, true), validateSingleSchema(v, raw, false)
			if (fast == nil) != (slow == nil) || fast != nil && fast.Error() != slow.Error() {
				t.Errorf("%s, values %v:\nrewritten: %v\nas written: %v", name, v, fast, slow)
			}
		}
	}
}

func TestDefsAsDefinitionsSkips(t *testing.T) {
	cases := map[string]string{
		"draft 2020":      `{"$schema": "https://json-schema.org/draft/2020-12/schema", "$defs": {"a": {}}, "$ref": "#/$defs/a"}`,
		"no $schema":      `{"$defs": {"a": {}}, "$ref": "#/$defs/a"}`,
		"has definitions": `{"$schema": "http://json-schema.org/draft-07/schema#", "$defs": {"a": {}}, "definitions": {}}`,
		"$id":             `{"$schema": "http://json-schema.org/draft-07/schema#", "$defs": {"a": {"$id": "x"}}}`,
		"draft-04 id":     `{"$schema": "http://json-schema.org/draft-04/schema#", "$defs": {"a": {"id": "x"}}}`,
		"ref with url":    `{"$schema": "http://json-schema.org/draft-07/schema#", "$defs": {"a": {}}, "$ref": "values.schema.json#/$defs/a"}`,
		"escaped ref":     `{"$schema": "http://json-schema.org/draft-07/schema#", "$defs": {"a": {}}, "properties": {"x": {"$ref": "#/%24defs/a"}}}`,
		"no $defs":        `{"$schema": "http://json-schema.org/draft-07/schema#", "definitions": {"a": {}}}`,
	}
	for name, raw := range cases {
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader([]byte(raw)))
		if err != nil {
			t.Fatal(err)
		}
		if defsAsDefinitions(doc, []byte(raw)) {
			t.Errorf("%s: rewritten, want left as written", name)
		}
	}
}
