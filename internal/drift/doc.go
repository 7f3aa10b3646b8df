// Package drift finds how the live objects of releases differ from what the
// releases applied: for every object of a release's inventory, the fields
// of its deployed revision's manifest (with the ownership labels the plugin
// stamps) that kubectl-chart's server-side apply entry in
// metadata.managedFields no longer holds, because another field manager
// took them (kubectl scale through the scale subresource, kubectl edit, a
// forced apply, any write made while the ownership webhook was not there)
// or because they were removed; and the objects that no longer exist.
//
// Field sets are structured-merge-diff's (sigs.k8s.io/structured-merge-diff
// fieldpath), computed from the applied object with the cluster's OpenAPI
// schema, as the API server computes them: fields only the API server
// defaulted are never in them, so they are never reported.
//
// It is an engine: Checker.Check returns a Report and never prints. Live
// objects are read with the apply engine's Observe (one LIST per kind and
// namespace).
package drift
