// Package crash holds end-to-end tests of release operations that go wrong
// from the outside: the kubectl-chart binary, built from this repository, is
// killed with SIGKILL in the middle of `upgrade --install`, or two of them
// race for one release. They run against the full test control plane
// (internal/testcluster) and check what the next command finds: the lock
// gone within its TTL, a consistent history, no orphaned object.
//
// The package has no code of its own; its tests are in the _test.go files.
package crash
