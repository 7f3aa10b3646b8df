package ownership_test

import (
	"testing"
	"time"

	"github.com/kubectl-chart/kubectl-chart/pkg/ownership"
)

// TestMayChangeOwned: each clause of the match condition, on the owned
// Deployment of the fixtures. Every request is also decided with heads in
// each state (locked by the writer or by another user, unlocked, expired,
// none, an inventory without the object): a request the condition skips
// must be allowed as it is by all of them (checkSkippable).
func TestMayChangeOwned(t *testing.T) {
	annotate := func(k, v string) func(o map[string]any) {
		return func(o map[string]any) { set(o, v, "metadata", "annotations", k) }
	}
	label := func(k, v string) func(o map[string]any) {
		return func(o map[string]any) { set(o, v, "metadata", "labels", k) }
	}
	entries := func(o map[string]any) []any { return get(o, "metadata", "managedFields").([]any) }
	tests := []struct {
		name    string
		op      string
		manager string
		change  func(o map[string]any)
		want    bool
	}{
		{name: "a new annotation", change: annotate("example.com/seen", "yes")},
		{name: "a new label", change: label("team", "a")},
		{name: "new label and annotation, another manager's entry added", change: func(o map[string]any) {
			annotate("example.com/seen", "yes")(o)
			label("team", "a")(o)
			set(o, append(entries(o), map[string]any{"manager": "kubectl-annotate", "operation": "Update", "apiVersion": "apps/v1",
				"fieldsType": "FieldsV1", "fieldsV1": map[string]any{"f:metadata": map[string]any{"f:annotations": map[string]any{"f:example.com/seen": map[string]any{}}}}}),
				"metadata", "managedFields")
		}},
		{name: "nothing changed", change: func(map[string]any) {}},
		{name: "a new annotation, generation moved (a Deployment's)", change: func(o map[string]any) {
			annotate("example.com/seen", "yes")(o)
			set(o, int64(3), "metadata", "generation")
		}},
		{name: "a number written as a float of the same value", change: func(o map[string]any) { set(o, float64(3), "spec", "replicas") }},

		{name: "CREATE", op: "CREATE", change: func(map[string]any) {}, want: true},
		{name: "DELETE", op: "DELETE", want: true},
		{name: "field manager kubectl-chart", manager: "kubectl-chart", change: annotate("example.com/seen", "yes"), want: true},
		{name: "an existing annotation changed", change: annotate("deployment.kubernetes.io/revision", "2"), want: true},
		{name: "an existing label changed", change: label("app", "other"), want: true},
		{name: "an existing label removed", change: func(o map[string]any) {
			delete(get(o, "metadata", "labels").(map[string]any), "app")
		}, want: true},
		{name: "every annotation removed", change: func(o map[string]any) {
			delete(get(o, "metadata").(map[string]any), "annotations")
		}, want: true},
		{name: "the record label added", change: label(ownership.LabelRecord, ownership.RecordRevision), want: true},
		{name: "a kubectl-chart.io label added", change: label("kubectl-chart.io/other", "x"), want: true},
		{name: "an ApplySet annotation added", change: annotate("applyset.kubernetes.io/tooling", "x"), want: true},
		{name: "an annotation kubectl-chart's entry claims added", change: func(o map[string]any) {
			fields := get(entries(o)[0], "fieldsV1", "f:metadata").(map[string]any)
			fields["f:annotations"] = map[string]any{"f:claimed": map[string]any{}}
			annotate("claimed", "x")(o)
		}, want: true},
		{name: "spec changed", change: func(o map[string]any) { set(o, int64(5), "spec", "replicas") }, want: true},
		{name: "status changed", change: func(o map[string]any) { set(o, int64(1), "status", "replicas") }, want: true},
		{name: "a top-level field added", change: func(o map[string]any) { o["data"] = map[string]any{} }, want: true},
		{name: "a top-level field removed", change: func(o map[string]any) { delete(o, "status") }, want: true},
		{name: "finalizers changed", change: func(o map[string]any) { set(o, []any{}, "metadata", "finalizers") }, want: true},
		{name: "ownerReferences added", change: func(o map[string]any) {
			set(o, []any{map[string]any{"kind": "X", "name": "y"}}, "metadata", "ownerReferences")
		}, want: true},
		{name: "resourceVersion changed", change: func(o map[string]any) { set(o, "11", "metadata", "resourceVersion") }, want: true},
		{name: "kubectl-chart's entry emptied", change: func(o map[string]any) {
			entries(o)[0].(map[string]any)["fieldsV1"] = map[string]any{}
		}, want: true},
		{name: "kubectl-chart's entry time changed", change: func(o map[string]any) {
			entries(o)[0].(map[string]any)["time"] = "2026-12-06T00:00:00Z"
		}, want: true},
		{name: "managedFields reset", change: func(o map[string]any) { set(o, []any{map[string]any{}}, "metadata", "managedFields") }, want: true},
		{name: "managedFields removed", change: func(o map[string]any) { delete(get(o, "metadata").(map[string]any), "managedFields") }, want: true},
		{name: "another manager's entry removed", change: func(o map[string]any) {
			set(o, entries(o)[:1], "metadata", "managedFields")
		}},
	}
	now := time.Date(2026, 12, 6, 3, 0, 0, 0, time.UTC)
	lockedBy := func(user string) *ownership.Head {
		h := head()
		h.LockUser, h.LockExpires = user, now.Add(time.Minute)
		return h
	}
	notListed := head()
	notListed.Inventory = nil
	heads := map[string]*ownership.Head{
		"head": head(), "locked by bob": lockedBy("bob"), "locked by alice": lockedBy("alice"),
		"unlocked": unlocked(), "expired": expired(), "none": nil, "not in the inventory": notListed,
	}
	cfg := ownership.Config{Now: func() time.Time { return now }, SealKey: []byte("0123456789abcdef0123456789abcdef")}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			op := tt.op
			if op == "" {
				op = ownership.OperationUpdate
			}
			manager := tt.manager
			if manager == "" {
				manager = "kubectl-annotate"
			}
			req := ownership.Request{Operation: op, User: "bob", Groups: []string{"system:authenticated"},
				FieldManager: manager, Kind: deploymentRef, Old: deployment(t), New: deployment(t)}
			switch op {
			case ownership.OperationCreate:
				req.Old = nil
			case ownership.OperationDelete:
				req.New = nil
			}
			if tt.change != nil && req.New != nil {
				tt.change(req.New.Object)
			}
			if got := ownership.MayChangeOwned(req); got != tt.want {
				t.Errorf("MayChangeOwned = %v, want %v", got, tt.want)
			}
			for name, h := range heads {
				d := ownership.DecideObject(cfg, req, h)
				t.Run(name, func(t *testing.T) { checkSkippable(t, req, d) })
			}
		})
	}
}
