package dependency

import "fmt"

// EventKind says which step of an update or a build an Event reports.
type EventKind int

// The steps, in the order Helm prints them.
const (
	// EventUnmanagedRefresh: the indexes of repositories that are not in
	// repositories.yaml are downloaded (update only).
	EventUnmanagedRefresh EventKind = iota
	// EventRefreshStart: the indexes of repositories.yaml are refreshed.
	EventRefreshStart
	// EventRepoUpdated and EventRepoUpdateFailed: one repository's index
	// (Name is "" for a repository that is not in repositories.yaml). A
	// failure does not stop the command, as in Helm.
	EventRepoUpdated
	EventRepoUpdateFailed
	// EventRefreshDone: every repository of repositories.yaml was tried.
	EventRefreshDone
	// EventSaving: Count charts are about to be saved into charts/.
	EventSaving
	// EventLocalDependency: a dependency without repository is checked in
	// charts/.
	EventLocalDependency
	// EventDownloading and EventAlreadyDownloaded: one chart.
	EventDownloading
	EventAlreadyDownloaded
	// EventVerificationNotFound: --verify on build, no provenance file.
	EventVerificationNotFound
	// EventSaveError: a chart could not be saved; nothing was moved.
	EventSaveError
	// EventSkippedMove: a downloaded file is not a chart and was not moved.
	EventSkippedMove
	// EventDeletingOutdated: archives of charts/ that were not saved now
	// are removed.
	EventDeletingOutdated
	// EventSkippedDeletion: a file of charts/ is not a chart and was kept.
	EventSkippedDeletion
)

// Event is one step of an update or a build; String is Helm's message.
type Event struct {
	Kind EventKind
	// Name and URL name a repository.
	Name, URL string
	// Chart is a dependency's name, Repo its repository as the lock gives it.
	Chart, Repo string
	// Path is a file of charts/ or of the temporary folder.
	Path  string
	Count int
	Err   error
}

// String is the line Helm prints for the event (without the newline).
func (e Event) String() string {
	switch e.Kind {
	case EventUnmanagedRefresh:
		return "Getting updates for unmanaged Helm repositories..."
	case EventRefreshStart:
		return "Hang tight while we grab the latest from your chart repositories..."
	case EventRepoUpdated:
		if e.Name == "" {
			return fmt.Sprintf("...Successfully got an update from the %q chart repository", e.URL)
		}
		return fmt.Sprintf("...Successfully got an update from the %q chart repository", e.Name)
	case EventRepoUpdateFailed:
		if e.Name == "" {
			return fmt.Sprintf("...Unable to get an update from the %q chart repository:\n\t%s", e.URL, e.Err)
		}
		return fmt.Sprintf("...Unable to get an update from the %q chart repository (%s):\n\t%s", e.Name, e.URL, e.Err)
	case EventRefreshDone:
		return "Update Complete. ⎈Happy Helming!⎈"
	case EventSaving:
		return fmt.Sprintf("Saving %d charts", e.Count)
	case EventLocalDependency:
		return fmt.Sprintf("Dependency %s did not declare a repository. Assuming it exists in the charts directory", e.Chart)
	case EventDownloading:
		return fmt.Sprintf("Downloading %s from repo %s", e.Chart, e.Repo)
	case EventAlreadyDownloaded:
		return fmt.Sprintf("Already downloaded %s from repo %s", e.Chart, e.Repo)
	case EventVerificationNotFound:
		return fmt.Sprintf("WARNING: Verification not found for %s: %s", e.URL, e.Err)
	case EventSaveError:
		// Helm's fmt.Fprintln("Save error occurred: ", err): two spaces.
		return fmt.Sprintf("Save error occurred:  %s", e.Err)
	case EventSkippedMove:
		return fmt.Sprintf("Could not verify %s for moving: %s (Skipping)", e.Path, e.Err)
	case EventDeletingOutdated:
		return "Deleting outdated charts"
	case EventSkippedDeletion:
		return fmt.Sprintf("Could not verify %s for deletion: %s (Skipping)", e.Path, e.Err)
	}
	return fmt.Sprintf("event %d", int(e.Kind))
}
