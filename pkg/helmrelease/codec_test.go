package helmrelease

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kubectl-chart/kubectl-chart/pkg/release"
)

func b64(s string) []byte { return []byte(base64.StdEncoding.EncodeToString([]byte(s))) }

func gzipped(t *testing.T, s string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestDecode(t *testing.T) {
	zeroTimes := &Release{
		Name:    "web",
		Info:    &Info{Status: StatusDeployed, Description: "Install complete"},
		Hooks:   []*Hook{{Name: "h", LastRun: HookExecution{Phase: HookPhaseRunning}}},
		Version: 1,
	}
	tests := []struct {
		name string
		data []byte
		want *Release
	}{
		{
			name: "helm 4 record",
			data: helmFixture(t, "helm4-release.json"),
			want: helm4Want(3, StatusDeployed, "Rollback to 1", 1),
		},
		{
			name: "helm 3 record (zero times written as \"\")",
			data: helmFixture(t, "helm3-release.json"),
			want: helm3Want(3, StatusDeployed, "Rollback to 1"),
		},
		{
			name: "uncompressed record, as before Helm compressed them",
			data: []byte(base64.StdEncoding.EncodeToString(bytes.TrimSpace(readTestdata(t, "helm3-release.json")))),
			want: helm3Want(3, StatusDeployed, "Rollback to 1"),
		},
		{
			name: "zero times written as Go's zero time",
			data: b64(`{"name":"web","info":{"first_deployed":"0001-01-01T00:00:00Z","last_deployed":"0001-01-01T00:00:00Z","deleted":"0001-01-01T00:00:00Z","description":"Install complete","status":"deployed"},"hooks":[{"name":"h","last_run":{"started_at":"0001-01-01T00:00:00Z","completed_at":"0001-01-01T00:00:00Z","phase":"Running"}}],"version":1}`),
			want: zeroTimes,
		},
		{
			name: "zero times written as null or left out",
			data: b64(`{"name":"web","info":{"first_deployed":null,"deleted":null,"description":"Install complete","status":"deployed","resources":null},"chart":null,"hooks":[{"name":"h","last_run":{"started_at":null,"phase":"Running"}}],"version":1}`),
			want: zeroTimes,
		},
		{
			name: "null lock and chart fields",
			data: b64(`{"name":"web","chart":{"metadata":{"name":"web"},"lock":null,"templates":null,"values":null,"schema":null,"files":null},"version":1}`),
			want: &Release{Name: "web", Chart: &Chart{Metadata: &Metadata{Name: "web"}}, Version: 1},
		},
		{
			name: "line breaks in the base64 text",
			data: []byte(strings.ReplaceAll(string(helmFixture(t, "helm3-release.json")), "A", "A\n")),
			want: helm3Want(3, StatusDeployed, "Rollback to 1"),
		},
		{
			name: "unknown fields are ignored, as Helm does",
			data: b64(`{"name":"web","future":{"x":1},"info":{"status":"failed","later":true},"version":2}`),
			want: &Release{Name: "web", Info: &Info{Status: StatusFailed}, Version: 2},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decode(tt.data)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Decode (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	gz := gzipped(t, `{"name":"web"}`)
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{name: "not base64", data: []byte("not base64!"), want: "decode base64: illegal base64 data at input byte 3"},
		{name: "URL-safe base64", data: []byte(base64.URLEncoding.EncodeToString([]byte{0xfb, 0xff, 0xfe})), want: "decode base64: illegal base64 data"},
		{name: "unpadded base64", data: []byte(base64.RawStdEncoding.EncodeToString([]byte(`{"name":"xy"}`))), want: "decode base64: illegal base64 data"},
		{name: "gzip header only and garbage", data: []byte(base64.StdEncoding.EncodeToString([]byte{0x1f, 0x8b, 0x08, 0, 1, 2})), want: "decompress: "},
		{name: "truncated gzip", data: []byte(base64.StdEncoding.EncodeToString(gz[:len(gz)-6])), want: "decompress: unexpected EOF"},
		{name: "corrupt gzip", data: []byte(base64.StdEncoding.EncodeToString(append(bytes.Clone(gz[:len(gz)-4]), 0, 0, 0, 0))), want: "decompress: gzip: invalid checksum"},
		{name: "three bytes of gzip magic are read as JSON, as Helm does", data: []byte(base64.StdEncoding.EncodeToString([]byte{0x1f, 0x8b, 0x08})), want: "decode release JSON: invalid character"},
		{name: "not JSON", data: b64("name: web"), want: "decode release JSON: invalid character"},
		{name: "gzip'd non-JSON", data: []byte(base64.StdEncoding.EncodeToString(gzipped(t, "<xml/>"))), want: "decode release JSON: invalid character '<'"},
		{name: "not an object", data: b64(`["web"]`), want: "decode release JSON: json: cannot unmarshal array"},
		{name: "bad time", data: b64(`{"info":{"last_deployed":"yesterday"}}`), want: `decode release JSON: parsing time "yesterday"`},
		{name: "bad hook time", data: b64(`{"hooks":[{"last_run":{"started_at":12}}]}`), want: "decode release JSON: "},
		{name: "wrong type", data: b64(`{"version":"3"}`), want: "decode release JSON: json: cannot unmarshal string into Go struct field Release.version of type int"},
		{name: "empty", data: nil, want: "decode release JSON: unexpected end of JSON input"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decode(tt.data)
			if err == nil {
				t.Fatalf("Decode = %+v, want an error", got)
			}
			if !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("Decode error = %q, want it to start %q", err, tt.want)
			}
		})
	}
}

// TestEncodeAsHelm4 checks Encode against Helm 4's own output (oracle:
// helm4-release.json is Helm 4's json.Marshal): the decoded record's JSON is
// Helm 4's byte for byte, and Encode compresses and encodes it as Helm's
// encodeRelease does.
func TestEncodeAsHelm4(t *testing.T) {
	helmJSON := bytes.TrimSuffix(readTestdata(t, "helm4-release.json"), []byte("\n"))
	r, err := Decode(helmFixture(t, "helm4-release.json"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(helmJSON), string(got)); diff != "" {
		t.Errorf("JSON (-helm 4 +ours):\n%s", diff)
	}
	enc, err := Encode(r)
	if err != nil {
		t.Fatal(err)
	}
	if want := encodeAsHelm(t, helmJSON); !bytes.Equal(want, enc) {
		t.Errorf("Encode = %.80s…, want Helm's encoding %.80s…", enc, want)
	}
	// Gzip'd at BestCompression: Go writes the level in the header's XFL
	// byte (2 = maximum compression).
	raw, err := base64.StdEncoding.DecodeString(string(enc))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(raw, magicGzip) || raw[8] != 2 {
		t.Errorf("Encode header = % x, want gzip with XFL 2", raw[:10])
	}
}

// TestEncodeHelm3 checks what Encode writes of a record Helm 3 wrote:
// Helm 4's form (zero times left out, not ""), which Helm 3 reads too.
func TestEncodeHelm3(t *testing.T) {
	r, err := Decode(helmFixture(t, "helm3-release.json"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{`"deleted"`, `"started_at":""`, `"apply_method"`, `"modtime"`} {
		if strings.Contains(string(got), s) {
			t.Errorf("JSON holds %s:\n%s", s, got)
		}
	}
	if !strings.Contains(string(got), `"schemamodtime":"0001-01-01T00:00:00Z"`) {
		t.Errorf("JSON lacks Helm 4's schemamodtime:\n%s", got)
	}
}

func TestEncodeDecode(t *testing.T) {
	tests := []struct {
		name string
		r    *Release
	}{
		{name: "helm 4 release", r: helm4Want(3, StatusDeployed, "Rollback to 1", 1)},
		{name: "helm 3 release", r: helm3Want(1, StatusSuperseded, "Install complete")},
		{name: "minimal", r: &Release{Name: "web", Version: 1}},
		{name: "empty", r: &Release{}},
		{
			name: "uninstalled, times in several zones",
			r: &Release{
				Name: "web", Namespace: "app", Version: 4,
				Info: &Info{
					FirstDeployed: time.Date(2023, 1, 2, 3, 4, 5, 0, time.UTC),
					LastDeployed:  time.Date(2023, 2, 2, 3, 4, 5, 6, time.FixedZone("", -5*3600)),
					Deleted:       time.Date(2023, 3, 2, 3, 4, 5, 0, time.UTC),
					Status:        StatusUninstalled, Description: "Uninstallation complete",
					Resources: json.RawMessage(`{"v1/Pod":[{"kind":"Pod"}]}`),
				},
				Config: map[string]any{"a": []any{1.0, "b", nil, true}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			enc, err := Encode(tt.r)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Decode(enc)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.r, got); diff != "" {
				t.Errorf("Decode(Encode(r)) (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEncodeError(t *testing.T) {
	r := &Release{Name: "web", Info: &Info{LastDeployed: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}}
	if _, err := Encode(r); err == nil || !strings.HasPrefix(err.Error(), "encode release JSON: ") {
		t.Errorf("Encode error = %v, want an encode release JSON error", err)
	}
}

func TestStatus(t *testing.T) {
	tests := []struct {
		r       *Release
		status  string
		pending bool
	}{
		{r: nil},
		{r: &Release{}},
		{r: &Release{Info: &Info{Status: StatusDeployed}}, status: "deployed"},
		{r: &Release{Info: &Info{Status: StatusPendingInstall}}, status: "pending-install", pending: true},
		{r: &Release{Info: &Info{Status: StatusPendingUpgrade}}, status: "pending-upgrade", pending: true},
		{r: &Release{Info: &Info{Status: StatusPendingRollback}}, status: "pending-rollback", pending: true},
		{r: &Release{Info: &Info{Status: StatusUninstalling}}, status: "uninstalling"},
		{r: &Release{Info: &Info{Status: StatusUnknown}}, status: "unknown"},
	}
	for _, tt := range tests {
		if got := tt.r.Status(); got != tt.status {
			t.Errorf("Status() = %q, want %q", got, tt.status)
		}
		if got := tt.r.Pending(); got != tt.pending {
			t.Errorf("%q: Pending() = %v, want %v", tt.status, got, tt.pending)
		}
	}
}

// FuzzDecode: Decode never panics, and what it reads Encode writes back to
// a record Decode reads the same. Each input is tried as a record's data and
// as the JSON inside one (base64'd), so that mutations reach the JSON
// reader too.
func FuzzDecode(f *testing.F) {
	f.Add(helmFixture(f, "helm4-release.json"))
	f.Add(helmFixture(f, "helm3-release.json"))
	f.Add(bytes.TrimSpace(readTestdata(f, "helm4-release.json")))
	f.Add([]byte(`{"name":"web","info":{"first_deployed":"","status":"deployed"},"hooks":[{"last_run":{"started_at":""}}],"version":1}`))
	f.Add([]byte(`{"chart":{"lock":null,"values":{"a":{"b":[1,2]}}},"config":null}`))
	f.Add([]byte(base64.StdEncoding.EncodeToString([]byte{0x1f, 0x8b, 0x08, 0, 0, 0})))
	f.Add([]byte("not base64"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, in := range [][]byte{data, []byte(base64.StdEncoding.EncodeToString(data))} {
			r, err := Decode(in)
			if err != nil {
				continue
			}
			first, err := json.Marshal(r)
			if err != nil {
				continue // a time Go cannot write (year > 9999), read from a forged record
			}
			enc, err := Encode(r)
			if err != nil {
				t.Fatalf("Encode after Marshal succeeded: %v", err)
			}
			again, err := Decode(enc)
			if err != nil {
				t.Fatalf("Decode(Encode(r)): %v", err)
			}
			second, err := json.Marshal(again)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(first, second) {
				t.Fatalf("Decode(Encode(r)) differs:\n%s\n%s", first, second)
			}
		}
	})
}

// TestDecodeRefusesGzipBomb: a record of a few hundred KiB that decompresses
// beyond release.MaxRecordBytes is refused, not read into memory whole.
func TestDecodeRefusesGzipBomb(t *testing.T) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	if err != nil {
		t.Fatal(err)
	}
	zeros := make([]byte, 1<<20)
	for range (release.MaxRecordBytes >> 20) + 1 {
		if _, err := zw.Write(zeros); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	data := []byte(base64.StdEncoding.EncodeToString(buf.Bytes()))
	_, err = Decode(data)
	if err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("Decode of %d bytes inflating past %d: %v, want a refusal", len(data), release.MaxRecordBytes, err)
	}
}
