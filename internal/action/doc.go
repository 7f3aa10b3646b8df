// Package action runs release operations (install, upgrade, rollback,
// uninstall): it renders charts, records revisions in the release store,
// applies and prunes objects through the apply engine, runs hooks and
// waits. It returns results and errors; the command layer prints them.
//
// Crash safety comes from the order of writes: the lock is taken first (with
// a TTL kept alive while the operation runs), the revision record is written
// before any object, and the head's inventory becomes the union of the old
// and new objects before the first apply, so an interrupted operation leaves
// a state the next one recovers from: the lock expires, the pending revision
// is marked failed, and the union inventory lets the next prune find every
// object that was written.
package action
