package values

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/pflag"
)

func TestMergeValues(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"base.yaml":     "image:\n  repository: nginx\n  tag: \"1.0\"\nreplicas: 1\nlist: [a, b]\n",
		"override.yaml": "image:\n  tag: \"2.0\"\nreplicas: 3\n",
		"multi.yaml":    "a: 1\nb: {c: 1, d: 2}\n---\nb: {c: 3}\ne: x\n---\n# only a comment\n",
		"bad.yaml":      "a: [\n",
		"list.yaml":     "- a\n- b\n",
		"content.txt":   "line1\nline2\n",
		"empty.yaml":    "",
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	path := func(name string) string { return filepath.Join(dir, name) }

	tests := []struct {
		name    string
		opts    Options
		stdin   string
		want    map[string]any
		wantErr string
	}{
		{
			name: "nothing",
			want: map[string]any{},
		},
		{
			// Numbers of values files are float64, as in Helm; those of --set are int64.
			name: "files merged in order",
			opts: Options{ValueFiles: []string{path("base.yaml"), path("override.yaml")}},
			want: map[string]any{
				"image":    map[string]any{"repository": "nginx", "tag": "2.0"},
				"replicas": float64(3),
				"list":     []any{"a", "b"},
			},
		},
		{
			name: "multi-document file",
			opts: Options{ValueFiles: []string{path("multi.yaml")}},
			want: map[string]any{"a": float64(1), "b": map[string]any{"c": float64(3), "d": float64(2)}, "e": "x"},
		},
		{
			name: "empty file",
			opts: Options{ValueFiles: []string{path("empty.yaml")}},
			want: map[string]any{},
		},
		{
			name:  "stdin",
			opts:  Options{ValueFiles: []string{path("base.yaml"), " - "}},
			stdin: "replicas: 5\n---\nextra: true\n",
			want: map[string]any{
				"image":    map[string]any{"repository": "nginx", "tag": "1.0"},
				"replicas": float64(5),
				"list":     []any{"a", "b"},
				"extra":    true,
			},
		},
		{
			name:  "stdin is read once",
			opts:  Options{ValueFiles: []string{"-"}, FileValues: []string{"again=-"}},
			stdin: "a: 1\n",
			want:  map[string]any{"a": float64(1), "again": ""},
		},
		{
			name: "precedence: files, --set-json, --set, --set-string, --set-file, --set-literal",
			opts: Options{
				ValueFiles:    []string{path("base.yaml")},
				JSONValues:    []string{`replicas=2,j=[1,"x"]`, `{"image": {"pullPolicy": "Always"}}`},
				Values:        []string{"replicas=4,s=true", "list[1]=c"},
				StringValues:  []string{"s=true"},
				FileValues:    []string{"f=" + path("content.txt")},
				LiteralValues: []string{"l=a,b.c={d}", "s=literal"},
			},
			want: map[string]any{
				"image":    map[string]any{"repository": "nginx", "tag": "1.0", "pullPolicy": "Always"},
				"replicas": int64(4),
				"list":     []any{"a", "c"},
				"j":        []any{float64(1), "x"},
				"s":        "literal",
				"f":        "line1\nline2\n",
				"l":        "a,b.c={d}",
			},
		},
		{
			name: "--set-json replaces with --set, --set keeps null",
			opts: Options{
				ValueFiles: []string{path("base.yaml")},
				JSONValues: []string{`image={"x":1}`},
				Values:     []string{"replicas=null"},
			},
			want: map[string]any{"image": map[string]any{"x": float64(1)}, "replicas": nil, "list": []any{"a", "b"}},
		},
		{
			name:    "missing file",
			opts:    Options{ValueFiles: []string{path("missing.yaml")}},
			wantErr: "open " + path("missing.yaml") + ": no such file or directory",
		},
		{
			name:    "bad YAML",
			opts:    Options{ValueFiles: []string{path("bad.yaml")}},
			wantErr: "failed to parse " + path("bad.yaml") + ": cannot unmarshal yaml document: error converting YAML to JSON: yaml: line 1: did not find expected node content",
		},
		{
			name:    "not a table",
			opts:    Options{ValueFiles: []string{path("list.yaml")}},
			wantErr: "failed to parse " + path("list.yaml") + ": cannot unmarshal yaml document: error unmarshaling JSON: while decoding JSON: json: cannot unmarshal array into Go value of type map[string]interface {}",
		},
		{
			name:    "URL",
			opts:    Options{ValueFiles: []string{"https://example.com/values.yaml"}},
			wantErr: "https://example.com/values.yaml: values from URLs are not supported, download the file first",
		},
		{
			name:    "bad --set",
			opts:    Options{Values: []string{"a=1", "a,b=c"}},
			wantErr: `failed parsing --set data: key "a" has no value (cannot end with ,) at position 3 in "a,b=c"`,
		},
		{
			name:    "--set through a scalar of a file",
			opts:    Options{ValueFiles: []string{path("base.yaml")}, Values: []string{"replicas.x=1"}},
			wantErr: `failed parsing --set data: unable to parse key: interface conversion: interface {} is float64, not map[string]interface {} at position 10 in "replicas.x=1"`,
		},
		{
			name:    "bad --set-string",
			opts:    Options{StringValues: []string{"a={b"}},
			wantErr: `failed parsing --set-string data: list must terminate with '}' at position 5 in "a={b"`,
		},
		{
			name:    "bad --set-json",
			opts:    Options{JSONValues: []string{"a=[1,"}},
			wantErr: `failed parsing --set-json data a=[1,: unexpected EOF at position 6 in "a=[1,"`,
		},
		{
			name:    "bad --set-json object",
			opts:    Options{JSONValues: []string{` {"a": 1`}},
			wantErr: `failed parsing --set-json data JSON:  {"a": 1: unexpected end of JSON input`,
		},
		{
			name:    "missing --set-file",
			opts:    Options{FileValues: []string{"a=" + path("missing.txt")}},
			wantErr: `failed parsing --set-file data: open ` + path("missing.txt") + `: no such file or directory at position ` + strconv.Itoa(utf8.RuneCountInString(path("missing.txt"))+3) + ` in "a=` + path("missing.txt") + `"`,
		},
		{
			name:    "bad --set-literal",
			opts:    Options{LiteralValues: []string{"a.b"}},
			wantErr: `failed parsing --set-literal data: key "b" has no value at position 4 in "a.b"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.opts.MergeValues(strings.NewReader(tt.stdin))
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("no error, want %q", tt.wantErr)
				}
				if diff := cmp.Diff(tt.wantErr, err.Error()); diff != "" {
					t.Errorf("error (-want +got):\n%s", diff)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestMergeValuesNoStdin(t *testing.T) {
	o := Options{ValueFiles: []string{"-"}}
	if _, err := o.MergeValues(nil); err == nil {
		t.Error("no error reading \"-\" without standard input")
	}
}

func TestAddFlags(t *testing.T) {
	var o Options
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	o.AddFlags(fs)
	args := []string{
		"-f", "a.yaml,b.yaml", "--values", "c.yaml",
		"--set", "a=1,b=2", "--set", "c={x,y}",
		"--set-string", "d=1,e=2",
		"--set-file", "f=path",
		"--set-json", `{"g": [1, 2]}`,
		"--set-literal", "h=a,b",
	}
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	want := Options{
		ValueFiles:    []string{"a.yaml", "b.yaml", "c.yaml"},
		Values:        []string{"a=1,b=2", "c={x,y}"},
		StringValues:  []string{"d=1,e=2"},
		FileValues:    []string{"f=path"},
		JSONValues:    []string{`{"g": [1, 2]}`},
		LiteralValues: []string{"h=a,b"},
	}
	if diff := cmp.Diff(want, o); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
