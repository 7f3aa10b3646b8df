// Package releaseview builds what the read-only release commands (list,
// history, get, status) show, from release records and live objects: table
// rows, status data and their text. It holds pure functions only: it reads
// nothing from a cluster and prints nothing; the command layer fetches the
// records and objects, calls these functions and writes their results.
//
// Output follows Helm's habits: the same columns, time formats and JSON
// field names as helm list, history, get and status, plus what Helm has
// not (who applied a revision, the lock, kstatus of every owned object,
// whether the ownership webhook is enforcing).
package releaseview
