// Package release stores releases on the cluster: a head ConfigMap per
// release (ApplySet parent, current revision, inventory, operation lock, and
// a copy of the current revision's release labels, which list --selector
// reads) and one immutable, compressed revision record per revision, in
// Secrets that are split when a record is larger than one Secret can hold.
// A revision's release labels (install/upgrade --labels) are part of its
// record's data, written once; they are data on the head too, never the
// ConfigMap's labels.
//
// It knows nothing of rendering or applying: callers hand it records and
// inventories. Every write goes through optimistic concurrency
// (resourceVersion), so two clients never overwrite each other.
//
// What the chart-webhook reads of the records (object references, the head's
// data keys, the lock's JSON, the statuses and their moves) is owned by
// package wire, whose types this package re-exports as aliases.
package release
