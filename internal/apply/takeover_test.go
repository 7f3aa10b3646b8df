package apply

import (
	"encoding/json"
	"errors"
	"net/http"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
	"sigs.k8s.io/structured-merge-diff/v6/value"

	"github.com/kubectl-chart/kubectl-chart/pkg/release"
)

// previousDeployment is a Deployment as a previous revision's manifest has
// it (no defaults, no protocol on its ports).
const previousDeployment = `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  annotations: {owner: team-a, empty: null}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    spec:
      containers:
      - name: web
        image: nginx:1.27
        ports: [{containerPort: 80}]
        args: [--verbose]
      finalizers: [a, b]
`

func TestSetsField(t *testing.T) {
	prev := fromYAML(t, previousDeployment)
	field := fieldpath.MakePathOrDie
	key := func(kv ...any) fieldpath.PathElement {
		var fl value.FieldList
		for i := 0; i < len(kv); i += 2 {
			fl = append(fl, value.Field{Name: kv[i].(string), Value: value.NewValueInterface(kv[i+1])})
		}
		return fieldpath.PathElement{Key: &fl}
	}
	val := func(v any) fieldpath.PathElement {
		x := value.NewValueInterface(v)
		return fieldpath.PathElement{Value: &x}
	}
	idx := func(i int) fieldpath.PathElement { return fieldpath.PathElement{Index: &i} }
	containers := field("spec", "template", "spec", "containers")
	with := func(p fieldpath.Path, pes ...fieldpath.PathElement) fieldpath.Path {
		return append(p.Copy(), pes...)
	}
	fieldName := func(s string) fieldpath.PathElement { return fieldpath.PathElement{FieldName: &s} }

	tests := []struct {
		name string
		path fieldpath.Path
		want bool
	}{
		{"a leaf it sets", field("spec", "replicas"), true},
		{"an annotation it sets", field("metadata", "annotations", "owner"), true},
		{"an annotation it never set", field("metadata", "annotations", "team"), false},
		{"a field it sets to null (removes)", field("metadata", "annotations", "empty"), false},
		{"a field it never set", field("spec", "paused"), false},
		{"below a leaf", field("spec", "replicas", "x"), false},
		{"a keyed item's field", with(containers, key("name", "web"), fieldName("image")), true},
		{"another item's field", with(containers, key("name", "sidecar"), fieldName("image")), false},
		{"a port keyed with the protocol the server defaults", with(containers, key("name", "web"), fieldName("ports"), key("containerPort", int64(80), "protocol", "TCP")), true},
		{"a port keyed with another protocol", with(containers, key("name", "web"), fieldName("ports"), key("containerPort", int64(80), "protocol", "UDP")), false},
		{"another port", with(containers, key("name", "web"), fieldName("ports"), key("containerPort", int64(81), "protocol", "TCP")), false},
		{"a set item", with(field("spec", "template", "spec", "finalizers"), val("b")), true},
		{"another set item", with(field("spec", "template", "spec", "finalizers"), val("c")), false},
		{"an index", with(containers, key("name", "web"), fieldName("args"), idx(0)), true},
		{"an index past the end", with(containers, key("name", "web"), fieldName("args"), idx(1)), false},
		{"the empty path", fieldpath.Path{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := setsField(prev.Object, tt.path); got != tt.want {
				t.Errorf("setsField(%s) = %v, want %v", tt.path, got, tt.want)
			}
		})
	}
}

// managed builds a managedFields entry.
func managed(manager, operation, subresource string, when *time.Time, fields string) map[string]any {
	e := map[string]any{"manager": manager, "operation": operation, "apiVersion": "apps/v1", "fieldsType": "FieldsV1"}
	if subresource != "" {
		e["subresource"] = subresource
	}
	if when != nil {
		e["time"] = when.UTC().Format(time.RFC3339)
	}
	var f any
	if err := json.Unmarshal([]byte(fields), &f); err != nil {
		panic(err)
	}
	e["fieldsV1"] = f
	return e
}

func withManagers(entries ...map[string]any) *unstructured.Unstructured {
	list := make([]any, len(entries))
	for i, e := range entries {
		list[i] = e
	}
	return &unstructured.Unstructured{Object: map[string]any{"metadata": map[string]any{"managedFields": list}}}
}

// TestClassifyTakeovers: the fields of a conflict (as the API server names
// them) are found in the managedFields entries that own them, and each is
// reclaimed (the previous revision applied it), taken only with force, or
// refused.
func TestClassifyTakeovers(t *testing.T) {
	ref := release.ObjectRef{Group: "apps", Version: "v1", Kind: "Deployment", Namespace: "ns", Name: "web"}
	edited := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	ours := managed("kubectl-chart", "Apply", "", nil, `{"f:spec":{"f:selector":{}}}`)
	scale := managed("kubectl", "Update", "scale", nil, `{"f:spec":{"f:replicas":{}}}`)
	annotate := managed("kubectl-annotate", "Update", "", &edited, `{"f:metadata":{"f:annotations":{"f:team":{}}}}`)
	set := managed("kubectl-set", "Update", "", &edited, `{"f:spec":{"f:template":{"f:spec":{"f:containers":{"k:{\"name\":\"web\"}":{"f:image":{}}}}}}}`)
	status := managed("kube-controller-manager", "Update", "status", &edited, `{"f:status":{"f:replicas":{}}}`)
	live := withManagers(ours, scale, annotate, set, status)

	imageField := `.spec.template.spec.containers[name="web"].image`
	conflicts := []FieldConflict{{Manager: "kubectl", Field: ".spec.replicas"}, {Manager: "kubectl-annotate", Field: ".metadata.annotations.team"}, {Manager: "kubectl-set", Field: imageField}}
	replicas := Takeover{Ref: ref, Field: ".spec.replicas", Manager: "kubectl", Operation: "Update", Subresource: "scale", Reclaimed: true}
	image := Takeover{Ref: ref, Field: imageField, Manager: "kubectl-set", Operation: "Update", Time: edited, Reclaimed: true}
	team := Takeover{Ref: ref, Field: ".metadata.annotations.team", Manager: "kubectl-annotate", Operation: "Update", Time: edited}

	tests := []struct {
		name          string
		live          *unstructured.Unstructured
		conflicts     []FieldConflict
		prev          string // "" for none
		force         bool
		wantTakeovers []Takeover
		wantRefused   []FieldConflict
	}{
		{
			name: "fields the previous revision applied are reclaimed, one it never did is refused",
			live: live, conflicts: conflicts, prev: previousDeployment,
			wantRefused: []FieldConflict{{Manager: "kubectl-annotate", Field: ".metadata.annotations.team"}},
		},
		{
			name: "with force, every field is taken; those of the previous revision are reclaimed",
			live: live, conflicts: conflicts, prev: previousDeployment, force: true,
			wantTakeovers: []Takeover{replicas, team, image},
		},
		{
			name: "no previous revision: everything is refused",
			live: live, conflicts: conflicts,
			wantRefused: conflicts,
		},
		{
			name: "only reclaimable fields",
			live: live, conflicts: []FieldConflict{conflicts[0], conflicts[2]}, prev: previousDeployment,
			wantTakeovers: []Takeover{replicas, image},
		},
		{
			name: "a field shared by two entries of a manager is taken from both",
			live: withManagers(ours,
				managed("kubectl", "Update", "", &edited, `{"f:spec":{"f:replicas":{},"f:paused":{}}}`),
				managed("kubectl", "Update", "scale", nil, `{"f:spec":{"f:replicas":{}}}`)),
			conflicts: []FieldConflict{{Manager: "kubectl", Field: ".spec.replicas"}},
			prev:      previousDeployment,
			wantTakeovers: []Takeover{
				{Ref: ref, Field: ".spec.replicas", Manager: "kubectl", Operation: "Update", Time: edited, Reclaimed: true},
				replicas,
			},
		},
		{
			name:      "a field its manager gave up since the conflict is left out",
			live:      withManagers(ours, status),
			conflicts: conflicts, prev: previousDeployment,
		},
		{
			name:      "the field of another manager of the same path is not this conflict's",
			live:      withManagers(ours, managed("kubectl-edit", "Update", "", &edited, `{"f:spec":{"f:replicas":{}}}`)),
			conflicts: []FieldConflict{{Manager: "kubectl", Field: ".spec.replicas"}}, prev: previousDeployment,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			owners, err := conflictOwners(ref, tt.conflicts, tt.live)
			if err != nil {
				t.Fatal(err)
			}
			var prev *unstructured.Unstructured
			if tt.prev != "" {
				prev = fromYAML(t, tt.prev)
			}
			takeovers, refused := classifyTakeovers(owners, prev, tt.force)
			if diff := cmp.Diff(tt.wantTakeovers, takeovers, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("takeovers (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantRefused, refused, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("refused (-want +got):\n%s", diff)
			}
		})
	}
}

func TestConflictOwnersBadEntry(t *testing.T) {
	live := withManagers(managed("kubectl-edit", "Update", "", nil, `{}`))
	entry := live.Object["metadata"].(map[string]any)["managedFields"].([]any)[0].(map[string]any)
	conflicts := []FieldConflict{{Manager: "kubectl-edit", Field: ".spec.replicas"}}
	entry["fieldsV1"] = map[string]any{"k:not json": map[string]any{}}
	if _, err := conflictOwners(release.ObjectRef{}, conflicts, live); err == nil {
		t.Error("conflictOwners read an unreadable fieldsV1")
	}
	entry["fieldsV1"], entry["fieldsType"] = map[string]any{}, "FieldsV2"
	if _, err := conflictOwners(release.ObjectRef{}, conflicts, live); err == nil {
		t.Error("conflictOwners read fields of an unknown type")
	}
}

// TestReleasePatch: the JSON patch that gives fields up tests every entry
// it changes, then, from the last entry back, removes an entry left empty
// and replaces the fields of the others.
func TestReleasePatch(t *testing.T) {
	ref := release.ObjectRef{Kind: "Deployment", Namespace: "ns", Name: "web"}
	edited := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	ours := managed("kubectl-chart", "Apply", "", nil, `{"f:spec":{"f:selector":{}}}`)
	scale := managed("kubectl", "Update", "scale", nil, `{"f:spec":{"f:replicas":{}}}`)
	edit := managed("kubectl-edit", "Update", "", &edited, `{"f:spec":{"f:paused":{},"f:template":{"f:spec":{"f:containers":{"k:{\"name\":\"web\"}":{".":{},"f:image":{}}}}}}}`)
	live := withManagers(ours, scale, edit)
	owners, err := conflictOwners(ref, []FieldConflict{
		{Manager: "kubectl", Field: ".spec.replicas"},
		{Manager: "kubectl-edit", Field: `.spec.template.spec.containers[name="web"].image`},
		{Manager: "kubectl-edit", Field: ".spec.paused"},
	}, live)
	if err != nil {
		t.Fatal(err)
	}
	patch, err := releasePatch(live, owners)
	if err != nil {
		t.Fatal(err)
	}
	var got []map[string]any
	if err := json.Unmarshal(patch, &got); err != nil {
		t.Fatal(err)
	}
	// What the entries look like after a JSON round trip.
	var scaleJSON, editJSON map[string]any
	for in, out := range map[*map[string]any]*map[string]any{&scale: &scaleJSON, &edit: &editJSON} {
		b, _ := json.Marshal(*in)
		_ = json.Unmarshal(b, out)
	}
	var keptFields any
	// The item stays kubectl-edit's (a member without children is {}).
	_ = json.Unmarshal([]byte(`{"f:spec":{"f:template":{"f:spec":{"f:containers":{"k:{\"name\":\"web\"}":{}}}}}}`), &keptFields)
	want := []map[string]any{
		{"op": "test", "path": "/metadata/managedFields/2", "value": editJSON},
		{"op": "test", "path": "/metadata/managedFields/1", "value": scaleJSON},
		{"op": "replace", "path": "/metadata/managedFields/2/fieldsV1", "value": keptFields},
		{"op": "remove", "path": "/metadata/managedFields/1"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("patch (-want +got):\n%s", diff)
	}
}

func TestPreviousObject(t *testing.T) {
	manifest := `---
# Source: c/templates/cm.yaml
apiVersion: v1
kind: ConfigMap
metadata: {name: plain}
data: {a: "1"}
---
# Source: c/templates/other.yaml
apiVersion: v1
kind: ConfigMap
metadata: {name: elsewhere, namespace: other}
---
# Source: c/templates/role.yaml
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: reader}
---
# Source: c/templates/broken.yaml
apiVersion: v1
kind: [not a kind
`
	p := NewPrevious(manifest, "rel")
	cm := func(ns, name string) release.ObjectRef {
		return release.ObjectRef{Version: "v1", Kind: "ConfigMap", Namespace: ns, Name: name}
	}
	tests := []struct {
		name string
		ref  release.ObjectRef
		want string // the name found, "" for none
	}{
		{"no namespace: the release's", cm("rel", "plain"), "plain"},
		{"no namespace: not another's", cm("default", "plain"), ""},
		{"its own namespace", cm("other", "elsewhere"), "elsewhere"},
		{"its own namespace only", cm("rel", "elsewhere"), ""},
		{"cluster-scoped", release.ObjectRef{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "ClusterRole", Name: "reader"}, "reader"},
		{"another kind of the same name", release.ObjectRef{Version: "v1", Kind: "Secret", Namespace: "rel", Name: "plain"}, ""},
		{"not in it", cm("rel", "new"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ""
			if o := p.Object(tt.ref); o != nil {
				got = o.GetName()
			}
			if got != tt.want {
				t.Errorf("Object(%s) = %q, want %q", tt.ref, got, tt.want)
			}
		})
	}
	if (*Previous)(nil).Object(cm("rel", "plain")) != nil {
		t.Error("a nil Previous has objects")
	}
}

func TestTakeoverString(t *testing.T) {
	ref := release.ObjectRef{Group: "apps", Version: "v1", Kind: "Deployment", Namespace: "ns", Name: "web"}
	tests := []struct {
		name string
		t    Takeover
		want string
	}{
		{"reclaimed through /scale", Takeover{Ref: ref, Field: ".spec.replicas", Manager: "kubectl", Subresource: "scale", Reclaimed: true},
			"reclaimed .spec.replicas of Deployment.apps/ns/web from kubectl (through /scale)"},
		{"forced", Takeover{Ref: ref, Field: ".metadata.annotations.team", Manager: "kubectl-annotate"},
			"took .metadata.annotations.team of Deployment.apps/ns/web from kubectl-annotate (--force-conflicts)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.t.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
		})
	}
	if got, want := TakeoverSummary([]Takeover{tests[0].t, tests[1].t}), tests[0].want+"; "+tests[1].want; got != want {
		t.Errorf("TakeoverSummary = %q, want %q", got, want)
	}
	if got := Takeovers([]Change{{Taken: []Takeover{tests[0].t}}, {}, {Taken: []Takeover{tests[1].t}}}); len(got) != 2 {
		t.Errorf("Takeovers = %v, want both", got)
	}
}

// kubectl runs the real kubectl (as a user would: kubectl scale, annotate,
// set image) on the test cluster.
func kubectl(t *testing.T, args ...string) {
	t.Helper()
	out, err := exec.CommandContext(t.Context(), filepath.Join(env.AssetsDir(), "kubectl"), append([]string{"--kubeconfig", env.KubeconfigPath()}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// reclaimDeployment is the Deployment of the reclaim tests; annotations
// is a flow mapping ("{}" for none).
func reclaimDeployment(replicas int, annotations string) string {
	return sprintf(`apiVersion: apps/v1
kind: Deployment
metadata: {name: web, annotations: %s}
spec:
  replicas: %d
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: "nginx:1.27"}]
`, annotations, replicas)
}

// byField orders takeovers for comparison (the server orders managedFields
// entries).
var byField = cmpopts.SortSlices(func(a, b Takeover) bool { return a.Field < b.Field })

// checkTime checks that a takeover's Time is within [from, to] (the server
// records whole seconds), and clears it for comparison.
func checkTime(t *testing.T, takeovers []Takeover, field string, from, to time.Time) {
	t.Helper()
	for i := range takeovers {
		if takeovers[i].Field != field {
			continue
		}
		if got := takeovers[i].Time; got.Before(from.Truncate(time.Second)) || got.After(to) {
			t.Errorf("%s: time %s, want within [%s, %s]", field, got, from, to)
		}
		takeovers[i].Time = time.Time{}
		return
	}
	t.Errorf("no takeover of %s in %v", field, takeovers)
}

// TestApplyReclaim, on the real API server with the real kubectl: fields
// that kubectl scale and kubectl set image took from the release are taken
// back when the apply has the previous revision, and reported with their
// manager, subresource and time; an annotation the release never applied
// stays a conflict (and nothing is written) unless Force, which reports
// what it took.
func TestApplyReclaim(t *testing.T) {
	ns := env.Namespace(t)
	m, _ := newManager(t)
	ctx := testContext(t)
	v1 := reclaimDeployment(2, "{}")
	objs := decode(t, m, v1, ns)
	opts := releaseOptions(ns)
	if _, err := m.Apply(ctx, objs, opts); err != nil {
		t.Fatal(err)
	}
	ref := release.ObjectRef{Group: "apps", Version: "v1", Kind: "Deployment", Namespace: ns, Name: "web"}

	kubectl(t, "-n", ns, "scale", "deployment/web", "--replicas=5")
	edited := time.Now()
	kubectl(t, "-n", ns, "set", "image", "deployment/web", "web=nginx:1.28")
	editDone := time.Now()

	// Without the previous revision, both are conflicts, as before.
	_, err := m.Apply(ctx, objs, opts)
	var ce *ConflictError
	if !errors.As(err, &ce) {
		t.Fatalf("apply without the previous revision: %v, want a *ConflictError", err)
	}
	wantConflicts := []FieldConflict{{Manager: "kubectl", Field: ".spec.replicas"}, {Manager: "kubectl-set", Field: `.spec.template.spec.containers[name="web"].image`}}
	if diff := cmp.Diff(wantConflicts, ce.Conflicts, cmpopts.SortSlices(func(a, b FieldConflict) bool { return a.Field < b.Field })); diff != "" {
		t.Errorf("conflicts (-want +got):\n%s", diff)
	}

	opts.Previous = NewPrevious(v1, ns)
	cs, err := m.Apply(ctx, objs, opts)
	if err != nil {
		t.Fatalf("apply with the previous revision: %v", err)
	}
	if got := actions(cs)["Deployment/web"]; got != Configured {
		t.Errorf("action %s, want configured", got)
	}
	taken := Takeovers(cs.Changes)
	checkTime(t, taken, `.spec.template.spec.containers[name="web"].image`, edited, editDone)
	want := []Takeover{
		{Ref: ref, Field: ".spec.replicas", Manager: "kubectl", Operation: "Update", Subresource: "scale", Reclaimed: true},
		{Ref: ref, Field: `.spec.template.spec.containers[name="web"].image`, Manager: "kubectl-set", Operation: "Update", Reclaimed: true},
	}
	if diff := cmp.Diff(want, taken, byField); diff != "" {
		t.Errorf("takeovers (-want +got):\n%s", diff)
	}
	live := get(t, deployments, ns, "web")
	if n, _, _ := unstructured.NestedInt64(live.Object, "spec", "replicas"); n != 2 {
		t.Errorf("replicas %d after the upgrade, want the chart's 2", n)
	}
	if c, _, _ := unstructured.NestedSlice(live.Object, "spec", "template", "spec", "containers"); c[0].(map[string]any)["image"] != "nginx:1.27" {
		t.Errorf("image %v after the upgrade, want the chart's", c[0].(map[string]any)["image"])
	}
	if got := managers(live); slices.Contains(got, "kubectl") || slices.Contains(got, "kubectl-set") {
		t.Errorf("managers %v: kubectl and kubectl-set should own nothing any more", got)
	}
	cs, err = m.Apply(ctx, objs, opts)
	if err != nil || actions(cs)["Deployment/web"] != Unchanged || len(Takeovers(cs.Changes)) != 0 {
		t.Fatalf("apply again: %v, %v %v, want unchanged and nothing taken", err, actions(cs), Takeovers(cs.Changes))
	}

	// An annotation the release never applied, added to the chart after
	// kubectl annotate: a conflict naming it, even with a reclaimable field
	// beside it, and nothing is written.
	kubectl(t, "-n", ns, "scale", "deployment/web", "--replicas=4")
	annotated := time.Now()
	kubectl(t, "-n", ns, "annotate", "deployment/web", "team=blue")
	annotateDone := time.Now()
	v2 := decode(t, m, reclaimDeployment(2, "{team: red}"), ns)
	_, err = m.Apply(ctx, v2, opts)
	if !errors.As(err, &ce) {
		t.Fatalf("apply over kubectl annotate: %v, want a *ConflictError", err)
	}
	if diff := cmp.Diff([]FieldConflict{{Manager: "kubectl-annotate", Field: ".metadata.annotations.team"}}, ce.Conflicts); diff != "" {
		t.Errorf("conflicts (-want +got):\n%s", diff)
	}
	for _, want := range []string{"Deployment.apps/" + ns + "/web", ".metadata.annotations.team", `"kubectl-annotate"`, "--force-conflicts"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
	live = get(t, deployments, ns, "web")
	if n, _, _ := unstructured.NestedInt64(live.Object, "spec", "replicas"); n != 4 || live.GetAnnotations()["team"] != "blue" {
		t.Errorf("after the refused apply: replicas %d, team %q; want 4 and blue (nothing written)", n, live.GetAnnotations()["team"])
	}

	opts.Force = true
	cs, err = m.Apply(ctx, v2, opts)
	if err != nil {
		t.Fatalf("apply with force: %v", err)
	}
	taken = Takeovers(cs.Changes)
	checkTime(t, taken, ".metadata.annotations.team", annotated, annotateDone)
	want = []Takeover{
		{Ref: ref, Field: ".metadata.annotations.team", Manager: "kubectl-annotate", Operation: "Update"},
		{Ref: ref, Field: ".spec.replicas", Manager: "kubectl", Operation: "Update", Subresource: "scale", Reclaimed: true},
	}
	if diff := cmp.Diff(want, taken, byField); diff != "" {
		t.Errorf("forced takeovers (-want +got):\n%s", diff)
	}
	live = get(t, deployments, ns, "web")
	if n, _, _ := unstructured.NestedInt64(live.Object, "spec", "replicas"); n != 2 || live.GetAnnotations()["team"] != "red" {
		t.Errorf("after the forced apply: replicas %d, team %q; want 2 and red", n, live.GetAnnotations()["team"])
	}
}

// TestApplyReclaimRace: a field another manager takes after the conflict
// (here, right after the fields of the conflict were released) is not
// taken silently: the apply after the release is not forced, so it
// conflicts, and the next round names the new field.
func TestApplyReclaimRace(t *testing.T) {
	ns := env.Namespace(t)
	ctx := testContext(t)
	m0, _ := newManager(t)
	v1 := reclaimDeployment(2, "{}")
	opts := releaseOptions(ns)
	if _, err := m0.Apply(ctx, decode(t, m0, v1, ns), opts); err != nil {
		t.Fatal(err)
	}
	kubectl(t, "-n", ns, "scale", "deployment/web", "--replicas=5")

	// A client whose first release of fields (a JSON patch of managedFields)
	// is followed by kubectl annotate's write of an annotation the new
	// revision sets.
	cfg := env.Config()
	var once sync.Once
	var hookErr error
	cfg.Wrap(func(next http.RoundTripper) http.RoundTripper {
		return roundTripper(func(req *http.Request) (*http.Response, error) {
			resp, err := next.RoundTrip(req)
			if req.Method == http.MethodPatch && req.Header.Get("Content-Type") == string(types.JSONPatchType) &&
				strings.HasSuffix(req.URL.Path, "/deployments/web") && err == nil && resp.StatusCode == http.StatusOK {
				once.Do(func() {
					_, hookErr = dynamicClient(t).Resource(deployments).Namespace(ns).Patch(ctx, "web", types.MergePatchType,
						[]byte(`{"metadata":{"annotations":{"team":"blue"}}}`), metav1.PatchOptions{FieldManager: "kubectl-annotate"})
				})
			}
			return resp, err
		})
	})
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	opts.Previous = NewPrevious(v1, ns)
	_, err = m.Apply(ctx, decode(t, m, reclaimDeployment(2, "{team: red}"), ns), opts)
	if hookErr != nil {
		t.Fatalf("the concurrent annotate: %v", hookErr)
	}
	var ce *ConflictError
	if !errors.As(err, &ce) {
		t.Fatalf("apply: %v, want a *ConflictError for the annotation taken meanwhile", err)
	}
	if diff := cmp.Diff([]FieldConflict{{Manager: "kubectl-annotate", Field: ".metadata.annotations.team"}}, ce.Conflicts); diff != "" {
		t.Errorf("conflicts (-want +got):\n%s", diff)
	}
	live := get(t, deployments, ns, "web")
	if n, _, _ := unstructured.NestedInt64(live.Object, "spec", "replicas"); n != 5 || live.GetAnnotations()["team"] != "blue" {
		t.Errorf("replicas %d, team %q; want 5 and blue (not applied)", n, live.GetAnnotations()["team"])
	}
	// The hook ran once: applying again, the annotation is still the only
	// field refused.
	_, err = m.Apply(ctx, decode(t, m, reclaimDeployment(2, "{team: red}"), ns), opts)
	if !errors.As(err, &ce) || len(ce.Conflicts) != 1 || ce.Conflicts[0].Manager != "kubectl-annotate" {
		t.Fatalf("apply again: %v, want the annotation's conflict only", err)
	}
}
