// Package version holds the build's version and commit, stamped by the
// Makefile and by the release archives (hack/dist).
package version

import (
	"runtime"
	"runtime/debug"
)

// Version is set with -ldflags "-X …/internal/version.Version=…".
var Version = "v0.0.0-dev"

// Commit is the git commit the binary was built from, set with
// -ldflags "-X …/internal/version.Commit=…" (hack/dist does; a "-dirty"
// suffix says the working tree had changes). When it is not set, the
// revision Go stamps into the build info (go build -buildvcs) is used.
var Commit = ""

// Info is what `kubectl chart version` prints.
type Info struct {
	Version string `json:"version"`
	// Commit is the git commit, or "unknown".
	Commit    string `json:"commit"`
	GoVersion string `json:"goVersion"`
	Platform  string `json:"platform"`
	// HelmCompat is the Helm release whose rendering is followed.
	HelmCompat string `json:"helmCompatibility"`
}

// Get returns the build's version information.
func Get(helmCompat string) Info {
	return Info{
		Version:    Version,
		Commit:     commit(Commit, readBuildSettings()),
		GoVersion:  runtime.Version(),
		Platform:   runtime.GOOS + "/" + runtime.GOARCH,
		HelmCompat: helmCompat,
	}
}

// commit is the stamped commit, else the VCS revision of the build settings
// (with "-dirty" when the tree was modified), else "unknown".
func commit(stamped string, settings map[string]string) string {
	if stamped != "" {
		return stamped
	}
	rev := settings["vcs.revision"]
	if rev == "" {
		return "unknown"
	}
	if settings["vcs.modified"] == "true" {
		rev += "-dirty"
	}
	return rev
}

func readBuildSettings() map[string]string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return nil
	}
	m := make(map[string]string, len(bi.Settings))
	for _, s := range bi.Settings {
		m[s.Key] = s.Value
	}
	return m
}
