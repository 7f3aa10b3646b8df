// Package version holds the build's version, stamped by the Makefile.
package version

import "runtime"

// Version is set with -ldflags "-X …/internal/version.Version=…".
var Version = "v0.0.0-dev"

// Info is what `kubectl chart version` prints.
type Info struct {
	Version   string `json:"version"`
	GoVersion string `json:"goVersion"`
	Platform  string `json:"platform"`
	// HelmCompat is the Helm release whose rendering is followed.
	HelmCompat string `json:"helmCompatibility"`
}

// Get returns the build's version information.
func Get(helmCompat string) Info {
	return Info{
		Version:    Version,
		GoVersion:  runtime.Version(),
		Platform:   runtime.GOOS + "/" + runtime.GOARCH,
		HelmCompat: helmCompat,
	}
}
