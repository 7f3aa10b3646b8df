// Package webhook is the engine of chart-webhook, the ownership admission
// webhook of DESIGN.md ("Webhook rules"): an admission.Handler that decodes
// each AdmissionRequest, routes it to the pure decision of pkg/ownership
// (release heads to DecideHead, revision records to DecideRecord, any other
// object carrying the release label to DecideObject with the release's head
// read from an informer cache) and turns the decision into an admission
// response: allowed, denied with a metav1.Status that names the fields, the
// release, its revision and the command to use, warnings, and JSON patches
// for the stamps (lock-user, applied-by).
//
// Denials and break-glass writes are counted in Prometheus metrics and
// recorded as Events on the release head ConfigMap, where `kubectl chart
// status` finds them. The package never prints; cmd/webhook wires it to a
// controller-runtime webhook.Server, cache, metrics and health probes.
package webhook
