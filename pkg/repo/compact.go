package repo

import (
	"bytes"
	"crypto/sha256"
	"encoding/gob"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/kubectl-chart/kubectl-chart/internal/atomicfile"
	"github.com/kubectl-chart/kubectl-chart/pkg/chart"
)

// Index is the compact form of an index.yaml: what search and version
// resolution read, parsed once and kept in the index cache.
type Index struct {
	// Digest is the sha256 (hex) of the index.yaml it was made from.
	Digest string
	// Charts are sorted by name.
	Charts []IndexChart
}

// IndexChart is one chart and its versions, newest first (Helm's order).
type IndexChart struct {
	Name     string
	Versions []IndexVersion
}

// IndexVersion is one chart version: the Chart.yaml fields that search
// shows and resolution needs, and where the archive is.
type IndexVersion struct {
	Version, AppVersion, Description string
	Keywords                         []string
	APIVersion, Type, KubeVersion    string
	Deprecated                       bool
	// URLs are the archive's URLs as the index gives them (maybe relative
	// to the repository URL).
	URLs []string
	// Digest is the archive's sha256 in hex, as the index gives it ("" when
	// the index has none).
	Digest  string
	Removed bool
	// Created is when the index says the version was packaged (what
	// Helm's completion of --version shows).
	Created time.Time
}

// Chart finds a chart by name.
func (x *Index) Chart(name string) *IndexChart {
	k := sort.Search(len(x.Charts), func(k int) bool { return x.Charts[k].Name >= name })
	if k < len(x.Charts) && x.Charts[k].Name == name {
		return &x.Charts[k]
	}
	return nil
}

// Get resolves a constraint of chart name as Helm's IndexFile.Get does.
func (x *Index) Get(name, constraint string) (*IndexVersion, error) {
	c := x.Chart(name)
	if c == nil {
		return nil, &ChartNotFoundError{Chart: name, Constraint: constraint}
	}
	versions := make([]string, len(c.Versions))
	for k := range c.Versions {
		versions[k] = c.Versions[k].Version
	}
	k, err := SelectVersion(name, versions, constraint)
	if err != nil {
		return nil, err
	}
	return &c.Versions[k], nil
}

// Metadata is the Chart.yaml of a version as far as the index keeps it.
func (v *IndexVersion) Metadata(name string) *chart.Metadata {
	return &chart.Metadata{
		Name: name, Version: v.Version, AppVersion: v.AppVersion, Description: v.Description,
		Keywords: v.Keywords, APIVersion: v.APIVersion, Type: v.Type, KubeVersion: v.KubeVersion,
		Deprecated: v.Deprecated,
	}
}

// Compact keeps what Index needs of a parsed index.
func Compact(i *IndexFile, digest string) *Index {
	x := &Index{Digest: digest, Charts: make([]IndexChart, 0, len(i.Entries))}
	for name, cvs := range i.Entries {
		c := IndexChart{Name: name, Versions: make([]IndexVersion, 0, len(cvs))}
		for _, cv := range cvs {
			md := cv.Metadata
			c.Versions = append(c.Versions, IndexVersion{
				Version: md.Version, AppVersion: md.AppVersion, Description: md.Description,
				Keywords: md.Keywords, APIVersion: md.APIVersion, Type: md.Type, KubeVersion: md.KubeVersion,
				Deprecated: md.Deprecated, URLs: cv.URLs, Digest: cv.Digest, Removed: cv.Removed,
				Created: cv.Created,
			})
		}
		x.Charts = append(x.Charts, c)
	}
	sort.Slice(x.Charts, func(a, b int) bool { return x.Charts[a].Name < x.Charts[b].Name })
	return x
}

// IndexCache keeps the compact form of every index.yaml it has seen, under
// <ContentCache>/index: <sha256 of index.yaml>.gob, and stamps/<sha256 of
// the index.yaml's path>.json that remember which digest a path held at a
// given size, modification time and inode, so that an unchanged file is
// neither hashed nor parsed again. An index.yaml rewritten by `helm repo
// update` misses the stamp and is parsed (once) again.
type IndexCache struct {
	// Dir is the cache folder.
	Dir string
	// MaxIndexSize bounds the index.yaml read (0: DefaultMaxIndexSize).
	MaxIndexSize int64
}

// cacheFormat changes whenever IndexVersion does.
const cacheFormat = 2

type stamp struct {
	Format  int    `json:"format"`
	Path    string `json:"path"`
	Size    int64  `json:"size"`
	ModTime int64  `json:"modTime"`
	ID      uint64 `json:"id"`
	Digest  string `json:"digest"`
}

func (c IndexCache) limit() int64 {
	if c.MaxIndexSize > 0 {
		return c.MaxIndexSize
	}
	return DefaultMaxIndexSize
}

func (c IndexCache) blobPath(digest string) string {
	return filepath.Join(c.Dir, fmt.Sprintf("%s.v%d.gob", digest, cacheFormat))
}

func (c IndexCache) stampPath(p string) string {
	sum := sha256.Sum256([]byte(p))
	return filepath.Join(c.Dir, "stamps", hex.EncodeToString(sum[:])+".json")
}

// Load reads the index at path p through the cache.
func (c IndexCache) Load(p string) (*Index, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return nil, err
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return nil, err
	}
	want := stamp{Format: cacheFormat, Path: abs, Size: fi.Size(), ModTime: fi.ModTime().UnixNano(), ID: fileID(fi)}
	if b, err := os.ReadFile(c.stampPath(abs)); err == nil {
		var got stamp
		if json.Unmarshal(b, &got) == nil {
			d := got.Digest
			got.Digest = ""
			if got == want {
				if x, err := c.read(d); err == nil {
					return x, nil
				}
			}
		}
	}
	data, err := readFileLimited(abs, c.limit())
	if err != nil {
		return nil, err
	}
	x, err := c.FromBytes(data)
	if err != nil {
		return nil, fmt.Errorf("error loading %s: %w", abs, err)
	}
	want.Digest = x.Digest
	if b, err := json.Marshal(want); err == nil {
		_ = atomicfile.WriteFile(c.stampPath(abs), b, 0o644) // a cache: a failed write only costs speed
	}
	return x, nil
}

// FromBytes is the compact form of an index.yaml's content: read from the
// cache when that content was seen before, else parsed and stored.
func (c IndexCache) FromBytes(data []byte) (*Index, error) {
	sum := sha256.Sum256(data)
	digest := hex.EncodeToString(sum[:])
	if x, err := c.read(digest); err == nil {
		return x, nil
	}
	i, err := ParseIndex(data)
	if err != nil {
		return nil, err
	}
	x := Compact(i, digest)
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(x); err != nil {
		return nil, err
	}
	_ = atomicfile.WriteFile(c.blobPath(digest), buf.Bytes(), 0o644)
	return x, nil
}

func (c IndexCache) read(digest string) (*Index, error) {
	if digest == "" {
		return nil, errors.New("no digest")
	}
	b, err := os.ReadFile(c.blobPath(digest))
	if err != nil {
		return nil, err
	}
	x := &Index{}
	if err := gob.NewDecoder(bytes.NewReader(b)).Decode(x); err != nil {
		return nil, err
	}
	if x.Digest != digest {
		return nil, errors.New("index cache entry does not match its name")
	}
	return x, nil
}

// remember records that the file at p holds the index with digest, so that
// the next Load neither hashes nor parses it.
func (c IndexCache) remember(p, digest string) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return
	}
	s := stamp{Format: cacheFormat, Path: abs, Size: fi.Size(), ModTime: fi.ModTime().UnixNano(), ID: fileID(fi), Digest: digest}
	if b, err := json.Marshal(s); err == nil {
		_ = atomicfile.WriteFile(c.stampPath(abs), b, 0o644)
	}
}
