package webhook

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/kubectl-chart/kubectl-chart/pkg/ownership"
	"github.com/kubectl-chart/kubectl-chart/pkg/release/wire"
)

// Operation names of the release metrics.
const (
	opInstall   = "install"
	opUpgrade   = "upgrade"
	opRollback  = "rollback"
	opUninstall = "uninstall"
)

// pendingOperation is the operation a pending status belongs to.
var pendingOperation = map[wire.Status]string{
	wire.StatusPendingInstall:  opInstall,
	wire.StatusPendingUpgrade:  opUpgrade,
	wire.StatusPendingRollback: opRollback,
}

// releaseEvents counts what an allowed (or denied) request says of a
// release's deploys, from the request alone: the records and heads carry
// their own timestamps, so that any replica counts the same thing for the
// same write, whichever replica saw the record created.
//
//   - A revision record whose status moves from pending-install|upgrade|
//     rollback to deployed or failed: a finished operation, timed from the
//     record's creationTimestamp (set by the API server) to now.
//   - A head whose status moves from uninstalling to uninstalled or
//     failed, or that is deleted while uninstalling (uninstall without
//     --keep-history): a finished uninstall, timed from its lock's start.
//   - A record's failed-hook annotation appearing: a hook failure.
//   - A record's test annotation changing: a test run, and the hooks of
//     that run that failed.
//   - A denial: a blocked write.
//
// Dry runs count nothing. A write allowed here may still fail later (a
// later webhook, etcd): rare enough for rates, and never double-counted,
// since a retried write starts from the stored object.
func (h *Handler) releaseEvents(req admission.Request, a answer) {
	m := h.opts.Metrics
	if m == nil || (req.DryRun != nil && *req.DryRun) || a.releaseName == "" {
		return
	}
	r := a.request
	if !a.resp.Allowed {
		if d := a.decision; d != nil && !d.Allowed {
			m.blocked(a.release.Namespace, a.releaseName, d.Reason, managerOf(r))
		}
		return
	}
	now := h.now()
	switch {
	case a.target == targetRecord:
		if r.Operation != ownership.OperationUpdate || r.Old == nil || r.New == nil {
			return
		}
		ns := r.Kind.Namespace
		from, to := wire.Status(r.Old.GetLabels()[ownership.LabelStatus]), wire.Status(r.New.GetLabels()[ownership.LabelStatus])
		if op := pendingOperation[from]; op != "" && from != to && (to == wire.StatusDeployed || to == wire.StatusFailed) {
			m.operation(ns, a.releaseName, op, string(to), now.Sub(r.New.GetCreationTimestamp().Time))
		}
		oldAnn, newAnn := r.Old.GetAnnotations(), r.New.GetAnnotations()
		if ev := newAnn[wire.AnnotationFailedHook]; ev != "" && oldAnn[wire.AnnotationFailedHook] == "" {
			m.releases.hookFailures(ns, a.releaseName, hookEvent(ev), 1)
		}
		if t := newAnn[wire.AnnotationTest]; t != "" && t != oldAnn[wire.AnnotationTest] {
			m.testRun(ns, a.releaseName, t)
		}
	case a.target == targetHead:
		if r.Old == nil || headStatus(r.Old) != wire.StatusUninstalling {
			return
		}
		outcome := ""
		switch {
		case r.Operation == ownership.OperationDelete:
			outcome = string(wire.StatusUninstalled)
		case r.New != nil && (headStatus(r.New) == wire.StatusUninstalled || headStatus(r.New) == wire.StatusFailed):
			outcome = string(headStatus(r.New))
		default:
			return
		}
		var took time.Duration
		if l, ok := headLock(r.Old); ok && !l.Started.IsZero() {
			took = now.Sub(l.Started)
		}
		m.operation(r.Kind.Namespace, a.releaseName, opUninstall, outcome, took)
	}
}

// testRun counts the test run a record's test annotation (wire.TestResult)
// reports. The result keeps, for the tests a run skipped (--filter, or
// after a failure), their earlier results: only the hooks that started
// with this run (at or after its start) are this run's.
func (m *Metrics) testRun(namespace, release, annotation string) {
	var res wire.TestResult
	if json.Unmarshal([]byte(annotation), &res) != nil {
		return
	}
	ran, failed := 0, 0
	for _, hook := range res.Hooks {
		if hook.Started.IsZero() || hook.Started.Before(res.Started) {
			continue
		}
		ran++
		if hook.Phase != wire.TestSucceeded {
			failed++
		}
	}
	if ran == 0 {
		return
	}
	outcome := "succeeded"
	if failed > 0 {
		outcome = "failed"
		m.releases.hookFailures(namespace, release, "test", failed)
	}
	m.releases.test(namespace, release, outcome)
}

// hookEvents are the events a hook-failure label may name.
var hookEvents = map[string]bool{
	"pre-install": true, "post-install": true, "pre-upgrade": true, "post-upgrade": true,
	"pre-rollback": true, "post-rollback": true, "pre-delete": true, "post-delete": true, "test": true,
}

// lockOperation bounds the operation a lock names (the client writes it).
func lockOperation(op string) string {
	switch op {
	case opInstall, opUpgrade, opRollback, opUninstall, "test", "import-helm", "export-helm":
		return op
	}
	return "other"
}

func hookEvent(ev string) string {
	if hookEvents[ev] {
		return ev
	}
	return "other"
}

// managerOf is the field manager of a write: the one the client named, else
// the one the API server recorded in the new object's managedFields for
// this write (it names it after the client's user agent), else the user
// agent the old object's newest entry does not explain: unknown.
func managerOf(r ownership.Request) string {
	if r.FieldManager != "" {
		return r.FieldManager
	}
	if r.New == nil {
		return ""
	}
	old := map[string]string{}
	if r.Old != nil {
		for _, e := range r.Old.GetManagedFields() {
			if e.Time != nil {
				old[e.Manager+"\x00"+string(e.Operation)+"\x00"+e.Subresource] = e.Time.String()
			}
		}
	}
	var newest string
	var at time.Time
	for _, e := range r.New.GetManagedFields() {
		if e.Time == nil {
			continue
		}
		key := e.Manager + "\x00" + string(e.Operation) + "\x00" + e.Subresource
		if old[key] == e.Time.String() {
			continue
		}
		if newest == "" || e.Time.After(at) {
			newest, at = e.Manager, e.Time.Time
		}
	}
	return newest
}

func headStatus(u *unstructured.Unstructured) wire.Status {
	s, _, _ := unstructured.NestedString(u.Object, "data", wire.HeadKeyStatus)
	return wire.Status(s)
}

func headLock(u *unstructured.Unstructured) (wire.Lock, bool) {
	var l wire.Lock
	s, ok, _ := unstructured.NestedString(u.Object, "data", wire.HeadKeyLock)
	if !ok || s == "" || json.Unmarshal([]byte(s), &l) != nil {
		return l, false
	}
	return l, true
}

// releaseCollector exports the state of every release as the webhook's head
// cache holds it, computed at each scrape: chart_release_info (status,
// chart and version), and the age and expiry of held locks. Every replica
// exports the same series: aggregate with max by (namespace, release).
type releaseCollector struct {
	heads  client.Reader
	now    func() time.Time
	errors prometheus.Counter

	info, lockAge, lockExpired *prometheus.Desc
}

// NewReleaseCollector returns the collector of release gauges reading heads
// (an informer cache of head ConfigMaps, as Options.Heads).
func NewReleaseCollector(heads client.Reader, now func() time.Time) prometheus.Collector {
	if now == nil {
		now = time.Now
	}
	release := []string{"namespace", "release"}
	return &releaseCollector{
		heads: heads,
		now:   now,
		errors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: MetricCollectorErrors,
			Help: "Scrapes whose release gauges could not be computed: the head cache could not be listed.",
		}),
		info: prometheus.NewDesc(MetricReleaseInfo,
			"The release's status and the chart of its last revision (1 per release).",
			append(release, "status", "chart", "version", "app_version"), nil),
		lockAge: prometheus.NewDesc(MetricLockAge,
			"Seconds since the operation holding the release's lock took it (releases holding a lock only).",
			append(release, "operation"), nil),
		lockExpired: prometheus.NewDesc(MetricLockExpired,
			"Seconds since the release's lock expired without being released (0 while it holds): above 0, the operation died and the release stays pending until the next one.",
			append(release, "operation"), nil),
	}
}

func (c *releaseCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.info
	ch <- c.lockAge
	ch <- c.lockExpired
	c.errors.Describe(ch)
}

func (c *releaseCollector) Collect(ch chan<- prometheus.Metric) {
	defer c.errors.Collect(ch)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var list corev1.ConfigMapList
	// Read only: the cache's own objects, not a deep copy of every head at
	// every scrape.
	if err := c.heads.List(ctx, &list, client.MatchingLabels{ownership.LabelRecord: ownership.RecordHead}, client.UnsafeDisableDeepCopy); err != nil {
		c.errors.Inc()
		return
	}
	now := c.now()
	for i := range list.Items {
		cm := &list.Items[i]
		name := cm.Labels[ownership.LabelRelease]
		if name == "" || !strings.HasPrefix(cm.Name, ownership.HeadName("")) {
			continue
		}
		var chart wire.ChartRef
		if v := cm.Data[wire.HeadKeyChart]; v != "" {
			_ = json.Unmarshal([]byte(v), &chart) // a head without it names no chart
		}
		ch <- prometheus.MustNewConstMetric(c.info, prometheus.GaugeValue, 1,
			cm.Namespace, name, cm.Data[wire.HeadKeyStatus], chart.Name, chart.Version, chart.AppVersion)
		v, ok := cm.Data[wire.HeadKeyLock]
		if !ok || v == "" {
			continue
		}
		var l wire.Lock
		if json.Unmarshal([]byte(v), &l) != nil {
			continue
		}
		age := max(now.Sub(l.Started).Seconds(), 0)
		expired := max(now.Sub(l.Expires).Seconds(), 0)
		op := lockOperation(l.Operation)
		ch <- prometheus.MustNewConstMetric(c.lockAge, prometheus.GaugeValue, age, cm.Namespace, name, op)
		ch <- prometheus.MustNewConstMetric(c.lockExpired, prometheus.GaugeValue, expired, cm.Namespace, name, op)
	}
}
