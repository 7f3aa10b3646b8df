package ownership_test

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-chart/kubectl-chart/pkg/ownership"
	"github.com/kubectl-chart/kubectl-chart/pkg/release/wire"
)

// ---------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------

// deploymentFields is what server-side apply records for the plugin on the
// Deployment below.
const deploymentFields = `{
  "f:metadata": {
    "f:labels": {
      "f:app": {},
      "f:applyset.kubernetes.io/part-of": {},
      "f:kubectl-chart.io/release": {},
      "f:kubectl-chart.io/release-namespace": {}
    },
    "f:finalizers": {"v:\"example.com/guard\"": {}}
  },
  "f:spec": {
    "f:replicas": {},
    "f:selector": {},
    "f:template": {
      "f:metadata": {"f:labels": {"f:app": {}}},
      "f:spec": {
        "f:containers": {
          "k:{\"name\":\"web\"}": {
            ".": {},
            "f:args": {},
            "f:image": {},
            "f:name": {},
            "f:ports": {
              "k:{\"containerPort\":8080,\"protocol\":\"TCP\"}": {".": {}, "f:containerPort": {}, "f:protocol": {}}
            }
          }
        },
        "f:tolerations": {"i:0": {".": {}, "f:key": {}}}
      }
    }
  },
  "f:status": {"f:replicas": {}}
}`

const deploymentYAML = `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: apps
  resourceVersion: "10"
  generation: 2
  labels:
    app: web
    kubectl-chart.io/release: web
    kubectl-chart.io/release-namespace: apps
    applyset.kubernetes.io/part-of: applyset-abc-v1
  annotations:
    deployment.kubernetes.io/revision: "1"
  finalizers: [example.com/guard]
spec:
  replicas: 3
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: nginx:1.27
        args: [--port=8080]
        imagePullPolicy: IfNotPresent
        ports:
        - {containerPort: 8080, protocol: TCP}
      tolerations:
      - {key: dedicated, operator: Exists}
status:
  replicas: 3
`

// deployment is the Deployment with its managedFields: the plugin's apply
// and the controller manager's status updates.
func deployment(t testing.TB) *unstructured.Unstructured {
	t.Helper()
	u := fromYAML(t, deploymentYAML)
	set(u.Object, []any{
		map[string]any{"manager": "kubectl-chart", "operation": "Apply", "apiVersion": "apps/v1",
			"fieldsType": "FieldsV1", "fieldsV1": mustJSON(t, deploymentFields)},
		map[string]any{"manager": "kube-controller-manager", "operation": "Update", "apiVersion": "apps/v1",
			"subresource": "status", "fieldsType": "FieldsV1", "fieldsV1": mustJSON(t, `{"f:status":{"f:replicas":{}}}`)},
	}, "metadata", "managedFields")
	return u
}

var deploymentRef = ownership.ObjectRef{Group: "apps", Version: "v1", Kind: "Deployment", Namespace: "apps", Name: "web"}

// fromYAML reads an object as the webhook decodes one (integers as int64).
func fromYAML(t testing.TB, s string) *unstructured.Unstructured {
	t.Helper()
	j, err := yaml.YAMLToJSON([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(j); err != nil {
		t.Fatal(err)
	}
	return u
}

func mustJSON(t testing.TB, s string) any {
	t.Helper()
	var v any
	if err := utiljson.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("%s: %v", s, err)
	}
	return v
}

func fieldSet(t testing.TB, s string) *fieldpath.Set {
	t.Helper()
	set := &fieldpath.Set{}
	if err := set.FromJSON(strings.NewReader(s)); err != nil {
		t.Fatal(err)
	}
	return set
}

var portsPath = []any{"spec", "template", "spec", "containers", 0, "ports"}

// get and set reach into an unstructured object by field names and list
// indices; set makes the maps on the way.
func get(o any, path ...any) any {
	for _, p := range path {
		switch p := p.(type) {
		case string:
			o = o.(map[string]any)[p]
		case int:
			o = o.([]any)[p]
		}
	}
	return o
}

func set(o map[string]any, v any, path ...any) {
	var cur any = o
	for i, p := range path[:len(path)-1] {
		switch p := p.(type) {
		case string:
			m := cur.(map[string]any)
			if _, ok := m[p].(map[string]any); !ok {
				if _, isList := m[p].([]any); !isList {
					if _, nextIsIndex := path[i+1].(int); !nextIsIndex {
						m[p] = map[string]any{}
					}
				}
			}
			cur = m[p]
		case int:
			cur = cur.([]any)[p]
		}
	}
	switch p := path[len(path)-1].(type) {
	case string:
		cur.(map[string]any)[p] = v
	case int:
		cur.([]any)[p] = v
	}
}

func container(o map[string]any, i int) map[string]any {
	return get(o, "spec", "template", "spec", "containers", i).(map[string]any)
}

var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

var cfg = ownership.Config{
	BreakGlassUsers:  []string{"root"},
	BreakGlassGroups: []string{"sre"},
	Now:              func() time.Time { return now },
}

// head is release web in namespace apps at revision 3, locked by alice
// for another minute.
func head() *ownership.Head {
	return &ownership.Head{
		Release:   "web",
		Namespace: "apps",
		Revision:  3,
		Deployed:  3,
		Inventory: []ownership.ObjectRef{
			{Group: "apps", Kind: "Deployment", Namespace: "apps", Name: "web"},
			{Kind: "Service", Namespace: "apps", Name: "web"},
		},
		LockUser:    "alice",
		LockHolder:  "alice@laptop (pid 42)",
		LockExpires: now.Add(time.Minute),
		LockData:    `{"holder":"alice@laptop (pid 42)"}`,
	}
}

func unlocked() *ownership.Head {
	h := head()
	h.LockUser, h.LockHolder, h.LockExpires, h.LockData = "", "", time.Time{}, ""
	return h
}

func expired() *ownership.Head {
	h := head()
	h.LockExpires = now.Add(-time.Second)
	return h
}

// ignoreMessage compares decisions without their messages, and only the
// number of their warnings; tests check what they say apart.
var ignoreMessage = cmp.Options{
	cmpopts.IgnoreFields(ownership.Decision{}, "Message"),
	cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == ".Warnings" },
		cmp.Comparer(func(a, b []string) bool { return len(a) == len(b) })),
}

// oneWarning stands for a warning in a wanted decision.
var oneWarning = []string{"(a warning)"}

// checkSkippable fails when MayChangeOwned lets the API server skip req
// (the match condition of the webhook configuration) while the decision d
// on it denies, stamps or records an Event: every request the condition
// skips must be one the webhook would allow as it is.
func checkSkippable(t *testing.T, req ownership.Request, d ownership.Decision) {
	t.Helper()
	if ownership.MayChangeOwned(req) {
		return
	}
	if !d.Allowed || d.BreakGlass || len(d.Patch) > 0 || d.EventReason(req.Operation) != "" {
		t.Errorf("MayChangeOwned lets the API server skip this request, but the decision is not a plain allowance: %+v", d)
	}
}

func checkMessage(t *testing.T, d ownership.Decision, want []string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(d.Message, w) && !strings.Contains(strings.Join(d.Warnings, "\n"), w) {
			t.Errorf("message %q (warnings %q) does not say %q", d.Message, d.Warnings, w)
		}
	}
}

// ---------------------------------------------------------------------------
// Owned objects
// ---------------------------------------------------------------------------

func TestDecideObject(t *testing.T) {
	update := func(user, manager string, change func(o map[string]any)) func(t testing.TB) ownership.Request {
		return func(t testing.TB) ownership.Request {
			old, nu := deployment(t), deployment(t)
			change(nu.Object)
			return ownership.Request{Operation: "UPDATE", User: user, Groups: []string{"system:authenticated"},
				FieldManager: manager, Kind: deploymentRef, Old: old, New: nu}
		}
	}
	del := func(user string) func(t testing.TB) ownership.Request {
		return func(t testing.TB) ownership.Request {
			return ownership.Request{Operation: "DELETE", User: user, Kind: deploymentRef, Old: deployment(t)}
		}
	}
	replicas := func(o map[string]any) { set(o, int64(5), "spec", "replicas") }
	image := func(o map[string]any) { container(o, 0)["image"] = "evil:1" }

	tests := []struct {
		name string
		req  func(t testing.TB) ownership.Request
		head *ownership.Head
		want ownership.Decision
		// msg are what the message or the warnings must say.
		msg []string
	}{
		{
			name: "kubectl edit of replicas is denied, naming the field",
			req:  update("bob", "kubectl-edit", replicas),
			head: head(),
			want: ownership.Decision{Reason: "OwnedFieldsChanged", Fields: []string{"spec.replicas"}},
			msg:  []string{"Deployment.apps/apps/web: spec.replicas is owned by release web (revision 3) in namespace apps; change it with: kubectl chart upgrade web <chart> -n apps --set …"},
		},
		{
			name: "kubectl patch of a container's image is denied, naming the keyed item",
			req:  update("bob", "kubectl-patch", image),
			head: head(),
			want: ownership.Decision{Reason: "OwnedFieldsChanged", Fields: []string{"spec.template.spec.containers[name=web].image"}},
			msg:  []string{"spec.template.spec.containers[name=web].image is owned by release web (revision 3)", "kubectl chart upgrade web"},
		},
		{
			name: "several owned fields are all named",
			req:  update("bob", "kubectl-client-side-apply", func(o map[string]any) { replicas(o); image(o) }),
			head: head(),
			want: ownership.Decision{Reason: "OwnedFieldsChanged",
				Fields: []string{"spec.replicas", "spec.template.spec.containers[name=web].image"}},
			msg: []string{"spec.replicas and spec.template.spec.containers[name=web].image are owned", "change them with"},
		},
		{
			name: "an annotation the release never set is allowed",
			req:  update("bob", "kubectl-annotate", func(o map[string]any) { set(o, "x", "metadata", "annotations", "example.com/note") }),
			head: head(),
			want: ownership.Decision{Allowed: true, Reason: "NotOwned"},
		},
		{
			name: "status only is allowed",
			req:  update("bob", "kubectl", func(o map[string]any) { set(o, int64(1), "status", "replicas") }),
			head: head(),
			want: ownership.Decision{Allowed: true, Reason: "NotOwned"},
		},
		{
			name: "a field the release does not own is allowed",
			req:  update("bob", "kubectl-edit", func(o map[string]any) { container(o, 0)["imagePullPolicy"] = "Always" }),
			head: head(),
			want: ownership.Decision{Allowed: true, Reason: "NotOwned"},
		},
		{
			name: "a container added by someone else is allowed",
			req: update("bob", "istio", func(o map[string]any) {
				c := get(o, "spec", "template", "spec", "containers").([]any)
				set(o, append(c, map[string]any{"name": "proxy", "image": "envoy"}), "spec", "template", "spec", "containers")
			}),
			head: head(),
			want: ownership.Decision{Allowed: true, Reason: "NotOwned"},
		},
		{
			name: "an owned container removed is denied",
			req:  update("bob", "kubectl-edit", func(o map[string]any) { set(o, []any{}, "spec", "template", "spec", "containers") }),
			head: head(),
			want: ownership.Decision{Reason: "OwnedFieldsChanged", Fields: []string{"spec.template.spec.containers[name=web]"}},
		},
		{
			name: "an owned finalizer (set item) removed is denied",
			req:  update("bob", "kubectl-patch", func(o map[string]any) { set(o, []any{}, "metadata", "finalizers") }),
			head: head(),
			want: ownership.Decision{Reason: "OwnedFieldsChanged", Fields: []string{"metadata.finalizers[=example.com/guard]"}},
		},
		{
			name: "the same number written as a float is no change",
			req:  update("bob", "kubectl-edit", func(o map[string]any) { set(o, 3.0, "spec", "replicas") }),
			head: head(),
			want: ownership.Decision{Allowed: true, Reason: "NotOwned"},
		},
		{
			name: "adding the record label to an owned object is denied",
			req: update("bob", "kubectl-label", func(o map[string]any) {
				get(o, "metadata", "labels").(map[string]any)[ownership.LabelRecord] = ownership.RecordHead
			}),
			head: head(),
			want: ownership.Decision{Reason: "RecordLabelChanged", Fields: []string{`metadata.labels["kubectl-chart.io/record"]`}},
			msg:  []string{"marks the records of releases and is set only by kubectl chart"},
		},
		{
			name: "resourceVersion and generation are ignored",
			req: update("bob", "kubectl-edit", func(o map[string]any) {
				set(o, "99", "metadata", "resourceVersion")
				set(o, int64(7), "metadata", "generation")
			}),
			head: head(),
			want: ownership.Decision{Allowed: true, Reason: "NotOwned"},
		},
		{
			name: "removing the release label is denied",
			req: update("bob", "kubectl-label", func(o map[string]any) {
				delete(get(o, "metadata", "labels").(map[string]any), ownership.LabelRelease)
			}),
			head: head(),
			want: ownership.Decision{Reason: "OwnershipLabelsRemoved", Fields: []string{`metadata.labels["kubectl-chart.io/release"]`}},
			msg:  []string{`metadata.labels["kubectl-chart.io/release"] is owned by release web (revision 3) in namespace apps`, "kubectl chart upgrade web <chart> -n apps"},
		},
		{
			name: "removing the label while changing an owned field names both",
			req: update("bob", "kubectl-edit", func(o map[string]any) {
				delete(get(o, "metadata", "labels").(map[string]any), ownership.LabelRelease)
				replicas(o)
			}),
			head: head(),
			want: ownership.Decision{Reason: "OwnershipLabelsRemoved", Fields: []string{`metadata.labels["kubectl-chart.io/release"]`, "spec.replicas"}},
			msg:  []string{"the request also changes spec.replicas, owned too"},
		},
		{
			name: "moving the object to another ApplySet is denied",
			req: update("bob", "kubectl-label", func(o map[string]any) {
				set(o, "applyset-other-v1", "metadata", "labels", ownership.LabelApplySetPartOf)
			}),
			head: head(),
			want: ownership.Decision{Reason: "OwnershipLabelsRemoved", Fields: []string{`metadata.labels["applyset.kubernetes.io/part-of"]`}},
		},
		{
			name: "removing an ownership label the plugin does not own in managedFields is denied too",
			req: func(t testing.TB) ownership.Request {
				r := update("bob", "kubectl-label", func(o map[string]any) {
					delete(get(o, "metadata", "labels").(map[string]any), ownership.LabelReleaseNamespace)
				})(t)
				set(r.Old.Object, []any{}, "metadata", "managedFields")
				return r
			},
			head: head(),
			want: ownership.Decision{Reason: "OwnershipLabelsRemoved", Fields: []string{`metadata.labels["kubectl-chart.io/release-namespace"]`}},
		},
		{
			name: "delete by a user is denied",
			req:  del("bob"),
			head: head(),
			want: ownership.Decision{Reason: "OwnedObjectDeleted"},
			msg:  []string{"Deployment.apps/apps/web is owned by release web (revision 3) in namespace apps", "kubectl chart uninstall web -n apps"},
		},
		{
			name: "delete by the garbage collector is allowed",
			req:  del("system:serviceaccount:kube-system:generic-garbage-collector"),
			head: head(),
			want: ownership.Decision{Allowed: true, Reason: "SystemController"},
		},
		{
			name: "delete by the namespace controller is allowed",
			req:  del("system:serviceaccount:kube-system:namespace-controller"),
			head: head(),
			want: ownership.Decision{Allowed: true, Reason: "SystemController"},
		},
		{
			name: "label removal by the garbage collector is allowed",
			req: update("system:serviceaccount:kube-system:generic-garbage-collector", "", func(o map[string]any) {
				delete(get(o, "metadata", "labels").(map[string]any), ownership.LabelRelease)
			}),
			head: head(),
			want: ownership.Decision{Allowed: true, Reason: "SystemController"},
		},
		{
			name: "an object with the labels but not in the inventory is allowed, with a warning",
			req: func(t testing.TB) ownership.Request {
				r := update("bob", "kubectl-edit", replicas)(t)
				r.Kind.Name = "web-copy"
				return r
			},
			head: head(),
			want: ownership.Decision{Allowed: true, Reason: "NotInInventory", Warnings: oneWarning},
			msg:  []string{"Deployment.apps/apps/web-copy carries the labels of release web (revision 3) in namespace apps but is not in its inventory"},
		},
		{
			name: "an object whose release has no head is allowed, with a warning",
			req:  update("bob", "kubectl-edit", replicas),
			head: nil,
			want: ownership.Decision{Allowed: true, Reason: "NotInInventory", Warnings: oneWarning},
			msg:  []string{"release web, which has no head"},
		},
		{
			name: "the lock holder with field manager kubectl-chart is allowed",
			req:  update("alice", "kubectl-chart", func(o map[string]any) { replicas(o); image(o) }),
			head: head(),
			want: ownership.Decision{Allowed: true, Reason: "LockHolder"},
		},
		{
			name: "the lock holder deleting (pruning) is allowed",
			req:  del("alice"),
			head: head(),
			want: ownership.Decision{Allowed: true, Reason: "LockHolder"},
		},
		{
			name: "the lock holder with another field manager is denied",
			req:  update("alice", "kubectl-edit", replicas),
			head: head(),
			want: ownership.Decision{Reason: "OwnedFieldsChanged", Fields: []string{"spec.replicas"}},
		},
		{
			name: "the same user with an expired lock is denied",
			req:  update("alice", "kubectl-chart", replicas),
			head: expired(),
			want: ownership.Decision{Reason: "OwnedFieldsChanged", Fields: []string{"spec.replicas"}},
			msg:  []string{"field manager kubectl-chart", "the lock of release web taken by user alice expired at 2026-03-01T11:59:59Z"},
		},
		{
			name: "another user with field manager kubectl-chart while alice holds the lock is denied",
			req:  update("bob", "kubectl-chart", replicas),
			head: head(),
			want: ownership.Decision{Reason: "OwnedFieldsChanged", Fields: []string{"spec.replicas"}},
			msg:  []string{"the lock of release web is held by user alice until 2026-03-01T12:01:00Z"},
		},
		{
			name: "field manager kubectl-chart without any lock is denied",
			req:  update("alice", "kubectl-chart", replicas),
			head: unlocked(),
			want: ownership.Decision{Reason: "OwnedFieldsChanged", Fields: []string{"spec.replicas"}},
			msg:  []string{"release web is not locked by a running operation"},
		},
		{
			name: "a break-glass user is allowed, with BreakGlass",
			req:  update("root", "kubectl-edit", replicas),
			head: head(),
			want: ownership.Decision{Allowed: true, Reason: "BreakGlass", BreakGlass: true, Warnings: oneWarning, Fields: []string{"spec.replicas"}},
			msg:  []string{"break-glass", "OwnedFieldsChanged", "spec.replicas is owned by release web"},
		},
		{
			name: "a break-glass group is allowed to delete, with BreakGlass",
			req: func(t testing.TB) ownership.Request {
				r := del("carol")(t)
				r.Groups = []string{"system:authenticated", "sre"}
				return r
			},
			head: head(),
			want: ownership.Decision{Allowed: true, Reason: "BreakGlass", BreakGlass: true, Warnings: oneWarning},
		},
		{
			name: "a break-glass user's harmless write needs no break-glass",
			req:  update("root", "kubectl-annotate", func(o map[string]any) { set(o, "x", "metadata", "annotations", "example.com/note") }),
			head: head(),
			want: ownership.Decision{Allowed: true, Reason: "NotOwned"},
		},
		{
			name: "a subresource is allowed",
			req: func(t testing.TB) ownership.Request {
				r := update("bob", "kubectl", replicas)(t)
				r.SubResource = "scale"
				return r
			},
			head: head(),
			want: ownership.Decision{Allowed: true, Reason: "SubResource"},
		},
		{
			name: "creating an inventory object again is allowed: nothing is owned yet",
			req: func(t testing.TB) ownership.Request {
				return ownership.Request{Operation: "CREATE", User: "bob", FieldManager: "kubectl-create", Kind: deploymentRef, New: deployment(t)}
			},
			head: head(),
			want: ownership.Decision{Allowed: true, Reason: "NotOwned"},
		},
		{
			name: "unreadable managedFields fail closed",
			req: func(t testing.TB) ownership.Request {
				r := update("bob", "kubectl-edit", replicas)(t)
				set(r.Old.Object, "garbage", "metadata", "managedFields")
				return r
			},
			head: head(),
			want: ownership.Decision{Reason: "OwnedFieldsUnknown"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := tt.req(t)
			got := ownership.DecideObject(cfg, req, tt.head)
			checkSkippable(t, req, got)
			if diff := cmp.Diff(tt.want, got, ignoreMessage); diff != "" {
				t.Errorf("DecideObject (-want +got):\n%s", diff)
			}
			checkMessage(t, got, tt.msg)
			if !got.Allowed && got.Message == "" {
				t.Error("a denial without a message")
			}
			if (got.Reason == "NotInInventory") != (len(got.Warnings) > 0) && !got.BreakGlass {
				t.Errorf("warnings %q with reason %s", got.Warnings, got.Reason)
			}
		})
	}
}

// sealedHead is head() while alice's upgrade to revision 3 runs: pending,
// naming the seal of the record alice created (sealOf).
func sealedHead(f func(h *ownership.Head)) *ownership.Head {
	h := head()
	h.Status, h.Record = "pending-upgrade", sealOf(3, "alice", "pending-upgrade")
	if f != nil {
		f(h)
	}
	return h
}

// TestDecideObjectSealed: with a seal key, the release's operation writes
// only under a sealed pending record of the head's revision that its own
// user created (Head.Record); deletes and uninstall need none.
func TestDecideObjectSealed(t *testing.T) {
	req := func(op, user, manager string) ownership.Request {
		old, nu := deployment(t), deployment(t)
		set(nu.Object, int64(5), "spec", "replicas")
		r := ownership.Request{Operation: op, User: user, FieldManager: manager, Kind: deploymentRef, Old: old, New: nu}
		switch op {
		case "CREATE":
			r.Old = nil
		case "DELETE":
			r.New, r.FieldManager = nil, ""
		}
		return r
	}
	tests := []struct {
		name string
		cfg  ownership.Config
		req  ownership.Request
		head *ownership.Head
		want ownership.Decision
		msg  []string
	}{
		{
			name: "the holder's update under its sealed pending record is allowed",
			cfg:  sealedCfg, req: req("UPDATE", "alice", "kubectl-chart"),
			head: sealedHead(nil),
			want: ownership.Decision{Allowed: true, Reason: "LockHolder"},
		},
		{
			name: "the holder's create under its sealed pending record is allowed",
			cfg:  sealedCfg, req: req("CREATE", "alice", "kubectl-chart"),
			head: sealedHead(nil),
			want: ownership.Decision{Allowed: true, Reason: "LockHolder"},
		},
		{
			name: "the holder's update without a record is denied",
			cfg:  sealedCfg, req: req("UPDATE", "alice", "kubectl-chart"),
			head: sealedHead(func(h *ownership.Head) { h.Record = nil }),
			want: ownership.Decision{Reason: "NoRecord"},
			msg:  []string{"Deployment.apps/apps/web: the operation of user alice on release web (revision 3) in namespace apps writes without a revision record: the head names no record"},
		},
		{
			name: "the holder's create without a record is denied",
			cfg:  sealedCfg, req: req("CREATE", "alice", "kubectl-chart"),
			head: sealedHead(func(h *ownership.Head) { h.Record = nil }),
			want: ownership.Decision{Reason: "NoRecord"},
		},
		{
			name: "the holder's update under another user's record is denied",
			cfg:  sealedCfg, req: req("UPDATE", "alice", "kubectl-chart"),
			head: sealedHead(func(h *ownership.Head) { h.Record = sealOf(3, "bob", "pending-upgrade") }),
			want: ownership.Decision{Reason: "NoRecord"},
			msg:  []string{"revision 3 was recorded by user bob"},
		},
		{
			name: "the holder's update under a record not pending is denied",
			cfg:  sealedCfg, req: req("UPDATE", "alice", "kubectl-chart"),
			head: sealedHead(func(h *ownership.Head) { h.Record = sealOf(3, "alice", "deployed") }),
			want: ownership.Decision{Reason: "NoRecord"},
			msg:  []string{"revision 3 was recorded as deployed, not pending"},
		},
		{
			name: "the holder's update under a head not pending is denied",
			cfg:  sealedCfg, req: req("UPDATE", "alice", "kubectl-chart"),
			head: sealedHead(func(h *ownership.Head) { h.Status = "deployed" }),
			want: ownership.Decision{Reason: "NoRecord"},
			msg:  []string{"the head's status is deployed, not pending"},
		},
		{
			name: "the holder's update under a forged seal is denied",
			cfg:  sealedCfg, req: req("UPDATE", "alice", "kubectl-chart"),
			head: sealedHead(func(h *ownership.Head) { h.Record = forgedSeal(3, "alice", "pending-upgrade") }),
			want: ownership.Decision{Reason: "NoRecord"},
			msg:  []string{"the head's record seal was not made by this webhook"},
		},
		{
			name: "the holder's update under a seal with its MAC removed is denied",
			cfg:  sealedCfg, req: req("UPDATE", "alice", "kubectl-chart"),
			head: sealedHead(func(h *ownership.Head) { h.Record.MAC = "" }),
			want: ownership.Decision{Reason: "NoRecord"},
		},
		{
			name: "the holder's update under the seal of another revision is denied",
			cfg:  sealedCfg, req: req("UPDATE", "alice", "kubectl-chart"),
			head: sealedHead(func(h *ownership.Head) { h.Record = sealOf(2, "alice", "pending-upgrade") }),
			want: ownership.Decision{Reason: "NoRecord"},
			msg:  []string{"the head's record is of revision 2, its revision is 3"},
		},
		{
			name: "the holder's update under a seal of another release is denied",
			cfg:  sealedCfg, req: req("UPDATE", "alice", "kubectl-chart"),
			head: sealedHead(func(h *ownership.Head) {
				s := ownership.RecordSeal{Revision: 3, User: "alice", Status: "pending-upgrade"}.Sealed(sealKey, "apps", "api")
				h.Record = &s
			}),
			want: ownership.Decision{Reason: "NoRecord"},
		},
		{
			name: "uninstalling is no licence to write without a record",
			cfg:  sealedCfg, req: req("UPDATE", "alice", "kubectl-chart"),
			head: sealedHead(func(h *ownership.Head) { h.Status, h.Record = "uninstalling", nil }),
			want: ownership.Decision{Reason: "NoRecord"},
		},
		{
			name: "the holder's delete needs no record",
			cfg:  sealedCfg, req: req("DELETE", "alice", ""),
			head: sealedHead(func(h *ownership.Head) { h.Status, h.Record = "deployed", nil }),
			want: ownership.Decision{Allowed: true, Reason: "LockHolder"},
		},
		{
			name: "without a seal key the holder's update needs no record",
			cfg:  cfg, req: req("UPDATE", "alice", "kubectl-chart"),
			head: sealedHead(func(h *ownership.Head) { h.Status, h.Record = "deployed", nil }),
			want: ownership.Decision{Allowed: true, Reason: "LockHolder"},
		},
		{
			name: "the holder's update with an expired lock is judged as anyone's",
			cfg:  sealedCfg, req: req("UPDATE", "alice", "kubectl-chart"),
			head: sealedHead(func(h *ownership.Head) { h.LockExpires = now.Add(-time.Second) }),
			want: ownership.Decision{Reason: "OwnedFieldsChanged", Fields: []string{"spec.replicas"}},
		},
		{
			name: "the holder's update with another field manager is judged as anyone's",
			cfg:  sealedCfg, req: req("UPDATE", "alice", "kubectl-edit"),
			head: sealedHead(nil),
			want: ownership.Decision{Reason: "OwnedFieldsChanged", Fields: []string{"spec.replicas"}},
		},
		{
			name: "another user's update is not let through by the holder's seal",
			cfg:  sealedCfg, req: req("UPDATE", "bob", "kubectl-chart"),
			head: sealedHead(func(h *ownership.Head) { h.Record = sealOf(3, "bob", "pending-upgrade") }),
			want: ownership.Decision{Reason: "OwnedFieldsChanged", Fields: []string{"spec.replicas"}},
		},
		{
			name: "a break-glass holder without a record is let through",
			cfg:  sealedCfg, req: req("UPDATE", "root", "kubectl-chart"),
			head: sealedHead(func(h *ownership.Head) { h.LockUser, h.Record = "root", nil }),
			want: ownership.Decision{Allowed: true, Reason: "BreakGlass", BreakGlass: true, Warnings: oneWarning},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ownership.DecideObject(tt.cfg, tt.req, tt.head)
			checkSkippable(t, tt.req, got)
			if diff := cmp.Diff(tt.want, got, ignoreMessage); diff != "" {
				t.Errorf("DecideObject (-want +got):\n%s", diff)
			}
			checkMessage(t, got, tt.msg)
			if !got.Allowed && got.Message == "" {
				t.Error("a denial without a message")
			}
		})
	}
}

// ---------------------------------------------------------------------------
// Release heads
// ---------------------------------------------------------------------------

// headCM is the head ConfigMap of release web at revision 3, deployed: lock
// is the lock's JSON ("" for none), lockUser the stamp ("" for none).
func headCM(lock, lockUser, inventory string) *corev1.ConfigMap {
	cm := &corev1.ConfigMap{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{
			Name: "kubectl-chart.web", Namespace: "apps",
			Labels:      map[string]string{ownership.LabelRelease: "web", ownership.LabelRecord: ownership.RecordHead},
			Annotations: map[string]string{ownership.AnnotationApplySetTooling: "kubectl-chart/v0.1.0"},
		},
		Data: map[string]string{"revision": "3", "deployed": "3", "status": "deployed", "inventory": inventory},
	}
	if lock != "" {
		cm.Data["lock"] = lock
	}
	if lockUser != "" {
		cm.Annotations[ownership.AnnotationLockUser] = lockUser
	}
	return cm
}

// newHeadCM is the head of release web as the store creates it with its
// first lock (release.KubeStore.Acquire): no revision, no inventory.
func newHeadCM(lock, lockUser string) *corev1.ConfigMap {
	cm := headCM(lock, lockUser, "[]")
	cm.Data["revision"], cm.Data["deployed"], cm.Data["status"] = "0", "0", ""
	return cm
}

// withCM returns a copy of cm changed by f.
func withCM(cm *corev1.ConfigMap, f func(cm *corev1.ConfigMap)) *corev1.ConfigMap {
	cm = cm.DeepCopy()
	f(cm)
	return cm
}

// lockJSON is a lock as pkg/release writes it, whose ID is its holder.
func lockJSON(holder string, expires time.Time) string {
	return lockJSONWith(holder, holder, expires, false)
}

// lockJSONWith is a lock with ID id, forced when taken over from a live
// lock (--force-unlock).
func lockJSONWith(holder, id string, expires time.Time, forced bool) string {
	b, _ := json.Marshal(map[string]any{"holder": holder, "operation": "upgrade", "started": now.Add(-time.Minute),
		"renewed": now.Add(-time.Minute), "expires": expires, "id": id, "forced": forced})
	return string(b)
}

const inventory1 = `[{"group":"apps","kind":"Deployment","namespace":"apps","name":"web"}]`
const inventory2 = `[{"group":"apps","kind":"Deployment","namespace":"apps","name":"web"},{"kind":"Service","namespace":"apps","name":"web"}]`

// sealKey is the webhook's HMAC key of record seals in these tests.
var sealKey = []byte("0123456789abcdef0123456789abcdef")

// sealedCfg is cfg with a seal key: the release's writes need a sealed
// record.
var sealedCfg = func() ownership.Config {
	c := cfg
	c.SealKey = sealKey
	return c
}()

// sealOf is the seal of revision rev of release web in namespace apps,
// created by user with status, under sealKey.
func sealOf(rev int, user, status string) *ownership.RecordSeal {
	s := ownership.RecordSeal{Revision: rev, User: user, Status: status, Digest: strings.Repeat("ab", 32)}.Sealed(sealKey, "apps", "web")
	return &s
}

// forgedSeal is a seal of revision rev by user whose MAC was made with
// another key.
func forgedSeal(rev int, user, status string) *ownership.RecordSeal {
	s := ownership.RecordSeal{Revision: rev, User: user, Status: status, Digest: strings.Repeat("ab", 32)}.Sealed([]byte("not the webhook's key, not at all"), "apps", "web")
	return &s
}

// moved is cm at revision rev with status, naming the record seal s (none
// when nil).
func moved(cm *corev1.ConfigMap, rev int, status string, s *ownership.RecordSeal) *corev1.ConfigMap {
	return withCM(cm, func(cm *corev1.ConfigMap) {
		cm.Data["revision"], cm.Data["status"] = strconv.Itoa(rev), status
		if s != nil {
			cm.Data["record"] = s.JSON()
		}
	})
}

func toUnstructured(t testing.TB, cm *corev1.ConfigMap) *unstructured.Unstructured {
	t.Helper()
	if cm == nil {
		return nil
	}
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(cm)
	if err != nil {
		t.Fatal(err)
	}
	return &unstructured.Unstructured{Object: m}
}

func readHead(t testing.TB, cm *corev1.ConfigMap) *ownership.Head {
	t.Helper()
	if cm == nil {
		return nil
	}
	h, err := ownership.HeadFromConfigMap(cm)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// Answers of the webhook's SubjectAccessReviews (Request.Authorized).
var (
	mayDeploy       = map[string]bool{ownership.VerbDeploy: true}
	mayUnlock       = map[string]bool{ownership.VerbUnlock: true}
	mayDeployUnlock = map[string]bool{ownership.VerbDeploy: true, ownership.VerbUnlock: true}
	mayNothing      = map[string]bool{}
)

func TestDecideHead(t *testing.T) {
	aliceLock := lockJSON("alice@laptop (pid 1)", now.Add(time.Minute))
	aliceRenewed := lockJSON("alice@laptop (pid 1)", now.Add(2*time.Minute))
	aliceExpired := lockJSON("alice@laptop (pid 1)", now.Add(-time.Second))
	aliceAgain := lockJSONWith("alice@laptop (pid 7)", "another operation", now.Add(time.Minute), false)
	bobLock := lockJSON("bob@desk (pid 2)", now.Add(time.Minute))
	bobForced := lockJSONWith("bob@desk (pid 2)", "bob@desk (pid 2)", now.Add(time.Minute), true)
	lockUserPath := "/metadata/annotations/kubectl-chart.io~1lock-user"
	stampBob := []ownership.PatchOp{{Operation: "add", Path: lockUserPath, Value: "bob"}}
	stampAlice := []ownership.PatchOp{{Operation: "add", Path: lockUserPath, Value: "alice"}}
	unstamp := []ownership.PatchOp{{Operation: "remove", Path: lockUserPath}}
	// The cap of a lock's expiry: now + DefaultMaxLockTTL + DefaultClockSkew.
	limit := now.Add(ownership.DefaultMaxLockTTL + ownership.DefaultClockSkew)
	shortTTL := cfg
	shortTTL.MaxLockTTL, shortTTL.ClockSkew = 5*time.Minute, 10*time.Second

	locked := headCM(aliceLock, "alice", inventory1)

	tests := []struct {
		name     string
		cfg      *ownership.Config // nil: cfg
		op, user string
		// authorized are the SubjectAccessReviews' answers (nil: no
		// authorizer, every verb allowed).
		authorized map[string]bool
		old, new   *corev1.ConfigMap
		want       ownership.Decision
		msg        []string
	}{
		// Creating a head.
		{
			name: "creating an empty head with a lock takes it and stamps the lock user",
			op:   "CREATE", user: "alice",
			new:  newHeadCM(aliceLock, ""),
			want: ownership.Decision{Allowed: true, Reason: "LockTaken", Patch: stampAlice},
			msg:  []string{"user alice holds the lock of release web"},
		},
		{
			name: "creating a head with a forged lock user overwrites it",
			op:   "CREATE", user: "alice",
			new:  newHeadCM(aliceLock, "mallory"),
			want: ownership.Decision{Allowed: true, Reason: "LockTaken", Patch: stampAlice},
		},
		{
			name: "creating a head with verb deploy is allowed",
			op:   "CREATE", user: "alice", authorized: mayDeploy,
			new:  newHeadCM(aliceLock, ""),
			want: ownership.Decision{Allowed: true, Reason: "LockTaken", Patch: stampAlice},
		},
		{
			name: "creating a head without verb deploy is denied",
			op:   "CREATE", user: "alice", authorized: mayUnlock,
			new:  newHeadCM(aliceLock, ""),
			want: ownership.Decision{Reason: "NotAuthorized"},
			msg:  []string{`user alice may not take the lock of release web in namespace apps: that needs verb "deploy" on releases.kubectl-chart.io/web in namespace apps`},
		},
		{
			name: "creating a head with a lock and a revision and inventory is denied",
			op:   "CREATE", user: "alice",
			new:  headCM(aliceLock, "", inventory1),
			want: ownership.Decision{Reason: "RecordDataChanged", Fields: []string{"data"}},
			msg:  []string{"a write that changes the lock of release web changes nothing else of its head, but this one changes data"},
		},
		{
			name: "creating a head with a lock and an inventory only is denied",
			op:   "CREATE", user: "alice",
			new:  withCM(newHeadCM(aliceLock, ""), func(cm *corev1.ConfigMap) { cm.Data["inventory"] = inventory1 }),
			want: ownership.Decision{Reason: "RecordDataChanged", Fields: []string{"data"}},
		},
		{
			name: "creating a head with a lock and a record seal is denied",
			op:   "CREATE", user: "alice",
			new:  withCM(newHeadCM(aliceLock, ""), func(cm *corev1.ConfigMap) { cm.Data["record"] = sealOf(1, "alice", "pending-install").JSON() }),
			want: ownership.Decision{Reason: "RecordDataChanged", Fields: []string{"data"}},
		},
		{
			name: "creating a head without a lock is denied",
			op:   "CREATE", user: "alice",
			new:  newHeadCM("", ""),
			want: ownership.Decision{Reason: "NotLockHolder"},
			msg:  []string{"the head of release web is created only with the lock of the operation that creates it; use kubectl chart install"},
		},
		{
			name: "creating a head without a lock by a break-glass user is allowed",
			op:   "CREATE", user: "root",
			new:  newHeadCM("", ""),
			want: ownership.Decision{Allowed: true, Reason: "BreakGlass", BreakGlass: true, Warnings: oneWarning},
		},
		{
			name: "creating the head of another release under this name is denied",
			op:   "CREATE", user: "alice",
			new:  withCM(newHeadCM(aliceLock, ""), func(cm *corev1.ConfigMap) { cm.Labels[ownership.LabelRelease] = "api" }),
			want: ownership.Decision{Reason: "ReservedName"},
			msg:  []string{"is the head of release api and must be named kubectl-chart.api"},
		},
		{
			name: "relabelling a head as another release's is denied",
			op:   "UPDATE", user: "alice",
			old:  locked,
			new:  withCM(locked, func(cm *corev1.ConfigMap) { cm.Labels[ownership.LabelRelease] = "api" }),
			want: ownership.Decision{Reason: "ReservedName"},
		},

		{
			name: "the lock holder removing the head's record label is denied",
			op:   "UPDATE", user: "alice",
			old:  locked,
			new:  withCM(locked, func(cm *corev1.ConfigMap) { delete(cm.Labels, ownership.LabelRecord) }),
			want: ownership.Decision{Reason: "RecordLabelChanged", Fields: []string{`metadata.labels["kubectl-chart.io/record"]`}},
			msg:  []string{`metadata.labels["kubectl-chart.io/record"] makes the ConfigMap the head of release web, which guards its objects: it cannot change`},
		},
		{
			name: "the lock holder changing the head's record label is denied",
			op:   "UPDATE", user: "alice",
			old:  locked,
			new:  withCM(locked, func(cm *corev1.ConfigMap) { cm.Labels[ownership.LabelRecord] = ownership.RecordRevision }),
			want: ownership.Decision{Reason: "RecordLabelChanged", Fields: []string{`metadata.labels["kubectl-chart.io/record"]`}},
		},
		{
			name: "someone else removing the head's record label is denied",
			op:   "UPDATE", user: "bob",
			old:  headCM("", "", inventory1),
			new:  withCM(headCM("", "", inventory1), func(cm *corev1.ConfigMap) { delete(cm.Labels, ownership.LabelRecord) }),
			want: ownership.Decision{Reason: "RecordLabelChanged", Fields: []string{`metadata.labels["kubectl-chart.io/record"]`}},
		},
		{
			name: "a break-glass user may remove the head's record label",
			op:   "UPDATE", user: "root",
			old:  locked,
			new:  withCM(locked, func(cm *corev1.ConfigMap) { delete(cm.Labels, ownership.LabelRecord) }),
			want: ownership.Decision{Allowed: true, Reason: "BreakGlass", BreakGlass: true, Warnings: oneWarning, Fields: []string{`metadata.labels["kubectl-chart.io/record"]`}},
		},
		{
			name: "the lock holder setting the head's ApplySet id is allowed",
			op:   "UPDATE", user: "alice",
			old:  locked,
			new:  withCM(locked, func(cm *corev1.ConfigMap) { cm.Labels[ownership.LabelApplySetID] = ownership.ApplySetID("web", "apps") }),
			want: ownership.Decision{Allowed: true, Reason: "LockHolder"},
		},

		// Taking the lock.
		{
			name: "taking the lock stamps the user",
			op:   "UPDATE", user: "bob",
			old: headCM("", "", inventory1), new: headCM(bobLock, "", inventory1),
			want: ownership.Decision{Allowed: true, Reason: "LockTaken", Patch: stampBob},
		},
		{
			name: "taking the lock with verb deploy is allowed",
			op:   "UPDATE", user: "bob", authorized: mayDeploy,
			old: headCM("", "", inventory1), new: headCM(bobLock, "", inventory1),
			want: ownership.Decision{Allowed: true, Reason: "LockTaken", Patch: stampBob},
		},
		{
			name: "taking the lock without verb deploy is denied",
			op:   "UPDATE", user: "bob", authorized: mayUnlock,
			old: headCM("", "", inventory1), new: headCM(bobLock, "", inventory1),
			want: ownership.Decision{Reason: "NotAuthorized"},
			msg:  []string{`user bob may not take the lock of release web`, `needs verb "deploy"`},
		},
		{
			name: "taking the lock without any verb is denied",
			op:   "UPDATE", user: "bob", authorized: mayNothing,
			old: headCM("", "", inventory1), new: headCM(bobLock, "", inventory1),
			want: ownership.Decision{Reason: "NotAuthorized"},
		},
		{
			name: "taking the lock with a forged lock user overwrites it",
			op:   "UPDATE", user: "bob",
			old: headCM("", "", inventory1), new: headCM(bobLock, "alice", inventory1),
			want: ownership.Decision{Allowed: true, Reason: "LockTaken", Patch: stampBob},
		},
		{
			name: "taking over an expired lock is a take: verb deploy suffices",
			op:   "UPDATE", user: "bob", authorized: mayDeploy,
			old: headCM(aliceExpired, "alice", inventory1), new: headCM(bobLock, "alice", inventory1),
			want: ownership.Decision{Allowed: true, Reason: "LockTaken", Patch: stampBob},
		},
		{
			name: "taking the lock while changing the inventory is denied",
			op:   "UPDATE", user: "bob",
			old: headCM("", "", inventory1), new: headCM(bobLock, "", inventory2),
			want: ownership.Decision{Reason: "RecordDataChanged", Fields: []string{"data.inventory"}},
			msg:  []string{"a write that changes the lock of release web changes nothing else of its head, but this one changes data.inventory; kubectl chart takes the lock first, then writes"},
		},
		{
			name: "taking the lock while moving the revision is denied",
			op:   "UPDATE", user: "bob",
			old: headCM("", "", inventory1), new: moved(headCM(bobLock, "", inventory1), 4, "deployed", nil),
			want: ownership.Decision{Reason: "RecordDataChanged", Fields: []string{"data.revision"}},
		},
		{
			name: "taking the lock while changing an identity label is denied",
			op:   "UPDATE", user: "bob",
			old:  headCM("", "", inventory1),
			new:  withCM(headCM(bobLock, "", inventory1), func(cm *corev1.ConfigMap) { cm.Labels[ownership.LabelApplySetID] = "applyset-x-v1" }),
			want: ownership.Decision{Reason: "RecordDataChanged", Fields: []string{`metadata.labels["applyset.kubernetes.io/id"]`}},
		},
		{
			name: "taking the lock with an expiry beyond the webhook's limit is denied",
			op:   "UPDATE", user: "bob",
			old: headCM("", "", inventory1), new: headCM(lockJSON("bob@desk (pid 2)", now.Add(time.Hour)), "", inventory1),
			want: ownership.Decision{Reason: "LockTooLong"},
			msg:  []string{"the lock of release web would hold until 2026-03-01T13:00:00Z, beyond the webhook's limit of 21m0s from now"},
		},
		{
			name: "the limit is MaxLockTTL plus ClockSkew",
			cfg:  &shortTTL,
			op:   "UPDATE", user: "bob",
			old: headCM("", "", inventory1), new: headCM(lockJSON("bob@desk (pid 2)", now.Add(5*time.Minute+11*time.Second)), "", inventory1),
			want: ownership.Decision{Reason: "LockTooLong"},
			msg:  []string{"beyond the webhook's limit of 5m10s from now"},
		},

		// Taking over a live lock (--force-unlock).
		{
			name: "taking over a live lock without --force-unlock is denied",
			op:   "UPDATE", user: "bob", authorized: mayDeployUnlock,
			old: locked, new: headCM(bobLock, "alice", inventory1),
			want: ownership.Decision{Reason: "LockHeld"},
			msg:  []string{"the lock of release web is held by user alice until 2026-03-01T12:01:00Z; take it over with --force-unlock"},
		},
		{
			name: "taking over a live lock with --force-unlock, deploy and unlock is allowed, with an Event",
			op:   "UPDATE", user: "bob", authorized: mayDeployUnlock,
			old: locked, new: headCM(bobForced, "alice", inventory1),
			want: ownership.Decision{Allowed: true, Reason: "LockTakenOver", Warnings: oneWarning, Patch: stampBob, Event: "LockTakenOver"},
			msg:  []string{"user bob took over: the lock of release web is held by user alice until 2026-03-01T12:01:00Z"},
		},
		{
			name: "taking over a live lock without verb unlock is denied",
			op:   "UPDATE", user: "bob", authorized: mayDeploy,
			old: locked, new: headCM(bobForced, "alice", inventory1),
			want: ownership.Decision{Reason: "NotAuthorized"},
			msg:  []string{`user bob may not take over the lock of release web`, `needs verb "unlock"`},
		},
		{
			name: "taking over a live lock without verb deploy is denied",
			op:   "UPDATE", user: "bob", authorized: mayUnlock,
			old: locked, new: headCM(bobForced, "alice", inventory1),
			want: ownership.Decision{Reason: "NotAuthorized"},
			msg:  []string{`needs verb "deploy"`},
		},
		{
			name: "taking over a live lock beyond the webhook's limit is denied",
			op:   "UPDATE", user: "bob", authorized: mayDeployUnlock,
			old: locked, new: headCM(lockJSONWith("bob@desk (pid 2)", "b", now.Add(time.Hour), true), "alice", inventory1),
			want: ownership.Decision{Reason: "LockTooLong"},
		},
		{
			name: "taking over a live lock while changing the inventory is denied",
			op:   "UPDATE", user: "bob", authorized: mayDeployUnlock,
			old: locked, new: headCM(bobForced, "alice", inventory2),
			want: ownership.Decision{Reason: "RecordDataChanged", Fields: []string{"data.inventory"}},
		},
		{
			name: "another operation of the lock's own user over its live lock is a takeover",
			op:   "UPDATE", user: "alice",
			old: locked, new: headCM(aliceAgain, "alice", inventory1),
			want: ownership.Decision{Reason: "LockHeld"},
		},
		{
			name: "a break-glass user may take over a live lock without --force-unlock",
			op:   "UPDATE", user: "root", authorized: mayNothing,
			old: locked, new: headCM(bobLock, "alice", inventory1),
			want: ownership.Decision{Allowed: true, Reason: "BreakGlass", BreakGlass: true, Warnings: oneWarning},
		},

		// Renewing the lock.
		{
			name: "renewing the lock keeps the stamp (already right)",
			op:   "UPDATE", user: "alice",
			old: locked, new: headCM(aliceRenewed, "alice", inventory1),
			want: ownership.Decision{Allowed: true, Reason: "LockRenewed"},
			msg:  []string{"user alice renewed the lock of release web"},
		},
		{
			name: "renewing the lock with verb deploy is allowed",
			op:   "UPDATE", user: "alice", authorized: mayDeploy,
			old: locked, new: headCM(aliceRenewed, "alice", inventory1),
			want: ownership.Decision{Allowed: true, Reason: "LockRenewed"},
		},
		{
			name: "renewing the lock without verb deploy is denied",
			op:   "UPDATE", user: "alice", authorized: mayUnlock,
			old: locked, new: headCM(aliceRenewed, "alice", inventory1),
			want: ownership.Decision{Reason: "NotAuthorized"},
			msg:  []string{`user alice may not renew the lock of release web`},
		},
		{
			name: "renewing an expired lock of one's own is a renewal",
			op:   "UPDATE", user: "alice",
			old: headCM(aliceExpired, "alice", inventory1), new: headCM(aliceRenewed, "alice", inventory1),
			want: ownership.Decision{Allowed: true, Reason: "LockRenewed"},
		},
		{
			name: "renewing the lock up to the webhook's limit is allowed",
			op:   "UPDATE", user: "alice",
			old: locked, new: headCM(lockJSON("alice@laptop (pid 1)", limit), "alice", inventory1),
			want: ownership.Decision{Allowed: true, Reason: "LockRenewed"},
		},
		{
			name: "renewing the lock beyond the webhook's limit is denied",
			op:   "UPDATE", user: "alice",
			old: locked, new: headCM(lockJSON("alice@laptop (pid 1)", limit.Add(time.Second)), "alice", inventory1),
			want: ownership.Decision{Reason: "LockTooLong"},
			msg:  []string{"would hold until 2026-03-01T12:21:01Z, beyond the webhook's limit of 21m0s from now"},
		},
		{
			name: "renewing the lock while changing the status is denied",
			op:   "UPDATE", user: "alice",
			old: locked, new: withCM(headCM(aliceRenewed, "alice", inventory1), func(cm *corev1.ConfigMap) { cm.Data["status"] = "pending-upgrade" }),
			want: ownership.Decision{Reason: "RecordDataChanged", Fields: []string{"data.status"}},
		},

		// Releasing and clearing the lock.
		{
			name: "releasing the lock removes the stamp",
			op:   "UPDATE", user: "alice",
			old: locked, new: headCM("", "alice", inventory1),
			want: ownership.Decision{Allowed: true, Reason: "LockReleased", Patch: unstamp},
		},
		{
			name: "releasing the lock with verb deploy is allowed",
			op:   "UPDATE", user: "alice", authorized: mayDeploy,
			old: locked, new: headCM("", "alice", inventory1),
			want: ownership.Decision{Allowed: true, Reason: "LockReleased", Patch: unstamp},
		},
		{
			name: "releasing the lock without verb deploy is denied",
			op:   "UPDATE", user: "alice", authorized: mayUnlock,
			old: locked, new: headCM("", "alice", inventory1),
			want: ownership.Decision{Reason: "NotAuthorized"},
		},
		{
			name: "releasing the lock while writing the record is denied",
			op:   "UPDATE", user: "alice",
			old: locked, new: withCM(headCM("", "alice", inventory1), func(cm *corev1.ConfigMap) { cm.Data["record"] = sealOf(3, "alice", "pending-upgrade").JSON() }),
			want: ownership.Decision{Reason: "RecordDataChanged", Fields: []string{"data.record"}},
		},
		{
			name: "clearing another user's live lock with verb unlock is allowed, with an Event",
			op:   "UPDATE", user: "bob", authorized: mayUnlock,
			old: locked, new: headCM("", "alice", inventory1),
			want: ownership.Decision{Allowed: true, Reason: "LockTakenOver", Warnings: oneWarning, Patch: unstamp, Event: "LockTakenOver"},
			msg:  []string{"user bob cleared: the lock of release web is held by user alice"},
		},
		{
			name: "clearing another user's live lock without verb unlock is denied",
			op:   "UPDATE", user: "bob", authorized: mayDeploy,
			old: locked, new: headCM("", "alice", inventory1),
			want: ownership.Decision{Reason: "NotAuthorized"},
			msg:  []string{`user bob may not clear the lock of release web`, `needs verb "unlock"`},
		},
		{
			name: "clearing an expired lock needs verb unlock, and records no Event",
			op:   "UPDATE", user: "bob", authorized: mayUnlock,
			old: headCM(aliceExpired, "alice", inventory1), new: headCM("", "alice", inventory1),
			want: ownership.Decision{Allowed: true, Reason: "LockTakenOver", Patch: unstamp},
			msg:  []string{"user bob cleared: the lock of release web taken by user alice expired at 2026-03-01T11:59:59Z"},
		},
		{
			name: "clearing an expired lock without verb unlock is denied",
			op:   "UPDATE", user: "bob", authorized: mayDeploy,
			old: headCM(aliceExpired, "alice", inventory1), new: headCM("", "alice", inventory1),
			want: ownership.Decision{Reason: "NotAuthorized"},
		},
		{
			name: "a lock without a stamped user is cleared, not released",
			op:   "UPDATE", user: "alice", authorized: mayDeploy,
			old: headCM(aliceLock, "", inventory1), new: headCM("", "", inventory1),
			want: ownership.Decision{Reason: "NotAuthorized"},
			msg:  []string{`needs verb "unlock"`},
		},

		// The lock user stamp.
		{
			name: "a client-forged lock user with the lock unchanged is put back",
			op:   "UPDATE", user: "bob",
			old: locked, new: headCM(aliceLock, "bob", inventory1),
			want: ownership.Decision{Allowed: true, Reason: "NotOwned", Patch: stampAlice},
		},
		{
			name: "a client-forged lock user without a lock is removed",
			op:   "UPDATE", user: "bob",
			old: headCM("", "", inventory1), new: headCM("", "bob", inventory1),
			want: ownership.Decision{Allowed: true, Reason: "NotOwned", Patch: unstamp},
		},

		// The head's data.
		{
			name: "the lock holder updates the inventory",
			op:   "UPDATE", user: "alice",
			old: locked, new: headCM(aliceLock, "alice", inventory2),
			want: ownership.Decision{Allowed: true, Reason: "LockHolder"},
		},
		{
			name: "someone else changing the inventory while alice holds the lock is denied",
			op:   "UPDATE", user: "bob",
			old: headCM(aliceLock, "alice", inventory2), new: locked,
			want: ownership.Decision{Reason: "RecordDataChanged", Fields: []string{"data.inventory"}},
			msg:  []string{"data.inventory of the head of release web (revision 3) in namespace apps is written only by the release's running operation", "held by user alice"},
		},
		{
			name: "changing the inventory without a lock is denied",
			op:   "UPDATE", user: "bob",
			old: headCM("", "", inventory2), new: headCM("", "", inventory1),
			want: ownership.Decision{Reason: "RecordDataChanged", Fields: []string{"data.inventory"}},
			msg:  []string{"release web is not locked by a running operation"},
		},
		{
			name: "changing the inventory with an expired lock is denied",
			op:   "UPDATE", user: "alice",
			old: headCM(aliceExpired, "alice", inventory2), new: headCM(aliceExpired, "alice", inventory1),
			want: ownership.Decision{Reason: "RecordDataChanged", Fields: []string{"data.inventory"}},
		},
		{
			name: "an unrelated annotation is allowed",
			op:   "UPDATE", user: "bob",
			old:  locked,
			new:  withCM(locked, func(cm *corev1.ConfigMap) { cm.Annotations["example.com/note"] = "x" }),
			want: ownership.Decision{Allowed: true, Reason: "NotOwned"},
		},
		{
			name: "a break-glass user may change the inventory",
			op:   "UPDATE", user: "root",
			old: headCM(aliceLock, "alice", inventory2), new: locked,
			want: ownership.Decision{Allowed: true, Reason: "BreakGlass", BreakGlass: true, Warnings: oneWarning, Fields: []string{"data.inventory"}},
		},

		// The head's revision moves only with the seal of its record.
		{
			name: "without a seal key, the holder moves the revision without a record",
			op:   "UPDATE", user: "alice",
			old: locked, new: moved(locked, 4, "pending-upgrade", nil),
			want: ownership.Decision{Allowed: true, Reason: "LockHolder"},
		},
		{
			name: "the holder moving the revision without a record is denied",
			cfg:  &sealedCfg,
			op:   "UPDATE", user: "alice",
			old: locked, new: moved(locked, 4, "pending-upgrade", nil),
			want: ownership.Decision{Reason: "NoRecord"},
			msg:  []string{"revision 4 of release web is written into its head only after its record: the head names no record"},
		},
		{
			name: "the holder moving the revision with its record's seal is allowed",
			cfg:  &sealedCfg,
			op:   "UPDATE", user: "alice",
			old: locked, new: moved(locked, 4, "pending-upgrade", sealOf(4, "alice", "pending-upgrade")),
			want: ownership.Decision{Allowed: true, Reason: "LockHolder"},
		},
		{
			name: "the holder moving the revision with the seal of another user's record is denied",
			cfg:  &sealedCfg,
			op:   "UPDATE", user: "alice",
			old: locked, new: moved(locked, 4, "pending-upgrade", sealOf(4, "bob", "pending-upgrade")),
			want: ownership.Decision{Reason: "NoRecord"},
			msg:  []string{"revision 4 was recorded by user bob"},
		},
		{
			name: "the holder moving the revision with a forged seal is denied",
			cfg:  &sealedCfg,
			op:   "UPDATE", user: "alice",
			old: locked, new: moved(locked, 4, "pending-upgrade", forgedSeal(4, "alice", "pending-upgrade")),
			want: ownership.Decision{Reason: "NoRecord"},
			msg:  []string{"the head's record seal was not made by this webhook"},
		},
		{
			name: "the holder moving the revision with the seal of another revision is denied",
			cfg:  &sealedCfg,
			op:   "UPDATE", user: "alice",
			old: locked, new: moved(locked, 4, "pending-upgrade", sealOf(3, "alice", "pending-upgrade")),
			want: ownership.Decision{Reason: "NoRecord"},
			msg:  []string{"the head's record is of revision 3, its revision is 4"},
		},
		{
			name: "the holder moving the revision with the seal of a record not pending is denied",
			cfg:  &sealedCfg,
			op:   "UPDATE", user: "alice",
			old: locked, new: moved(locked, 4, "pending-upgrade", sealOf(4, "alice", "deployed")),
			want: ownership.Decision{Reason: "NoRecord"},
			msg:  []string{"revision 4 was recorded as deployed, not pending"},
		},
		{
			name: "the holder moving the revision to a status not pending is denied",
			cfg:  &sealedCfg,
			op:   "UPDATE", user: "alice",
			old: locked, new: moved(locked, 4, "deployed", sealOf(4, "alice", "pending-upgrade")),
			want: ownership.Decision{Reason: "NoRecord"},
			msg:  []string{"the head's status is deployed, not pending"},
		},
		{
			name: "the holder moving the revision while uninstalling needs a record too",
			cfg:  &sealedCfg,
			op:   "UPDATE", user: "alice",
			old: locked, new: moved(locked, 4, "uninstalling", nil),
			want: ownership.Decision{Reason: "NoRecord"},
		},
		{
			name: "the holder changing the status without moving the revision needs no record",
			cfg:  &sealedCfg,
			op:   "UPDATE", user: "alice",
			old:  moved(locked, 4, "pending-upgrade", sealOf(4, "alice", "pending-upgrade")),
			new:  moved(locked, 4, "deployed", sealOf(4, "alice", "pending-upgrade")),
			want: ownership.Decision{Allowed: true, Reason: "LockHolder"},
		},
		{
			name: "someone else moving the revision with a valid seal of theirs is denied",
			cfg:  &sealedCfg,
			op:   "UPDATE", user: "bob",
			old: locked, new: moved(locked, 4, "pending-upgrade", sealOf(4, "bob", "pending-upgrade")),
			want: ownership.Decision{Reason: "RecordDataChanged", Fields: []string{"data.record", "data.revision", "data.status"}},
		},

		// Deleting the head.
		{
			name: "deleting the head by the lock holder (uninstall) is allowed",
			op:   "DELETE", user: "alice",
			old:  locked,
			want: ownership.Decision{Allowed: true, Reason: "LockHolder"},
		},
		{
			name: "deleting the head by someone else is denied",
			op:   "DELETE", user: "bob",
			old:  locked,
			want: ownership.Decision{Reason: "RecordDeleted"},
			msg:  []string{"the head of release web (revision 3) in namespace apps", "kubectl chart uninstall web -n apps"},
		},
		{
			name: "deleting the head with an inventory and no lock is denied",
			op:   "DELETE", user: "bob",
			old:  headCM("", "", inventory1),
			want: ownership.Decision{Reason: "RecordDeleted"},
			msg:  []string{"release web is not locked by a running operation"},
		},
		{
			name: "deleting a head with an empty inventory and no lock is allowed to anyone",
			op:   "DELETE", user: "bob",
			old:  headCM("", "", "[]"),
			want: ownership.Decision{Allowed: true, Reason: "NoRelease"},
			msg:  []string{"release web (revision 3) in namespace apps owns no object and is not locked"},
		},
		{
			name: "deleting a head with an empty inventory and an expired lock is allowed to anyone",
			op:   "DELETE", user: "bob",
			old:  headCM(aliceExpired, "alice", "[]"),
			want: ownership.Decision{Allowed: true, Reason: "NoRelease"},
		},
		{
			name: "deleting a head with an empty inventory and a live lock is denied",
			op:   "DELETE", user: "bob",
			old:  headCM(aliceLock, "alice", "[]"),
			want: ownership.Decision{Reason: "RecordDeleted"},
			msg:  []string{"held by user alice"},
		},
		{
			name: "deleting the head by the namespace controller is allowed",
			op:   "DELETE", user: "system:serviceaccount:kube-system:namespace-controller",
			old:  headCM("", "", inventory1),
			want: ownership.Decision{Allowed: true, Reason: "SystemController"},
		},
		{
			name: "deleting the head by a break-glass user is allowed",
			op:   "DELETE", user: "root",
			old:  headCM("", "", inventory1),
			want: ownership.Decision{Allowed: true, Reason: "BreakGlass", BreakGlass: true, Warnings: oneWarning},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := cfg
			if tt.cfg != nil {
				c = *tt.cfg
			}
			req := ownership.Request{Operation: tt.op, User: tt.user, FieldManager: "kubectl-chart",
				Kind: ownership.ObjectRef{Kind: "ConfigMap", Version: "v1", Namespace: "apps", Name: "kubectl-chart.web"},
				Old:  toUnstructured(t, tt.old), New: toUnstructured(t, tt.new), Authorized: tt.authorized}
			got := ownership.DecideHead(c, req, readHead(t, tt.old), readHead(t, tt.new))
			checkSkippable(t, req, got)
			if diff := cmp.Diff(tt.want, got, ignoreMessage); diff != "" {
				t.Errorf("DecideHead (-want +got):\n%s", diff)
			}
			checkMessage(t, got, tt.msg)
			if !got.Allowed && got.Message == "" {
				t.Error("a denial without a message")
			}
			// The mutating webhook stamps what the decision would: a head
			// it allows carries the stamps then.
			if got.Allowed && !got.BreakGlass && tt.op != "DELETE" {
				if diff := cmp.Diff(got.Patch, ownership.HeadStamp(req, readHead(t, tt.old), readHead(t, tt.new), now)); diff != "" {
					t.Errorf("HeadStamp differs from the decision's patch (-decision +stamp):\n%s", diff)
				}
			}
		})
	}
}

func TestDecideHeadUnreadable(t *testing.T) {
	req := ownership.Request{Operation: "UPDATE", User: "bob", Kind: ownership.ObjectRef{Kind: "ConfigMap", Namespace: "apps", Name: "kubectl-chart.web"},
		Old: toUnstructured(t, headCM("", "", "[]")), New: toUnstructured(t, headCM("", "", "[]"))}
	got := ownership.DecideHead(cfg, req, readHead(t, headCM("", "", "[]")), nil)
	if diff := cmp.Diff(ownership.Decision{Reason: "InvalidHead"}, got, ignoreMessage); diff != "" {
		t.Errorf("DecideHead (-want +got):\n%s", diff)
	}
}

func TestHeadFromConfigMap(t *testing.T) {
	expires := now.Add(time.Minute)
	seal := sealOf(4, "alice", "pending-upgrade")
	tests := []struct {
		name    string
		cm      *corev1.ConfigMap
		want    *ownership.Head
		wantErr string
	}{
		{
			name: "locked",
			cm:   headCM(lockJSON("alice@laptop (pid 1)", expires), "alice", inventory2),
			want: &ownership.Head{Release: "web", Namespace: "apps", Revision: 3, Deployed: 3,
				Inventory: []ownership.ObjectRef{
					{Group: "apps", Kind: "Deployment", Namespace: "apps", Name: "web"},
					{Kind: "Service", Namespace: "apps", Name: "web"},
				},
				LockUser: "alice", LockHolder: "alice@laptop (pid 1)", LockExpires: expires,
				LockData: lockJSON("alice@laptop (pid 1)", expires), LockID: "alice@laptop (pid 1)", Status: "deployed"},
		},
		{
			name: "taken over, with a record seal",
			cm: moved(headCM(lockJSONWith("bob@desk (pid 2)", "id-2", expires, true), "bob", "[]"),
				4, "pending-upgrade", seal),
			want: &ownership.Head{Release: "web", Namespace: "apps", Revision: 4, Deployed: 3, Inventory: []ownership.ObjectRef{},
				LockUser: "bob", LockHolder: "bob@desk (pid 2)", LockExpires: expires,
				LockData: lockJSONWith("bob@desk (pid 2)", "id-2", expires, true), LockID: "id-2", LockForced: true,
				Status: "pending-upgrade", Record: seal},
		},
		{
			name: "unlocked, empty",
			cm: &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "kubectl-chart.x", Namespace: "n",
				Labels: map[string]string{ownership.LabelRelease: "x"}}},
			want: &ownership.Head{Release: "x", Namespace: "n"},
		},
		{name: "not a head", cm: &corev1.ConfigMap{}, wantErr: "label kubectl-chart.io/release missing"},
		{name: "bad revision", cm: func() *corev1.ConfigMap {
			cm := headCM("", "", "[]")
			cm.Data["revision"] = "three"
			return cm
		}(), wantErr: "revision"},
		{name: "bad deployed", cm: withCM(headCM("", "", "[]"), func(cm *corev1.ConfigMap) { cm.Data["deployed"] = "x" }), wantErr: "deployed"},
		{name: "bad inventory", cm: headCM("", "", "{"), wantErr: "inventory"},
		{name: "bad lock", cm: headCM("[", "", "[]"), wantErr: "lock"},
		{name: "bad record", cm: withCM(headCM("", "", "[]"), func(cm *corev1.ConfigMap) { cm.Data["record"] = "{" }), wantErr: "record"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ownership.HeadFromConfigMap(tt.cm)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("HeadFromConfigMap (-want +got):\n%s", diff)
			}
		})
	}
}

// ---------------------------------------------------------------------------
// Revision records
// ---------------------------------------------------------------------------

// record is chunk 0 of revision rev of release web, with status.
func record(rev int, status string, annotations map[string]string) *unstructured.Unstructured {
	labels := map[string]any{
		ownership.LabelRelease: "web", ownership.LabelRecord: ownership.RecordRevision,
		ownership.LabelRevision: strconv.Itoa(rev), ownership.LabelChunk: "0",
	}
	if status != "" {
		labels[ownership.LabelStatus] = status
	}
	meta := map[string]any{"name": ownership.RevisionName("web", rev), "namespace": "apps", "labels": labels}
	if annotations != nil {
		ann := map[string]any{}
		for k, v := range annotations {
			ann[k] = v
		}
		meta["annotations"] = ann
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Secret", "metadata": meta,
		"type": ownership.SecretTypeRelease, "immutable": true,
		"data": map[string]any{"release": "H4sIAAAAAAAA/wEAAP//AAAAAAAAAAA="},
	}}
}

// recordChunk is chunk c of revision rev of release web, pending-upgrade,
// named as its labels say.
func recordChunk(rev, c int) *unstructured.Unstructured {
	r := record(rev, "pending-upgrade", nil)
	set(r.Object, strconv.Itoa(c), "metadata", "labels", ownership.LabelChunk)
	set(r.Object, ownership.RevisionChunkName("web", rev, c), "metadata", "name")
	set(r.Object, map[string]any{"chunk": "Y2h1bms="}, "data")
	return r
}

// withRecord returns a copy of r changed by f.
func withRecord(r *unstructured.Unstructured, f func(o map[string]any)) *unstructured.Unstructured {
	r = r.DeepCopy()
	f(r.Object)
	return r
}

func recordRef(rev int) ownership.ObjectRef {
	return ownership.ObjectRef{Version: "v1", Kind: "Secret", Namespace: "apps", Name: ownership.RevisionName("web", rev)}
}

// wantSeal is the seal the webhook stamps on chunk 0 of a record r created
// by user, as JSON.
func wantSeal(r *unstructured.Unstructured, rev int, user, status string) string {
	return ownership.RecordSeal{Revision: rev, User: user, Status: status, Digest: ownership.RecordDigest(r)}.Sealed(sealKey, "apps", "web").JSON()
}

func TestDecideRecord(t *testing.T) {
	appliedByPath := "/metadata/annotations/kubectl-chart.io~1applied-by"
	sealPath := "/metadata/annotations/kubectl-chart.io~1record-seal"
	create := func(user string, annotations map[string]string) ownership.Request {
		return ownership.Request{Operation: "CREATE", User: user, FieldManager: "kubectl-chart", Kind: recordRef(4), New: record(4, "pending-upgrade", annotations)}
	}
	createObj := func(user string, name string, r *unstructured.Unstructured) ownership.Request {
		ref := recordRef(4)
		ref.Name = name
		return ownership.Request{Operation: "CREATE", User: user, FieldManager: "kubectl-chart", Kind: ref, New: r}
	}
	update := func(user string, old, nu *unstructured.Unstructured) ownership.Request {
		return ownership.Request{Operation: "UPDATE", User: user, FieldManager: "kubectl-chart", Kind: recordRef(3), Old: old, New: nu}
	}
	del := func(user string, rev int) ownership.Request {
		return ownership.Request{Operation: "DELETE", User: user, Kind: recordRef(rev), Old: record(rev, "superseded", nil)}
	}
	withHead := func(f func(h *ownership.Head)) *ownership.Head {
		h := head()
		f(h)
		return h
	}
	dataChanged := record(3, "deployed", nil)
	dataChanged.Object["data"] = map[string]any{"release": "Zm9yZ2Vk"}
	typed := func(typ any) *unstructured.Unstructured {
		return withRecord(record(4, "pending-upgrade", nil), func(o map[string]any) {
			if typ == nil {
				delete(o, "type")
			} else {
				o["type"] = typ
			}
		})
	}
	sealed := wantSeal(record(4, "pending-upgrade", nil), 4, "alice", "pending-upgrade")
	stamps := map[string]string{ownership.AnnotationAppliedBy: "alice", ownership.AnnotationRecordSeal: sealOf(3, "alice", "pending-upgrade").JSON()}

	tests := []struct {
		name string
		cfg  *ownership.Config // nil: cfg
		req  ownership.Request
		head *ownership.Head
		want ownership.Decision
		msg  []string
	}{
		// CREATE
		{
			name: "create by the lock holder stamps applied-by",
			req:  create("alice", nil),
			head: head(),
			want: ownership.Decision{Allowed: true, Reason: "RecordCreated",
				Patch: []ownership.PatchOp{{Operation: "add", Path: "/metadata/annotations", Value: map[string]string{ownership.AnnotationAppliedBy: "alice"}}}},
		},
		{
			name: "create by the lock holder overwrites a client-supplied applied-by",
			req:  create("alice", map[string]string{ownership.AnnotationAppliedBy: "mallory"}),
			head: head(),
			want: ownership.Decision{Allowed: true, Reason: "RecordCreated",
				Patch: []ownership.PatchOp{{Operation: "add", Path: appliedByPath, Value: "alice"}}},
		},
		{
			name: "create of chunk 0 with a seal key stamps applied-by and the record's seal",
			cfg:  &sealedCfg,
			req:  create("alice", nil),
			head: head(),
			want: ownership.Decision{Allowed: true, Reason: "RecordCreated",
				Patch: []ownership.PatchOp{{Operation: "add", Path: "/metadata/annotations", Value: map[string]string{
					ownership.AnnotationAppliedBy: "alice", ownership.AnnotationRecordSeal: sealed}}}},
		},
		{
			name: "create of chunk 0 overwrites a client-supplied seal",
			cfg:  &sealedCfg,
			req:  create("alice", map[string]string{ownership.AnnotationRecordSeal: forgedSeal(4, "alice", "pending-upgrade").JSON()}),
			head: head(),
			want: ownership.Decision{Allowed: true, Reason: "RecordCreated", Patch: []ownership.PatchOp{
				{Operation: "add", Path: appliedByPath, Value: "alice"},
				{Operation: "add", Path: sealPath, Value: sealed},
			}},
		},
		{
			name: "create of chunk 1 with a seal key stamps applied-by only",
			cfg:  &sealedCfg,
			req:  createObj("alice", ownership.RevisionChunkName("web", 4, 1), recordChunk(4, 1)),
			head: head(),
			want: ownership.Decision{Allowed: true, Reason: "RecordCreated",
				Patch: []ownership.PatchOp{{Operation: "add", Path: "/metadata/annotations", Value: map[string]string{ownership.AnnotationAppliedBy: "alice"}}}},
		},
		{
			name: "create of chunk 1 removes a client-supplied seal",
			cfg:  &sealedCfg,
			req: createObj("alice", ownership.RevisionChunkName("web", 4, 1), withRecord(recordChunk(4, 1), func(o map[string]any) {
				set(o, map[string]any{ownership.AnnotationRecordSeal: sealed}, "metadata", "annotations")
			})),
			head: head(),
			want: ownership.Decision{Allowed: true, Reason: "RecordCreated", Patch: []ownership.PatchOp{
				{Operation: "add", Path: appliedByPath, Value: "alice"},
				{Operation: "remove", Path: sealPath},
			}},
		},
		{
			name: "create of a record named for another revision is denied",
			req:  createObj("alice", ownership.RevisionName("web", 5), record(4, "pending-upgrade", nil)),
			head: head(),
			want: ownership.Decision{Reason: "ReservedName"},
			msg:  []string{"Secret/apps/kubectl-chart.web.v5: a Secret labelled as chunk 0 of revision 4 of release web must be named kubectl-chart.web.v4"},
		},
		{
			name: "create of chunk 1 under chunk 0's name is denied",
			req: createObj("alice", ownership.RevisionName("web", 4), withRecord(recordChunk(4, 1), func(o map[string]any) {
				set(o, ownership.RevisionName("web", 4), "metadata", "name")
			})),
			head: head(),
			want: ownership.Decision{Reason: "ReservedName"},
			msg:  []string{"must be named kubectl-chart.web.v4.c1"},
		},
		{
			name: "create of a record of another type is denied",
			req:  createObj("alice", ownership.RevisionName("web", 4), typed("Opaque")),
			head: head(),
			want: ownership.Decision{Reason: "ReservedName"},
			msg:  []string{"a revision record has type kubectl-chart.io/release.v1, not Opaque"},
		},
		{
			name: "create of a record without a type is denied",
			req:  createObj("alice", ownership.RevisionName("web", 4), typed(nil)),
			head: head(),
			want: ownership.Decision{Reason: "ReservedName"},
			msg:  []string{`not ""`},
		},
		{
			name: "create of a record without a revision is denied",
			req: createObj("alice", ownership.RevisionName("web", 4), withRecord(record(4, "pending-upgrade", nil), func(o map[string]any) {
				delete(get(o, "metadata", "labels").(map[string]any), ownership.LabelRevision)
			})),
			head: head(),
			want: ownership.Decision{Reason: "ReservedName"},
			msg:  []string{"needs a revision (≥ 1) and a chunk number"},
		},
		{
			name: "create of a record whose chunk is not a number is denied",
			req: createObj("alice", ownership.RevisionName("web", 4), withRecord(record(4, "pending-upgrade", nil), func(o map[string]any) {
				set(o, "first", "metadata", "labels", ownership.LabelChunk)
			})),
			head: head(),
			want: ownership.Decision{Reason: "ReservedName"},
		},
		{
			name: "create of a misnamed record by a break-glass user is allowed",
			req:  createObj("root", ownership.RevisionName("web", 5), record(4, "pending-upgrade", nil)),
			head: head(),
			want: ownership.Decision{Allowed: true, Reason: "BreakGlass", BreakGlass: true, Warnings: oneWarning},
		},
		{
			name: "create by someone else is denied",
			req:  create("bob", nil),
			head: head(),
			want: ownership.Decision{Reason: "NotLockHolder"},
			msg:  []string{"revision 4 of release web in namespace apps is created only by the release's running operation", "held by user alice"},
		},
		{
			name: "create by the same user with an expired lock is denied",
			req:  create("alice", nil),
			head: expired(),
			want: ownership.Decision{Reason: "NotLockHolder"},
		},
		{
			name: "create without a head is denied",
			req:  create("alice", nil),
			head: nil,
			want: ownership.Decision{Reason: "NotLockHolder"},
			msg:  []string{"release web has no head"},
		},
		{
			// The decision of a denial carries no patch: the mutating
			// webhook stamped the record already (RecordStamp).
			name: "create by a break-glass user is allowed",
			req:  create("root", nil),
			head: head(),
			want: ownership.Decision{Allowed: true, Reason: "BreakGlass", BreakGlass: true, Warnings: oneWarning},
		},

		// UPDATE
		{
			name: "a data change is denied",
			req:  update("bob", record(3, "deployed", nil), dataChanged),
			head: head(),
			want: ownership.Decision{Reason: "RecordDataChanged", Fields: []string{"data.release"}},
			msg:  []string{"revision 3 of release web in namespace apps is written once: data.release cannot change"},
		},
		{
			name: "a data change by the lock holder is denied too",
			req:  update("alice", record(3, "deployed", nil), dataChanged),
			head: head(),
			want: ownership.Decision{Reason: "RecordDataChanged", Fields: []string{"data.release"}},
		},
		{
			name: "the type changed by the lock holder is denied",
			req: update("alice", record(3, "deployed", nil), withRecord(record(3, "deployed", nil), func(o map[string]any) {
				o["type"], o["immutable"] = "Opaque", false
			})),
			head: head(),
			want: ownership.Decision{Reason: "RecordDataChanged", Fields: []string{"type", "immutable"}},
		},
		{
			name: "the status moved forward by the lock holder is allowed",
			req:  update("alice", record(3, "deployed", nil), record(3, "superseded", nil)),
			head: head(),
			want: ownership.Decision{Allowed: true, Reason: "StatusMoved"},
			msg:  []string{"revision 3 of release web in namespace apps moved from deployed to superseded"},
		},
		{
			name: "the status moved forward by someone else is denied",
			req:  update("bob", record(3, "deployed", nil), record(3, "superseded", nil)),
			head: head(),
			want: ownership.Decision{Reason: "RecordDataChanged", Fields: []string{`metadata.labels["kubectl-chart.io/status"]`}},
			msg:  []string{`metadata.labels["kubectl-chart.io/status"] of revision 3 of release web in namespace apps is written only by the release's running operation, and the lock of release web is held by user alice`},
		},
		{
			name: "the status moved forward with an expired lock is denied",
			req:  update("alice", record(3, "deployed", nil), record(3, "superseded", nil)),
			head: expired(),
			want: ownership.Decision{Reason: "RecordDataChanged", Fields: []string{`metadata.labels["kubectl-chart.io/status"]`}},
		},
		{
			name: "the status moved forward without a head is denied",
			req:  update("alice", record(3, "deployed", nil), record(3, "superseded", nil)),
			head: nil,
			want: ownership.Decision{Reason: "RecordDataChanged", Fields: []string{`metadata.labels["kubectl-chart.io/status"]`}},
			msg:  []string{"release web has no head"},
		},
		{
			name: "the status moving backwards is denied",
			req:  update("alice", record(3, "superseded", nil), record(3, "deployed", nil)),
			head: head(),
			want: ownership.Decision{Reason: "StatusMovedBackwards", Fields: []string{`metadata.labels["kubectl-chart.io/status"]`}},
			msg:  []string{"cannot move from superseded to deployed", "kubectl chart rollback web 3 -n apps"},
		},
		{
			name: "the status label removed is denied",
			req:  update("alice", record(3, "deployed", nil), record(3, "", nil)),
			head: head(),
			want: ownership.Decision{Reason: "StatusMovedBackwards", Fields: []string{`metadata.labels["kubectl-chart.io/status"]`}},
		},
		{
			name: "an identity label changed is denied",
			req: update("alice", record(3, "deployed", nil), func() *unstructured.Unstructured {
				r := record(3, "deployed", nil)
				r.SetLabels(map[string]string{})
				return r
			}()),
			head: head(),
			want: ownership.Decision{Reason: "OwnershipLabelsRemoved", Fields: []string{
				`metadata.labels["kubectl-chart.io/release"]`, `metadata.labels["kubectl-chart.io/record"]`,
				`metadata.labels["kubectl-chart.io/revision"]`, `metadata.labels["kubectl-chart.io/chunk"]`,
			}},
		},
		{
			name: "an unchanged record may be written by anyone",
			req:  update("bob", record(3, "deployed", stamps), record(3, "deployed", stamps)),
			head: head(),
			want: ownership.Decision{Allowed: true, Reason: "NotOwned"},
		},
		{
			name: "other labels and annotations may be changed by the lock holder",
			req:  update("alice", record(3, "deployed", nil), record(3, "deployed", map[string]string{"example.com/note": "x"})),
			head: head(),
			want: ownership.Decision{Allowed: true, Reason: "LockHolder"},
		},
		{
			name: "an annotation changed by someone else is denied",
			req:  update("bob", record(3, "deployed", nil), record(3, "deployed", map[string]string{"example.com/note": "x"})),
			head: head(),
			want: ownership.Decision{Reason: "RecordDataChanged", Fields: []string{`metadata.annotations["example.com/note"]`}},
			msg:  []string{"history is changed only by kubectl chart upgrade|rollback|uninstall"},
		},
		{
			name: "a label added by someone else is denied",
			req: update("bob", record(3, "deployed", nil), withRecord(record(3, "deployed", nil), func(o map[string]any) {
				set(o, "x", "metadata", "labels", "example.com/team")
			})),
			head: head(),
			want: ownership.Decision{Reason: "RecordDataChanged", Fields: []string{`metadata.labels["example.com/team"]`}},
		},
		{
			name: "applied-by changed by the lock holder is put back",
			req: update("alice", record(3, "deployed", map[string]string{ownership.AnnotationAppliedBy: "alice"}),
				record(3, "deployed", map[string]string{ownership.AnnotationAppliedBy: "mallory"})),
			head: head(),
			want: ownership.Decision{Allowed: true, Reason: "LockHolder",
				Patch: []ownership.PatchOp{{Operation: "add", Path: appliedByPath, Value: "alice"}}},
		},
		{
			name: "applied-by changed by someone else is denied",
			req: update("bob", record(3, "deployed", map[string]string{ownership.AnnotationAppliedBy: "alice"}),
				record(3, "deployed", map[string]string{ownership.AnnotationAppliedBy: "mallory"})),
			head: head(),
			want: ownership.Decision{Reason: "RecordDataChanged", Fields: []string{`metadata.annotations["kubectl-chart.io/applied-by"]`}},
		},
		{
			name: "applied-by added by the lock holder is removed",
			req: update("alice", record(3, "deployed", map[string]string{}),
				record(3, "deployed", map[string]string{ownership.AnnotationAppliedBy: "mallory"})),
			head: head(),
			want: ownership.Decision{Allowed: true, Reason: "LockHolder",
				Patch: []ownership.PatchOp{{Operation: "remove", Path: appliedByPath}}},
		},
		{
			name: "the record seal changed by the lock holder is put back",
			req: update("alice", record(3, "deployed", stamps),
				record(3, "deployed", map[string]string{ownership.AnnotationAppliedBy: "alice", ownership.AnnotationRecordSeal: sealOf(3, "mallory", "pending-upgrade").JSON()})),
			head: head(),
			want: ownership.Decision{Allowed: true, Reason: "LockHolder",
				Patch: []ownership.PatchOp{{Operation: "add", Path: sealPath, Value: stamps[ownership.AnnotationRecordSeal]}}},
		},
		{
			name: "the record seal removed by the lock holder is put back",
			req: update("alice", record(3, "deployed", stamps),
				record(3, "superseded", map[string]string{ownership.AnnotationAppliedBy: "alice"})),
			head: head(),
			want: ownership.Decision{Allowed: true, Reason: "StatusMoved",
				Patch: []ownership.PatchOp{{Operation: "add", Path: sealPath, Value: stamps[ownership.AnnotationRecordSeal]}}},
		},
		{
			name: "the record seal changed by someone else is denied",
			req: update("bob", record(3, "deployed", stamps),
				record(3, "deployed", map[string]string{ownership.AnnotationAppliedBy: "alice", ownership.AnnotationRecordSeal: "{}"})),
			head: head(),
			want: ownership.Decision{Reason: "RecordDataChanged", Fields: []string{`metadata.annotations["kubectl-chart.io/record-seal"]`}},
		},
		{
			name: "the status moved by the lock holder keeps the stamps",
			req:  update("alice", record(3, "deployed", stamps), record(3, "superseded", stamps)),
			head: head(),
			want: ownership.Decision{Allowed: true, Reason: "StatusMoved"},
		},
		{
			name: "an update without the old object is denied",
			req:  update("alice", nil, record(3, "deployed", nil)),
			head: head(),
			want: ownership.Decision{Reason: "RecordDataChanged"},
		},
		{
			name: "a break-glass user may move the status back",
			req:  update("root", record(3, "superseded", nil), record(3, "deployed", nil)),
			head: head(),
			want: ownership.Decision{Allowed: true, Reason: "BreakGlass", BreakGlass: true, Warnings: oneWarning, Fields: []string{`metadata.labels["kubectl-chart.io/status"]`}},
		},

		// DELETE
		{
			name: "deleting a record within history is denied",
			req:  del("bob", 2),
			head: withHead(func(h *ownership.Head) { h.Revision, h.Deployed = 5, 5 }),
			want: ownership.Decision{Reason: "RecordDeleted"},
			msg:  []string{"revision 2 of release web in namespace apps is within the history the release keeps (its newest 10 revisions, up to revision 5, and the deployed one)"},
		},
		{
			name: "deleting a record beyond history is allowed",
			req:  del("bob", 2),
			head: withHead(func(h *ownership.Head) { h.Revision, h.Deployed = 12, 12 }),
			want: ownership.Decision{Allowed: true, Reason: "BeyondHistory"},
		},
		{
			name: "the oldest revision kept is within history",
			req:  del("bob", 3),
			head: withHead(func(h *ownership.Head) { h.Revision, h.Deployed = 12, 12 }),
			want: ownership.Decision{Reason: "RecordDeleted"},
		},
		{
			name: "the deployed revision is kept however old",
			req:  del("bob", 2),
			head: withHead(func(h *ownership.Head) { h.Revision, h.Deployed = 30, 2 }),
			want: ownership.Decision{Reason: "RecordDeleted"},
		},
		{
			name: "history-max of the head",
			req:  del("bob", 3),
			head: withHead(func(h *ownership.Head) { h.Revision, h.Deployed, h.HistoryMax = 5, 5, 2 }),
			want: ownership.Decision{Allowed: true, Reason: "BeyondHistory"},
		},
		{
			name: "no history limit keeps everything",
			req:  del("bob", 1),
			head: withHead(func(h *ownership.Head) { h.Revision, h.Deployed, h.HistoryMax = 50, 50, -1 }),
			want: ownership.Decision{Reason: "RecordDeleted"},
		},
		{
			name: "known revisions count, not numbers",
			req:  del("bob", 3),
			head: withHead(func(h *ownership.Head) { h.Revision, h.Deployed, h.HistoryMax, h.Revisions = 9, 9, 2, []int{3, 9} }),
			want: ownership.Decision{Reason: "RecordDeleted"},
		},
		{
			name: "the lock holder may delete any record (history-max, uninstall)",
			req:  del("alice", 3),
			head: head(),
			want: ownership.Decision{Allowed: true, Reason: "LockHolder"},
		},
		{
			name: "the namespace controller may delete records",
			req:  del("system:serviceaccount:kube-system:namespace-controller", 3),
			head: head(),
			want: ownership.Decision{Allowed: true, Reason: "SystemController"},
		},
		{
			name: "records of a release without a head may go",
			req:  del("bob", 3),
			head: nil,
			want: ownership.Decision{Allowed: true, Reason: "NoRelease"},
		},
		{
			name: "a break-glass group may delete a record within history",
			req: func() ownership.Request {
				r := del("carol", 3)
				r.Groups = []string{"sre"}
				return r
			}(),
			head: head(),
			want: ownership.Decision{Allowed: true, Reason: "BreakGlass", BreakGlass: true, Warnings: oneWarning},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := cfg
			if tt.cfg != nil {
				c = *tt.cfg
			}
			got := ownership.DecideRecord(c, tt.req, tt.head)
			checkSkippable(t, tt.req, got)
			if diff := cmp.Diff(tt.want, got, ignoreMessage); diff != "" {
				t.Errorf("DecideRecord (-want +got):\n%s", diff)
			}
			checkMessage(t, got, tt.msg)
			if !got.Allowed && got.Message == "" {
				t.Error("a denial without a message")
			}
			// The mutating webhook stamps what an allowed decision would.
			if got.Allowed && !got.BreakGlass && tt.req.Operation != "DELETE" {
				if diff := cmp.Diff(got.Patch, ownership.RecordStamp(c, tt.req)); diff != "" {
					t.Errorf("RecordStamp differs from the decision's patch (-decision +stamp):\n%s", diff)
				}
			}
		})
	}
}

// TestRecordSealStamped: the seal stamped on chunk 0 of a new record is one
// the webhook's key verifies, of the revision, user, status and data the
// record was created with; chunk 1 gets none.
func TestRecordSealStamped(t *testing.T) {
	rec := record(4, "pending-upgrade", nil)
	req := ownership.Request{Operation: "CREATE", User: "alice", FieldManager: ownership.FieldManager, Kind: recordRef(4), New: rec}
	d := ownership.DecideRecord(sealedCfg, req, head())
	if !d.Allowed || len(d.Patch) != 1 {
		t.Fatalf("decision %+v, want allowed with one patch", d)
	}
	stamped, _ := d.Patch[0].Value.(map[string]string)
	seal, err := ownership.ParseRecordSeal(stamped[ownership.AnnotationRecordSeal])
	if err != nil {
		t.Fatalf("record seal %q: %v", stamped[ownership.AnnotationRecordSeal], err)
	}
	if !seal.Valid(sealKey, "apps", "web") {
		t.Errorf("seal %+v is not valid under the webhook's key", seal)
	}
	if seal.Valid([]byte("another key, of another webhook"), "apps", "web") || seal.Valid(sealKey, "apps", "api") || seal.Valid(sealKey, "other", "web") {
		t.Errorf("seal %+v is valid for another key or release", seal)
	}
	want := ownership.RecordSeal{Revision: 4, User: "alice", Status: "pending-upgrade", Digest: ownership.RecordDigest(rec)}
	if diff := cmp.Diff(want, seal, cmpopts.IgnoreFields(ownership.RecordSeal{}, "MAC")); diff != "" {
		t.Errorf("seal (-want +got):\n%s", diff)
	}
	if stamped[ownership.AnnotationAppliedBy] != "alice" {
		t.Errorf("applied-by %q, want alice", stamped[ownership.AnnotationAppliedBy])
	}

	chunk := recordChunk(4, 1)
	ref := recordRef(4)
	ref.Name = chunk.GetName()
	d = ownership.DecideRecord(sealedCfg, ownership.Request{Operation: "CREATE", User: "alice", FieldManager: ownership.FieldManager, Kind: ref, New: chunk}, head())
	if !d.Allowed {
		t.Fatalf("chunk 1 denied: %s", d.Message)
	}
	for _, op := range d.Patch {
		if v, ok := op.Value.(map[string]string); strings.Contains(op.Path, "record-seal") || (ok && v[ownership.AnnotationRecordSeal] != "") {
			t.Errorf("chunk 1 is sealed: %+v", d.Patch)
		}
	}

	// Without a seal key, no seal.
	d = ownership.DecideRecord(cfg, req, head())
	if v, _ := d.Patch[0].Value.(map[string]string); len(d.Patch) != 1 || v[ownership.AnnotationRecordSeal] != "" {
		t.Errorf("sealed without a seal key: %+v", d.Patch)
	}
}

// TestRecordStatusMoves checks every status move against the wire
// format's table (the one pkg/release's stores follow): the webhook allows the lock holder exactly the moves the store
// makes, and nobody else any.
func TestRecordStatusMoves(t *testing.T) {
	statuses := []wire.Status{"", "bogus",
		wire.StatusPendingInstall, wire.StatusPendingUpgrade, wire.StatusPendingRollback,
		wire.StatusDeployed, wire.StatusFailed, wire.StatusSuperseded,
		wire.StatusUninstalling, wire.StatusUninstalled}
	for _, from := range statuses {
		for _, to := range statuses {
			for _, user := range []string{"alice", "bob"} {
				req := ownership.Request{Operation: "UPDATE", User: user, FieldManager: ownership.FieldManager, Kind: recordRef(3),
					Old: record(3, string(from), nil), New: record(3, string(to), nil)}
				got := ownership.DecideRecord(cfg, req, head())
				want := from == to || (user == "alice" && wire.CanMove(from, to))
				if got.Allowed != want {
					t.Errorf("%q → %q by %s: allowed %v, want %v (%s)", from, to, user, got.Allowed, want, got.Message)
				}
			}
		}
	}
}

// ---------------------------------------------------------------------------
// Decisions
// ---------------------------------------------------------------------------

func TestDecisionEventReason(t *testing.T) {
	tests := []struct {
		d    ownership.Decision
		op   string
		want string
	}{
		{ownership.Decision{Allowed: true}, "UPDATE", ""},
		{ownership.Decision{}, "UPDATE", ownership.EventBlockedWrite},
		{ownership.Decision{}, "CREATE", ownership.EventBlockedWrite},
		{ownership.Decision{}, "DELETE", ownership.EventBlockedDelete},
		{ownership.Decision{Allowed: true, BreakGlass: true, Warnings: oneWarning}, "DELETE", ownership.EventBreakGlassWrite},
	}
	for _, tt := range tests {
		if got := tt.d.EventReason(tt.op); got != tt.want {
			t.Errorf("%+v.EventReason(%s) = %q, want %q", tt.d, tt.op, got, tt.want)
		}
	}
}

func TestDecisionPatchJSON(t *testing.T) {
	d := ownership.DecideRecord(cfg, ownership.Request{Operation: "CREATE", User: "alice", Kind: recordRef(4),
		New: record(4, "pending-install", map[string]string{"a": "b"})}, head())
	b, err := d.PatchJSON()
	if err != nil {
		t.Fatal(err)
	}
	want := `[{"op":"add","path":"/metadata/annotations/kubectl-chart.io~1applied-by","value":"alice"}]`
	if string(b) != want {
		t.Errorf("PatchJSON = %s, want %s", b, want)
	}
	if b, err := (ownership.Decision{}).PatchJSON(); b != nil || err != nil {
		t.Errorf("empty PatchJSON = %s, %v", b, err)
	}
}

// BenchmarkDecideObject is the decision on another user's write to an owned
// Deployment: a kubectl edit of an owned field (the webhook's most common
// denial) and of a field the release does not own (its most common call
// that reaches the rules, allowed).
func BenchmarkDecideObject(b *testing.B) {
	for _, bc := range []struct {
		name    string
		path    []any
		v       any
		allowed bool
	}{
		{"deny", []any{"spec", "replicas"}, int64(5), false},
		{"allow", []any{"spec", "minReadySeconds"}, int64(5), true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			old, nu := deployment(b), deployment(b)
			set(nu.Object, bc.v, bc.path...)
			req := ownership.Request{Operation: "UPDATE", User: "bob", FieldManager: "kubectl-edit", Kind: deploymentRef, Old: old, New: nu}
			h := head()
			b.ReportAllocs()
			for b.Loop() {
				if d := ownership.DecideObject(cfg, req, h); d.Allowed != bc.allowed {
					b.Fatalf("allowed %v (%s)", d.Allowed, d.Message)
				}
			}
		})
	}
}

// TestDecideObjectManagedFields: kubectl-chart's managedFields entry is part
// of what a release owns. Emptying the list, removing the entry (a JSON
// patch) or shrinking it (another manager forcing a field without changing
// its value) is denied to anyone but the release's operation; other
// managers' entries may change.
func TestDecideObjectManagedFields(t *testing.T) {
	entries := func(o map[string]any) []any { return get(o, "metadata", "managedFields").([]any) }
	tests := []struct {
		name       string
		change     func(o map[string]any)
		user       string
		wantReason string
		wantField  string
	}{
		{"emptied (merge patch of managedFields: [{}])", func(o map[string]any) { set(o, []any{}, "metadata", "managedFields") },
			"bob", "ManagedFieldsChanged", "spec.replicas"},
		{"kubectl-chart's entry removed (JSON patch)", func(o map[string]any) {
			var kept []any
			for _, e := range entries(o) {
				if e.(map[string]any)["manager"] != ownership.FieldManager {
					kept = append(kept, e)
				}
			}
			set(o, append(kept, map[string]any{"manager": "kubectl-edit", "operation": "Update", "apiVersion": "apps/v1", "fieldsType": "FieldsV1", "fieldsV1": map[string]any{}}), "metadata", "managedFields")
		}, "bob", "ManagedFieldsChanged", "spec.replicas"},
		{"a field taken out of kubectl-chart's entry", func(o map[string]any) {
			for _, e := range entries(o) {
				if m := e.(map[string]any); m["manager"] == ownership.FieldManager {
					spec := m["fieldsV1"].(map[string]any)["f:spec"].(map[string]any)
					delete(spec, "f:replicas")
				}
			}
		}, "bob", "ManagedFieldsChanged", "spec.replicas"},
		{"another manager's entry added", func(o map[string]any) {
			set(o, append(entries(o), map[string]any{"manager": "hpa", "operation": "Update", "apiVersion": "apps/v1", "fieldsType": "FieldsV1",
				"fieldsV1": map[string]any{"f:metadata": map[string]any{"f:annotations": map[string]any{"f:x": map[string]any{}}}}}), "metadata", "managedFields")
		}, "bob", "NotOwned", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old, nu := deployment(t), deployment(t)
			tt.change(nu.Object)
			req := ownership.Request{Operation: "UPDATE", User: tt.user, Groups: []string{"system:authenticated"},
				FieldManager: "kubectl-patch", Kind: deploymentRef, Old: old, New: nu}
			got := ownership.DecideObject(cfg, req, head())
			checkSkippable(t, req, got)
			if got.Reason != tt.wantReason {
				t.Fatalf("reason %s (%s), want %s", got.Reason, got.Message, tt.wantReason)
			}
			if tt.wantField != "" && !slices.Contains(got.Fields, tt.wantField) {
				t.Errorf("fields %q do not name %s", got.Fields, tt.wantField)
			}
			if !got.Allowed && !strings.Contains(got.Message, "managedFields entry of manager kubectl-chart") {
				t.Errorf("message %q", got.Message)
			}
		})
	}
}
