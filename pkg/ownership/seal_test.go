package ownership_test

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kubectl-chart/kubectl-chart/pkg/ownership"
)

func TestRecordSeal(t *testing.T) {
	base := ownership.RecordSeal{Revision: 4, User: "alice", Status: "pending-upgrade", Digest: "0f0f"}
	sealed := base.Sealed(sealKey, "apps", "web")
	if sealed.MAC == "" || base.MAC != "" {
		t.Fatalf("Sealed: MAC %q (the original's %q)", sealed.MAC, base.MAC)
	}
	if again := base.Sealed(sealKey, "apps", "web"); again != sealed {
		t.Errorf("sealing twice gives %+v and %+v", sealed, again)
	}
	tests := []struct {
		name        string
		seal        ownership.RecordSeal
		key         []byte
		ns, release string
		want        bool
	}{
		{"sealed", sealed, sealKey, "apps", "web", true},
		{"another revision", with(sealed, func(s *ownership.RecordSeal) { s.Revision = 5 }), sealKey, "apps", "web", false},
		{"another user", with(sealed, func(s *ownership.RecordSeal) { s.User = "mallory" }), sealKey, "apps", "web", false},
		{"another status", with(sealed, func(s *ownership.RecordSeal) { s.Status = "deployed" }), sealKey, "apps", "web", false},
		{"another digest", with(sealed, func(s *ownership.RecordSeal) { s.Digest = "f0f0" }), sealKey, "apps", "web", false},
		{"another MAC", with(sealed, func(s *ownership.RecordSeal) { s.MAC = base.Sealed(sealKey, "apps", "api").MAC }), sealKey, "apps", "web", false},
		{"a MAC cut short", with(sealed, func(s *ownership.RecordSeal) { s.MAC = s.MAC[:len(s.MAC)-1] }), sealKey, "apps", "web", false},
		{"no MAC", base, sealKey, "apps", "web", false},
		{"another release", sealed, sealKey, "apps", "api", false},
		{"another namespace", sealed, sealKey, "other", "web", false},
		{"fields moved between namespace and name", base.Sealed(sealKey, "app", "sweb"), sealKey, "apps", "web", false},
		{"another key", sealed, []byte("fedcba9876543210fedcba9876543210"), "apps", "web", false},
		{"no key", sealed, nil, "apps", "web", false},
		{"sealed with no key", base.Sealed(nil, "apps", "web"), nil, "apps", "web", false},
	}
	for _, tt := range tests {
		if got := tt.seal.Valid(tt.key, tt.ns, tt.release); got != tt.want {
			t.Errorf("%s: Valid = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func with(s ownership.RecordSeal, f func(s *ownership.RecordSeal)) ownership.RecordSeal {
	f(&s)
	return s
}

// TestRecordSealJSON: the seal goes through the record's annotation and the
// head's data as JSON and stays valid.
func TestRecordSealJSON(t *testing.T) {
	sealed := ownership.RecordSeal{Revision: 4, User: "system:serviceaccount:ci:deployer", Status: "pending-install", Digest: "0f0f"}.Sealed(sealKey, "apps", "web")
	got, err := ownership.ParseRecordSeal(sealed.JSON())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(sealed, got); diff != "" {
		t.Errorf("ParseRecordSeal(JSON()) (-want +got):\n%s", diff)
	}
	if !got.Valid(sealKey, "apps", "web") {
		t.Error("the parsed seal is not valid")
	}
	for _, bad := range []string{"", "{", `{"revision":"4"}`, "[]"} {
		if _, err := ownership.ParseRecordSeal(bad); err == nil {
			t.Errorf("ParseRecordSeal(%q): no error", bad)
		}
	}
}

// TestRecordDigest: the digest is sha256 over the data's keys in order,
// each key and value followed by a NUL byte (the values as the API server
// holds them, base64). The expected values are written out here, not taken
// from RecordDigest.
func TestRecordDigest(t *testing.T) {
	sum := func(s string) string {
		h := sha256.Sum256([]byte(s))
		return hex.EncodeToString(h[:])
	}
	secret := func(data map[string]any) *unstructured.Unstructured {
		u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Secret",
			"metadata": map[string]any{"name": "kubectl-chart.web.v1", "labels": map[string]any{"a": "b"}}}}
		if data != nil {
			u.Object["data"] = data
		}
		return u
	}
	tests := []struct {
		name string
		obj  *unstructured.Unstructured
		want string
	}{
		{"no object", nil, sum("")},
		{"no data", secret(nil), sum("")},
		{"one key", secret(map[string]any{"release": "SGk="}), sum("release\x00SGk=\x00")},
		{"keys in order", secret(map[string]any{"sha256": "YWJj", "chunks": "Mg==", "release": "SGk="}),
			sum("chunks\x00Mg==\x00release\x00SGk=\x00sha256\x00YWJj\x00")},
		{"a value that is not a string is empty", secret(map[string]any{"n": int64(1)}), sum("n\x00\x00")},
	}
	for _, tt := range tests {
		if got := ownership.RecordDigest(tt.obj); got != tt.want {
			t.Errorf("%s: RecordDigest = %s, want %s", tt.name, got, tt.want)
		}
	}

	// Only data counts, and every byte of it.
	a := secret(map[string]any{"ab": "c"})
	b := secret(map[string]any{"a": "bc"})
	if ownership.RecordDigest(a) == ownership.RecordDigest(b) {
		t.Error("data {ab: c} and {a: bc} have the same digest")
	}
	relabelled := a.DeepCopy()
	relabelled.SetLabels(map[string]string{"x": "y"})
	relabelled.Object["type"] = "Opaque"
	if ownership.RecordDigest(a) != ownership.RecordDigest(relabelled) {
		t.Error("labels or type change the digest")
	}
	if ownership.RecordDigest(secret(map[string]any{"ab": "c", "d": ""})) == ownership.RecordDigest(a) {
		t.Error("an empty value added does not change the digest")
	}
}
