package releaseview

import (
	"fmt"

	"github.com/kubectl-chart/kubectl-chart/pkg/release"
)

// NotFoundError says that a release, or one revision of it, does not exist
// in a namespace. It wraps release.ErrNotFound.
type NotFoundError struct {
	Name      string
	Namespace string
	// Revision is the revision asked for; 0 for the release itself.
	Revision int
}

func (e *NotFoundError) Error() string {
	if e.Revision > 0 {
		return fmt.Sprintf("release %q has no revision %d in namespace %q", e.Name, e.Revision, e.Namespace)
	}
	return fmt.Sprintf("release %q not found in namespace %q", e.Name, e.Namespace)
}

func (e *NotFoundError) Unwrap() error { return release.ErrNotFound }
