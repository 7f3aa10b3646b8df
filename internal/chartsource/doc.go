// Package chartsource turns a chart reference, as a Helm user types it, into a
// chart on local disk and a record of where it came from.
//
// A reference is, in Helm's order of precedence (helm.sh/helm/v4
// pkg/action.ChartPathOptions.LocateChart):
//
//   - a path that exists: a chart folder or a packaged chart (.tgz); --version
//     is ignored, as in Helm;
//   - a path that does not exist but looks like one (absolute, or starting with
//     "."): `path "./x" not found`;
//   - with --repo URL: a chart name looked up in that repository's index, with
//     no repository added;
//   - oci://HOST/PATH/CHART, with --version (a semver constraint), :TAG or
//     @sha256:DIGEST;
//   - an http(s):// URL of an archive;
//   - REPO/CHART: a chart of a repository added with `repo add` (kubectl chart's
//     or Helm's: they share repositories.yaml).
//
// Remote charts are downloaded into the content-addressed cache
// (internal/chartcache): a version downloaded once is not downloaded again.
// With Verify, the archive's provenance file is checked against a keyring
// before the chart is used; a chart that fails is refused.
//
// The engine never prints; repositories and registries are reached through the
// small RepoLocator and OCIPuller interfaces, implemented over pkg/repo and
// pkg/registry by the command layer.
package chartsource
