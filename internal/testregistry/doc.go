// Package testregistry starts the real OCI registry for tests: the CNCF
// distribution registry (cmd/registry of github.com/distribution/distribution/v3)
// that hack/registry.mk builds from the Go module proxy and hands to go test as
// $KUBECTL_CHART_REGISTRY.
//
// Each Start writes a configuration file and a storage folder under the test's
// temporary folder and runs the binary on a free loopback port, either over
// plain HTTP or over TLS with a certificate from a throwaway CA generated in Go
// and htpasswd basic auth (bcrypt). The process is stopped when the test ends.
//
// Without $KUBECTL_CHART_REGISTRY the tests that need a registry are skipped,
// with a message saying how to build it, except when $CI is "true": there a
// missing registry fails the test, so that CI cannot pass by skipping.
package testregistry
