package apply

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-chart/kubectl-chart/pkg/ownership"
)

func fromYAML(t *testing.T, s string) *unstructured.Unstructured {
	t.Helper()
	objs, _, err := decodeManifest(s)
	if err != nil || len(objs) != 1 {
		t.Fatalf("decode %q: %v (%d objects)", s, err, len(objs))
	}
	return objs[0]
}

// withManaged returns live with one managedFields entry.
func withManaged(t *testing.T, live *unstructured.Unstructured, manager string, op metav1.ManagedFieldsOperationType, apiVersion, fields string) *unstructured.Unstructured {
	t.Helper()
	raw, err := yaml.YAMLToJSON([]byte(fields))
	if err != nil {
		t.Fatal(err)
	}
	entries := append(live.GetManagedFields(), metav1.ManagedFieldsEntry{
		Manager: manager, Operation: op, APIVersion: apiVersion, FieldsType: "FieldsV1",
		FieldsV1: &metav1.FieldsV1{Raw: raw},
	})
	live.SetManagedFields(entries)
	return live
}

const deployment = `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: ns, labels: {app: web}}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: nginx
        ports: [{containerPort: 80}]
        args: [a, b]
`

// liveDeployment is deployment as the server keeps it: defaulted, with
// kubectl-chart's field set and another manager's.
const liveDeployment = `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: ns, labels: {app: web}, resourceVersion: "12", generation: 1, uid: x}
spec:
  replicas: 2
  revisionHistoryLimit: 10
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: nginx
        imagePullPolicy: Always
        ports: [{containerPort: 80, protocol: TCP}]
        args: [a, b]
      restartPolicy: Always
status: {replicas: 2}
`

const deploymentFields = `
f:metadata: {f:labels: {f:app: {}}}
f:spec:
  f:replicas: {}
  f:selector: {}
  f:template:
    f:metadata: {f:labels: {f:app: {}}}
    f:spec:
      f:containers:
        'k:{"name":"web"}':
          .: {}
          f:args: {}
          f:image: {}
          f:name: {}
          f:ports:
            'k:{"containerPort":80,"protocol":"TCP"}': {.: {}, f:containerPort: {}}
`

func TestUnchangedLocally(t *testing.T) {
	live := func() *unstructured.Unstructured {
		l := fromYAML(t, liveDeployment)
		withManaged(t, l, "kube-controller-manager", metav1.ManagedFieldsOperationUpdate, "apps/v1", `{f:status: {f:replicas: {}}}`)
		return withManaged(t, l, ownership.FieldManager, metav1.ManagedFieldsOperationApply, "apps/v1", deploymentFields)
	}
	tests := []struct {
		name    string
		desired string
		live    func() *unstructured.Unstructured
		want    bool
	}{
		{name: "same", desired: deployment, live: live, want: true},
		{
			name:    "a value changed",
			desired: replace(deployment, "replicas: 2", "replicas: 3"), live: live,
		},
		{
			name:    "a field added (even with the live value)",
			desired: replace(deployment, "image: nginx", "image: nginx\n        imagePullPolicy: Always"), live: live,
		},
		{
			name:    "a field removed",
			desired: replace(deployment, "args: [a, b]", ""), live: live,
		},
		{
			name:    "an atomic list changed",
			desired: replace(deployment, "args: [a, b]", "args: [b, a]"), live: live,
		},
		{
			name:    "a keyed element added",
			desired: replace(deployment, "ports: [{containerPort: 80}]", "ports: [{containerPort: 80}, {containerPort: 81}]"), live: live,
		},
		{
			name:    "a key field defaulted differently",
			desired: replace(deployment, "ports: [{containerPort: 80}]", "ports: [{containerPort: 80, protocol: UDP}]"), live: live,
		},
		{
			name:    "a null",
			desired: replace(deployment, "replicas: 2", "replicas: 2\n  paused: null"), live: live,
		},
		{
			name: "no apply entry of kubectl-chart", desired: deployment,
			live: func() *unstructured.Unstructured {
				return withManaged(t, fromYAML(t, liveDeployment), ownership.FieldManager, metav1.ManagedFieldsOperationUpdate, "apps/v1", deploymentFields)
			},
		},
		{
			name: "the entry is of another version", desired: deployment,
			live: func() *unstructured.Unstructured {
				return withManaged(t, fromYAML(t, liveDeployment), ownership.FieldManager, metav1.ManagedFieldsOperationApply, "apps/v1beta1", deploymentFields)
			},
		},
		{
			name: "another manager's element in a keyed list", desired: deployment,
			live: func() *unstructured.Unstructured {
				l := live()
				c, _, _ := unstructured.NestedSlice(l.Object, "spec", "template", "spec", "containers")
				c = append(c, map[string]any{"name": "sidecar", "image": "x"})
				_ = unstructured.SetNestedSlice(l.Object, c, "spec", "template", "spec", "containers")
				return l
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := unchangedLocally(fromYAML(t, tt.desired), tt.live()); got != tt.want {
				t.Errorf("unchangedLocally = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestUnchangedLocallySets(t *testing.T) {
	desired := fromYAML(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: ns, finalizers: [a/b, c/d]}\ndata: {k: v}\n")
	live := fromYAML(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: ns, finalizers: [a/b, c/d], uid: u}\ndata: {k: v}\n")
	withManaged(t, live, ownership.FieldManager, metav1.ManagedFieldsOperationApply, "v1",
		`{f:data: {f:k: {}}, f:metadata: {f:finalizers: {.: {}, 'v:"a/b"': {}, 'v:"c/d"': {}}}}`)
	if !unchangedLocally(desired, live) {
		t.Error("same set: unchangedLocally = false, want true")
	}
	desired.SetFinalizers([]string{"c/d", "a/b"})
	if unchangedLocally(desired, live) {
		t.Error("set reordered: unchangedLocally = true, want false")
	}
}

func replace(s, old, new string) string {
	out, n := "", 0
	for i := 0; i < len(s); {
		if len(s)-i >= len(old) && s[i:i+len(old)] == old {
			out += new
			i += len(old)
			n++
			continue
		}
		out += string(s[i])
		i++
	}
	if n != 1 {
		panic("replace: " + old + " found " + string(rune('0'+n)) + " times")
	}
	return out
}
