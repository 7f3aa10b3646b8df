// Package apply is the server-side apply engine of kubectl-chart: it decodes
// rendered manifests into objects, applies them in stages (CRDs, then
// Namespaces, then Helm's install order by kind) with server-side apply and
// field manager ownership.FieldManager, deletes them in reverse order, and
// waits for them with kstatus.
//
// It stamps the ownership labels of DESIGN.md on every object's metadata (never
// into pod templates), refuses to take over objects owned by another release
// or created by another tool unless told to, reports field conflicts with the
// fields and the other managers, takes back (and reports) the fields of the
// release's previous revision that other managers took since, and does not
// write objects whose desired state is already live.
//
// It is an engine: it returns change sets and errors and never prints. Every
// error names the object as Kind/namespace/name first.
package apply
