// Package dependency owns a chart's dependencies as Helm v4.3.1's
// `helm dependency list|update|build` manage them: the status of each
// dependency of Chart.yaml against charts/ (List), the resolution of version
// constraints against chart repositories, OCI registries and file://
// folders into Chart.lock (Update), and the download of the locked versions
// into charts/ (Update and Build), with Helm's rules and messages.
//
// Chart.lock is written as Helm writes it: the same dependencies, the same
// digest (HashReq: the sha256 of the JSON of [Chart.yaml's dependencies, the
// locked ones]), so that a lock written by one tool is in sync for the other.
// Archives land in charts/ under Helm's names (the last element of the
// archive's URL; <name>-<version>.tgz for OCI and file:// dependencies, the
// latter packaged byte for byte as `helm package` packages them), through a
// temporary folder, and archives of charts/ that were not saved this time are
// deleted, as Helm deletes them.
//
// The engine never prints: Manager.Progress receives each step as an Event
// whose String is Helm's message, and the command layer prints it.
// Repository indexes and archives go through pkg/repo (and its content
// cache), OCI charts through pkg/registry, provenance through
// pkg/provenance.
package dependency
