package apply

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kubectl-chart/kubectl-chart/pkg/release"
)

// Action is what an operation did (or, in a dry run, would do) to one object.
type Action string

// Actions.
const (
	// Created: the object did not exist and was created.
	Created Action = "created"
	// Configured: the object existed and its desired state was written.
	Configured Action = "configured"
	// Unchanged: the object already was in its desired state; nothing was written.
	Unchanged Action = "unchanged"
	// Deleted: the object was deleted, or was already gone.
	Deleted Action = "deleted"
	// Kept: the object asks to be kept (resource policy keep) and was not deleted.
	Kept Action = "kept"
	// Skipped: the object was not touched: an earlier stage failed, or (on
	// delete) another release owns it now.
	Skipped Action = "skipped"
	// Failed: the operation failed for this object; Change.Err says why.
	Failed Action = "failed"
)

// Change is the result of an operation on one object.
type Change struct {
	Ref    release.ObjectRef
	Action Action
	// Err is set when Action is Failed: an *ObjectError, *ConflictError or
	// *OwnershipError, each naming the object first.
	Err error
	// Object is the object as the server has it after the operation (as it
	// would have it, in a dry run), when known; nil for deletions and
	// failures.
	Object *unstructured.Unstructured
	// Taken are the fields the operation took from other field managers
	// (would take, in a dry run): fields the release applied in its
	// previous revision, which it takes back, and with --force-conflicts
	// any other.
	Taken []Takeover
}

// ChangeSet is the result of an operation on a set of objects, in the order
// the objects were handled (stage by stage, in input order within a stage).
type ChangeSet struct {
	Changes []Change
}

// Add appends changes.
func (c *ChangeSet) Add(changes ...Change) { c.Changes = append(c.Changes, changes...) }

// Count is the number of changes with action a.
func (c *ChangeSet) Count(a Action) int {
	if c == nil {
		return 0
	}
	n := 0
	for _, ch := range c.Changes {
		if ch.Action == a {
			n++
		}
	}
	return n
}

// Failed joins the error of every failed object (nil when none failed).
func (c *ChangeSet) Failed() error {
	if c == nil {
		return nil
	}
	var errs []error
	for _, ch := range c.Changes {
		if ch.Err != nil {
			errs = append(errs, ch.Err)
		}
	}
	return errors.Join(errs...)
}

// String lists the changes one a line ("ConfigMap/ns/name created"), as
// kubectl prints them; failures end with their error.
func (c *ChangeSet) String() string {
	if c == nil {
		return ""
	}
	var b strings.Builder
	for _, ch := range c.Changes {
		b.WriteString(ch.Ref.String())
		b.WriteByte(' ')
		b.WriteString(string(ch.Action))
		if ch.Err != nil {
			b.WriteString(": ")
			b.WriteString(ch.Err.Error())
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// ObjectError is an API error for one object.
type ObjectError struct {
	Ref release.ObjectRef
	// Op is what failed: "apply", "dry-run apply", "get", "delete", ….
	Op  string
	Err error
}

func (e *ObjectError) Error() string {
	msg := e.Err.Error()
	if r := apierrors.ReasonForError(e.Err); r != metav1.StatusReasonUnknown && !strings.Contains(msg, string(r)) {
		msg += " (" + string(r) + ")"
	}
	return fmt.Sprintf("%s: %s failed: %s", e.Ref, e.Op, msg)
}

func (e *ObjectError) Unwrap() error { return e.Err }

// FieldConflict is one field that another field manager owns with another
// value.
type FieldConflict struct {
	// Manager is the other field manager ("kubectl-edit", "helm", …).
	Manager string
	// Field is the field's path (".spec.replicas").
	Field string
}

// ConflictError says that applying an object would change fields other
// managers own (server-side apply's 409 Conflict); --force-conflicts takes
// them.
type ConflictError struct {
	Ref       release.ObjectRef
	Conflicts []FieldConflict
	// Err is the API server's error.
	Err error
}

func (e *ConflictError) Error() string {
	byManager := map[string][]string{}
	var managers []string
	for _, c := range e.Conflicts {
		if _, ok := byManager[c.Manager]; !ok {
			managers = append(managers, c.Manager)
		}
		byManager[c.Manager] = append(byManager[c.Manager], c.Field)
	}
	sort.Strings(managers)
	var parts []string
	for _, m := range managers {
		parts = append(parts, fmt.Sprintf("%s (managed by %q)", strings.Join(byManager[m], ", "), m))
	}
	what := strings.Join(parts, "; ")
	if what == "" {
		what = e.Err.Error()
	}
	return fmt.Sprintf("%s: apply conflicts with other field managers: %s; use --force-conflicts to take these fields", e.Ref, what)
}

func (e *ConflictError) Unwrap() error { return e.Err }

// OwnershipError says that an object exists and is not this release's: it
// belongs to another release, or another tool created it. --take-ownership
// adopts it.
type OwnershipError struct {
	Ref release.ObjectRef
	// Release and ReleaseNamespace name the release that owns the object;
	// empty when no release does.
	Release, ReleaseNamespace string
	// Managers are the object's field managers (when no release owns it).
	Managers []string
}

func (e *OwnershipError) Error() string {
	if e.Release != "" {
		return fmt.Sprintf("%s is owned by release %s in namespace %s; use --take-ownership to adopt it", e.Ref, e.Release, e.ReleaseNamespace)
	}
	managers := "none"
	if len(e.Managers) > 0 {
		managers = strings.Join(e.Managers, ", ")
	}
	return fmt.Sprintf("%s exists and is not managed by kubectl-chart (field managers: %s); use --take-ownership to adopt it", e.Ref, managers)
}

// conflictError turns a 409 from server-side apply into a *ConflictError;
// nil when err is not one.
func conflictError(ref release.ObjectRef, err error) *ConflictError {
	if !apierrors.IsConflict(err) {
		return nil
	}
	var status apierrors.APIStatus
	if !errors.As(err, &status) {
		return nil
	}
	details := status.Status().Details
	ce := &ConflictError{Ref: ref, Err: err}
	if details != nil {
		for _, c := range details.Causes {
			if c.Type != metav1.CauseTypeFieldManagerConflict {
				continue
			}
			ce.Conflicts = append(ce.Conflicts, FieldConflict{Manager: quoted(c.Message), Field: c.Field})
		}
	}
	if len(ce.Conflicts) == 0 {
		// A 409 that is not a field conflict (resourceVersion precondition, …).
		return nil
	}
	return ce
}

// quoted returns the first double-quoted part of s (the manager in
// `conflict with "kubectl-edit" using v1`), or s.
func quoted(s string) string {
	i := strings.IndexByte(s, '"')
	if i < 0 {
		return s
	}
	j := strings.IndexByte(s[i+1:], '"')
	if j < 0 {
		return s
	}
	return s[i+1 : i+1+j]
}
