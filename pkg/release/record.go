package release

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/kubectl-chart/kubectl-chart/pkg/release/wire"
)

// Keys of the head ConfigMap's data (package wire's, which the webhook
// reads too).
const (
	HeadKeyRevision  = wire.HeadKeyRevision
	HeadKeyDeployed  = wire.HeadKeyDeployed
	HeadKeyStatus    = wire.HeadKeyStatus
	HeadKeyInventory = wire.HeadKeyInventory
	HeadKeyLock      = wire.HeadKeyLock
	HeadKeyRecord    = wire.HeadKeyRecord
	HeadKeyChart     = wire.HeadKeyChart
	HeadKeyLabels    = wire.HeadKeyLabels
)

// Keys of a revision record Secret's data.
const (
	// RecordKeyRelease is gzip(JSON of the Revision), or one part of it when
	// the record is split.
	RecordKeyRelease = "release"
	// RecordKeyChunks is, in chunk 0 of a split record, the number of
	// chunks (absent when there is one).
	RecordKeyChunks = "chunks"
	// RecordKeySHA256 is, in chunk 0 of a split record, the hex sha256 of
	// the reassembled compressed record.
	RecordKeySHA256 = "sha256"
)

// AnnotationUpdated is set on a revision record when its status moves: the
// time of the move (RFC 3339). Without it, the record's creation time.
const AnnotationUpdated = "kubectl-chart.io/updated"

// AnnotationFinished is set on a revision record when its operation ends:
// the time SetOutcome moved its status from pending-* to deployed or failed
// (RFC 3339). Later moves (superseded) keep it, so history can tell how
// long every operation took. SetStatus sets none: an imported record's
// move says nothing of how long Helm took.
const AnnotationFinished = "kubectl-chart.io/finished"

// AnnotationDescription is set on a revision record when its status moves
// with an outcome to tell (SetOutcome): why it failed, that it was
// uninstalled. It replaces, on read, the description written with the
// record, which is immutable.
const AnnotationDescription = "kubectl-chart.io/description"

// maxDescription bounds a description kept in an annotation (a failure
// naming many objects); longer ones are cut.
const maxDescription = 4096

// clipDescription cuts a description to maxDescription bytes, on a rune
// boundary, marking the cut.
func clipDescription(d string) string {
	if len(d) <= maxDescription {
		return d
	}
	cut := maxDescription - len("…")
	for cut > 0 && !utf8.RuneStart(d[cut]) {
		cut--
	}
	return d[:cut] + "…"
}

// describeRead is the description of a revision as read: the outcome's when
// one was recorded, else, while the operation is under way, what it is
// doing (as Helm says it), else the one written with the record.
func describeRead(written, outcome string, status Status) string {
	switch {
	case outcome != "":
		return outcome
	case status == StatusPendingInstall:
		return "Initial install underway"
	case status == StatusPendingUpgrade:
		return "Preparing upgrade"
	case status == StatusUninstalling:
		return "Deletion in progress (or silently failed)"
	}
	return written
}

// MaxNameLength is the longest release name (as Helm's).
const MaxNameLength = 53

// checkName refuses release names that cannot name records.
func checkName(name string) error {
	if len(name) > MaxNameLength {
		return fmt.Errorf("release name %q: longer than %d characters", name, MaxNameLength)
	}
	if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
		return fmt.Errorf("release name %q: %s", name, strings.Join(errs, "; "))
	}
	return nil
}

// encodeRevision is the compressed record: gzip(JSON of r).
func encodeRevision(r *Revision) ([]byte, error) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if err := json.NewEncoder(zw).Encode(r); err != nil {
		return nil, fmt.Errorf("encode revision %d: %w", r.Revision, err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("compress revision %d: %w", r.Revision, err)
	}
	return buf.Bytes(), nil
}

// Bounds on what a reader of records accepts, so that a forged record (a
// chunk count in the millions, a gzip bomb) gives a clear error instead of
// taking the reader down. A real record is far below both: charts are at
// most 100 MiB, records keep no chart files, and chunks hold ~900 KiB each.
const (
	// MaxRecordChunks bounds the chunks of one revision record.
	MaxRecordChunks = 1024
	// MaxRecordBytes bounds a revision record decompressed.
	MaxRecordBytes = 256 << 20
)

// decodeRevision reverses encodeRevision, within MaxRecordBytes.
func decodeRevision(blob []byte) (*Revision, error) {
	zr, err := gzip.NewReader(bytes.NewReader(blob))
	if err != nil {
		return nil, fmt.Errorf("decompress: %w", err)
	}
	raw, err := io.ReadAll(io.LimitReader(zr, MaxRecordBytes+1))
	if err != nil {
		return nil, fmt.Errorf("decompress: %w", err)
	}
	if len(raw) > MaxRecordBytes {
		return nil, fmt.Errorf("decompress: the record is larger than %d MiB decompressed", MaxRecordBytes>>20)
	}
	var r Revision
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	return &r, nil
}

// splitChunks cuts b into parts of at most size bytes (one part when it
// fits, also when empty).
func splitChunks(b []byte, size int) [][]byte {
	if len(b) <= size {
		return [][]byte{b}
	}
	parts := make([][]byte, 0, (len(b)+size-1)/size)
	for len(b) > 0 {
		n := min(size, len(b))
		parts = append(parts, b[:n:n])
		b = b[n:]
	}
	return parts
}

// applySetGroupKinds is the contains-group-kinds annotation of an inventory,
// as kubectl applyset writes it: the sorted, comma-separated GroupKinds,
// Kind for the core group and Kind.group otherwise.
func applySetGroupKinds(inv []ObjectRef) string {
	seen := map[string]bool{}
	var gks []string
	for _, o := range inv {
		gk := o.Kind
		if o.Group != "" {
			gk += "." + o.Group
		}
		if o.Kind == "" || seen[gk] {
			continue
		}
		seen[gk] = true
		gks = append(gks, gk)
	}
	slices.Sort(gks)
	return strings.Join(gks, ",")
}

// applySetAdditionalNamespaces is the additional-namespaces annotation: the
// sorted, comma-separated namespaces of the inventory's namespaced objects
// other than the parent's (the release's).
func applySetAdditionalNamespaces(inv []ObjectRef, namespace string) string {
	seen := map[string]bool{}
	var nss []string
	for _, o := range inv {
		if o.Namespace == "" || o.Namespace == namespace || seen[o.Namespace] {
			continue
		}
		seen[o.Namespace] = true
		nss = append(nss, o.Namespace)
	}
	slices.Sort(nss)
	return strings.Join(nss, ",")
}

// copyHead is a deep copy of h (the stores never share memory with callers).
func copyHead(h *Head) *Head {
	c := *h
	c.Inventory = slices.Clone(h.Inventory)
	c.Labels = maps.Clone(h.Labels)
	if h.Lock != nil {
		l := *h.Lock
		c.Lock = &l
	}
	return &c
}
