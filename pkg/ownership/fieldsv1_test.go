package ownership

import (
	"bytes"
	"encoding/json"
	"testing"

	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
)

// FuzzSetFromFieldsV1: reading a FieldsV1 set from its decoded JSON gives
// the set fieldpath.Set.FromJSON reads from that JSON encoded again (as
// OwnedFields did before; a text with duplicate keys decodes to one of
// them), and fails where it fails. The seeds (run by go test) are sets server-side apply records,
// with keyed, set and indexed items, "." members, unknown element types
// and malformed keys.
func FuzzSetFromFieldsV1(f *testing.F) {
	for _, s := range []string{
		`{}`,
		`{"f:data":{"f:k":{}},"f:metadata":{"f:labels":{"f:app":{},"f:kubectl-chart.io/release":{}}}}`,
		`{"f:spec":{"f:template":{"f:spec":{"f:containers":{"k:{\"name\":\"web\"}":{".":{},"f:image":{},"f:ports":{"k:{\"containerPort\":8080,\"protocol\":\"TCP\"}":{".":{},"f:containerPort":{}}}}}}}}}`,
		`{"f:metadata":{"f:finalizers":{"v:\"example.com/guard\"":{}}},"f:spec":{"f:tolerations":{"i:0":{".":{},"f:key":{}}}}}`,
		`{"z:unknown":{},"f:a":{"z:x":{"f:b":{}}}}`,
		`{".":{},"f:a":{".":{"f:ignored":{}}}}`,
		`{"f:a":{"f:b":{}},"f:c":{}}`,
		`{"k:not json":{}}`,
		`{"f:a":"text"}`,
		`{"v:[1,2]":{},"k:{\"a\":1,\"b\":\"x\"}":{"f:c":{}}}`,
		`{"i:x":{}}`,
		`{"f:a":{"f:b":{"f:c":{"f:d":{"f:e":{}}}}},"f:a2":{".":{}}}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		var decoded any
		if err := json.Unmarshal([]byte(text), &decoded); err != nil {
			return
		}
		if _, ok := decoded.(map[string]any); !ok {
			return
		}
		encoded, err := json.Marshal(decoded)
		if err != nil {
			t.Fatal(err)
		}
		want := &fieldpath.Set{}
		wantErr := want.FromJSON(bytes.NewReader(encoded))
		got, err := setFromFieldsV1(decoded)
		if (err != nil) != (wantErr != nil) {
			t.Fatalf("%s: error %v, FromJSON's %v", text, err, wantErr)
		}
		if err != nil {
			return
		}
		if !got.Equals(want) {
			t.Fatalf("%s:\n got %s\nwant %s", text, got.String(), want.String())
		}
	})
}
