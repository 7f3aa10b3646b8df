package ownership

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strconv"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kubectl-chart/kubectl-chart/pkg/release/wire"
)

// RecordSeal ties a release's running operation to the revision record it
// created. The webhook stamps it on chunk 0 of the record when it admits
// the record's CREATE (AnnotationRecordSeal): the revision, the user the API
// server authenticated, the record's status then, and the digest of its
// data, with an HMAC under a key only the webhook holds. The plugin reads
// it from the CREATE's answer and writes it into the head (data key
// record) with the head's new revision. The webhook then admits the
// operation's writes only while the head carries a valid seal of its
// current revision, by the lock's user, with a pending status: every
// owned field written by an operation belongs to a revision recorded
// first, by the user stamped on it. The webhook needs no read access to
// Secrets for that: the record's content comes with its CREATE.
type RecordSeal struct {
	Revision int    `json:"revision"`
	User     string `json:"user"`
	Status   string `json:"status"`
	// Digest is RecordDigest of the record's chunk 0 (whose data names the
	// sha256 of the whole record when it has several chunks).
	Digest string `json:"digest"`
	// MAC is base64(HMAC-SHA256) of the fields above with the release's
	// namespace and name.
	MAC string `json:"mac"`
}

// Sealed returns s with its MAC under key for release (namespace, name).
func (s RecordSeal) Sealed(key []byte, namespace, name string) RecordSeal {
	s.MAC = s.mac(key, namespace, name)
	return s
}

// Valid tells whether s was sealed with key for release (namespace, name).
func (s RecordSeal) Valid(key []byte, namespace, name string) bool {
	if len(key) == 0 || s.MAC == "" {
		return false
	}
	return hmac.Equal([]byte(s.MAC), []byte(s.mac(key, namespace, name)))
}

func (s RecordSeal) mac(key []byte, namespace, name string) string {
	m := hmac.New(sha256.New, key)
	for _, f := range []string{"kubectl-chart.io/record-seal/v1", namespace, name, strconv.Itoa(s.Revision), s.User, s.Status, s.Digest} {
		m.Write([]byte(f))
		m.Write([]byte{0})
	}
	return base64.RawStdEncoding.EncodeToString(m.Sum(nil))
}

// JSON is s as the annotation and the head carry it.
func (s RecordSeal) JSON() string {
	b, _ := json.Marshal(s) // strings and an int always encode
	return string(b)
}

// ParseRecordSeal reads a seal as JSON() writes it.
func ParseRecordSeal(v string) (RecordSeal, error) {
	var s RecordSeal
	err := json.Unmarshal([]byte(v), &s)
	return s, err
}

// RecordDigest is the sha256 (hex) of a record Secret's data as the API
// server holds it (base64 values), key by key in key order.
func RecordDigest(u *unstructured.Unstructured) string {
	h := sha256.New()
	if u != nil {
		data, _ := u.Object["data"].(map[string]any)
		keys := make([]string, 0, len(data))
		for k := range data {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			v, _ := data[k].(string)
			h.Write([]byte(k))
			h.Write([]byte{0})
			h.Write([]byte(v))
			h.Write([]byte{0})
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// isPending tells whether a status is that of an operation under way
// (wire.Status.IsPending).
func isPending(status string) bool { return wire.Status(status).IsPending() }
