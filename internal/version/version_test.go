package version

import (
	"runtime"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCommit(t *testing.T) {
	const sha = "0123456789abcdef0123456789abcdef01234567"
	tests := []struct {
		name     string
		stamped  string
		settings map[string]string
		want     string
	}{
		{name: "stamped wins", stamped: "abc-dirty", settings: map[string]string{"vcs.revision": sha}, want: "abc-dirty"},
		{name: "build info", settings: map[string]string{"vcs.revision": sha, "vcs.modified": "false"}, want: sha},
		{name: "build info modified", settings: map[string]string{"vcs.revision": sha, "vcs.modified": "true"}, want: sha + "-dirty"},
		{name: "nothing", settings: map[string]string{"GOOS": "linux"}, want: "unknown"},
		{name: "no build info", want: "unknown"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, commit(tc.stamped, tc.settings)); diff != "" {
				t.Errorf("commit (-want +got):\n%s", diff)
			}
		})
	}
}

func TestGet(t *testing.T) {
	old := Commit
	t.Cleanup(func() { Commit = old })
	Commit = "feedface"
	want := Info{Version: Version, Commit: "feedface", GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH, HelmCompat: "v4.3.1"}
	if diff := cmp.Diff(want, Get("v4.3.1")); diff != "" {
		t.Errorf("Get (-want +got):\n%s", diff)
	}
}
