package registry

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseReference(t *testing.T) {
	const d = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	cases := []struct {
		name, in string
		want     Reference
		str      string
		wantErr  bool
	}{
		{name: "plain", in: "oci://example.com/charts/app", want: Reference{Registry: "example.com", Repository: "charts/app"}, str: "example.com/charts/app"},
		{name: "no scheme", in: "example.com/app:1.0.0", want: Reference{Registry: "example.com", Repository: "app", Tag: "1.0.0"}, str: "example.com/app:1.0.0"},
		{name: "port and tag", in: "oci://127.0.0.1:5000/a/b:1.2.3", want: Reference{Registry: "127.0.0.1:5000", Repository: "a/b", Tag: "1.2.3"}, str: "127.0.0.1:5000/a/b:1.2.3"},
		{name: "plus becomes underscore", in: "oci://r.io/app:1.0.0+build.1", want: Reference{Registry: "r.io", Repository: "app", Tag: "1.0.0_build.1"}, str: "r.io/app:1.0.0_build.1"},
		{name: "digest", in: "oci://r.io/app@" + d, want: Reference{Registry: "r.io", Repository: "app", Digest: d}, str: "r.io/app@" + d},
		{name: "tag and digest", in: "oci://r.io/app:1.0.0@" + d, want: Reference{Registry: "r.io", Repository: "app", Tag: "1.0.0", Digest: d}, str: "r.io/app:1.0.0@" + d},
		{name: "port without tag", in: "oci://localhost:5000/app", want: Reference{Registry: "localhost:5000", Repository: "app"}, str: "localhost:5000/app"},
		{name: "bad digest", in: "oci://r.io/app@sha256:xyz", wantErr: true},
		{name: "upper-case repository", in: "oci://r.io/App", wantErr: true},
		{name: "no repository", in: "oci://r.io", wantErr: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseReference(tc.in)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("ParseReference(%q) = %+v, want an error", tc.in, got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ParseReference(%q) (-want +got):\n%s", tc.in, diff)
			}
			if got.String() != tc.str {
				t.Errorf("String() = %q, want %q", got.String(), tc.str)
			}
		})
	}
}

// The cases follow Helm's GetTagMatchingVersionOrConstraint; tags come
// highest first, as Tags lists them.
func TestMatchVersion(t *testing.T) {
	tags := []string{"2.0.0-rc.1", "1.2.0+build.7", "1.1.0", "1.0.0", "0.9.0"}
	cases := []struct {
		name, version, want string
		wantErr             bool
	}{
		{name: "empty picks the highest stable", version: "", want: "1.2.0+build.7"},
		{name: "exact", version: "1.0.0", want: "1.0.0"},
		{name: "exact prerelease", version: "2.0.0-rc.1", want: "2.0.0-rc.1"},
		{name: "caret", version: "^1.0", want: "1.2.0+build.7"},
		{name: "tilde", version: "~1.1", want: "1.1.0"},
		{name: "range", version: ">=0.5 <1.0", want: "0.9.0"},
		{name: "prerelease constraint", version: ">=2.0.0-0", want: "2.0.0-rc.1"},
		{name: "no match", version: "^3", wantErr: true},
		{name: "not a constraint", version: "latest!", wantErr: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := MatchVersion(tags, tc.version)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("MatchVersion(%q) = %q, want an error", tc.version, got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("MatchVersion(%q) = %q, want %q", tc.version, got, tc.want)
			}
		})
	}
}
