// Package krew holds the end-to-end tests of the distribution: the release
// archives and krew manifest of hack/dist, installed with the real krew
// (sigs.k8s.io/krew, built from the Go module proxy by
// hack/dist/build-krew.sh) into a temporary KREW_ROOT and run through the
// real kubectl of the test control plane: `kubectl chart version`, and
// `kubectl chart <TAB>` through kubectl's plugin completion and the
// kubectl_complete-chart helper, with release names from a test cluster
// (internal/testcluster). The manifest also goes through krew's own
// validate-krew-manifest, and two builds of the archives from two copies of
// the source must be identical.
//
// The package has no code of its own; its tests are in the _test.go files.
package krew
