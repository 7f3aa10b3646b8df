package webhook

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/kubectl-chart/kubectl-chart/pkg/ownership"
	"github.com/kubectl-chart/kubectl-chart/pkg/release/wire"
)

var t0 = time.Date(2026, 12, 6, 8, 0, 0, 0, time.UTC)

func recordObject(status string, created time.Time, annotations map[string]string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetAPIVersion("v1")
	u.SetKind("Secret")
	u.SetNamespace("apps")
	u.SetName(ownership.RevisionChunkName("web", 2, 0))
	u.SetLabels(map[string]string{
		ownership.LabelRelease: "web", ownership.LabelRecord: ownership.RecordRevision,
		ownership.LabelRevision: "2", ownership.LabelChunk: "0", ownership.LabelStatus: status,
	})
	u.SetAnnotations(annotations)
	u.SetCreationTimestamp(metav1.NewTime(created))
	return u
}

func headObject(status, lock string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetAPIVersion("v1")
	u.SetKind("ConfigMap")
	u.SetNamespace("apps")
	u.SetName(ownership.HeadName("web"))
	u.SetLabels(map[string]string{ownership.LabelRelease: "web", ownership.LabelRecord: ownership.RecordHead})
	data := map[string]any{wire.HeadKeyStatus: status}
	if lock != "" {
		data[wire.HeadKeyLock] = lock
	}
	u.Object["data"] = data
	return u
}

func TestReleaseEvents(t *testing.T) {
	lock := `{"holder":"ci@runner (pid 1)","operation":"uninstall","started":"2026-12-06T07:59:30Z","renewed":"2026-12-06T07:59:30Z","expires":"2026-12-06T08:01:30Z","id":"x"}`
	// test is a result of two hooks, the first failed ones failed; ran says
	// which hooks ran in this run (the others keep an earlier result).
	test := func(phase string, failed int, ran ...bool) string {
		res := `{"phase":"` + phase + `","started":"2026-12-06T07:59:00Z","completed":"2026-12-06T07:59:10Z","hooks":[`
		for i := range 2 {
			p := wire.TestSucceeded
			if i < failed {
				p = wire.TestFailed
			}
			started := "2026-12-06T07:59:01Z"
			if len(ran) > i && !ran[i] {
				started = "2026-12-06T07:00:00Z"
			}
			if i > 0 {
				res += ","
			}
			res += `{"name":"t` + string(rune('0'+i)) + `","kind":"Pod","phase":"` + p + `","started":"` + started + `"}`
		}
		return res + "]}"
	}
	cases := []struct {
		name     string
		op       string
		old, new *unstructured.Unstructured
		denied   *ownership.Decision
		manager  string
		dryRun   bool
		want     string // the text exposition of the changed families
	}{{
		name: "upgrade deployed, timed from the record's creation",
		op:   ownership.OperationUpdate,
		old:  recordObject("pending-upgrade", t0.Add(-42*time.Second), nil),
		new:  recordObject("deployed", t0.Add(-42*time.Second), nil),
		want: `chart_release_operations_total{namespace="apps",operation="upgrade",outcome="deployed",release="web"} 1
chart_release_operation_duration_seconds_sum{namespace="apps",operation="upgrade",outcome="deployed",release="web"} 42`,
	}, {
		name: "install failed by a hook",
		op:   ownership.OperationUpdate,
		old:  recordObject("pending-install", t0.Add(-3*time.Second), nil),
		new:  recordObject("failed", t0.Add(-3*time.Second), map[string]string{wire.AnnotationFailedHook: "post-install"}),
		want: `chart_release_hook_failures_total{event="post-install",namespace="apps",release="web"} 1
chart_release_operations_total{namespace="apps",operation="install",outcome="failed",release="web"} 1
chart_release_operation_duration_seconds_sum{namespace="apps",operation="install",outcome="failed",release="web"} 3`,
	}, {
		name:   "a dry run counts nothing",
		op:     ownership.OperationUpdate,
		old:    recordObject("pending-rollback", t0, nil),
		new:    recordObject("deployed", t0, nil),
		dryRun: true,
	}, {
		name: "deployed to superseded is no operation",
		op:   ownership.OperationUpdate,
		old:  recordObject("deployed", t0, nil),
		new:  recordObject("superseded", t0, nil),
	}, {
		name: "a failed test run",
		op:   ownership.OperationUpdate,
		old:  recordObject("deployed", t0, nil),
		new:  recordObject("deployed", t0, map[string]string{wire.AnnotationTest: test(wire.TestFailed, 1)}),
		want: `chart_release_hook_failures_total{event="test",namespace="apps",release="web"} 1
chart_release_tests_total{namespace="apps",outcome="failed",release="web"} 1`,
	}, {
		name: "a run of the second test only (--filter): the first one's earlier failure is not this run's",
		op:   ownership.OperationUpdate,
		old:  recordObject("deployed", t0, map[string]string{wire.AnnotationTest: test(wire.TestFailed, 1)}),
		new:  recordObject("deployed", t0, map[string]string{wire.AnnotationTest: test(wire.TestFailed, 1, false, true)}),
		want: `chart_release_tests_total{namespace="apps",outcome="succeeded",release="web"} 1`,
	}, {
		name: "the same test result written again is not a run",
		op:   ownership.OperationUpdate,
		old:  recordObject("deployed", t0, map[string]string{wire.AnnotationTest: test(wire.TestSucceeded, 0)}),
		new:  recordObject("deployed", t0, map[string]string{wire.AnnotationTest: test(wire.TestSucceeded, 0), "x": "y"}),
	}, {
		name: "uninstall: the head deleted while uninstalling, timed from its lock",
		op:   ownership.OperationDelete,
		old:  headObject("uninstalling", lock),
		want: `chart_release_operations_total{namespace="apps",operation="uninstall",outcome="uninstalled",release="web"} 1
chart_release_operation_duration_seconds_sum{namespace="apps",operation="uninstall",outcome="uninstalled",release="web"} 30`,
	}, {
		name: "uninstall --keep-history that failed",
		op:   ownership.OperationUpdate,
		old:  headObject("uninstalling", lock),
		new:  headObject("failed", lock),
		want: `chart_release_operations_total{namespace="apps",operation="uninstall",outcome="failed",release="web"} 1
chart_release_operation_duration_seconds_sum{namespace="apps",operation="uninstall",outcome="failed",release="web"} 30`,
	}, {
		name:    "a denied kubectl edit",
		op:      ownership.OperationUpdate,
		old:     ownedObject(nil),
		new:     ownedObject(map[string]any{"k": "edited"}),
		denied:  &ownership.Decision{Reason: ownership.ReasonOwnedFieldsChanged},
		manager: "kubectl-edit",
		want:    `chart_webhook_blocked_writes_total{client="kubectl",manager="kubectl-edit",namespace="apps",reason="OwnedFieldsChanged",release="web"} 1`,
	}, {
		name:   "a denied write without a field manager: the one the API server recorded",
		op:     ownership.OperationUpdate,
		old:    ownedObject(nil),
		new:    withManager(ownedObject(map[string]any{"k": "edited"}), "argocd-application-controller", t0),
		denied: &ownership.Decision{Reason: ownership.ReasonOwnedFieldsChanged},
		want:   `chart_webhook_blocked_writes_total{client="argocd",manager="argocd-application-controller",namespace="apps",reason="OwnedFieldsChanged",release="web"} 1`,
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			m, err := NewMetrics(reg)
			if err != nil {
				t.Fatal(err)
			}
			h := &Handler{opts: Options{Metrics: m}, now: func() time.Time { return t0 }}
			r := ownership.Request{Operation: c.op, Old: c.old, New: c.new, FieldManager: c.manager}
			u := c.new
			if u == nil {
				u = c.old
			}
			r.Kind = ownership.ObjectRef{Kind: u.GetKind(), Namespace: "apps", Name: u.GetName()}
			a := answer{request: r, releaseName: "web", release: ownership.ObjectRef{Kind: "ConfigMap", Namespace: "apps", Name: ownership.HeadName("web")}}
			switch u.GetLabels()[ownership.LabelRecord] {
			case ownership.RecordHead:
				a.target = targetHead
			case ownership.RecordRevision:
				a.target = targetRecord
			}
			a.resp = admission.Allowed("")
			if c.denied != nil {
				a.decision, a.resp = c.denied, admission.Denied("no")
			}
			req := admission.Request{}
			req.DryRun = &c.dryRun
			h.releaseEvents(req, a)
			want := strings.Split(c.want, "\n")
			sort.Strings(want)
			if diff := cmp.Diff(strings.Join(want, "\n"), exposition(t, reg)); diff != "" {
				t.Errorf("metrics (-want +got):\n%s", diff)
			}
		})
	}
}

func ownedObject(data map[string]any) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap"}}
	u.SetNamespace("apps")
	u.SetName("settings")
	u.SetLabels(map[string]string{ownership.LabelRelease: "web"})
	if data != nil {
		u.Object["data"] = data
	}
	return u
}

func withManager(u *unstructured.Unstructured, manager string, at time.Time) *unstructured.Unstructured {
	u.SetManagedFields([]metav1.ManagedFieldsEntry{
		{Manager: ownership.FieldManager, Operation: metav1.ManagedFieldsOperationApply, Time: &metav1.Time{Time: at.Add(-time.Hour)}},
		{Manager: manager, Operation: metav1.ManagedFieldsOperationUpdate, Time: &metav1.Time{Time: at}},
	})
	return u
}

// exposition is every counter's value and every histogram's sum in reg, one
// `name{labels} value` line each, sorted (the zero-valued families left out).
func exposition(t *testing.T, reg *prometheus.Registry) string {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, f := range families {
		for _, m := range f.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"=\""+l.GetValue()+"\"")
			}
			name, v := f.GetName(), 0.0
			switch {
			case m.GetCounter() != nil:
				v = m.GetCounter().GetValue()
			case m.GetHistogram() != nil && m.GetHistogram().GetSampleCount() > 0:
				name, v = name+"_sum", m.GetHistogram().GetSampleSum()
			default:
				continue
			}
			lines = append(lines, fmt.Sprintf("%s{%s} %g", name, strings.Join(labels, ","), v))
		}
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

func TestClientOf(t *testing.T) {
	for in, want := range map[string]string{
		"kubectl-edit": "kubectl", "kubectl-client-side-apply": "kubectl", "helm": "helm",
		"argocd-application-controller": "argocd", "Go-http-client": "go", "": "unknown", "-x": "other",
		"kube-controller-manager": "kube",
	} {
		if got := clientOf(in); got != want {
			t.Errorf("clientOf(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestBoundedSet(t *testing.T) {
	s := newBoundedSet(2)
	for _, c := range []struct{ in, want string }{
		{"a", "a"}, {"b", "b"}, {"a", "a"}, {"c", "other"}, {"", "unknown"}, {"bad value!", "other"},
	} {
		if got := s.value(c.in); got != c.want {
			t.Errorf("value(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// headList is a head cache listing fixed ConfigMaps.
type headList []corev1.ConfigMap

func (headList) Get(context.Context, client.ObjectKey, client.Object, ...client.GetOption) error {
	return nil
}

func (l headList) List(_ context.Context, list client.ObjectList, _ ...client.ListOption) error {
	list.(*corev1.ConfigMapList).Items = append([]corev1.ConfigMap(nil), l...)
	return nil
}

func TestReleaseCollector(t *testing.T) {
	head := func(name, status, chart, lock string) corev1.ConfigMap {
		cm := corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: ownership.HeadName(name), Namespace: "apps", Labels: map[string]string{
				ownership.LabelRelease: name, ownership.LabelRecord: ownership.RecordHead,
			}},
			Data: map[string]string{wire.HeadKeyStatus: status},
		}
		if chart != "" {
			cm.Data[wire.HeadKeyChart] = chart
		}
		if lock != "" {
			cm.Data[wire.HeadKeyLock] = lock
		}
		return cm
	}
	heads := headList{
		head("web", "deployed", `{"name":"web","version":"1.2.0","appVersion":"2.0"}`, ""),
		head("db", "pending-upgrade", `{"name":"postgresql","version":"16.0.1"}`,
			`{"holder":"ci","operation":"upgrade","started":"2026-12-06T07:50:00Z","renewed":"2026-12-06T07:55:00Z","expires":"2026-12-06T07:57:00Z","id":"x"}`),
		head("old", "deployed", "", `{"operation":"rm -rf","started":"2026-12-06T07:59:00Z","expires":"2026-12-06T08:01:00Z"}`),
	}
	c := NewReleaseCollector(heads, func() time.Time { return t0 })
	want := `
# HELP chart_release_info The release's status and the chart of its last revision (1 per release).
# TYPE chart_release_info gauge
chart_release_info{app_version="",chart="",namespace="apps",release="old",status="deployed",version=""} 1
chart_release_info{app_version="",chart="postgresql",namespace="apps",release="db",status="pending-upgrade",version="16.0.1"} 1
chart_release_info{app_version="2.0",chart="web",namespace="apps",release="web",status="deployed",version="1.2.0"} 1
# HELP chart_release_lock_age_seconds Seconds since the operation holding the release's lock took it (releases holding a lock only).
# TYPE chart_release_lock_age_seconds gauge
chart_release_lock_age_seconds{namespace="apps",operation="other",release="old"} 60
chart_release_lock_age_seconds{namespace="apps",operation="upgrade",release="db"} 600
# HELP chart_release_lock_expired_seconds Seconds since the release's lock expired without being released (0 while it holds): above 0, the operation died and the release stays pending until the next one.
# TYPE chart_release_lock_expired_seconds gauge
chart_release_lock_expired_seconds{namespace="apps",operation="other",release="old"} 0
chart_release_lock_expired_seconds{namespace="apps",operation="upgrade",release="db"} 180
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), MetricReleaseInfo, MetricLockAge, MetricLockExpired); err != nil {
		t.Error(err)
	}
}
