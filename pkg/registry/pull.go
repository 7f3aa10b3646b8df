package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sort"

	"github.com/Masterminds/semver/v3"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/registry/remote"

	"github.com/kubectl-chart/kubectl-chart/internal/chartcache"
	"github.com/kubectl-chart/kubectl-chart/internal/helmpath"
	"github.com/kubectl-chart/kubectl-chart/pkg/chart"
)

// PullOptions are the options of Pull and Resolve.
type PullOptions struct {
	Options
	// Version is --version: an exact version, a semver constraint
	// ("^1.2", ">=1.0 <2"), or empty for the reference's tag or, without
	// one, the highest stable version.
	Version string
	// Devel (--devel) lets an empty Version pick prereleases too (Helm's
	// ">0.0.0-0"); ignored when the reference has a tag or digest.
	Devel bool
	// Cache stores the pulled blobs. Nil: helmpath's ContentCache.
	Cache *chartcache.Cache
}

// version is the version to resolve ref with.
func (o PullOptions) version(ref string) string {
	if o.Version != "" || !o.Devel {
		return o.Version
	}
	if r, err := ParseReference(ref); err == nil && (r.Tag != "" || r.Digest != "") {
		return ""
	}
	return ">0.0.0-0"
}

// PullResult says what was pulled.
type PullResult struct {
	// Ref is what was pulled, as helm pull prints it after "Pulled: ":
	// host/path/chart:tag, or host/path/chart@sha256:… for a digest.
	Ref string
	// Digest is the manifest's digest.
	Digest string
	// Metadata is the chart's metadata from the config blob.
	Metadata *chart.Metadata
	// Name and Version are the chart's (Version with '+', not '_').
	Name    string
	Version string
	// ArchivePath is the chart archive in the cache (read-only: copy it
	// to keep it elsewhere), ChartDigest its digest.
	ArchivePath string
	ChartDigest string
	// Prov is the provenance file, nil when the manifest has none.
	Prov       []byte
	ProvDigest string
}

// Resolved is a reference resolved to a manifest.
type Resolved struct {
	// Ref is the reference to fetch: Tag or Digest set.
	Ref Reference
	// Digest is the manifest's digest.
	Digest string
}

// Resolve finds the manifest a chart reference and version name, as Helm's
// pull does: a tag or a digest in the reference, an exact version, or a
// semver constraint matched against the repository's tags (the highest match
// wins). It fetches no blob.
func Resolve(ctx context.Context, ref string, o PullOptions) (*Resolved, error) {
	c, err := newClient(o.Options)
	if err != nil {
		return nil, err
	}
	target, err := c.target(ctx, ref, o.version(ref))
	if err != nil {
		return nil, err
	}
	if target.Tag == "" {
		return &Resolved{Ref: target, Digest: target.Digest}, nil
	}
	repo, err := c.repository(target)
	if err != nil {
		return nil, err
	}
	desc, err := repo.Resolve(ctx, target.Tag)
	if err != nil {
		return nil, fmt.Errorf("resolve %s: %w", target, c.classify(err, target.Registry, target.String()))
	}
	return &Resolved{Ref: target, Digest: desc.Digest.String()}, nil
}

// target applies version to ref: the result has a tag or a digest (not both).
func (c *client) target(ctx context.Context, raw, version string) (Reference, error) {
	r, err := ParseReference(raw)
	if err != nil {
		return Reference{}, err
	}
	if version == "" {
		version = r.Tag
	} else if r.Tag != "" && r.Tag != TagForVersion(version) {
		return Reference{}, fmt.Errorf("chart reference and version mismatch: %s is not %s", version, r.Tag)
	}
	if r.Digest != "" {
		if version != "" {
			// The digest wins; a tag given too must name the same manifest
			// when it exists.
			repo, err := c.repository(r)
			if err != nil {
				return Reference{}, err
			}
			if desc, err := repo.Resolve(ctx, TagForVersion(version)); err == nil && desc.Digest.String() != r.Digest {
				return Reference{}, fmt.Errorf("chart reference digest mismatch: %s is not %s", desc.Digest, r.Digest)
			}
		}
		r.Tag = ""
		return r, nil
	}
	// An exact version names its tag. Helm reads a tag from the reference
	// as a version too, and so fails on "1.0.0_b.2" (neither a version nor
	// a constraint): here a tag that is a version once '_' is read as '+'
	// is fetched as it is.
	if _, err := semver.NewVersion(VersionForTag(version)); err == nil {
		r.Tag = TagForVersion(version)
		return r, nil
	}
	tags, err := c.tags(ctx, r)
	if err != nil {
		return Reference{}, err
	}
	if len(tags) == 0 {
		return Reference{}, fmt.Errorf("unable to locate any tags in provided repository: %s", raw)
	}
	v, err := MatchVersion(tags, version)
	if err != nil {
		return Reference{}, err
	}
	r.Tag = TagForVersion(v)
	return r, nil
}

// Tags lists the chart versions in a repository (oci://host/path/chart):
// the tags that are strict semantic versions ('_' read as '+'), highest
// first, as Helm's registry client lists them.
func Tags(ctx context.Context, ref string, o Options) ([]string, error) {
	c, err := newClient(o)
	if err != nil {
		return nil, err
	}
	r, err := ParseReference(ref)
	if err != nil {
		return nil, err
	}
	return c.tags(ctx, r)
}

func (c *client) tags(ctx context.Context, r Reference) ([]string, error) {
	repo, err := c.repository(r)
	if err != nil {
		return nil, err
	}
	var versions []*semver.Version
	err = repo.Tags(ctx, "", func(tags []string) error {
		for _, t := range tags {
			if v, err := semver.StrictNewVersion(VersionForTag(t)); err == nil {
				versions = append(versions, v)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list tags of %s: %w", r.Repo(), c.classify(err, r.Registry, r.Repo()))
	}
	sort.Sort(sort.Reverse(semver.Collection(versions)))
	out := make([]string, len(versions))
	for i, v := range versions {
		out[i] = v.String()
	}
	return out, nil
}

// MatchVersion picks a version from tags (highest first) as Helm does: the
// version itself when it is one of them, else the first that satisfies it as
// a semver constraint ("" means any stable version).
func MatchVersion(tags []string, version string) (string, error) {
	constraint := "*"
	if version != "" {
		for _, t := range tags {
			if t == version {
				return t, nil
			}
		}
		constraint = version
	}
	cons, err := semver.NewConstraint(constraint)
	if err != nil {
		return "", err
	}
	for _, t := range tags {
		if v, err := semver.NewVersion(t); err == nil && cons.Check(v) {
			return t, nil
		}
	}
	return "", fmt.Errorf("could not locate a version matching provided version string %s", version)
}

// Pull fetches a chart from a registry into the cache. ref is
// oci://host/path/chart with a tag, a digest or neither; o.Version picks a
// version (see Resolve). Blobs already in the cache are not fetched again: a
// pull by digest whose manifest, config and layers are cached sends no
// request; a pull by tag or exact version sends one, for the manifest.
// Every blob is checked against its digest before it enters the cache;
// nothing is cached from a failed pull but whole, verified blobs.
func Pull(ctx context.Context, ref string, o PullOptions) (*PullResult, error) {
	cache := o.Cache
	if cache == nil {
		cache = chartcache.New(helmpath.New().ContentCache())
	}
	c, err := newClient(o.Options)
	if err != nil {
		return nil, err
	}
	target, err := c.target(ctx, ref, o.version(ref))
	if err != nil {
		return nil, err
	}
	repo, err := c.repository(target)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*PullResult, error) {
		return nil, fmt.Errorf("pull %s: %w", target, c.classify(err, target.Registry, target.String()))
	}

	manifestDigest, manifestBytes, err := c.fetchManifest(ctx, repo, target, cache)
	if err != nil {
		return fail(err)
	}
	var manifest ocispec.Manifest
	if err := json.Unmarshal(manifestBytes, &manifest); err != nil {
		return fail(fmt.Errorf("manifest %s: %w", manifestDigest, err))
	}
	if manifest.MediaType != "" && manifest.MediaType != ocispec.MediaTypeImageManifest {
		return fail(fmt.Errorf("manifest %s has media type %s, not %s", manifestDigest, manifest.MediaType, ocispec.MediaTypeImageManifest))
	}
	if manifest.Config.MediaType != ConfigMediaType {
		return fail(fmt.Errorf("could not load config with mediatype %s", ConfigMediaType))
	}
	var chartDesc, provDesc *ocispec.Descriptor
	for i, l := range manifest.Layers {
		switch l.MediaType {
		case ChartLayerMediaType, LegacyChartLayerMediaType:
			chartDesc = &manifest.Layers[i]
		case ProvLayerMediaType:
			provDesc = &manifest.Layers[i]
		}
	}
	if chartDesc == nil {
		return fail(fmt.Errorf("manifest does not contain a layer with mediatype %s", ChartLayerMediaType))
	}

	configPath, err := c.fetchBlob(ctx, repo, manifest.Config, cache, maxConfigSize)
	if err != nil {
		return fail(err)
	}
	configBytes, err := os.ReadFile(configPath)
	if err != nil {
		return fail(err)
	}
	meta := &chart.Metadata{}
	if err := json.Unmarshal(configBytes, meta); err != nil {
		return fail(fmt.Errorf("config %s: %w", manifest.Config.Digest, err))
	}
	archive, err := c.fetchBlob(ctx, repo, *chartDesc, cache, MaxChartSize)
	if err != nil {
		return fail(err)
	}
	res := &PullResult{
		Ref:         target.String(),
		Digest:      manifestDigest,
		Metadata:    meta,
		Name:        meta.Name,
		Version:     meta.Version,
		ArchivePath: archive,
		ChartDigest: chartDesc.Digest.String(),
	}
	if provDesc != nil {
		p, err := c.fetchBlob(ctx, repo, *provDesc, cache, MaxChartSize)
		if err != nil {
			return fail(err)
		}
		if res.Prov, err = os.ReadFile(p); err != nil {
			return fail(err)
		}
		res.ProvDigest = provDesc.Digest.String()
	}
	return res, nil
}

// fetchManifest returns the manifest target names: from the cache for a
// digest already there, else from the registry (verified, then cached).
func (c *client) fetchManifest(ctx context.Context, repo *remote.Repository, target Reference, cache *chartcache.Cache) (string, []byte, error) {
	if target.Digest != "" {
		if p, ok := cache.Lookup(target.Digest); ok {
			if b, err := os.ReadFile(p); err == nil {
				return target.Digest, b, nil
			}
		}
	}
	reference := target.Tag
	if target.Digest != "" {
		reference = target.Digest
	}
	desc, rc, err := repo.FetchReference(ctx, reference)
	if err != nil {
		return "", nil, err
	}
	defer rc.Close()
	if desc.Size > maxManifestSize {
		return "", nil, fmt.Errorf("manifest %s: %d bytes, more than %d", desc.Digest, desc.Size, maxManifestSize)
	}
	b, err := content.ReadAll(rc, desc)
	if err != nil {
		return "", nil, fmt.Errorf("manifest %s: %w", desc.Digest, err)
	}
	if target.Digest != "" && desc.Digest.String() != target.Digest {
		return "", nil, &chartcache.DigestMismatchError{Want: target.Digest, Got: desc.Digest.String()}
	}
	if _, _, err := cache.PutBytes(b, desc.Digest.String()); err != nil {
		return "", nil, fmt.Errorf("manifest %s: %w", desc.Digest, err)
	}
	return desc.Digest.String(), b, nil
}

// fetchBlob returns the cached path of the blob desc names, fetching it when
// it is not cached. The content must match desc's digest and size.
func (c *client) fetchBlob(ctx context.Context, repo *remote.Repository, desc ocispec.Descriptor, cache *chartcache.Cache, limit int64) (string, error) {
	if p, ok := cache.Lookup(desc.Digest.String()); ok {
		return p, nil
	}
	if desc.Size < 0 || desc.Size > limit {
		return "", fmt.Errorf("blob %s: size %d out of bounds (at most %d)", desc.Digest, desc.Size, limit)
	}
	rc, err := repo.Blobs().Fetch(ctx, desc)
	if err != nil {
		return "", err
	}
	defer rc.Close()
	_, p, err := cache.Put(rc, desc.Digest.String(), desc.Size)
	if err != nil {
		return "", fmt.Errorf("blob %s: %w", desc.Digest, err)
	}
	return p, nil
}
