// Package certmanager holds the end-to-end test of manifests/ with a real
// cert-manager: cert-manager's controller and cainjector (v1.21.2, built by
// hack/cert-manager.mk from the Go module proxy) run as local processes
// against a test API server that has cert-manager's CRDs, manifests/ is
// applied with kubectl, and the test checks that the webhook's Certificate
// is issued for the Service's names and that cainjector puts its CA into
// the Mutating and the ValidatingWebhookConfiguration. A package of its own:
// the webhook configurations it applies point at a Service with no pods and
// fail closed, which would break the tests of any package sharing its
// control plane.
//
// The package has no code of its own; its tests are in the _test.go files.
package certmanager
