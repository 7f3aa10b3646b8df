// Package render renders Helm charts exactly as Helm v4 does: dependency
// resolution (conditions, tags, aliases, import-values), value coalescing,
// schema validation, Go templates with Sprig and Helm's functions, and the
// install order of the resulting documents.
//
// It imports no Kubernetes client: what it needs from a cluster
// (capabilities, lookup) is given through Options.
package render
