package render

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/yaml"
)

// headCases are documents whose head parsing must equal Helm's
// yaml.Unmarshal into SimpleHead, errors included.
var headCases = map[string]string{
	"plain":               "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n",
	"annotations":         "apiVersion: v1\nkind: Job\nmetadata:\n  name: x\n  annotations:\n    helm.sh/hook: pre-install\n    helm.sh/hook-weight: 5\n",
	"null annotation":     "kind: A\nmetadata:\n  annotations:\n    a: null\n    b: ~\n",
	"bool annotation":     "kind: A\nmetadata:\n  annotations:\n    a: true\n",
	"float annotation":    "kind: A\nmetadata:\n  annotations:\n    a: 1.5\n",
	"map annotation":      "kind: A\nmetadata:\n  annotations:\n    a: {b: c}\n",
	"int key annotation":  "kind: A\nmetadata:\n  annotations:\n    1: x\n",
	"case folded kind":    "Kind: A\napiVersion: v1\n",
	"both kinds":          "Kind: A\nkind: B\n",
	"metadata string":     "kind: A\nmetadata: x\n",
	"metadata null":       "kind: A\nmetadata:\n",
	"list doc":            "- a\n- b\n",
	"scalar doc":          "hello\n",
	"empty":               "",
	"comment only":        "# nothing\n",
	"infinity deep":       "kind: A\nspec:\n  x: .inf\n",
	"nan key":             "kind: A\nspec:\n  .nan: 1\n",
	"bad yaml":            "kind: A\n  b: : c\n\tx",
	"tab indent":          "kind: A\nspec:\n\tx: 1\n",
	"int kind":            "kind: 5\n",
	"big int name":        "metadata:\n  name: 18446744073709551615\n",
	"binary":              "kind: A\ndata: !!binary aGVsbG8=\n",
	"timestamp":           "kind: A\nmetadata:\n  name: 2001-12-14\n",
	"nested list maps":    "kind: A\nspec:\n  - a: 1\n    b: [1, {c: d}]\n",
	"bool key":            "kind: A\ntrue: 1\n",
	"duplicate keys":      "kind: A\nkind: B\n",
	"anchors":             "a: &x {kind: A}\nkind: *x\n",
	"merge key":           "base: &b {name: n}\nmetadata:\n  <<: *b\n",
	"name folded":         "metadata:\n  Name: x\n",
	"annotations in caps": "metadata:\n  ANNOTATIONS: {a: b}\n",
}

func TestParseHeadMatchesHelm(t *testing.T) {
	for name, doc := range headCases {
		t.Run(name, func(t *testing.T) {
			var want, got SimpleHead
			wantErr := yaml.Unmarshal([]byte(doc), &want)
			gotErr := parseHead([]byte(doc), &got)
			if (wantErr == nil) != (gotErr == nil) || wantErr != nil && wantErr.Error() != gotErr.Error() {
				t.Fatalf("error: want %v, got %v", wantErr, gotErr)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("-want +got:\n%s", diff)
			}
		})
	}
}

func FuzzParseHead(f *testing.F) {
	for _, doc := range headCases {
		f.Add(doc)
	}
	f.Fuzz(func(t *testing.T, doc string) {
		var want, got SimpleHead
		wantErr := yaml.Unmarshal([]byte(doc), &want)
		gotErr := parseHead([]byte(doc), &got)
		if (wantErr == nil) != (gotErr == nil) || wantErr != nil && wantErr.Error() != gotErr.Error() {
			t.Fatalf("error: want %v, got %v", wantErr, gotErr)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("-want +got:\n%s", diff)
		}
	})
}
