package registry

import (
	"fmt"
	"strings"

	orasregistry "oras.land/oras-go/v2/registry"
)

// Reference is a parsed chart reference: oci://REGISTRY/REPOSITORY[:TAG][@DIGEST].
type Reference struct {
	// Registry is the host[:port].
	Registry string
	// Repository is the path, ending with the chart name.
	Repository string
	// Tag is the tag as stored in the registry: a chart version with '+'
	// replaced by '_'. Empty when the reference has none.
	Tag string
	// Digest is "sha256:…" when the reference pins one.
	Digest string
}

// ParseReference parses a chart reference as Helm's registry client does, with
// or without the oci:// prefix: the last ':' after the final '/' starts a tag,
// whose '+' signs become '_' (OCI tags cannot hold '+'); '@' starts a digest.
func ParseReference(raw string) (Reference, error) {
	s := strings.TrimPrefix(raw, OCIScheme+"://")
	var r Reference
	if i := strings.LastIndex(s, "@"); i >= 0 {
		r.Digest = s[i+1:]
		s = s[:i]
	}
	if i := strings.LastIndex(s, ":"); i >= 0 && !strings.Contains(s[i+1:], "/") && s[i+1:] != "" {
		s = s[:i+1] + TagForVersion(s[i+1:])
	}
	ref, err := orasregistry.ParseReference(s)
	if err != nil {
		return Reference{}, fmt.Errorf("invalid chart reference %q: %w", raw, err)
	}
	r.Registry, r.Repository, r.Tag = ref.Registry, ref.Repository, ref.Reference
	if r.Digest != "" {
		if _, err := orasregistry.ParseReference(ref.Registry + "/" + ref.Repository + "@" + r.Digest); err != nil {
			return Reference{}, fmt.Errorf("invalid chart reference %q: %w", raw, err)
		}
	}
	return r, nil
}

// String is the reference without scheme, as Helm prints it
// (host/path/chart:tag, host/path/chart@sha256:…, or both).
func (r Reference) String() string {
	s := r.Registry + "/" + r.Repository
	if r.Tag != "" {
		s += ":" + r.Tag
	}
	if r.Digest != "" {
		s += "@" + r.Digest
	}
	return s
}

// Repo is REGISTRY/REPOSITORY.
func (r Reference) Repo() string { return r.Registry + "/" + r.Repository }

// TagForVersion is the tag a chart version is stored under: '+' becomes '_'.
func TagForVersion(version string) string { return strings.ReplaceAll(version, "+", "_") }

// VersionForTag is the chart version a tag stands for: '_' becomes '+'.
func VersionForTag(tag string) string { return strings.ReplaceAll(tag, "_", "+") }

// IsOCI reports whether a chart reference names a registry (oci://…).
func IsOCI(ref string) bool { return strings.HasPrefix(ref, OCIScheme+"://") }
