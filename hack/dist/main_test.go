package main

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseFlags(t *testing.T) {
	env := func(vars map[string]string) func(string) string {
		return func(k string) string { return vars[k] }
	}
	base := []string{"-commit", "abc", "-source-date-epoch", "1700000000"}
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want options
		// accepted: only check that the flags are accepted.
		accepted bool
		wantErr  string
	}{
		{
			name: "defaults",
			args: append([]string{"-version", "v1.2.3"}, base...),
			want: options{Version: "v1.2.3", Commit: "abc", Epoch: time.Unix(1700000000, 0).UTC(), Root: ".", Out: "dist",
				Platforms: allPlatforms, Template: ".krew.yaml", Go: "go"},
		},
		{
			name: "SOURCE_DATE_EPOCH, GO, platforms, root",
			args: []string{"-version", "v0.1.0-rc.1", "-commit", "abc", "-platforms", "linux/amd64, windows/amd64", "-root", "/src", "-out", "/o", "-manifest", "krew/chart.yaml"},
			env:  map[string]string{"SOURCE_DATE_EPOCH": "86400", "GO": "/usr/lib/go/bin/go"},
			want: options{Version: "v0.1.0-rc.1", Commit: "abc", Epoch: time.Unix(86400, 0).UTC(), Root: "/src", Out: "/o",
				Platforms: []platform{{"linux", "amd64"}, {"windows", "amd64"}}, Template: "/src/.krew.yaml", Manifest: "krew/chart.yaml", Go: "/usr/lib/go/bin/go"},
		},
		{name: "no version", args: base, wantErr: "-version is required"},
		{name: "no v", args: append([]string{"-version", "1.2.3"}, base...), wantErr: `-version "1.2.3" is not v followed by a semantic version`},
		{name: "not semver", args: append([]string{"-version", "v1.2"}, base...), wantErr: `-version "v1.2" is not v`},
		{name: "git describe", args: append([]string{"-version", "v1.2.3-4-gabcdef-dirty"}, base...), accepted: true},
		{name: "bad platform", args: append([]string{"-version", "v1.2.3", "-platforms", "linux"}, base...), wantErr: `platform "linux": want GOOS/GOARCH`},
		{name: "platform twice", args: append([]string{"-version", "v1.2.3", "-platforms", "linux/amd64,linux/amd64"}, base...), wantErr: "platform linux/amd64 given twice"},
		{name: "bad epoch", args: []string{"-version", "v1.2.3", "-commit", "abc", "-source-date-epoch", "yesterday"}, wantErr: `source date epoch "yesterday"`},
		{name: "arguments", args: append([]string{"-version", "v1.2.3", "x"}, base...), wantErr: `unexpected arguments ["x" "-commit"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseFlags(tc.args, env(tc.env))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.accepted {
				return
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestGitDefaults reads the commit and its time from this repository when
// neither is given.
func TestGitDefaults(t *testing.T) {
	sha, err := git("../..", "rev-parse", "HEAD")
	if err != nil {
		t.Skipf("not a git checkout: %v", err)
	}
	o, err := parseFlags([]string{"-version", "v1.0.0", "-root", "../.."}, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if o.Commit != sha && o.Commit != sha+"-dirty" {
		t.Errorf("commit %q, want %s with or without -dirty", o.Commit, sha)
	}
	ct, err := git("../..", "log", "-1", "--format=%ct")
	if err != nil {
		t.Fatal(err)
	}
	if got := strconv.FormatInt(o.Epoch.Unix(), 10); got != ct {
		t.Errorf("epoch %s, want the commit time %s", got, ct)
	}
}
