// Package repo owns Helm chart repositories, interoperable with Helm v4:
// repositories.yaml (File, Entry; edited under Helm's repositories.lock with
// EditFile, written 0600), index.yaml (IndexFile, ChartVersion; ParseIndex,
// IndexDirectory for `repo index`), Helm's version resolution
// (SelectVersion: an exact version first, else the newest that satisfies
// the constraint; "" is the newest stable, DevelConstraint admits
// pre-releases) and Helm's `search repo` (Search).
//
// Indexes are parsed once: IndexCache keeps a compact form (Index) of every
// index.yaml it has read, keyed by the sha256 of its content, and remembers
// which content a file held at a given size, time and inode, so that
// commands that read a repository's index neither hash nor parse an
// unchanged file. An index rewritten by `helm repo update` is parsed again
// (once).
//
// Downloads go through internal/transport's client with the entry's TLS
// files, a timeout and bounded reads. Basic-auth credentials go only to the
// repository's own scheme and host unless pass_credentials_all is set
// (Helm's rule). Archives are stored in internal/chartcache under the
// digest the index announces: a mismatch stores nothing, and a version
// whose digest is already cached is not requested again.
//
// # Resolving chart references
//
// Resolver.Locate turns "REPO/CHART" (LocateOptions.RepoName) or
// "--repo URL CHART" (LocateOptions.RepoURL) plus a version constraint into
// an archive on disk:
//
//	r := repo.NewResolver(helmpath.New())
//	loc, err := r.Locate(ctx, repo.LocateOptions{RepoName: "bitnami", Chart: "nginx", Version: "^15"})
//	// loc.ArchivePath (in the content cache, read-only), loc.Version,
//	// loc.Digest ("sha256:…"), loc.URL, loc.Metadata
//
// A named repository's index is the one `repo add`/`repo update` (ours or
// Helm's) cached; a URL's index is downloaded on every call, as Helm does,
// and parsed only when its content changed; nothing is added to
// repositories.yaml. With WantProv the archive's provenance file
// (<url>.prov) is fetched too, once, and cached by the archive's digest
// (Located.ProvPath; empty when the repository has none). Errors:
// ErrRepoNotFound (Helm's "repo NAME not found") when the name is not
// in repositories.yaml, *ChartNotFoundError when the chart or a version
// satisfying the constraint is missing (it lists the nearest versions),
// *HTTPError for a status other than 200 (it says whether credentials were
// sent), chartcache.DigestMismatchError when the archive does not match the
// index.
package repo
