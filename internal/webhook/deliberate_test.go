package webhook

// Scenario tests of issue 11: a deliberate user with ordinary write rights
// in the namespace (the rules of system:aggregate-to-edit, what `edit`
// aggregates) and no permission to deploy tries every API path around the
// webhook with the real kubectl. After each attempt, the owned state, the
// release's records and `kubectl chart history` are as they were.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-chart/kubectl-chart/pkg/ownership"
	"github.com/kubectl-chart/kubectl-chart/pkg/release"
)

// Users of these scenarios: neither is in system:masters; RBAC decides.
const (
	userMallory = "mallory" // edit rights in the namespace, no deploy
	userDave    = "dave"    // edit rights and kubectl-chart-deployer, no unlock
)

var rolesOnce = sync.OnceValue(func() error {
	docs, err := readManifests("roles.yaml")
	if err != nil {
		return err
	}
	for _, doc := range docs {
		var meta metav1.TypeMeta
		if err := yaml.Unmarshal(doc, &meta); err != nil {
			return err
		}
		if meta.Kind != "ClusterRole" {
			continue // the seal Role lives in the webhook's namespace
		}
		var role rbacv1.ClusterRole
		if err := yaml.UnmarshalStrict(doc, &role); err != nil {
			return err
		}
		if _, err := env.Clientset().RbacV1().ClusterRoles().Create(context.Background(), &role, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return err
		}
	}
	return nil
})

// editorFor returns name's kubeconfig, a user outside system:masters,
// bound in namespace ns to what `edit` grants (system:aggregate-to-edit
// and -view: the bare control plane runs no aggregation controller) and
// to each of clusterRoles.
func (s *scenarios) editorFor(t *testing.T, ns, name string, clusterRoles ...string) *person {
	t.Helper()
	if err := rolesOnce(); err != nil {
		t.Fatalf("manifests/roles.yaml: %v", err)
	}
	key := name + "@" + ns
	s.mu.Lock()
	p := s.people[key]
	s.mu.Unlock()
	if p == nil {
		u, err := env.Envtest().AddUser(envtest.User{Name: name, Groups: []string{"example:developers"}}, nil)
		if err != nil {
			t.Fatalf("add user %s: %v", name, err)
		}
		kc, err := u.KubeConfig()
		if err != nil {
			t.Fatal(err)
		}
		p = &person{name: name, kubeconfig: filepath.Join(s.dir, "kubeconfig-"+name+"-"+ns)}
		if err := os.WriteFile(p.kubeconfig, kc, 0o600); err != nil {
			t.Fatal(err)
		}
		s.mu.Lock()
		s.people[key] = p
		s.mu.Unlock()
	}
	for _, role := range append([]string{"system:aggregate-to-edit", "system:aggregate-to-view"}, clusterRoles...) {
		s.bind(t, ns, name, role)
	}
	return p
}

// bind binds user to clusterRole in ns.
func (s *scenarios) bind(t *testing.T, ns, user, clusterRole string) {
	t.Helper()
	rb := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: user + "-" + strings.ReplaceAll(clusterRole, ":", "-"), Namespace: ns},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: clusterRole},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: user}},
	}
	if _, err := env.Clientset().RbacV1().RoleBindings(ns).Create(t.Context(), rb, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
}

// releaseState is what a deliberate user must not be able to change
// without a recorded revision: the owned fields, the head's data, every
// record's labels and annotations, and the history as the plugin shows it.
type releaseState struct {
	Replicas, Image, Mode string
	Head                  map[string]string
	Records               map[string]string
	History               string
}

func (sc *scenario) state(t *testing.T) releaseState {
	t.Helper()
	ctx := t.Context()
	st := releaseState{
		Replicas: sc.jsonpath(t, "deployment/web", ".spec.replicas"),
		Image:    sc.jsonpath(t, "deployment/web", ".spec.template.spec.containers[0].image"),
		Mode:     sc.jsonpath(t, "configmap/web-config", ".data.mode"),
		Records:  map[string]string{},
	}
	head, err := env.Clientset().CoreV1().ConfigMaps(sc.ns).Get(ctx, ownership.HeadName(sc.name), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// The lock is left out: a running operation renews it.
	st.Head = head.Data
	delete(st.Head, release.HeadKeyLock)
	secs, err := env.Clientset().CoreV1().Secrets(sc.ns).List(ctx, metav1.ListOptions{LabelSelector: ownership.LabelRelease + "=" + sc.name})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range secs.Items {
		b, _ := json.Marshal(map[string]any{"labels": s.Labels, "annotations": s.Annotations, "data": s.Data})
		st.Records[s.Name] = string(b)
	}
	st.History = sc.chart(t, sc.admin(t), sc.ns, "history", sc.name).ok(t).stdout
	return st
}

// TestKubectlDeliberateUserCannotChangeARelease: every path of issue 11,
// tried by a user with edit rights and no deploy permission.
func TestKubectlDeliberateUserCannotChangeARelease(t *testing.T) {
	t.Parallel()
	sc := installWithPlugin(t, "guarded")
	sc.chart(t, sc.deployer, sc.ns, "upgrade", sc.name, sc.chartDir, "--set", "mode=staging").ok(t)
	mallory := sc.editorFor(t, sc.ns, userMallory)
	before := sc.state(t)
	head := "configmap/" + ownership.HeadName(sc.name)
	v1 := "secret/" + ownership.RevisionName(sc.name, 1)
	v2 := "secret/" + ownership.RevisionName(sc.name, 2)
	lock := func(id string, forced bool) string {
		b, _ := json.Marshal(map[string]any{"holder": "mallory@laptop (pid 1)", "operation": "upgrade", "id": id, "forced": forced,
			"started": time.Now().UTC(), "renewed": time.Now().UTC(), "expires": time.Now().Add(time.Minute).UTC()})
		return string(b)
	}
	mfIndex := func() string {
		names := strings.Fields(sc.jsonpath(t, "deployment/web", ".metadata.managedFields[*].manager"))
		return fmt.Sprint(slices.Index(names, ownership.FieldManager))
	}
	replaced := filepath.Join(t.TempDir(), "replace.yaml")

	for _, c := range []struct {
		name string
		args []string
		// want are parts of the denial; nil: any refusal.
		want []string
		// webhook is the webhook that denies (default ownership.kubectl-chart.io);
		// "none" when the write may pass with no effect (a stamp put back).
		webhook string
	}{
		{"managedFields reset (merge patch)", []string{"patch", "deployment/web", "--type", "merge", "-p", `{"metadata":{"managedFields":[{}]}}`},
			[]string{"managedFields entry of manager kubectl-chart"}, ""},
		{"managedFields entry removed (JSON patch)", nil, []string{"managedFields entry of manager kubectl-chart"}, ""},
		{"lock written into the head", []string{"patch", head, "--type", "merge", "-p", fmt.Sprintf(`{"data":{"lock":%q}}`, lock("m1", false))},
			[]string{"user mallory may not take the lock", `verb "deploy"`}, ""},
		{"lock forced into the head", []string{"patch", head, "--type", "merge", "-p", fmt.Sprintf(`{"data":{"lock":%q}}`, lock("m2", true))},
			[]string{"user mallory may not"}, ""},
		{"head inventory rewritten", []string{"patch", head, "--type", "merge", "-p", `{"data":{"inventory":"[]"}}`},
			[]string{`data.inventory`, "written only by the release's running operation"}, ""},
		{"head revision rewritten", []string{"patch", head, "--type", "merge", "-p", `{"data":{"revision":"1","deployed":"1"}}`},
			[]string{`data.deployed`, `data.revision`}, ""},
		{"head status rewritten", []string{"patch", head, "--type", "merge", "-p", `{"data":{"status":"failed"}}`},
			[]string{`data.status`}, ""},
		{"head record label removed", []string{"label", head, ownership.LabelRecord + "-"},
			[]string{`metadata.labels["kubectl-chart.io/record"]`}, ""},
		{"head release label changed", []string{"label", "--overwrite", head, ownership.LabelRelease + "=other"}, nil, ""},
		// Labelled before, unlabelled after: both validating webhooks see it
		// (the records webhook's objectSelector lets an object through when
		// either side lacks the release label), and either may answer.
		{"head release label removed", []string{"label", head, ownership.LabelRelease + "-"}, nil, ""},
		{"record release label removed", []string{"label", v1, ownership.LabelRelease + "-"}, nil, ""},
		{"record status moved", []string{"label", "--overwrite", v2, ownership.LabelStatus + "=uninstalled"},
			[]string{`metadata.labels["kubectl-chart.io/status"]`, "written only by the release's running operation"}, ""},
		{"record description rewritten", []string{"annotate", "--overwrite", v1, release.AnnotationDescription + "=rolled back by the SRE team"},
			[]string{`metadata.annotations["kubectl-chart.io/description"]`}, ""},
		{"record label removed", []string{"label", v1, ownership.LabelRecord + "-"}, nil, ""},
		{"record applied-by rewritten", []string{"annotate", "--overwrite", v1, ownership.AnnotationAppliedBy + "=mallory"}, nil, "none"},
		{"record seal rewritten", []string{"annotate", "--overwrite", v2, ownership.AnnotationRecordSeal + "={}"}, nil, "none"},
		{"record deleted", []string{"delete", v1, "--wait=false"}, []string{"within the history the release keeps"}, ""},
		{"head deleted", []string{"delete", head, "--wait=false"}, []string{"kubectl chart uninstall " + sc.name}, ""},
		{"record label put on an owned object", []string{"label", "deployment/web", ownership.LabelRecord + "=head"},
			[]string{"marks the records of releases"}, ""},
		{"server-side apply as kubectl-chart", []string{"apply", "--server-side", "--field-manager=kubectl-chart", "--force-conflicts", "-f", sc.manifest(t, 9)},
			[]string{"spec.replicas", "the request names field manager kubectl-chart"}, ""},
		{"kubectl replace", []string{"replace", "-f", replaced}, []string{"spec.replicas"}, ""},
		{"a record forged for revision 3", []string{"create", "secret", "generic", ownership.RevisionName(sc.name, 3), "--type", ownership.SecretTypeRelease, "--from-literal=release=x"},
			[]string{"kept for the records of kubectl-chart releases"}, "records.kubectl-chart.io"},
		{"an unlabelled head for another release", []string{"create", "configmap", ownership.HeadName("shadow"), "--from-literal=revision=1"},
			[]string{"kept for the records of kubectl-chart releases"}, "records.kubectl-chart.io"},
		{"a labelled record forged for revision 3", nil, []string{"is created only by the release's running operation"}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			args := c.args
			switch c.name {
			case "managedFields entry removed (JSON patch)":
				args = []string{"patch", "deployment/web", "--type", "json", "-p", `[{"op":"remove","path":"/metadata/managedFields/` + mfIndex() + `"}]`}
			case "kubectl replace":
				y := sc.kubectl(t, sc.admin(t), sc.ns, nil, "get", "deployment/web", "-o", "yaml").ok(t).stdout
				y = strings.Replace(y, "replicas: 2", "replicas: 7", 1)
				if err := os.WriteFile(replaced, []byte(y), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if c.name == "a labelled record forged for revision 3" {
				forged := filepath.Join(t.TempDir(), "forged.yaml")
				text := fmt.Sprintf("apiVersion: v1\nkind: Secret\nmetadata:\n  name: %s\n  labels: {%s: %s, %s: revision, %s: \"3\", %s: \"0\", %s: deployed}\ntype: %s\ndata: {release: eA==}\n",
					ownership.RevisionName(sc.name, 3), ownership.LabelRelease, sc.name, ownership.LabelRecord, ownership.LabelRevision, ownership.LabelChunk, ownership.LabelStatus, ownership.SecretTypeRelease)
				if err := os.WriteFile(forged, []byte(text), 0o644); err != nil {
					t.Fatal(err)
				}
				args = []string{"create", "-f", forged}
			}
			r := sc.kubectl(t, mallory, sc.ns, nil, args...)
			switch {
			case c.webhook == "none":
			case r.code == 0:
				t.Fatalf("want refused, got %s", r)
			case c.webhook != "":
				if !containsAll(r.stderr, append([]string{`admission webhook "` + c.webhook + `" denied the request`}, c.want...)...) {
					t.Errorf("want a denial by %s naming %q, got %s", c.webhook, c.want, r)
				}
			case c.want != nil:
				r.denied(t, c.want...)
			}
			if diff := cmpState(before, sc.state(t)); diff != "" {
				t.Errorf("the release changed (-before +after):\n%s", diff)
			}
		})
	}

	// Mallory may not deploy at all; with the deployer role she may.
	r := sc.chart(t, mallory, sc.ns, "upgrade", sc.name, sc.chartDir, "--set", "replicas=3")
	if r.code == 0 || !containsAll(r.stderr, "user mallory may not take the lock", `verb "deploy"`) {
		t.Fatalf("upgrade without deploy permission: want refused naming the verb, got %s", r)
	}
	if diff := cmpState(before, sc.state(t)); diff != "" {
		t.Errorf("the release changed after a refused upgrade (-before +after):\n%s", diff)
	}
	sc.bind(t, sc.ns, userMallory, "kubectl-chart-deployer")
	err := wait.PollUntilContextTimeout(t.Context(), 200*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		r = sc.chart(t, mallory, sc.ns, "upgrade", sc.name, sc.chartDir, "--set", "replicas=3")
		return r.code == 0, nil
	})
	if err != nil {
		t.Fatalf("upgrade with the deployer role: %s", r)
	}
	if got := sc.jsonpath(t, "deployment/web", ".spec.replicas"); got != "3" {
		t.Errorf("spec.replicas = %s after mallory's upgrade, want 3", got)
	}
	hist := sc.chart(t, mallory, sc.ns, "history", sc.name, "-o", "json").ok(t).stdout
	var revs []struct {
		Revision  int    `json:"revision"`
		AppliedBy string `json:"applied_by"`
	}
	if err := json.Unmarshal([]byte(hist), &revs); err != nil || len(revs) != 3 || revs[2].AppliedBy != userMallory {
		t.Errorf("history after mallory's upgrade: want revision 3 applied by mallory, got %v\n%s", err, hist)
	}
}

// TestKubectlLiveLockTakeoverNeedsUnlock: while the deployer's upgrade
// holds the lock, a user who may deploy but not unlock cannot take it over
// with --force-unlock, nor by writing the head; one who may unlock can,
// and an Event on the head says so.
func TestKubectlLiveLockTakeoverNeedsUnlock(t *testing.T) {
	t.Parallel()
	sc := installWithPlugin(t, "takeover")
	dave := sc.editorFor(t, sc.ns, userDave, "kubectl-chart-deployer")

	// A short lock TTL: the upgrade renews every 3 s, so it finds out soon
	// that its lock was taken.
	ctx, cancel := context.WithCancel(t.Context())
	held := sc.command(ctx, t, sc.deployer, sc.ns, []string{"KUBECTL_CHART_LOCK_TTL=9s"}, sc.plugin, "upgrade", sc.name, sc.chartDir, "--set", "replicas=4", "--wait", "--timeout", "5m")
	var heldOut strings.Builder
	held.Stdout, held.Stderr = &heldOut, &heldOut
	if err := held.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- held.Wait() }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	store := release.NewKubeStore(env.Clientset(), release.DefaultKubeStoreOptions())
	if err := wait.PollUntilContextTimeout(t.Context(), 50*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
		h, err := store.Head(ctx, sc.ns, sc.name)
		return err == nil && h.Lock != nil && h.Lock.User == userDeployer && h.Revision == 2, nil
	}); err != nil {
		t.Fatalf("the deployer's upgrade never held the lock: %v", err)
	}
	before := sc.state(t)

	r := sc.chart(t, dave, sc.ns, "upgrade", sc.name, sc.chartDir, "--set", "replicas=9", "--force-unlock")
	if r.code == 0 || !containsAll(r.stderr, "user dave may not take over the lock", `verb "unlock"`) {
		t.Fatalf("--force-unlock without unlock permission: want refused, got %s", r)
	}
	if diff := cmpState(before, sc.state(t)); diff != "" {
		t.Errorf("the release changed (-before +after):\n%s", diff)
	}

	sc.bind(t, sc.ns, userDave, "kubectl-chart-unlocker")
	if err := wait.PollUntilContextTimeout(t.Context(), 200*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		r = sc.chart(t, dave, sc.ns, "upgrade", sc.name, sc.chartDir, "--set", "replicas=5", "--force-unlock")
		return r.code == 0, nil
	}); err != nil {
		t.Fatalf("--force-unlock with unlock permission: %s", r)
	}
	sc.waitStatus(t, sc.admin(t), "LockTakenOver: user dave took over: the lock of release takeover is held by user deployer")

	// The deployer's upgrade, whose lock is gone, stops and says why.
	select {
	case err := <-done:
		done <- err // for the cleanup
		if err == nil || !strings.Contains(heldOut.String(), "lock lost") {
			t.Errorf("the deployer's upgrade after the takeover: want it stopped with \"lock lost\", got %v:\n%s", err, heldOut.String())
		}
	case <-time.After(60 * time.Second):
		t.Errorf("the deployer's upgrade still runs a minute after its lock was taken over:\n%s", heldOut.String())
	}
}

func cmpState(a, b releaseState) string {
	ja, _ := json.MarshalIndent(a, "", "  ")
	jb, _ := json.MarshalIndent(b, "", "  ")
	if string(ja) == string(jb) {
		return ""
	}
	return fmt.Sprintf("before: %s\nafter: %s", ja, jb)
}
