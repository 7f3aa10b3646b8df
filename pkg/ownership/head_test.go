package ownership_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kubectl-chart/kubectl-chart/pkg/ownership"
)

// lockedBy is a head of release web whose lock (ID id) user took, expiring
// at expires.
func lockedBy(user, id string, expires time.Time) *ownership.Head {
	return &ownership.Head{Release: "web", Namespace: "apps", LockUser: user, LockID: id, LockExpires: expires,
		LockData: lockJSONWith(user+"@host", id, expires, false)}
}

func TestLockChangeOf(t *testing.T) {
	live, past := now.Add(time.Minute), now.Add(-time.Second)
	noLock := &ownership.Head{Release: "web", Namespace: "apps"}
	tests := []struct {
		name     string
		old, new *ownership.Head
		user     string
		want     ownership.LockChange
	}{
		{"a new head with a lock", nil, lockedBy("alice", "1", live), "alice", ownership.LockTake},
		{"a new head without one", nil, noLock, "alice", ownership.LockUnchanged},
		{"no lock, still none", noLock, noLock, "bob", ownership.LockUnchanged},
		{"the same lock", lockedBy("alice", "1", live), lockedBy("alice", "1", live), "bob", ownership.LockUnchanged},
		{"a lock where none was", noLock, lockedBy("bob", "2", live), "bob", ownership.LockTake},
		{"over an expired lock of another user", lockedBy("alice", "1", past), lockedBy("bob", "2", live), "bob", ownership.LockTake},
		{"over an expired lock of one's own, another operation", lockedBy("alice", "1", past), lockedBy("alice", "2", live), "alice", ownership.LockTake},
		{"one's own lock extended", lockedBy("alice", "1", live), lockedBy("alice", "1", live.Add(time.Minute)), "alice", ownership.LockRenew},
		{"one's own expired lock extended", lockedBy("alice", "1", past), lockedBy("alice", "1", live), "alice", ownership.LockRenew},
		{"another user's lock extended", lockedBy("alice", "1", live), lockedBy("alice", "1", live.Add(time.Minute)), "bob", ownership.LockTakeover},
		{"a live lock of another user replaced", lockedBy("alice", "1", live), lockedBy("bob", "2", live), "bob", ownership.LockTakeover},
		{"a live lock of one's own other operation replaced", lockedBy("alice", "1", live), lockedBy("alice", "2", live), "alice", ownership.LockTakeover},
		{"a live lock replaced by one without an ID", lockedBy("alice", "", live), lockedBy("alice", "", live.Add(time.Minute)), "alice", ownership.LockTakeover},
		{"one's own lock dropped", lockedBy("alice", "1", live), noLock, "alice", ownership.LockRelease},
		{"one's own expired lock dropped", lockedBy("alice", "1", past), noLock, "alice", ownership.LockRelease},
		{"another user's lock dropped", lockedBy("alice", "1", live), noLock, "bob", ownership.LockClear},
		{"another user's expired lock dropped", lockedBy("alice", "1", past), noLock, "bob", ownership.LockClear},
		{"an unstamped lock dropped", lockedBy("", "1", live), noLock, "alice", ownership.LockClear},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ownership.LockChangeOf(tt.old, tt.new, tt.user, now); got != tt.want {
				t.Errorf("LockChangeOf = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestLockChangeVerbs(t *testing.T) {
	tests := []struct {
		change ownership.LockChange
		name   string
		verbs  []string
	}{
		{ownership.LockUnchanged, "unchanged", nil},
		{ownership.LockTake, "take", []string{"deploy"}},
		{ownership.LockRenew, "renew", []string{"deploy"}},
		{ownership.LockTakeover, "take over", []string{"deploy", "unlock"}},
		{ownership.LockRelease, "release", []string{"deploy"}},
		{ownership.LockClear, "clear", []string{"unlock"}},
	}
	for _, tt := range tests {
		if got := tt.change.String(); got != tt.name {
			t.Errorf("LockChange(%d).String() = %q, want %q", int(tt.change), got, tt.name)
		}
		if diff := cmp.Diff(tt.verbs, tt.change.Verbs()); diff != "" {
			t.Errorf("%s: Verbs (-want +got):\n%s", tt.name, diff)
		}
	}
}

// TestHeadVerbs: the webhook asks about the verbs of a head's lock change,
// and none for a delete or an unreadable head.
func TestHeadVerbs(t *testing.T) {
	live := now.Add(time.Minute)
	tests := []struct {
		name     string
		op, user string
		old, new *ownership.Head
		want     []string
	}{
		{"take", "UPDATE", "bob", &ownership.Head{Release: "web"}, lockedBy("bob", "2", live), []string{"deploy"}},
		{"create", "CREATE", "bob", nil, lockedBy("bob", "2", live), []string{"deploy"}},
		{"take over", "UPDATE", "bob", lockedBy("alice", "1", live), lockedBy("bob", "2", live), []string{"deploy", "unlock"}},
		{"clear", "UPDATE", "bob", lockedBy("alice", "1", live), &ownership.Head{Release: "web"}, []string{"unlock"}},
		{"unchanged", "UPDATE", "bob", lockedBy("alice", "1", live), lockedBy("alice", "1", live), nil},
		{"delete", "DELETE", "bob", lockedBy("alice", "1", live), nil, nil},
		{"unreadable new head", "UPDATE", "bob", lockedBy("alice", "1", live), nil, nil},
	}
	for _, tt := range tests {
		got := ownership.HeadVerbs(ownership.Request{Operation: tt.op, User: tt.user}, tt.old, tt.new, now)
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%s: HeadVerbs (-want +got):\n%s", tt.name, diff)
		}
	}
}

// TestHeadStampUnreadable: an unreadable new head gets no stamp (the
// validating webhook denies it).
func TestHeadStampUnreadable(t *testing.T) {
	req := ownership.Request{Operation: "UPDATE", User: "bob", Old: toUnstructured(t, headCM("", "", "[]")), New: toUnstructured(t, headCM("", "", "[]"))}
	if got := ownership.HeadStamp(req, readHead(t, headCM("", "", "[]")), nil, now); got != nil {
		t.Errorf("HeadStamp = %+v, want none", got)
	}
}
