package render

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
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
		t.Run(name, func(t *testing.T) { checkHead(t, doc) })
	}
}

func FuzzParseHead(f *testing.F) {
	for _, doc := range headCases {
		f.Add(doc)
	}
	for _, doc := range scanHeadCases {
		f.Add(doc)
	}
	f.Fuzz(checkHead)
}

// scanHeadCases are documents in (or just outside) the plain block style
// that scanHead reads without a parse: each must give Helm's result,
// whichever path takes it.
var scanHeadCases = map[string]string{
	"crd style":                  "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  annotations:\n    controller-gen.kubebuilder.io/version: v0.16.1\n    operator.prometheus.io/version: 0.80.0\n  name: alertmanagers.monitoring.coreos.com\nspec:\n  group: monitoring.coreos.com\n  names:\n    categories:\n    - prometheus-operator\n    kind: Alertmanager\n  versions:\n  - additionalPrinterColumns:\n    - description: The version\n      jsonPath: .spec.version\n      name: Version\n      type: string\n    schema:\n      openAPIV3Schema:\n        description: |-\n          The `Alertmanager` custom resource definition (CRD) defines a desired [Alertmanager](https://prometheus.io/docs/alerting) setup.\n\n          For each `Alertmanager` resource, the Operator deploys a `StatefulSet`.\n        properties:\n          apiVersion:\n            type: string\n          x-kubernetes-int-or-string: true\n        required: [\"a\"]\n        type: object\n    served: true\n",
	"hook":                       "# Source: x/templates/job.yaml\napiVersion: batch/v1\nkind: Job\nmetadata:\n  name: \"rel-x\"\n  annotations:\n    \"helm.sh/hook\": post-install,post-upgrade\n    'helm.sh/hook-weight': '-5'\n    helm.sh/hook-delete-policy: before-hook-creation\nspec:\n  template:\n    spec:\n      containers:\n        - name: x\n          args: []\n          env: {}\n",
	"block in seq":               "kind: A\ndata:\n  - |\n    text\n  - >-\n      folded\n\n  - x\n",
	"block less indented":        "kind: A\ndata:\n  a: |\n  b: c\n",
	"block ends on comment":      "kind: A\ndata:\n  a: |\n      x\n    # c\n  b: c\n",
	"block leading blank spaces": "kind: A\ndata:\n  a: |\n      \n    x\n",
	"block tab indent":           "kind: A\ndata:\n  a: |\n  \tx\n",
	"block indicator":            "kind: A\ndata:\n  a: |2\n    x\n",
	"seq same indent":            "kind: A\nitems:\n- a\n- b: c\n  d: e\nmetadata:\n  name: n\n",
	"seq same indent in entry":   "kind: A\nitems:\n- key:\n  - a\n  other: b\n",
	"pending null":               "kind:\nmetadata:\n  name:\n  annotations:\napiVersion: v1\n",
	"pending annotation":         "metadata:\n  annotations:\n    a:\n    b: c\n",
	"empty metadata":             "kind: A\nmetadata: {}\n",
	"empty annotations":          "kind: A\nmetadata:\n  annotations: {}\n",
	"annotations list":           "kind: A\nmetadata:\n  annotations: []\n",
	"metadata list":              "kind: A\nmetadata:\n- a\n",
	"name map":                   "kind: A\nmetadata:\n  name:\n    a: b\n",
	"bool word name":             "kind: A\nmetadata:\n  name: yes\n",
	"bool word key":              "kind: A\nspec:\n  on: 1\n  y: 2\n",
	"null key":                   "kind: A\nspec:\n  null: 1\n",
	"inf value":                  "kind: A\nspec:\n  a: -.Inf\n",
	"big int key":                "kind: A\nspec:\n  18446744073709551615: 1\n",
	"quoted escapes":             "kind: \"A\\tB\"\n",
	"single quote escape":        "kind: 'it''s'\nmetadata:\n  name: 'a''''b'\n",
	"plain colon":                "kind: A\nspec:\n  a: b: c\n",
	"plain comment":              "kind: A # the kind\n",
	"plain trailing colon":       "kind: A\nspec:\n  a: b:\n",
	"url value":                  "kind: A\nspec:\n  a: http://x:80/#y\n",
	"multiline plain":            "kind: A\nspec:\n  a: b\n    c\n",
	"multiline plain pending":    "kind: A\nspec:\n  a:\n    b c\n",
	"deeper after value":         "kind: A\nspec:\n  a: b\n    c: d\n",
	"odd dedent":                 "kind: A\nspec:\n    a: b\n  c: d\n",
	"dash no space":              "kind: A\nspec:\n  -a\n",
	"nested dash":                "kind: A\nspec:\n  - - a\n",
	"dash pending":               "kind: A\nspec:\n  -\n    a: b\n  -\n  - c\n",
	"indented doc":               "  kind: A\n",
	"document end":               "kind: A\n...\n",
	"crlf":                       "kind: A\r\nmetadata:\r\n  name: n\r\n",
	"nel":                        "kind: A\u0085\n",
	"bom":                        "\ufeffkind: A\n",
	"unicode":                    "kind: A\nmetadata:\n  name: n\n  annotations:\n    a: \"h\u00e9llo \U0001F600\"\n",
	"control":                    "kind: A\x01\n",
	"long key":                   "kind: A\nspec:\n  " + strings.Repeat("k", 1100) + ": v\n",
	"kelvin kind":                "\u212aind: A\n",
	"folded name quoted":         "metadata:\n  \"Name\": x\n",
	"duplicate metadata":         "metadata:\n  name: a\nmetadata:\n",
	"duplicate annotation":       "metadata:\n  annotations:\n    a: b\n    a: c\n",
	"timestamp value":            "kind: A\nspec:\n  t: 2001-12-14\n",
	"anchor value":               "kind: A\nspec:\n  a: &x b\n",
	"tag value":                  "kind: A\nspec:\n  a: !!str b\n",
	"flow value":                 "kind: A\nspec:\n  a: [b]\n",
	"flow after empty":           "kind: A\nspec:\n  a: [] x\n",
	"quoted then text":           "kind: 'A' b\n",
	"quoted key no space":        "kind: A\nspec:\n  \"a\":b\n",
	"dash value then map":        "kind: A\nspec:\n- a\n  b: c\n",
	"top seq":                    "- kind: A\n",
	"int annotation key":         "metadata:\n  annotations:\n    1: a\n",
	"merge value":                "kind: A\nspec:\n  a: <<\n",
	"question key":               "kind: A\nspec:\n  ? a\n  : b\n",
	"comment no space":           "kind: A\nspec:\n  a: 'b'#c\n",
}

func TestParseHeadScanCases(t *testing.T) {
	for name, doc := range scanHeadCases {
		t.Run(name, func(t *testing.T) { checkHead(t, doc) })
	}
}

// checkHead checks parseHead against Helm's yaml.Unmarshal on doc, and
// that scanHead, when it takes doc, agrees with Helm too.
func checkHead(t *testing.T, doc string) {
	t.Helper()
	var want, got, scanned SimpleHead
	wantErr := yaml.Unmarshal([]byte(doc), &want)
	gotErr := parseHead(doc, &got)
	if (wantErr == nil) != (gotErr == nil) || wantErr != nil && wantErr.Error() != gotErr.Error() {
		t.Fatalf("doc %q:\nerror: want %v, got %v", doc, wantErr, gotErr)
	}
	// On an error, what Helm's call left in the head depends on map order
	// (sigs.k8s.io/yaml stops at the first key it cannot convert), and no
	// caller reads it.
	if diff := cmp.Diff(want, got); wantErr == nil && diff != "" {
		t.Fatalf("doc %q:\n-want +got:\n%s", doc, diff)
	}
	if scanHead(doc, &scanned) {
		if wantErr != nil {
			t.Fatalf("doc %q: scanHead took a document Helm refuses: %v", doc, wantErr)
		}
		if diff := cmp.Diff(want, scanned); diff != "" {
			t.Fatalf("doc %q: scanHead -want +got:\n%s", doc, diff)
		}
	}
}

// corpusPath is the chart corpus for this package's internal tests: as
// corpusDir of the external ones, without skipping.
func corpusPath() string {
	if d := os.Getenv("KUBECTL_CHART_CORPUS"); d != "" {
		return d
	}
	return filepath.Join("..", "..", "..", "shared", "charts")
}

// corpusDocs is every document of the corpus's golden output.
func corpusDocs(t testing.TB) []string {
	corpus := corpusPath()
	files, _ := filepath.Glob(filepath.Join(corpus, "golden", "run1", "*.yaml"))
	if len(files) == 0 {
		t.Skipf("chart corpus not found: set KUBECTL_CHART_CORPUS or put shared/charts beside the repository (looked in %s)", corpus)
	}
	var docs []string
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, SplitManifests(string(raw))...)
	}
	return docs
}

// TestScanHeadCorpus checks scanHead on every document Helm rendered for
// the corpus, and that it takes nearly all of them (else renders silently
// fall back to parsing everything).
func TestScanHeadCorpus(t *testing.T) {
	docs := corpusDocs(t)
	var took, bytes, tookBytes int
	for _, doc := range docs {
		checkHead(t, doc)
		var h SimpleHead
		bytes += len(doc)
		if scanHead(doc, &h) {
			took++
			tookBytes += len(doc)
		}
	}
	t.Logf("scanHead took %d of %d documents, %d of %d bytes", took, len(docs), tookBytes, bytes)
	if tookBytes*100 < bytes*95 {
		t.Errorf("scanHead took only %d of %d bytes of the corpus's documents: want at least 95%%", tookBytes, bytes)
	}
}

// TestScanHeadMutations checks scanHead on corpus documents changed at
// random in the places YAML is picky about: indentation, indicators,
// quotes, line breaks, tabs.
func TestScanHeadMutations(t *testing.T) {
	docs := corpusDocs(t)
	rng := rand.New(rand.NewPCG(1, 2))
	inserts := []string{" ", "  ", "- ", ":", ": ", "#", " #", "'", "\"", "|", ">", "\n", "\n  ", "\t", "{", "}", "[", "]", "&a ", "*a", "!", "?", "%", "@", "\\", ".inf", "~", "null", "yes", "5", "\r", "\u2028", "Kind", "---\n"}
	n := 0
	for range 20000 {
		doc := docs[rng.IntN(len(docs))]
		if len(doc) > 4000 {
			start := rng.IntN(len(doc) - 2000)
			doc = doc[:200] + doc[start:start+2000]
		}
		for range 1 + rng.IntN(3) {
			i := rng.IntN(len(doc) + 1)
			switch rng.IntN(3) {
			case 0:
				doc = doc[:i] + inserts[rng.IntN(len(inserts))] + doc[i:]
			case 1:
				if i < len(doc) {
					doc = doc[:i] + doc[i+1:]
				}
			case 2:
				doc = doc[:i] + strings.Repeat(" ", rng.IntN(4)) + doc[i:]
			}
		}
		var h SimpleHead
		if scanHead(doc, &h) {
			n++
		}
		checkHead(t, doc)
	}
	t.Logf("scanHead took %d of 20000 mutated documents", n)
}
