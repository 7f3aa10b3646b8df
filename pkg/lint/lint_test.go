package lint

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kubectl-chart/kubectl-chart/pkg/chart/packager"
	"github.com/kubectl-chart/kubectl-chart/pkg/render"
)

// charts is the repository's folder of test charts.
var charts = filepath.Join("..", "..", "testdata", "charts")

func messages(res *Result) []string {
	var out []string
	for _, m := range res.Messages {
		out = append(out, m.String())
	}
	return out
}

func mustKubeVersion(t *testing.T, v string) *render.KubeVersion {
	t.Helper()
	kv, err := render.ParseKubeVersion(v)
	if err != nil {
		t.Fatal(err)
	}
	return kv
}

const dnsSubdomainRule = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"

func TestLint(t *testing.T) {
	depsDir, err := filepath.Abs(filepath.Join(charts, "lint-deps"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		chart string
		opts  func(*Options)
		want  []string
		// wantWarnings are the render's side warnings.
		wantWarnings []string
	}{
		{name: "clean chart", chart: "lint-good"},
		{
			name:  "Chart.yaml rules",
			chart: "lint-chartfile",
			want: []string{
				"[WARNING] Chart.yaml: failed to strictly parse chart metadata file\n\terror unmarshaling JSON: while decoding JSON: json: unknown field \"unknownField\"",
				"[ERROR] Chart.yaml: apiVersion 'v3' is not valid. The value must be either \"v1\" or \"v2\"",
				"[ERROR] Chart.yaml: version should be of type string but it's of type float64",
				"[ERROR] Chart.yaml: appVersion should be of type string but it's of type float64",
				"[ERROR] Chart.yaml: invalid email 'not-an-email' for maintainer 'Jane Doe'",
				"[ERROR] Chart.yaml: invalid source URL 'not a url'",
				"[ERROR] Chart.yaml: invalid icon URL 'icon.png'",
				"[ERROR] Chart.yaml: chart type is not valid in apiVersion 'v3'. It is valid in apiVersion 'v2'",
				"[WARNING] Chart.yaml: version '1.2' is not a valid SemVerV2",
				"[ERROR] Chart.yaml: kubeVersion 'not a constraint' is not a valid SemVer constraint: improper constraint: \"not a constraint\"",
				"[INFO] values.yaml: file does not exist",
			},
		},
		{
			name:  "chart that does not load",
			chart: "lint-bad-version",
			want: []string{
				"[ERROR] Chart.yaml: version 'not-a-version' is not a valid SemVer",
				"[INFO] Chart.yaml: icon is recommended",
				"[WARNING] Chart.yaml: version 'not-a-version' is not a valid SemVerV2",
				"[INFO] values.yaml: file does not exist",
				"[ERROR] templates/: validation: chart.metadata.version \"not-a-version\" is invalid",
				"[ERROR] : unable to load chart\n\tvalidation: chart.metadata.version \"not-a-version\" is invalid",
			},
		},
		{
			name:  "values against the schema, path named",
			chart: "lint-values",
			want: []string{
				"[ERROR] values.yaml: - at '/replicas': minimum: got 0, want 1\n",
				"[ERROR] templates/: values don't meet the specifications of the schema(s) in the following chart(s):\nlint-values:\n- at '/replicas': minimum: got 0, want 1\n",
			},
		},
		{
			name:  "user values fix the schema violation",
			chart: "lint-values",
			opts:  func(o *Options) { o.Values = map[string]any{"replicas": int64(3)} },
		},
		{
			name:  "schema validation skipped",
			chart: "lint-values",
			opts:  func(o *Options) { o.SkipSchemaValidation = true },
		},
		{
			name:  "values.yaml does not parse",
			chart: "lint-bad-values",
			want: []string{
				"[ERROR] values.yaml: unable to parse YAML: error converting YAML to JSON: yaml: line 1: did not find expected ',' or ']'",
				"[ERROR] templates/: cannot load values.yaml: cannot unmarshal yaml document: error converting YAML to JSON: yaml: line 1: did not find expected ',' or ']'",
				"[ERROR] : unable to load chart\n\tcannot load values.yaml: cannot unmarshal yaml document: error converting YAML to JSON: yaml: line 1: did not find expected ',' or ']'",
			},
		},
		{
			name:  "template does not parse",
			chart: "lint-parse-error",
			want: []string{
				"[INFO] values.yaml: file does not exist",
				"[ERROR] templates/: parse error at (lint-parse-error/templates/cm.yaml:6): function \"nosuchfunction\" not defined",
			},
		},
		{
			name:  "template renders invalid YAML",
			chart: "lint-yaml-error",
			want: []string{
				"[INFO] values.yaml: file does not exist",
				"[ERROR] templates/cm.yaml: unable to parse YAML: error converting YAML to JSON: yaml: line 7: mapping values are not allowed in this context",
			},
		},
		{
			name:  "rendered documents",
			chart: "lint-render",
			want: []string{
				"[ERROR] templates/config.json: file extension '.json' not valid. Valid extensions are .yaml, .yml, .tpl, or .txt",
				"[ERROR] templates/deployment.yaml: a Deployment must contain matchLabels or matchExpressions, and \"web\" does not",
				"[WARNING] templates/deprecated.yaml: rbac.authorization.k8s.io/v1beta1 Role is deprecated in v1.17+, unavailable in v1.22+; use rbac.authorization.k8s.io/v1 Role",
				"[ERROR] templates/list.yaml: annotation 'helm.sh/resource-policy' within List objects are ignored",
				"[WARNING] templates/names.yaml: object name does not conform to Kubernetes naming requirements: \"UPPER\": metadata.name: Invalid value: \"UPPER\": " + dnsSubdomainRule,
				"[WARNING] templates/names.yaml: object name does not conform to Kubernetes naming requirements: \"Bad_Name\": metadata.name: Invalid value: \"Bad_Name\": " + dnsSubdomainRule,
				"[WARNING] templates/names.yaml: object name does not conform to Kubernetes naming requirements: \"a/b\": metadata.name: Invalid value: \"a/b\": may not contain '/'",
				"[WARNING] templates/names.yaml: object name does not conform to Kubernetes naming requirements: \"my.svc\": metadata.name: Invalid value: \"my.svc\": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')",
				"[ERROR] templates/nokind.yaml: object \"web\" is not a Kubernetes object: apiVersion not set, kind not set",
				"[WARNING] templates/noname.yaml: object name does not conform to Kubernetes naming requirements: \"\": metadata.name: Invalid value: \"\": " + dnsSubdomainRule,
			},
			wantWarnings: []string{"fail: strictMode is not supported", "missing required value: suffix is required"},
		},
		{
			name:  "deprecation depends on the Kubernetes version",
			chart: "lint-render",
			opts: func(o *Options) {
				o.KubeVersion = mustKubeVersion(t, "1.16.0")
				o.Values = map[string]any{"strictMode": false, "suffix": "-x"}
			},
			want: []string{
				"[ERROR] templates/config.json: file extension '.json' not valid. Valid extensions are .yaml, .yml, .tpl, or .txt",
				"[ERROR] templates/deployment.yaml: a Deployment must contain matchLabels or matchExpressions, and \"web\" does not",
				"[ERROR] templates/list.yaml: annotation 'helm.sh/resource-policy' within List objects are ignored",
				"[WARNING] templates/names.yaml: object name does not conform to Kubernetes naming requirements: \"UPPER\": metadata.name: Invalid value: \"UPPER\": " + dnsSubdomainRule,
				"[WARNING] templates/names.yaml: object name does not conform to Kubernetes naming requirements: \"Bad_Name\": metadata.name: Invalid value: \"Bad_Name\": " + dnsSubdomainRule,
				"[WARNING] templates/names.yaml: object name does not conform to Kubernetes naming requirements: \"a/b\": metadata.name: Invalid value: \"a/b\": may not contain '/'",
				"[WARNING] templates/names.yaml: object name does not conform to Kubernetes naming requirements: \"my.svc\": metadata.name: Invalid value: \"my.svc\": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')",
				"[ERROR] templates/nokind.yaml: object \"web\" is not a Kubernetes object: apiVersion not set, kind not set",
				"[WARNING] templates/noname.yaml: object name does not conform to Kubernetes naming requirements: \"\": metadata.name: Invalid value: \"\": " + dnsSubdomainRule,
			},
		},
		{
			name:  "dependencies against charts/",
			chart: "lint-deps",
			want: []string{
				"[INFO] values.yaml: file does not exist",
				"[ERROR] " + depsDir + ": chart metadata is missing these dependencies: extra",
				"[WARNING] " + depsDir + ": chart directory is missing these dependencies: missing",
			},
		},
		{
			name:  "crds/ holds only CRDs",
			chart: "lint-crds",
			want: []string{
				"[INFO] values.yaml: file does not exist",
				"[ERROR] crds/not-a-crd.yaml: apiVersion is not in 'apiextensions.k8s.io'",
				"[ERROR] crds/not-a-crd.yaml: object kind is not 'CustomResourceDefinition'",
			},
		},
		{
			name:  "no templates/",
			chart: "lint-no-templates",
			want:  []string{"[WARNING] templates/: directory does not exist"},
		},
		{
			name:  "library chart: partials only",
			chart: "lint-library",
			want:  []string{"[INFO] values.yaml: file does not exist"},
		},
		{
			name:  "kubeVersion excludes the target",
			chart: "lint-kubeversion",
			want: []string{
				"[WARNING] Chart.yaml: chart requires kubeVersion: >=1.40.0-0 which is incompatible with Kubernetes v1.37.0",
				"[INFO] values.yaml: file does not exist",
			},
		},
		{
			name:  "kubeVersion admits the target",
			chart: "lint-kubeversion",
			opts:  func(o *Options) { o.KubeVersion = mustKubeVersion(t, "v1.41.0") },
			want:  []string{"[INFO] values.yaml: file does not exist"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opts := DefaultOptions()
			if tc.opts != nil {
				tc.opts(&opts)
			}
			res, err := Lint(t.Context(), filepath.Join(charts, tc.chart), opts)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, messages(res)); diff != "" {
				t.Errorf("messages (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantWarnings, res.Warnings); diff != "" {
				t.Errorf("warnings (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLintNotAChart(t *testing.T) {
	dir := t.TempDir()
	notGzip := filepath.Join(dir, "x.tgz")
	if err := os.WriteFile(notGzip, []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path, want string
	}{
		{"no Chart.yaml", filepath.Join(charts, "lint-not-a-chart"), "unable to check Chart.yaml file in chart: stat " + filepath.Join(charts, "lint-not-a-chart", "Chart.yaml") + ": no such file or directory"},
		{"no such folder", filepath.Join(dir, "nope"), "unable to check Chart.yaml file in chart: stat " + filepath.Join(dir, "nope", "Chart.yaml") + ": no such file or directory"},
		{"no such archive", filepath.Join(dir, "nope.tgz"), "unable to open tarball: open " + filepath.Join(dir, "nope.tgz") + ": no such file or directory"},
		{"not gzip", notGzip, "unable to extract tarball: unexpected EOF"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := Lint(t.Context(), tc.path, DefaultOptions())
			if err == nil {
				t.Fatalf("no error; messages %q", messages(res))
			}
			if diff := cmp.Diff(tc.want, err.Error()); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
		})
	}
}

// A packaged chart lints as its folder does (packaging rewrites Chart.yaml,
// so charts with Chart.yaml problems are left out).
func TestLintArchive(t *testing.T) {
	out := t.TempDir()
	for _, name := range []string{"lint-good", "lint-render", "lint-crds", "lint-values", "lint-no-templates", "lint-yaml-error", "lint-kubeversion"} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(charts, name)
			tgz, err := packager.PackageDir(dir, out)
			if err != nil {
				t.Fatal(err)
			}
			fromDir, err := Lint(t.Context(), dir, DefaultOptions())
			if err != nil {
				t.Fatal(err)
			}
			fromArchive, err := Lint(t.Context(), tgz, DefaultOptions())
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(messages(fromDir), messages(fromArchive)); diff != "" {
				t.Errorf("archive lints differently (-dir +archive):\n%s", diff)
			}
		})
	}
}

func TestLintCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := Lint(ctx, filepath.Join(charts, "lint-good"), DefaultOptions())
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error %v, want context.Canceled", err)
	}
}

func TestResult(t *testing.T) {
	msg := func(s Severity) Message { return Message{Severity: s, Path: "x", Err: errors.New("y")} }
	tests := []struct {
		name                           string
		msgs                           []Message
		findings, failed, failedStrict bool
	}{
		{name: "none"},
		{name: "info", msgs: []Message{msg(SeverityInfo)}},
		{name: "warning", msgs: []Message{msg(SeverityInfo), msg(SeverityWarning)}, findings: true, failedStrict: true},
		{name: "error", msgs: []Message{msg(SeverityError)}, findings: true, failed: true, failedStrict: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := &Result{Messages: tc.msgs}
			got := []bool{r.HasWarningsOrErrors(), r.Failed(false), r.Failed(true)}
			want := []bool{tc.findings, tc.failed, tc.failedStrict}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("findings, failed, failed strict (-want +got):\n%s", diff)
			}
		})
	}
	if got := msg(SeverityWarning).String(); got != "[WARNING] x: y" {
		t.Errorf("message %q", got)
	}
	if got := Severity(9).String(); got != "UNKNOWN" {
		t.Errorf("severity %q", got)
	}
}

// The checks Helm takes from govalidator.
func TestURLChecks(t *testing.T) {
	tests := []struct {
		in                  string
		email, url, request bool
	}{
		{in: "jane@example.com", email: true, url: true},
		{in: "jane.doe+tag@sub.example.co.uk", email: true, url: true},
		{in: "not-an-email", url: false},
		{in: "https://example.com/icon.png", url: true, request: true},
		{in: "http://localhost:8080/x?y=z#w", url: true, request: true},
		{in: "example.com", url: true},
		{in: "example.com:8080", url: true, request: true}, // "example.com" parses as a scheme
		{in: "icon.png", url: true},
		{in: "/icon.png", url: false, request: false},
		{in: "not a url"},
		{in: ".example.com"},
		{in: "ab"},
		{in: "ftp://files.example.com/x", url: true, request: true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got := []bool{isEmail(tc.in), isURL(tc.in), isRequestURL(tc.in)}
			want := []bool{tc.email, tc.url, tc.request}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("email, url, request url (-want +got):\n%s", diff)
			}
		})
	}
}

type tarEntry struct {
	name     string
	typeflag byte
	body     string
}

func makeArchive(t testing.TB, entries ...tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, e := range entries {
		tf := e.typeflag
		if tf == 0 {
			tf = tar.TypeReg
		}
		hd := &tar.Header{Name: e.name, Typeflag: tf, Mode: 0o644, Size: int64(len(e.body))}
		if tf != tar.TypeReg {
			hd.Size = 0
			hd.Linkname = "target"
		}
		if err := tw.WriteHeader(hd); err != nil {
			t.Fatal(err)
		}
		if tf == tar.TypeReg {
			if _, err := tw.Write([]byte(e.body)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

const chartYAML = "apiVersion: v2\nname: c\nversion: 0.1.0\n"

// TestReadArchive reads archives through the loader's reader (the one archive
// reader: its bounds, path checks and Helm's messages) and Expand's check of
// the chart's name.
func TestReadArchive(t *testing.T) {
	tests := []struct {
		name      string
		entries   []tarEntry
		wantNames []string
		wantErr   string
	}{
		{
			name:      "chart",
			entries:   []tarEntry{{name: "c/Chart.yaml", body: chartYAML}, {name: "c/templates/x.yaml", body: "a: b"}},
			wantNames: []string{"Chart.yaml", "templates/x.yaml"},
		},
		{
			name:      "windows separators",
			entries:   []tarEntry{{name: `c\Chart.yaml`, body: chartYAML}, {name: `c\templates\x.yaml`}},
			wantNames: []string{"Chart.yaml", "templates/x.yaml"},
		},
		{name: "parent folder", entries: []tarEntry{{name: "c/Chart.yaml", body: chartYAML}, {name: "c/../../x"}}, wantErr: `chart illegally references parent directory: "c/../../x"`},
		{name: "absolute", entries: []tarEntry{{name: "/etc/passwd"}}, wantErr: `chart illegally contains absolute paths: "/etc/passwd"`},
		{name: "drive", entries: []tarEntry{{name: `C:\x`}}, wantErr: `chart contains illegally named files: "C:\\x"`},
		{name: "drive inside", entries: []tarEntry{{name: `c/C:/x`}}, wantErr: `chart contains illegally named files: "c/C:/x"`},
		{name: "symlink", entries: []tarEntry{{name: "c/Chart.yaml", body: chartYAML}, {name: "c/link", typeflag: tar.TypeSymlink}}, wantErr: `chart contains a symbolic link, which is not allowed: "c/link" -> "target"`},
		{name: "Chart.yaml at the top", entries: []tarEntry{{name: "Chart.yaml", body: chartYAML}}, wantErr: `chart illegally contains content outside the base directory: "Chart.yaml"`},
		{name: "file outside a folder", entries: []tarEntry{{name: "README"}}, wantErr: `chart illegally contains content outside the base directory: "README"`},
		{name: "no Chart.yaml", entries: []tarEntry{{name: "c/values.yaml", body: "a: 1"}}, wantErr: "chart name not specified"},
		{name: "bad Chart.yaml", entries: []tarEntry{{name: "c/Chart.yaml", body: "name: [x"}}, wantErr: "cannot load Chart.yaml: error converting YAML to JSON: yaml: line 1: did not find expected ',' or ']'"},
		{name: "dot name", entries: []tarEntry{{name: "c/Chart.yaml", body: "name: ..\n"}}, wantErr: `chart name ".." is not allowed`},
		{name: "name with a slash", entries: []tarEntry{{name: "c/Chart.yaml", body: "name: a/b\n"}}, wantErr: `chart name "a/b" must not contain path separators`},
		{name: "empty", entries: nil, wantErr: "no files in chart archive"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			files, err := readArchive(bytes.NewReader(makeArchive(t, tc.entries...)))
			gotErr := ""
			if err != nil {
				gotErr = err.Error()
			}
			if diff := cmp.Diff(tc.wantErr, gotErr); diff != "" {
				t.Fatalf("error (-want +got):\n%s", diff)
			}
			var names []string
			for _, f := range files {
				names = append(names, f.Name)
			}
			if err == nil {
				if diff := cmp.Diff(tc.wantNames, names); diff != "" {
					t.Errorf("files (-want +got):\n%s", diff)
				}
			}
		})
	}
}

func TestMemSource(t *testing.T) {
	files, err := readArchive(bytes.NewReader(makeArchive(t,
		tarEntry{name: "c/Chart.yaml", body: chartYAML},
		tarEntry{name: "c/templates/x.yaml", body: "a: b"},
	)))
	if err != nil {
		t.Fatal(err)
	}
	src := memSource(files)
	if isDir, err := src.stat("templates"); err != nil || !isDir {
		t.Errorf("templates: dir %v, error %v", isDir, err)
	}
	if isDir, err := src.stat("Chart.yaml"); err != nil || isDir {
		t.Errorf("Chart.yaml: dir %v, error %v", isDir, err)
	}
	if _, err := src.stat("crds"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("crds: error %v, want not exist", err)
	}
	if _, err := src.readFile("templates"); err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Errorf("reading a folder: %v", err)
	}
	if _, err := src.readFile("values.yaml"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("values.yaml: error %v, want not exist", err)
	}
	ch, err := src.load()
	if err != nil {
		t.Fatal(err)
	}
	if ch.Name() != "c" || len(ch.Templates) != 1 {
		t.Errorf("loaded %q with %d templates", ch.Name(), len(ch.Templates))
	}
}

// FuzzReadArchive: any bytes are refused or read, never a panic, and what
// is read stays inside the chart.
func FuzzReadArchive(f *testing.F) {
	f.Add(makeArchive(f, tarEntry{name: "c/Chart.yaml", body: chartYAML}, tarEntry{name: "c/templates/x.yaml", body: "a: b"}))
	f.Add(makeArchive(f, tarEntry{name: "c/../x", body: chartYAML}))
	f.Add([]byte("not gzip"))
	f.Fuzz(func(t *testing.T, data []byte) {
		files, err := readArchive(bytes.NewReader(data))
		if err != nil {
			return
		}
		for _, file := range files {
			if strings.HasPrefix(file.Name, "/") || strings.HasPrefix(file.Name, "..") || strings.Contains(file.Name, "/../") {
				t.Errorf("entry %q leaves the chart", file.Name)
			}
		}
	})
}
