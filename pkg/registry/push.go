package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path"
	"sort"
	"strings"
	"time"

	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/content/memory"
	"oras.land/oras-go/v2/registry/remote/auth"

	"github.com/kubectl-chart/kubectl-chart/pkg/chart"
	"github.com/kubectl-chart/kubectl-chart/pkg/chart/loader"
)

// PushOptions are the options of Push.
type PushOptions struct {
	Options
	// ProvPath is a provenance file pushed as a layer. Empty: ARCHIVE.prov
	// when it exists, as helm push does.
	ProvPath string
	// CreationTime is the org.opencontainers.image.created annotation.
	// Empty: the archive's modification time in RFC 3339 in the local time
	// zone, as helm push does (so both tools push the same manifest for the
	// same file).
	CreationTime string
}

// PushResult says what was pushed.
type PushResult struct {
	// Ref is where: host/path/chart:tag (no scheme), as helm push prints it.
	Ref string
	// Digest is the manifest's digest.
	Digest string
	// Manifest is the manifest as pushed.
	Manifest []byte
	// ChartDigest, ConfigDigest and ProvDigest are the blobs' digests
	// (ProvDigest empty when there was no provenance file).
	ChartDigest  string
	ConfigDigest string
	ProvDigest   string
	// Name and Version are the chart's.
	Name    string
	Version string
}

// Push uploads the chart archive at archivePath to remote
// (oci://host/path), as remote/NAME:VERSION, with the manifest helm push
// makes.
func Push(ctx context.Context, archivePath, remote string, o PushOptions) (*PushResult, error) {
	fi, err := os.Stat(archivePath)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s: no such file", archivePath)
		}
		return nil, err
	}
	if fi.IsDir() {
		return nil, errors.New("cannot push directory, must provide chart archive (.tgz)")
	}
	u, err := url.Parse(remote)
	if err != nil {
		return nil, fmt.Errorf("invalid chart URL format: %s", remote)
	}
	switch u.Scheme {
	case OCIScheme:
	case "":
		return nil, fmt.Errorf("scheme prefix missing from remote (e.g. %q)", OCIScheme+"://")
	default:
		return nil, fmt.Errorf("scheme %q not supported", u.Scheme)
	}

	data, err := os.ReadFile(archivePath)
	if err != nil {
		return nil, err
	}
	ch, err := loader.LoadArchive(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", archivePath, err)
	}
	meta := ch.Metadata

	provPath := o.ProvPath
	if provPath == "" {
		if _, err := os.Stat(archivePath + ".prov"); err == nil {
			provPath = archivePath + ".prov"
		}
	}
	var prov []byte
	if provPath != "" {
		if prov, err = os.ReadFile(provPath); err != nil {
			return nil, err
		}
	}
	created := o.CreationTime
	if created == "" {
		created = fi.ModTime().Format(time.RFC3339)
	}

	ref, err := ParseReference(path.Join(strings.TrimPrefix(u.String(), OCIScheme+"://"), meta.Name) + ":" + meta.Version)
	if err != nil {
		return nil, err
	}
	m, err := BuildManifest(data, meta, prov, created)
	if err != nil {
		return nil, err
	}

	c, err := newClient(o.Options)
	if err != nil {
		return nil, err
	}
	repo, err := c.repository(ref)
	if err != nil {
		return nil, err
	}
	store := memory.New()
	for _, b := range m.blobs {
		if err := store.Push(ctx, b.desc, bytes.NewReader(b.data)); err != nil {
			return nil, err
		}
	}
	if _, err := oras.TagBytes(ctx, store, ocispec.MediaTypeImageManifest, m.Manifest, ref.Tag); err != nil {
		return nil, err
	}
	ctx = auth.AppendRepositoryScope(ctx, repo.Reference, auth.ActionPull, auth.ActionPush)
	desc, err := oras.Copy(ctx, store, ref.Tag, repo, ref.Tag, oras.DefaultCopyOptions)
	if err != nil {
		return nil, fmt.Errorf("push %s: %w", ref, c.classify(err, ref.Registry, ref.String()))
	}
	return &PushResult{
		Ref:          ref.String(),
		Digest:       desc.Digest.String(),
		Manifest:     m.Manifest,
		ChartDigest:  m.Chart.Digest.String(),
		ConfigDigest: m.Config.Digest.String(),
		ProvDigest:   m.Prov.Digest.String(),
		Name:         meta.Name,
		Version:      meta.Version,
	}, nil
}

// Manifest is a chart's OCI manifest and its blobs, as Helm builds them.
type Manifest struct {
	// Manifest is the JSON of the image manifest.
	Manifest []byte
	// Digest is its digest.
	Digest string
	// Config, Chart and Prov describe the blobs (Prov is zero without a
	// provenance file).
	Config, Chart, Prov ocispec.Descriptor

	blobs []blob
}

type blob struct {
	desc ocispec.Descriptor
	data []byte
}

// BuildManifest builds the manifest Helm's registry client pushes for a chart
// archive: config = json.Marshal(metadata), layers = the archive and the
// provenance file sorted by digest, annotations from the metadata (title,
// version, description, url, source, authors, created) plus Chart.yaml's
// annotations, which cannot override title and version.
func BuildManifest(archive []byte, meta *chart.Metadata, prov []byte, created string) (*Manifest, error) {
	config, err := json.Marshal(meta)
	if err != nil {
		return nil, err
	}
	m := &Manifest{
		Config: content.NewDescriptorFromBytes(ConfigMediaType, config),
		Chart:  content.NewDescriptorFromBytes(ChartLayerMediaType, archive),
	}
	m.blobs = []blob{{m.Config, config}, {m.Chart, archive}}
	layers := []ocispec.Descriptor{m.Chart}
	if prov != nil {
		m.Prov = content.NewDescriptorFromBytes(ProvLayerMediaType, prov)
		m.blobs = append(m.blobs, blob{m.Prov, prov})
		layers = append(layers, m.Prov)
	}
	sort.Slice(layers, func(i, j int) bool { return layers[i].Digest < layers[j].Digest })
	manifest := ocispec.Manifest{
		Versioned:   specs.Versioned{SchemaVersion: 2},
		Config:      m.Config,
		Layers:      layers,
		Annotations: Annotations(meta, created),
	}
	if m.Manifest, err = json.Marshal(manifest); err != nil {
		return nil, err
	}
	m.Digest = content.NewDescriptorFromBytes(ocispec.MediaTypeImageManifest, m.Manifest).Digest.String()
	return m, nil
}

// Annotations are the manifest annotations Helm derives from a chart's
// metadata. created is org.opencontainers.image.created; empty means now
// (UTC), as in Helm.
func Annotations(meta *chart.Metadata, created string) map[string]string {
	a := map[string]string{}
	add := func(k, v string) {
		if strings.TrimSpace(v) != "" {
			a[k] = v
		}
	}
	add(ocispec.AnnotationDescription, meta.Description)
	add(ocispec.AnnotationTitle, meta.Name)
	add(ocispec.AnnotationVersion, meta.Version)
	add(ocispec.AnnotationURL, meta.Home)
	if created == "" {
		created = time.Now().UTC().Format(time.RFC3339)
	}
	add(ocispec.AnnotationCreated, created)
	if len(meta.Sources) > 0 {
		add(ocispec.AnnotationSource, meta.Sources[0])
	}
	if len(meta.Maintainers) > 0 {
		var sb strings.Builder
		for i, mt := range meta.Maintainers {
			// Helm dereferences every maintainer; a nil one (a bare "-" in
			// Chart.yaml) is skipped here instead of crashing.
			if mt != nil {
				sb.WriteString(mt.Name)
				if mt.Email != "" {
					sb.WriteString(" (" + mt.Email + ")")
				}
			}
			if i < len(meta.Maintainers)-1 {
				sb.WriteString(", ")
			}
		}
		add(ocispec.AnnotationAuthors, sb.String())
	}
	for k, v := range meta.Annotations {
		if k == ocispec.AnnotationVersion || k == ocispec.AnnotationTitle {
			continue
		}
		a[k] = v
	}
	return a
}
