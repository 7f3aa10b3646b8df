package repo

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-chart/kubectl-chart/internal/atomicfile"
	"github.com/kubectl-chart/kubectl-chart/pkg/chart"
	"github.com/kubectl-chart/kubectl-chart/pkg/chart/loader"
)

// APIVersionV1 is the apiVersion of index.yaml and repositories.yaml.
const APIVersionV1 = "v1"

// DefaultMaxIndexSize bounds the bytes of an index.yaml that is read or
// downloaded: 100 MiB, several times the largest public repository index.
const DefaultMaxIndexSize int64 = 100 << 20

var (
	// ErrNoAPIVersion is Helm's error for an index without apiVersion (most
	// often a file that is not an index at all).
	ErrNoAPIVersion = errors.New("no API version specified")
	// ErrEmptyIndex is Helm's error for an empty index.yaml.
	ErrEmptyIndex = errors.New("empty index.yaml file")
	// ErrHTML says that a server answered with an HTML page (a login page, a
	// web site) where an index.yaml was expected.
	ErrHTML = errors.New("got an HTML page, not a chart repository index (index.yaml)")
)

// IndexFile is index.yaml as Helm reads and writes it.
type IndexFile struct {
	// ServerInfo is only read from ChartMuseum's indexes.
	ServerInfo map[string]any           `json:"serverInfo,omitempty"`
	APIVersion string                   `json:"apiVersion"`
	Generated  time.Time                `json:"generated"`
	Entries    map[string]ChartVersions `json:"entries"`
	PublicKeys []string                 `json:"publicKeys,omitempty"`
	// Annotations are not interpreted by Helm.
	Annotations map[string]string `json:"annotations,omitempty"`
}

// ChartVersion is one version of a chart in an index: its Chart.yaml and
// where to download it.
type ChartVersion struct {
	*chart.Metadata
	URLs    []string  `json:"urls"`
	Created time.Time `json:"created"`
	Removed bool      `json:"removed,omitempty"`
	// Digest is the sha256 of the archive, in hex.
	Digest string `json:"digest,omitempty"`

	// Fields of Helm 2 indexes, accepted (Helm parses strictly) and ignored.
	ChecksumDeprecated      string `json:"checksum,omitempty"`
	EngineDeprecated        string `json:"engine,omitempty"`
	TillerVersionDeprecated string `json:"tillerVersion,omitempty"`
	URLDeprecated           string `json:"url,omitempty"`
}

// ChartVersions is the versions of one chart; SortEntries orders them
// newest first.
type ChartVersions []*ChartVersion

func (c ChartVersions) Len() int      { return len(c) }
func (c ChartVersions) Swap(i, j int) { c[i], c[j] = c[j], c[i] }

// Less is Helm's order: by semver, unparsable versions last.
func (c ChartVersions) Less(a, b int) bool {
	i, err := semver.NewVersion(c[a].Version)
	if err != nil {
		return true
	}
	j, err := semver.NewVersion(c[b].Version)
	if err != nil {
		return false
	}
	return i.LessThan(j)
}

// NewIndexFile is an empty index generated now.
func NewIndexFile() *IndexFile {
	return &IndexFile{
		APIVersion: APIVersionV1,
		Generated:  time.Now(),
		Entries:    map[string]ChartVersions{},
		PublicKeys: []string{},
	}
}

// SortEntries orders every chart's versions newest first, with Helm's
// (unstable) sort, so that equal inputs give Helm's order.
func (i *IndexFile) SortEntries() {
	for _, versions := range i.Entries {
		sort.Sort(sort.Reverse(versions))
	}
}

// Has reports whether the index holds name at exactly version.
func (i *IndexFile) Has(name, version string) bool {
	for _, cv := range i.Entries[name] {
		if cv.Version == version {
			return true
		}
	}
	return false
}

// Merge adds the versions of f that i does not have (i's win), as Helm's
// `repo index --merge`.
func (i *IndexFile) Merge(f *IndexFile) {
	for _, cvs := range f.Entries {
		for _, cv := range cvs {
			if !i.Has(cv.Name, cv.Version) {
				i.Entries[cv.Name] = append(i.Entries[cv.Name], cv)
			}
		}
	}
}

// Get resolves a version constraint of chart name, as Helm's IndexFile.Get
// (see SelectVersion).
func (i *IndexFile) Get(name, constraint string) (*ChartVersion, error) {
	vs := i.Entries[name]
	versions := make([]string, len(vs))
	for k, v := range vs {
		versions[k] = v.Version
	}
	k, err := SelectVersion(name, versions, constraint)
	if err != nil {
		return nil, err
	}
	return vs[k], nil
}

// Marshal is the index as Helm writes it: YAML (sigs.k8s.io/yaml, keys
// sorted), or indented JSON.
func (i *IndexFile) Marshal(asJSON bool) ([]byte, error) {
	if asJSON {
		return json.MarshalIndent(i, "", "  ")
	}
	return yaml.Marshal(i)
}

// WriteFile writes the index atomically with mode 0644, as YAML or JSON.
func (i *IndexFile) WriteFile(dest string, asJSON bool) error {
	b, err := i.Marshal(asJSON)
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(dest, b, 0o644)
}

// LoadIndexFile reads an index file from disk (at most DefaultMaxIndexSize
// bytes).
func LoadIndexFile(p string) (*IndexFile, error) {
	b, err := readFileLimited(p, DefaultMaxIndexSize)
	if err != nil {
		return nil, err
	}
	i, err := ParseIndex(b)
	if err != nil {
		return nil, fmt.Errorf("error loading %s: %w", p, err)
	}
	return i, nil
}

// ParseIndex parses index.yaml (or its JSON form) as Helm's loadIndex does:
// strictly, dropping entries that are empty or whose metadata is invalid,
// and sorting versions newest first. HTML is refused with ErrHTML.
func ParseIndex(data []byte) (*IndexFile, error) {
	i := &IndexFile{}
	if len(data) == 0 {
		return i, ErrEmptyIndex
	}
	if looksLikeHTML(data) {
		return i, ErrHTML
	}
	var err error
	if json.Valid(data) {
		err = json.Unmarshal(data, i)
	} else {
		err = yaml.UnmarshalStrict(data, i)
	}
	if err != nil {
		return i, err
	}
	for name, cvs := range i.Entries {
		kept := cvs[:0]
		for _, v := range cvs {
			if v == nil {
				continue
			}
			if v.Metadata == nil {
				v.Metadata = &chart.Metadata{}
			}
			if v.APIVersion == "" {
				v.APIVersion = chart.APIVersionV1
			}
			if err := v.Validate(); ignoreSkippableChartValidationError(err) != nil {
				continue
			}
			kept = append(kept, v)
		}
		i.Entries[name] = kept
	}
	i.SortEntries()
	if i.APIVersion == "" {
		return i, ErrNoAPIVersion
	}
	return i, nil
}

// ignoreSkippableChartValidationError is Helm's: indexes of JFrog strip
// aliases, which makes dependencies look duplicated.
func ignoreSkippableChartValidationError(err error) error {
	var verr chart.ValidationError
	if !errors.As(err, &verr) {
		return err
	}
	if strings.HasPrefix(verr.Error(), "validation: more than one dependency with name or alias") {
		return nil
	}
	return err
}

func looksLikeHTML(b []byte) bool {
	s := bytes.TrimLeft(b, " \t\r\n\ufeff")
	if len(s) > 512 {
		s = s[:512]
	}
	l := bytes.ToLower(s)
	return bytes.HasPrefix(l, []byte("<!doctype html")) || bytes.HasPrefix(l, []byte("<html")) ||
		bytes.HasPrefix(l, []byte("<head")) || bytes.HasPrefix(l, []byte("<body")) ||
		(bytes.HasPrefix(l, []byte("<")) && bytes.Contains(l, []byte("<html")))
}

// IndexDirectory indexes the chart archives (*.tgz) of dir and of its direct
// subfolders, as `helm repo index`: each entry's URL is baseURL joined with
// the archive's path, its digest the sha256 of the archive. Files that do not
// load as charts are skipped. The index is not sorted.
func IndexDirectory(dir, baseURL string) (*IndexFile, error) {
	archives, err := filepath.Glob(filepath.Join(dir, "*.tgz"))
	if err != nil {
		return nil, err
	}
	more, err := filepath.Glob(filepath.Join(dir, "**/*.tgz"))
	if err != nil {
		return nil, err
	}
	archives = append(archives, more...)

	index := NewIndexFile()
	for _, arch := range archives {
		fname, err := filepath.Rel(dir, arch)
		if err != nil {
			return index, err
		}
		var parentDir string
		parentDir, fname = filepath.Split(fname)
		parentDir = strings.TrimSuffix(parentDir, string(os.PathSeparator))
		parentURL, err := urlJoin(baseURL, parentDir)
		if err != nil {
			parentURL = path.Join(baseURL, parentDir)
		}
		c, err := loader.Load(arch)
		if err != nil {
			continue // not a chart
		}
		digest, err := digestFile(arch)
		if err != nil {
			return index, err
		}
		if err := index.add(c.Metadata, fname, parentURL, digest); err != nil {
			return index, fmt.Errorf("failed adding to %s to index: %w", fname, err)
		}
	}
	return index, nil
}

func (i *IndexFile) add(md *chart.Metadata, filename, baseURL, digest string) error {
	if md.APIVersion == "" {
		md.APIVersion = chart.APIVersionV1
	}
	if err := md.Validate(); err != nil {
		return fmt.Errorf("validate failed for %s: %w", filename, err)
	}
	u := filename
	if baseURL != "" {
		_, file := filepath.Split(filename)
		var err error
		if u, err = urlJoin(baseURL, file); err != nil {
			u = path.Join(baseURL, file)
		}
	}
	i.Entries[md.Name] = append(i.Entries[md.Name], &ChartVersion{
		URLs:     []string{u},
		Metadata: md,
		Digest:   digest,
		Created:  time.Now(),
	})
	return nil
}

// urlJoin is Helm's urlutil.URLJoin.
func urlJoin(baseURL string, paths ...string) (string, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		return "", err
	}
	all := append([]string{u.Path}, paths...)
	u.Path = path.Join(all...)
	return u.String(), nil
}

// ArchiveFileName is the file name of the archive at href: the last element
// of its path, without query or fragment, as Helm names downloaded charts.
func ArchiveFileName(href string) string {
	if u, err := url.Parse(href); err == nil {
		return path.Base(u.Path)
	}
	return path.Base(href)
}

// ResolveReferenceURL resolves an archive URL of an index against the
// repository's URL, as Helm: absolute URLs are kept, relative ones are taken
// under the repository's path, and the repository URL's query is kept.
func ResolveReferenceURL(baseURL, refURL string) (string, error) {
	ref, err := url.Parse(refURL)
	if err != nil {
		return "", fmt.Errorf("failed to parse %s as URL: %w", refURL, err)
	}
	if ref.IsAbs() {
		return refURL, nil
	}
	base, err := url.Parse(baseURL)
	if err != nil {
		return "", fmt.Errorf("failed to parse %s as URL: %w", baseURL, err)
	}
	base.RawPath = strings.TrimSuffix(base.RawPath, "/") + "/"
	base.Path = strings.TrimSuffix(base.Path, "/") + "/"
	resolved := base.ResolveReference(ref)
	resolved.RawQuery = base.RawQuery
	return resolved.String(), nil
}

func digestFile(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func readFileLimited(p string, limit int64) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s: %w", p, &IndexTooLargeError{Limit: limit})
	}
	return b, nil
}

// IndexTooLargeError is returned for an index larger than the bound.
type IndexTooLargeError struct{ Limit int64 }

func (e *IndexTooLargeError) Error() string {
	return fmt.Sprintf("index is larger than %d bytes (%d MiB)", e.Limit, e.Limit>>20)
}
