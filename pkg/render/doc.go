// Package render renders Helm charts exactly as Helm v4 does: dependency
// resolution (conditions, tags, aliases, import-values), value coalescing,
// schema validation, Go templates with Sprig and Helm's functions, and the
// install order of the resulting documents; and Helm's --post-renderer step,
// Helm 4's way (every template, in Render) or Helm 3's (the manifest,
// Result.PostRenderManifest), the post-renderer itself given by the caller.
//
// It imports no Kubernetes client: what it needs from a cluster
// (capabilities, lookup) is given through Options.
package render
