package wire_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kubectl-chart/kubectl-chart/pkg/release/wire"
)

var allStatuses = []wire.Status{
	wire.StatusPendingInstall, wire.StatusPendingUpgrade, wire.StatusPendingRollback, wire.StatusDeployed,
	wire.StatusFailed, wire.StatusSuperseded, wire.StatusUninstalling, wire.StatusUninstalled,
}

func TestCanMove(t *testing.T) {
	// Every allowed move; every other pair (and unknown statuses) is refused.
	allowed := map[[2]wire.Status]bool{}
	for _, p := range []wire.Status{wire.StatusPendingInstall, wire.StatusPendingUpgrade, wire.StatusPendingRollback} {
		for _, to := range []wire.Status{wire.StatusDeployed, wire.StatusFailed, wire.StatusUninstalling, wire.StatusUninstalled} {
			allowed[[2]wire.Status{p, to}] = true
		}
	}
	for _, m := range [][2]wire.Status{
		{wire.StatusDeployed, wire.StatusSuperseded}, {wire.StatusDeployed, wire.StatusUninstalling}, {wire.StatusDeployed, wire.StatusUninstalled},
		{wire.StatusFailed, wire.StatusUninstalling}, {wire.StatusFailed, wire.StatusUninstalled},
		{wire.StatusSuperseded, wire.StatusUninstalling}, {wire.StatusSuperseded, wire.StatusUninstalled},
		{wire.StatusUninstalling, wire.StatusUninstalled}, {wire.StatusUninstalling, wire.StatusFailed},
	} {
		allowed[m] = true
	}
	type test struct {
		name     string
		from, to wire.Status
		want     bool
	}
	tests := []test{
		{"unknown from", "bogus", wire.StatusDeployed, false},
		{"unknown to", wire.StatusPendingInstall, "bogus", false},
		{"pending-like from", "pending-bogus", wire.StatusDeployed, false},
		{"empty", "", wire.StatusDeployed, false},
	}
	for _, from := range allStatuses {
		for _, to := range allStatuses {
			tests = append(tests, test{fmt.Sprintf("%s to %s", from, to), from, to, allowed[[2]wire.Status{from, to}]})
		}
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := wire.CanMove(tt.from, tt.to); got != tt.want {
				t.Errorf("CanMove(%q, %q) = %v, want %v", tt.from, tt.to, got, tt.want)
			}
		})
	}
}

func TestStatusKnownAndPending(t *testing.T) {
	pending := map[wire.Status]bool{
		wire.StatusPendingInstall: true, wire.StatusPendingUpgrade: true, wire.StatusPendingRollback: true, wire.StatusUninstalling: true,
	}
	for _, s := range allStatuses {
		if !s.Known() {
			t.Errorf("%s: not known", s)
		}
		if got := s.IsPending(); got != pending[s] {
			t.Errorf("%s: IsPending = %v, want %v", s, got, pending[s])
		}
	}
	for _, s := range []wire.Status{"", "bogus", "pending-bogus"} {
		if s.Known() || s.IsPending() {
			t.Errorf("%q: Known %v, IsPending %v; want neither", s, s.Known(), s.IsPending())
		}
	}
}

// TestJSON pins the stored JSON: clusters hold it, and binaries of other
// versions read it.
func TestJSON(t *testing.T) {
	at := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name string
		v    any
		want string
	}{
		{"namespaced ref", wire.ObjectRef{Group: "apps", Version: "v1", Kind: "Deployment", Namespace: "ns", Name: "web"},
			`{"group":"apps","version":"v1","kind":"Deployment","namespace":"ns","name":"web"}`},
		{"core cluster-scoped ref", wire.ObjectRef{Kind: "Namespace", Name: "ns"}, `{"kind":"Namespace","name":"ns"}`},
		{"lock", wire.Lock{Holder: "alice@laptop (pid 1)", Operation: "upgrade", Started: at, Renewed: at, Expires: at.Add(time.Minute), ID: "x", Forced: true},
			`{"holder":"alice@laptop (pid 1)","operation":"upgrade","started":"2025-01-02T03:04:05Z","renewed":"2025-01-02T03:04:05Z","expires":"2025-01-02T03:05:05Z","id":"x","forced":true}`},
		{"lock not forced", wire.Lock{ID: "x"},
			`{"holder":"","operation":"","started":"0001-01-01T00:00:00Z","renewed":"0001-01-01T00:00:00Z","expires":"0001-01-01T00:00:00Z","id":"x"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(tt.v)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, string(b)); diff != "" {
				t.Errorf("JSON (-want +got):\n%s", diff)
			}
		})
	}
}

func TestObjectRefString(t *testing.T) {
	tests := []struct {
		ref      wire.ObjectRef
		str, key string
	}{
		{wire.ObjectRef{Group: "apps", Version: "v1", Kind: "Deployment", Namespace: "ns", Name: "web"}, "Deployment.apps/ns/web", "apps/Deployment/ns/web"},
		{wire.ObjectRef{Version: "v1", Kind: "Namespace", Name: "ns"}, "Namespace/ns", "/Namespace//ns"},
	}
	for _, tt := range tests {
		if got := tt.ref.String(); got != tt.str {
			t.Errorf("String() = %q, want %q", got, tt.str)
		}
		if got := tt.ref.Key(); got != tt.key {
			t.Errorf("Key() = %q, want %q", got, tt.key)
		}
	}
}
