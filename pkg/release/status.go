package release

import "github.com/kubectl-chart/kubectl-chart/pkg/release/wire"

// ends tells whether a move from from to to ends the revision's operation
// (AnnotationFinished).
func ends(from, to Status) bool {
	return from.IsPending() && (to == StatusDeployed || to == StatusFailed)
}

// CanMove tells whether a revision's status may move from one status to
// another, along the wire format's table (wire.CanMove): pending-* →
// deployed | failed, deployed → superseded, and any status but uninstalled
// → uninstalling | uninstalled. Staying in place is not a move (SetStatus
// treats it as a no-op); unknown statuses never move.
func CanMove(from, to Status) bool { return wire.CanMove(from, to) }
