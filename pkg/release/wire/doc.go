// Package wire owns the wire format of release records, the one contract
// between the plugin's release store (pkg/release), which writes them, and
// the chart-webhook's rules (pkg/ownership), which read them: the object
// references of inventories, the head ConfigMap's data keys, the lock's
// JSON, and the revision statuses with the table of their forward moves.
//
// It is a leaf: it imports only the standard library, so that both
// pkg/ownership and pkg/release (which imports pkg/ownership) can use it.
// Both re-export its types as aliases; a change here is a change of what is
// stored on clusters, and must stay readable by older and newer binaries.
package wire
