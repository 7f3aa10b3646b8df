package ownership_test

import (
	"context"
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
	"k8s.io/client-go/kubernetes/fake"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-chart/kubectl-chart/pkg/ownership"
	"github.com/kubectl-chart/kubectl-chart/pkg/release"
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
			got := ownership.DecideObject(cfg, tt.req(t), tt.head)
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

// ---------------------------------------------------------------------------
// Release heads
// ---------------------------------------------------------------------------

// headCM is the head ConfigMap of release web: lock is the lock's JSON
// ("" for none), lockUser the stamp ("" for none).
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

func lockJSON(holder string, expires time.Time) string {
	b, _ := json.Marshal(map[string]any{"holder": holder, "operation": "upgrade", "started": now.Add(-time.Minute),
		"renewed": now.Add(-time.Minute), "expires": expires, "id": holder})
	return string(b)
}

const inventory1 = `[{"group":"apps","kind":"Deployment","namespace":"apps","name":"web"}]`
const inventory2 = `[{"group":"apps","kind":"Deployment","namespace":"apps","name":"web"},{"kind":"Service","namespace":"apps","name":"web"}]`

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

func TestDecideHead(t *testing.T) {
	aliceLock := lockJSON("alice@laptop (pid 1)", now.Add(time.Minute))
	aliceRenewed := lockJSON("alice@laptop (pid 1)", now.Add(2*time.Minute))
	aliceExpired := lockJSON("alice@laptop (pid 1)", now.Add(-time.Second))
	bobLock := lockJSON("bob@desk (pid 2)", now.Add(time.Minute))
	lockUserPath := "/metadata/annotations/kubectl-chart.io~1lock-user"

	tests := []struct {
		name     string
		op, user string
		old, new *corev1.ConfigMap
		want     ownership.Decision
		msg      []string
	}{
		{
			name: "creating a head with a lock stamps the lock user",
			op:   "CREATE", user: "alice",
			new: headCM(aliceLock, "", "[]"),
			want: ownership.Decision{Allowed: true, Reason: "LockTaken",
				Patch: []ownership.PatchOp{{Operation: "add", Path: lockUserPath, Value: "alice"}}},
		},
		{
			name: "creating a head with a forged lock user overwrites it",
			op:   "CREATE", user: "alice",
			new: headCM(aliceLock, "mallory", "[]"),
			want: ownership.Decision{Allowed: true, Reason: "LockTaken",
				Patch: []ownership.PatchOp{{Operation: "add", Path: lockUserPath, Value: "alice"}}},
		},
		{
			name: "taking the lock stamps the user",
			op:   "UPDATE", user: "bob",
			old: headCM("", "", inventory1), new: headCM(bobLock, "", inventory1),
			want: ownership.Decision{Allowed: true, Reason: "LockTaken",
				Patch: []ownership.PatchOp{{Operation: "add", Path: lockUserPath, Value: "bob"}}},
		},
		{
			name: "taking the lock with a forged lock user overwrites it",
			op:   "UPDATE", user: "bob",
			old: headCM("", "", inventory1), new: headCM(bobLock, "alice", inventory1),
			want: ownership.Decision{Allowed: true, Reason: "LockTaken",
				Patch: []ownership.PatchOp{{Operation: "add", Path: lockUserPath, Value: "bob"}}},
		},
		{
			name: "taking over an expired lock stamps the new user",
			op:   "UPDATE", user: "bob",
			old: headCM(aliceExpired, "alice", inventory1), new: headCM(bobLock, "alice", inventory1),
			want: ownership.Decision{Allowed: true, Reason: "LockTaken",
				Patch: []ownership.PatchOp{{Operation: "add", Path: lockUserPath, Value: "bob"}}},
		},
		{
			name: "taking over a live lock (--force-unlock) is allowed, with a warning",
			op:   "UPDATE", user: "bob",
			old: headCM(aliceLock, "alice", inventory1), new: headCM(bobLock, "alice", inventory1),
			want: ownership.Decision{Allowed: true, Reason: "LockTaken", Warnings: oneWarning,
				Patch: []ownership.PatchOp{{Operation: "add", Path: lockUserPath, Value: "bob"}}},
			msg: []string{"took over the live lock of release web held by user alice"},
		},
		{
			name: "renewing the lock keeps the stamp (already right)",
			op:   "UPDATE", user: "alice",
			old: headCM(aliceLock, "alice", inventory1), new: headCM(aliceRenewed, "alice", inventory1),
			want: ownership.Decision{Allowed: true, Reason: "LockTaken"},
		},
		{
			name: "releasing the lock removes the stamp",
			op:   "UPDATE", user: "alice",
			old: headCM(aliceLock, "alice", inventory1), new: headCM("", "alice", inventory1),
			want: ownership.Decision{Allowed: true, Reason: "LockReleased",
				Patch: []ownership.PatchOp{{Operation: "remove", Path: lockUserPath}}},
		},
		{
			name: "a client-forged lock user with the lock unchanged is put back",
			op:   "UPDATE", user: "bob",
			old: headCM(aliceLock, "alice", inventory1), new: headCM(aliceLock, "bob", inventory1),
			want: ownership.Decision{Allowed: true, Reason: "NotOwned",
				Patch: []ownership.PatchOp{{Operation: "add", Path: lockUserPath, Value: "alice"}}},
		},
		{
			name: "a client-forged lock user without a lock is removed",
			op:   "UPDATE", user: "bob",
			old: headCM("", "", inventory1), new: headCM("", "bob", inventory1),
			want: ownership.Decision{Allowed: true, Reason: "NotOwned",
				Patch: []ownership.PatchOp{{Operation: "remove", Path: lockUserPath}}},
		},
		{
			name: "the lock holder updates the inventory",
			op:   "UPDATE", user: "alice",
			old: headCM(aliceLock, "alice", inventory1), new: headCM(aliceLock, "alice", inventory2),
			want: ownership.Decision{Allowed: true, Reason: "LockHolder"},
		},
		{
			name: "someone else changing the inventory while alice holds the lock is denied",
			op:   "UPDATE", user: "bob",
			old: headCM(aliceLock, "alice", inventory2), new: headCM(aliceLock, "alice", inventory1),
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
			old: headCM(aliceLock, "alice", inventory1),
			new: func() *corev1.ConfigMap {
				cm := headCM(aliceLock, "alice", inventory1)
				cm.Annotations["example.com/note"] = "x"
				return cm
			}(),
			want: ownership.Decision{Allowed: true, Reason: "NotOwned"},
		},
		{
			name: "a break-glass user may change the inventory",
			op:   "UPDATE", user: "root",
			old: headCM(aliceLock, "alice", inventory2), new: headCM(aliceLock, "alice", inventory1),
			want: ownership.Decision{Allowed: true, Reason: "BreakGlass", BreakGlass: true, Warnings: oneWarning, Fields: []string{"data.inventory"}},
		},
		{
			name: "deleting the head by the lock holder (uninstall) is allowed",
			op:   "DELETE", user: "alice",
			old:  headCM(aliceLock, "alice", inventory1),
			want: ownership.Decision{Allowed: true, Reason: "LockHolder"},
		},
		{
			name: "deleting the head by someone else is denied",
			op:   "DELETE", user: "bob",
			old:  headCM(aliceLock, "alice", inventory1),
			want: ownership.Decision{Reason: "RecordDeleted"},
			msg:  []string{"the head of release web (revision 3) in namespace apps", "kubectl chart uninstall web -n apps"},
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
			req := ownership.Request{Operation: tt.op, User: tt.user, FieldManager: "kubectl-chart",
				Kind: ownership.ObjectRef{Kind: "ConfigMap", Version: "v1", Namespace: "apps", Name: "kubectl-chart.web"},
				Old:  toUnstructured(t, tt.old), New: toUnstructured(t, tt.new)}
			got := ownership.DecideHead(cfg, req, readHead(t, tt.old), readHead(t, tt.new))
			if diff := cmp.Diff(tt.want, got, ignoreMessage); diff != "" {
				t.Errorf("DecideHead (-want +got):\n%s", diff)
			}
			checkMessage(t, got, tt.msg)
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
				LockData: lockJSON("alice@laptop (pid 1)", expires)},
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
		{name: "bad inventory", cm: headCM("", "", "{"), wantErr: "inventory"},
		{name: "bad lock", cm: headCM("[", "", "[]"), wantErr: "lock"},
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

// TestHeadFromStoreConfigMap reads heads as pkg/release's KubeStore writes
// them: the data keys and the lock's JSON are a contract between the two.
func TestHeadFromStoreConfigMap(t *testing.T) {
	ctx := context.Background()
	client := fake.NewClientset()
	store := release.NewKubeStore(client, release.KubeStoreOptions{Holder: "alice@laptop (pid 1)", Now: func() time.Time { return now }})
	h, err := store.Acquire(ctx, "apps", "web", "install", false)
	if err != nil {
		t.Fatal(err)
	}
	h.Revision, h.Deployed, h.Status = 2, 1, release.StatusPendingUpgrade
	h.Inventory = []release.ObjectRef{{Group: "apps", Version: "v1", Kind: "Deployment", Namespace: "apps", Name: "web"}}
	if err := store.UpdateHead(ctx, h); err != nil {
		t.Fatal(err)
	}
	cm, err := client.CoreV1().ConfigMaps("apps").Get(ctx, ownership.HeadName("web"), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cm.Annotations[ownership.AnnotationLockUser] = "alice" // the webhook's stamp
	got, err := ownership.HeadFromConfigMap(cm)
	if err != nil {
		t.Fatal(err)
	}
	want := &ownership.Head{Release: "web", Namespace: "apps", Revision: 2, Deployed: 1,
		Inventory: h.Inventory,
		LockUser:  "alice", LockHolder: "alice@laptop (pid 1)", LockExpires: now.Add(release.DefaultLockTTL),
		LockData: cm.Data["lock"]}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("HeadFromConfigMap (-want +got):\n%s", diff)
	}
	if got.LockData == "" {
		t.Error("no lock data")
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

func recordRef(rev int) ownership.ObjectRef {
	return ownership.ObjectRef{Version: "v1", Kind: "Secret", Namespace: "apps", Name: ownership.RevisionName("web", rev)}
}

func TestDecideRecord(t *testing.T) {
	appliedByPath := "/metadata/annotations/kubectl-chart.io~1applied-by"
	create := func(user string, annotations map[string]string) ownership.Request {
		return ownership.Request{Operation: "CREATE", User: user, FieldManager: "kubectl-chart", Kind: recordRef(4), New: record(4, "pending-upgrade", annotations)}
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

	tests := []struct {
		name string
		req  ownership.Request
		head *ownership.Head
		want ownership.Decision
		msg  []string
	}{
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
			name: "create by a break-glass user is allowed and stamped",
			req:  create("root", nil),
			head: head(),
			want: ownership.Decision{Allowed: true, Reason: "BreakGlass", BreakGlass: true, Warnings: oneWarning,
				Patch: []ownership.PatchOp{{Operation: "add", Path: "/metadata/annotations", Value: map[string]string{ownership.AnnotationAppliedBy: "root"}}}},
		},
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
			name: "the status moving forward is allowed",
			req:  update("alice", record(3, "deployed", nil), record(3, "superseded", nil)),
			head: head(),
			want: ownership.Decision{Allowed: true, Reason: "StatusMoved"},
		},
		{
			name: "the status moving backwards is denied",
			req:  update("bob", record(3, "superseded", nil), record(3, "deployed", nil)),
			head: head(),
			want: ownership.Decision{Reason: "StatusMovedBackwards", Fields: []string{`metadata.labels["kubectl-chart.io/status"]`}},
			msg:  []string{"cannot move from superseded to deployed", "kubectl chart rollback web 3 -n apps"},
		},
		{
			name: "the status label removed is denied",
			req:  update("bob", record(3, "deployed", nil), record(3, "", nil)),
			head: head(),
			want: ownership.Decision{Reason: "StatusMovedBackwards", Fields: []string{`metadata.labels["kubectl-chart.io/status"]`}},
		},
		{
			name: "an identity label changed is denied",
			req: update("bob", record(3, "deployed", nil), func() *unstructured.Unstructured {
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
			name: "other labels and annotations may change",
			req:  update("bob", record(3, "deployed", nil), record(3, "deployed", map[string]string{"example.com/note": "x"})),
			head: head(),
			want: ownership.Decision{Allowed: true, Reason: "NotOwned"},
		},
		{
			name: "applied-by changed by a client is put back",
			req: update("bob", record(3, "deployed", map[string]string{ownership.AnnotationAppliedBy: "alice"}),
				record(3, "deployed", map[string]string{ownership.AnnotationAppliedBy: "mallory"})),
			head: head(),
			want: ownership.Decision{Allowed: true, Reason: "NotOwned",
				Patch: []ownership.PatchOp{{Operation: "add", Path: appliedByPath, Value: "alice"}}},
		},
		{
			name: "applied-by added by a client is removed",
			req: update("bob", record(3, "deployed", map[string]string{}),
				record(3, "deployed", map[string]string{ownership.AnnotationAppliedBy: "mallory"})),
			head: head(),
			want: ownership.Decision{Allowed: true, Reason: "NotOwned",
				Patch: []ownership.PatchOp{{Operation: "remove", Path: appliedByPath}}},
		},
		{
			name: "a break-glass user may move the status back",
			req:  update("root", record(3, "superseded", nil), record(3, "deployed", nil)),
			head: head(),
			want: ownership.Decision{Allowed: true, Reason: "BreakGlass", BreakGlass: true, Warnings: oneWarning, Fields: []string{`metadata.labels["kubectl-chart.io/status"]`}},
		},
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
			got := ownership.DecideRecord(cfg, tt.req, tt.head)
			if diff := cmp.Diff(tt.want, got, ignoreMessage); diff != "" {
				t.Errorf("DecideRecord (-want +got):\n%s", diff)
			}
			checkMessage(t, got, tt.msg)
		})
	}
}

// TestRecordStatusMoves checks every status move against pkg/release's
// table: the webhook allows exactly the moves the store makes.
func TestRecordStatusMoves(t *testing.T) {
	statuses := []release.Status{"", "bogus",
		release.StatusPendingInstall, release.StatusPendingUpgrade, release.StatusPendingRollback,
		release.StatusDeployed, release.StatusFailed, release.StatusSuperseded,
		release.StatusUninstalling, release.StatusUninstalled}
	for _, from := range statuses {
		for _, to := range statuses {
			req := ownership.Request{Operation: "UPDATE", User: "bob", Kind: recordRef(3),
				Old: record(3, string(from), nil), New: record(3, string(to), nil)}
			got := ownership.DecideRecord(cfg, req, head())
			if want := from == to || release.CanMove(from, to); got.Allowed != want {
				t.Errorf("%q → %q: allowed %v, want %v (%s)", from, to, got.Allowed, want, got.Message)
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

// BenchmarkDecideObject is the decision on a kubectl edit of an owned
// Deployment field (the webhook's most common denial).
func BenchmarkDecideObject(b *testing.B) {
	old, nu := deployment(b), deployment(b)
	set(nu.Object, int64(5), "spec", "replicas")
	req := ownership.Request{Operation: "UPDATE", User: "bob", FieldManager: "kubectl-edit", Kind: deploymentRef, Old: old, New: nu}
	h := head()
	for b.Loop() {
		if d := ownership.DecideObject(cfg, req, h); d.Allowed {
			b.Fatal("allowed")
		}
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
