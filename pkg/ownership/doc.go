// Package ownership holds the names that the kubectl-chart plugin, the
// chart-webhook and the tests share (labels, annotations, field manager,
// record names), and the pure ownership rules the webhook enforces.
package ownership
