package scaffold

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The files written and the messages are compared with `helm create` in
// internal/cmd's TestCreate (oracle: Helm itself); these are the rules
// checked on their own.

func TestValidateName(t *testing.T) {
	tests := []struct {
		name    string
		wantErr string
	}{
		{name: "mychart"},
		{name: "my.chart_2-x"},
		{name: strings.Repeat("a", MaxNameLength)},
		{name: "", wantErr: "chart name must be between 1 and 250 characters"},
		{name: strings.Repeat("a", MaxNameLength+1), wantErr: "chart name must be between 1 and 250 characters"},
		{name: "my chart", wantErr: `chart name must match the regular expression "^[a-zA-Z0-9._-]+$"`},
		{name: "a+b", wantErr: `chart name must match the regular expression "^[a-zA-Z0-9._-]+$"`},
		{name: "a\nb", wantErr: `chart name must match the regular expression "^[a-zA-Z0-9._-]+$"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := ""
			if err := ValidateName(tc.name); err != nil {
				got = err.Error()
			}
			if diff := cmp.Diff(tc.wantErr, got); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
		})
	}
}

func TestStarterPath(t *testing.T) {
	tests := []struct {
		name, starter, want string
	}{
		{name: "name", starter: "web", want: "/data/starters/web"},
		{name: "relative path stays under the starters", starter: "./team/web", want: "/data/starters/team/web"},
		{name: "absolute path", starter: "/src/web", want: "/src/web"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, StarterPath("/data/starters", tc.starter)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// Create reports the files it overwrote and leaves other files alone.
func TestCreateOverwrites(t *testing.T) {
	dir := t.TempDir()
	cdir := filepath.Join(dir, "mychart")
	if err := os.MkdirAll(filepath.Join(cdir, "templates"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"values.yaml", "templates/service.yaml", "keep.txt"} {
		if err := os.WriteFile(filepath.Join(cdir, f), []byte("old\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	res, err := Create(t.Context(), "mychart", dir)
	if err != nil {
		t.Fatal(err)
	}
	want := &Result{Dir: cdir, Overwritten: []string{filepath.Join(cdir, "values.yaml"), filepath.Join(cdir, "templates", "service.yaml")}}
	if diff := cmp.Diff(want, res); diff != "" {
		t.Errorf("result (-want +got):\n%s", diff)
	}
	if b, err := os.ReadFile(filepath.Join(cdir, "keep.txt")); err != nil || string(b) != "old\n" {
		t.Errorf("keep.txt: %q, %v; want it left alone", b, err)
	}
	if b, err := os.ReadFile(filepath.Join(cdir, "values.yaml")); err != nil || !strings.HasPrefix(string(b), "# Default values for mychart.\n") {
		t.Errorf("values.yaml not rewritten: %q, %v", b, err)
	}
}

// A cancelled context stops Create before it writes anything.
func TestCreateCancelled(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	res, err := Create(ctx, "mychart", dir)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
	if diff := cmp.Diff(&Result{Dir: filepath.Join(dir, "mychart")}, res); diff != "" {
		t.Errorf("result (-want +got):\n%s", diff)
	}
	if _, err := os.Stat(filepath.Join(dir, "mychart")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("mychart/ after a cancelled Create: %v, want none", err)
	}
}

// Every placeholder of the default chart's templates is replaced.
func TestDefaultFilesHaveNoPlaceholder(t *testing.T) {
	for _, f := range defaultFiles("mychart") {
		if strings.Contains(string(f.content), Placeholder) {
			t.Errorf("%s still holds %s", f.name, Placeholder)
		}
	}
}
