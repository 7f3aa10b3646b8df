package release

// moves is the table of forward status moves: from → the statuses it may
// move to. A revision's record is written once; its status label only moves
// along these edges, never back (DESIGN.md, "Releases").
var moves = map[Status][]Status{
	// An operation under way ends deployed or failed; an uninstall may
	// start over it (a crashed install is uninstalled).
	StatusPendingInstall:  {StatusDeployed, StatusFailed, StatusUninstalling, StatusUninstalled},
	StatusPendingUpgrade:  {StatusDeployed, StatusFailed, StatusUninstalling, StatusUninstalled},
	StatusPendingRollback: {StatusDeployed, StatusFailed, StatusUninstalling, StatusUninstalled},
	// A deployed revision is superseded by a newer one, or uninstalled.
	StatusDeployed: {StatusSuperseded, StatusUninstalling, StatusUninstalled},
	// Final outcomes move only to uninstalled.
	StatusFailed:     {StatusUninstalling, StatusUninstalled},
	StatusSuperseded: {StatusUninstalling, StatusUninstalled},
	// An uninstall ends uninstalled, or failed when it could not finish.
	StatusUninstalling: {StatusUninstalled, StatusFailed},
	StatusUninstalled:  nil,
}

// CanMove tells whether a revision's status may move from one status to
// another: pending-* → deployed | failed, deployed → superseded, and any
// status but uninstalled → uninstalling | uninstalled. Staying in place is
// not a move (SetStatus treats it as a no-op); unknown statuses never move.
func CanMove(from, to Status) bool {
	for _, s := range moves[from] {
		if s == to {
			return true
		}
	}
	return false
}

// known tells whether s is one of the statuses above.
func (s Status) known() bool {
	_, ok := moves[s]
	return ok
}
