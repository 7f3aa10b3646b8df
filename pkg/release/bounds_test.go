package release

import (
	"bytes"
	"compress/gzip"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestForgedRecordsAreBounded: a record whose chunk count or decompressed
// size is forged fails with a clear error, not a panic or an allocation of
// what it claims.
func TestForgedRecordsAreBounded(t *testing.T) {
	sec := func(chunks string) *corev1.Secret {
		return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "kubectl-chart.web.v1"},
			Data: map[string][]byte{RecordKeyChunks: []byte(chunks)}}
	}
	for _, tc := range []struct {
		chunks string
		want   string
	}{
		{strconv.Itoa(MaxRecordChunks), ""},
		{strconv.Itoa(MaxRecordChunks + 1), "more than the 1024 chunks a record may have"},
		{"1000000000", "more than the 1024 chunks"},
		{"0", "not a chunk count"},
		{"-3", "not a chunk count"},
		{"x", "not a chunk count"},
	} {
		_, err := chunkCount(sec(tc.chunks))
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("chunks %q: %v, want %q", tc.chunks, err, tc.want)
		}
	}

	// A gzip bomb: a few hundred KiB that decompress past MaxRecordBytes.
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	zeros := make([]byte, 1<<20)
	for range MaxRecordBytes>>20 + 1 {
		zw.Write(zeros)
	}
	zw.Close()
	if _, err := decodeRevision(buf.Bytes()); err == nil || !strings.Contains(err.Error(), "larger than 256 MiB decompressed") {
		t.Errorf("gzip bomb of %d bytes: %v", buf.Len(), err)
	}
	if _, err := decodeRevision([]byte("not gzip")); err == nil || !strings.Contains(err.Error(), "decompress") {
		t.Errorf("garbage: %v", err)
	}
}
