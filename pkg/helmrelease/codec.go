package helmrelease

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"

	"github.com/kubectl-chart/kubectl-chart/pkg/release"
)

// magicGzip starts a gzip stream (deflate method), as Helm checks it.
var magicGzip = []byte{0x1f, 0x8b, 0x08}

// Decode reads a record's "release" data value: base64 (standard, padded)
// text of gzip'd JSON, or of plain JSON (records from before Helm compressed
// them), as Helm's decodeRelease does. Like kubectl-chart's own records, a
// record larger than release.MaxRecordBytes decompressed is refused, so that
// a forged one cannot exhaust memory.
func Decode(data []byte) (*Release, error) {
	b := make([]byte, base64.StdEncoding.DecodedLen(len(data)))
	n, err := base64.StdEncoding.Decode(b, data)
	if err != nil {
		return nil, fmt.Errorf("decode base64: %w", err)
	}
	b = b[:n]
	// Helm's test: more than the three bytes of the header, else JSON.
	if len(b) > 3 && bytes.Equal(b[:3], magicGzip) {
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("decompress: %w", err)
		}
		raw, err := io.ReadAll(io.LimitReader(zr, release.MaxRecordBytes+1))
		if err != nil {
			return nil, fmt.Errorf("decompress: %w", err)
		}
		if len(raw) > release.MaxRecordBytes {
			return nil, fmt.Errorf("decompress: the record is larger than %d MiB decompressed", release.MaxRecordBytes>>20)
		}
		b = raw
	}
	var r Release
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("decode release JSON: %w", err)
	}
	return &r, nil
}

// Encode writes r as Helm's encodeRelease does: its JSON, gzip'd at
// gzip.BestCompression, as base64 (standard, padded) text.
func Encode(r *Release) ([]byte, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("encode release JSON: %w", err)
	}
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, fmt.Errorf("compress: %w", err)
	}
	if _, err := zw.Write(b); err != nil {
		return nil, fmt.Errorf("compress: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("compress: %w", err)
	}
	out := make([]byte, base64.StdEncoding.EncodedLen(buf.Len()))
	base64.StdEncoding.Encode(out, buf.Bytes())
	return out, nil
}
