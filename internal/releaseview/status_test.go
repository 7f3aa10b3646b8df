package releaseview

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-chart/kubectl-chart/pkg/release"
	"github.com/kubectl-chart/kubectl-chart/pkg/release/wire"
)

func object(t *testing.T, y string) *unstructured.Unstructured {
	t.Helper()
	j, err := yaml.YAMLToJSON([]byte(y))
	if err != nil {
		t.Fatal(err)
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(j); err != nil {
		t.Fatal(err)
	}
	return u
}

func TestObjectStatusOf(t *testing.T) {
	ref := release.ObjectRef{Group: "apps", Version: "v1", Kind: "Deployment", Namespace: "ns", Name: "web"}
	for _, tc := range []struct {
		name string
		obj  string
		err  error
		want ObjectStatus
	}{
		{
			name: "available deployment",
			obj: `{apiVersion: apps/v1, kind: Deployment, metadata: {name: web, namespace: ns, generation: 2},
spec: {replicas: 1},
status: {observedGeneration: 2, replicas: 1, updatedReplicas: 1, readyReplicas: 1, availableReplicas: 1,
  conditions: [{type: Available, status: "True"}, {type: Progressing, status: "True", reason: NewReplicaSetAvailable}]}}`,
			want: ObjectStatus{ObjectRef: ref, Status: "Current", Message: "Deployment is available. Replicas: 1"},
		},
		{
			name: "rolling deployment",
			obj: `{apiVersion: apps/v1, kind: Deployment, metadata: {name: web, namespace: ns, generation: 3},
spec: {replicas: 2}, status: {observedGeneration: 2}}`,
			want: ObjectStatus{ObjectRef: ref, Status: "InProgress", Message: "Deployment generation is 3, but latest observed generation is 2"},
		},
		{
			name: "missing",
			err:  apierrors.NewNotFound(schema.GroupResource{Group: "apps", Resource: "deployments"}, "web"),
			want: ObjectStatus{ObjectRef: ref, Status: StatusMissing},
		},
		{
			name: "forbidden",
			err:  errors.New("deployments.apps \"web\" is forbidden"),
			want: ObjectStatus{ObjectRef: ref, Status: "Unknown", Message: "deployments.apps \"web\" is forbidden"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var obj *unstructured.Unstructured
			if tc.obj != "" {
				obj = object(t, tc.obj)
			}
			if diff := cmp.Diff(tc.want, ObjectStatusOf(ref, obj, tc.err)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestWebhookStateOf(t *testing.T) {
	fail, ignore := admissionregistrationv1.Fail, admissionregistrationv1.Ignore
	cfg := func(policies ...*admissionregistrationv1.FailurePolicyType) *admissionregistrationv1.MutatingWebhookConfiguration {
		c := &admissionregistrationv1.MutatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: WebhookConfigurationName}}
		for i, p := range policies {
			c.Webhooks = append(c.Webhooks, admissionregistrationv1.MutatingWebhook{Name: []string{"objects.kubectl-chart.io", "records.kubectl-chart.io"}[i], FailurePolicy: p})
		}
		return c
	}
	gr := schema.GroupResource{Group: "admissionregistration.k8s.io", Resource: "mutatingwebhookconfigurations"}
	for _, tc := range []struct {
		name string
		cfg  *admissionregistrationv1.MutatingWebhookConfiguration
		err  error
		want WebhookState
	}{
		{name: "not installed", err: apierrors.NewNotFound(gr, WebhookConfigurationName),
			want: WebhookState{Message: "not installed: nothing blocks writes from other tools"}},
		{name: "forbidden", err: apierrors.NewForbidden(gr, WebhookConfigurationName, errors.New("no RBAC")),
			want: WebhookState{Message: `unknown: cannot read MutatingWebhookConfiguration chart-webhook: mutatingwebhookconfigurations.admissionregistration.k8s.io "chart-webhook" is forbidden: no RBAC`}},
		{name: "no webhooks", cfg: cfg(),
			want: WebhookState{Installed: true, Message: "chart-webhook is installed but has no webhooks: nothing blocks writes from other tools"}},
		{name: "enforcing", cfg: cfg(&fail, nil),
			want: WebhookState{Installed: true, Enforcing: true, Message: "chart-webhook is enforcing ownership: writes from other tools to what the release owns are refused"}},
		{name: "ignore", cfg: cfg(&fail, &ignore),
			want: WebhookState{Installed: true, Enforcing: true, Message: "chart-webhook is enforcing ownership, but with failurePolicy Ignore (records.kubectl-chart.io): writes pass unchecked while it is unreachable"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, WebhookStateOf(tc.cfg, tc.err)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestOwnershipEvents(t *testing.T) {
	at := func(m int) metav1.Time { return metav1.NewTime(t0.Add(time.Duration(m) * time.Minute)) }
	events := []corev1.Event{
		{Reason: "Blocked", Message: "m3", LastTimestamp: at(3), Count: 2},
		{Reason: "Scaled", Message: "other", LastTimestamp: at(9)},
		{Reason: "BreakGlass", Message: "m1", EventTime: metav1.NewMicroTime(t0.Add(time.Minute))},
		{Reason: "BlockedDelete", Message: "m6", Series: &corev1.EventSeries{Count: 4, LastObservedTime: metav1.NewMicroTime(t0.Add(6 * time.Minute))}, EventTime: metav1.NewMicroTime(t0)},
		{Reason: "Blocked", Message: "m2", FirstTimestamp: at(2)},
		{Reason: "Blocked", Message: "m5", ObjectMeta: metav1.ObjectMeta{CreationTimestamp: at(5)}},
		{Reason: "Blocked", Message: "m4", LastTimestamp: at(4)},
	}
	want := []OwnershipEvent{
		{Time: at(2).Time, Reason: "Blocked", Message: "m2", Count: 1},
		{Time: at(3).Time, Reason: "Blocked", Message: "m3", Count: 2},
		{Time: at(4).Time, Reason: "Blocked", Message: "m4", Count: 1},
		{Time: at(5).Time, Reason: "Blocked", Message: "m5", Count: 1},
		{Time: at(6).Time, Reason: "BlockedDelete", Message: "m6", Count: 1},
	}
	if diff := cmp.Diff(want, OwnershipEvents(events, MaxOwnershipEvents)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if got := OwnershipEvents(events, 0); len(got) != 6 {
		t.Errorf("OwnershipEvents(all) kept %d events, want 6", len(got))
	}
}

func TestStatusText(t *testing.T) {
	head := &release.Head{
		Name: "web", Namespace: "ns", Revision: 2, Deployed: 1, Status: release.StatusPendingUpgrade,
		Inventory: []release.ObjectRef{{Kind: "ConfigMap", Namespace: "ns", Name: "a"}},
		Lock: &release.Lock{Holder: "bob@laptop (pid 7)", User: "bob", Operation: "upgrade",
			Started: t0, Renewed: t0, Expires: t0.Add(2 * time.Minute)},
	}
	rev := &release.Revision{
		Name: "web", Namespace: "ns", Revision: 2, Status: release.StatusPendingUpgrade, Started: t0,
		Chart: release.ChartInfo{Name: "web", Version: "0.2.0", AppVersion: "2"}, Description: "Upgrade in progress",
		Notes: "  Visit http://web\n", Inventory: []release.ObjectRef{{Kind: "Secret", Namespace: "ns", Name: "b"}},
	}
	if diff := cmp.Diff(head.Inventory, Inventory(head, rev)); diff != "" {
		t.Errorf("Inventory of the head's revision (-want +got):\n%s", diff)
	}
	old := &release.Revision{Revision: 1, Inventory: []release.ObjectRef{{Kind: "Secret", Name: "b"}}}
	if diff := cmp.Diff(old.Inventory, Inventory(head, old)); diff != "" {
		t.Errorf("Inventory of an older revision (-want +got):\n%s", diff)
	}

	s := NewStatusView(head, rev, t0.Add(time.Minute))
	s.Webhook = WebhookState{Message: "not installed: nothing blocks writes from other tools"}
	s.Resources = []ObjectStatus{
		{ObjectRef: release.ObjectRef{Group: "apps", Kind: "Deployment", Namespace: "ns", Name: "web"}, Status: "Current", Message: "Deployment is available. Replicas: 1"},
		{ObjectRef: release.ObjectRef{Group: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "web"}, Status: StatusMissing},
	}
	s.Events = []OwnershipEvent{{Time: t0, Reason: "Blocked", Message: "user alice changed spec.replicas via kubectl-edit", Count: 3}}
	tested := &wire.TestResult{Phase: wire.TestFailed, Started: t0.Add(-time.Hour), Completed: t0.Add(-time.Hour + time.Minute), Hooks: []wire.TestHook{
		{Name: "web-test-db", Kind: "Job", Phase: wire.TestSucceeded, Started: t0.Add(-time.Hour), Completed: t0.Add(-time.Hour + 30*time.Second)},
		{Name: "web-test-http", Kind: "Pod", Phase: wire.TestFailed, Started: t0.Add(-time.Hour + 30*time.Second), Completed: t0.Add(-time.Hour + time.Minute), Message: "pod failed"},
	}}
	deployed := &release.Revision{Revision: 1, Status: release.StatusDeployed, Operation: "install",
		Started: t0.Add(-2 * time.Hour), Updated: t0.Add(-2*time.Hour + 42*time.Second), StatusMoved: true, Test: tested}
	s.SetHistory([]*release.Revision{deployed, rev}, MaxLastOperations, head.Deployed, false)
	want := `NAME: web
LAST DEPLOYED: Wed Mar  4 05:06:07 2026
NAMESPACE: ns
STATUS: pending-upgrade
REVISION: 2
CHART: web-0.2.0
APPLIED BY: -
DESCRIPTION: Upgrade in progress
LOCK: held by bob@laptop (pid 7) (user bob) running upgrade since Wed Mar  4 05:06:07 2026; expires at Wed Mar  4 05:08:07 2026 unless renewed (--force-unlock takes it now)
WEBHOOK: not installed: nothing blocks writes from other tools
LAST OPERATIONS:
REVISION	OPERATION	STATUS         	DURATION	STARTED                 
2       	-        	pending-upgrade	-       	Wed Mar  4 05:06:07 2026
1       	install  	deployed       	42s     	Wed Mar  4 03:06:07 2026
RESOURCES:
KIND                                 	NAMESPACE	NAME	STATUS 	MESSAGE                             
Deployment.apps                      	ns       	web 	Current	Deployment is available. Replicas: 1
ClusterRole.rbac.authorization.k8s.io	-        	web 	missing	                                    

BLOCKED AND BREAK-GLASS WRITES:
  Wed Mar  4 05:06:07 2026  Blocked (x3): user alice changed spec.replicas via kubectl-edit

TESTED REVISION: 1 (deployed)
TEST SUITE:     web-test-db
Last Started:   Wed Mar  4 04:06:07 2026
Last Completed: Wed Mar  4 04:06:37 2026
Phase:          Succeeded
TEST SUITE:     web-test-http
Last Started:   Wed Mar  4 04:06:37 2026
Last Completed: Wed Mar  4 04:07:07 2026
Phase:          Failed
NOTES:
Visit http://web
`
	if diff := cmp.Diff(want, s.Text(time.UTC)); diff != "" {
		t.Errorf("Text (-want +got):\n%s", diff)
	}

	expired := NewStatusView(head, nil, t0.Add(time.Hour))
	wantExpired := &StatusView{
		Name: "web", Namespace: "ns", Revision: 2, Status: release.StatusPendingUpgrade, Chart: "-",
		Resources: []ObjectStatus{},
		Lock: &LockView{Holder: "bob@laptop (pid 7)", User: "bob", Operation: "upgrade",
			Started: t0, Expires: t0.Add(2 * time.Minute), Expired: true},
	}
	if diff := cmp.Diff(wantExpired, expired); diff != "" {
		t.Errorf("NewStatusView without a revision (-want +got):\n%s", diff)
	}
}

// TestTestText: helm test's output, laid out as Helm v4.3.1's status
// printer writes it (pkg/cmd/status.go: NAME … DESCRIPTION, one TEST SUITE
// block per hook that started; helm test shows no notes). Written from
// Helm's format strings; the comparison with a Helm run is internal/cmd's
// TestReleaseTestHelm.
func TestTestText(t *testing.T) {
	r := &release.Revision{Name: "web", Namespace: "ns", Revision: 3, Status: release.StatusDeployed, Started: t0,
		Description: "Upgrade complete", Notes: "Visit http://web\n"}
	wantNone := `NAME: web
LAST DEPLOYED: Wed Mar  4 05:06:07 2026
NAMESPACE: ns
STATUS: deployed
REVISION: 3
DESCRIPTION: Upgrade complete
TEST SUITE: None
`
	if diff := cmp.Diff(wantNone, TestText(r, time.UTC)); diff != "" {
		t.Errorf("TestText without a run (-want +got):\n%s", diff)
	}
	r.Test = &wire.TestResult{Phase: wire.TestSucceeded, Hooks: []wire.TestHook{
		{Name: "never-started", Phase: wire.TestSucceeded},
		{Name: "web-test", Kind: "Pod", Phase: wire.TestSucceeded, Started: t0, Completed: t0.Add(2 * time.Second)},
	}}
	want := `NAME: web
LAST DEPLOYED: Wed Mar  4 05:06:07 2026
NAMESPACE: ns
STATUS: deployed
REVISION: 3
DESCRIPTION: Upgrade complete
TEST SUITE:     web-test
Last Started:   Wed Mar  4 05:06:07 2026
Last Completed: Wed Mar  4 05:06:09 2026
Phase:          Succeeded
`
	if diff := cmp.Diff(want, TestText(r, time.UTC)); diff != "" {
		t.Errorf("TestText (-want +got):\n%s", diff)
	}
}

func TestSetHistory(t *testing.T) {
	var revs []*release.Revision
	for n := 1; n <= 7; n++ {
		revs = append(revs, &release.Revision{Revision: n, Status: release.StatusSuperseded, Operation: "upgrade", Started: t0.Add(time.Duration(n) * time.Minute)})
	}
	revs[6].Status, revs[6].Updated, revs[6].StatusMoved = release.StatusDeployed, revs[6].Started.Add(5*time.Second), true
	revs[5].Test = &wire.TestResult{Phase: wire.TestSucceeded}
	s := &StatusView{Revision: 7}
	s.SetHistory(revs, MaxLastOperations, 7, false)
	var got []int
	for _, op := range s.LastOperations {
		got = append(got, op.Revision)
	}
	if diff := cmp.Diff([]int{7, 6, 5, 4, 3}, got); diff != "" {
		t.Errorf("LastOperations (-want +got):\n%s", diff)
	}
	if s.LastOperations[0].Duration != "5s" || s.LastOperations[1].Duration != "" {
		t.Errorf("durations %q, %q; want 5s, and none for a superseded revision", s.LastOperations[0].Duration, s.LastOperations[1].Duration)
	}
	if s.TestSuite != nil {
		t.Errorf("TestSuite %+v: the shown revision is the deployed one and was never tested", s.TestSuite)
	}
	asked := &StatusView{Revision: 6}
	asked.SetHistory(revs, 0, 7, true)
	if len(asked.LastOperations) != 7 || asked.TestSuite != nil {
		t.Errorf("--revision 6: %d operations, suite %+v; want all 7, and the suite NewStatusView set (none here)", len(asked.LastOperations), asked.TestSuite)
	}
}
