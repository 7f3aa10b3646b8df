package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	goruntime "runtime"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	admissionv1 "k8s.io/api/admission/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/record"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/kubectl-chart/kubectl-chart/internal/webhook"
	"github.com/kubectl-chart/kubectl-chart/pkg/ownership"
	"github.com/kubectl-chart/kubectl-chart/pkg/release"
)

// handlerWarmup is the untimed requests per decision before the timed ones.
const handlerWarmup = 200

// decisionCase is one admission request timed in process.
type decisionCase struct {
	name    string
	reason  string // the decision's reason, checked before timing
	req     admission.Request
	allowed bool
	patched bool
	// noRecheck times a handler without the live re-read before a denial.
	noRecheck bool
}

// decisionResult is what the timing of one case gave.
type decisionResult struct {
	decisionCase
	handle, serve [2]time.Duration // p50, p99 of Handle and of ServeHTTP
	allocs        uint64           // bytes allocated per Handle
}

// benchHandler times the handler in process, one case per kind of decision, with requests built from objects
// of a release installed on the cluster (real managedFields) while its deployer holds the lock.
func benchHandler(ctx context.Context, opts options, c *cluster, stdout, stderr io.Writer, sum *summary) error {
	progress(stderr, "handler: installing release web in namespace bench-handler …")
	const ns, name = "bench-handler", "web"
	if err := namespace(ctx, c.admin.cs, ns); err != nil {
		return err
	}
	objs := []object{deployment("web", "nginx:1.27", 2), configMap("web-config", map[string]any{"mode": "production"})}
	if err := c.deployer.install(ctx, ns, name, objs); err != nil {
		return err
	}
	// A release of opts.bigRelease objects: the decision looks the object up in the head's inventory.
	var big []object
	for i := range opts.bigRelease {
		big = append(big, configMap(fmt.Sprintf("big-%04d", i), map[string]any{"k": "v"}))
	}
	if len(big) > 0 {
		progress(stderr, "handler: installing release big (%d ConfigMaps) in namespace bench-handler …", len(big))
		if err := c.deployer.install(ctx, ns, "big", big); err != nil {
			return err
		}
	}
	// An object with the release's labels outside its inventory (a controller copied them) and one without.
	if err := c.admin.apply(ctx, ns, name, configMap("stray", map[string]any{"k": "v"})); err != nil {
		return err
	}
	plain := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "plain", Namespace: ns}, Data: map[string]string{"k": "v"}}
	if _, err := c.admin.cs.CoreV1().ConfigMaps(ns).Create(ctx, plain, metav1.CreateOptions{}); err != nil {
		return err
	}
	unlocked, err := c.admin.cs.CoreV1().ConfigMaps(ns).Get(ctx, ownership.HeadName(name), metav1.GetOptions{})
	if err != nil {
		return err
	}
	// The deployer runs an upgrade meanwhile: the lock is held (and renewed) until the timing is over.
	h, err := c.deployer.store.Acquire(ctx, ns, name, "upgrade", false)
	if err != nil {
		return err
	}
	stopKeepAlive := c.deployer.store.KeepAlive(ctx, h)
	defer func() {
		_ = stopKeepAlive()
		_ = c.deployer.store.Release(context.WithoutCancel(ctx), h)
	}()

	// The webhook's manager, as cmd/webhook builds it, in this process: its cache and API reader feed the
	// handlers timed here.
	mgr, stopMgr, err := startManager(ctx, c)
	if err != nil {
		return err
	}
	defer stopMgr()
	heads := mgr.GetCache()
	if err := wait.PollUntilContextTimeout(ctx, 10*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		var cm corev1.ConfigMap
		err := heads.Get(ctx, types.NamespacedName{Namespace: ns, Name: ownership.HeadName(name)}, &cm)
		return err == nil && cm.Annotations[ownership.AnnotationLockUser] == userDeployer, nil
	}); err != nil {
		return fmt.Errorf("the head cache did not see the deployer's lock: %w", err)
	}

	var bigLast string
	if len(big) > 0 {
		bigLast = big[len(big)-1].name
	}
	cases, err := decisionCases(ctx, c, ns, name, unlocked, bigLast, len(big))
	if err != nil {
		return err
	}
	bc := record.NewBroadcaster()
	defer bc.Shutdown()
	recorder := bc.NewRecorder(clientgoscheme.Scheme, corev1.EventSource{Component: webhook.Component, Host: "bench"})
	newHandler := func(live client.Reader, metrics *webhook.Metrics) (*webhook.Handler, error) {
		return webhook.NewHandler(webhook.Options{
			Config:             ownership.Config{BreakGlassUsers: []string{userCarol}},
			Heads:              heads,
			Live:               live,
			ExcludedNamespaces: webhook.DefaultServerOptions().Excluded(),
			Recorder:           recorder,
			Metrics:            metrics,
		})
	}
	metrics, err := webhook.NewMetrics(nil)
	if err != nil {
		return err
	}
	production, err := newHandler(mgr.GetAPIReader(), metrics)
	if err != nil {
		return err
	}
	noRecheck, err := newHandler(nil, metrics)
	if err != nil {
		return err
	}

	progress(stderr, "handler: timing %d decisions, %d requests each …", len(cases), opts.handlerRequests)
	var timers []*timer
	for _, dc := range cases {
		h := production
		live := client.Reader(mgr.GetAPIReader())
		if dc.noRecheck {
			h, live = noRecheck, nil
		}
		if err := checkCase(ctx, dc, func(m *webhook.Metrics) (*webhook.Handler, error) { return newHandler(live, m) }); err != nil {
			return err
		}
		t, err := newTimer(dc, h, opts.handlerRequests)
		if err != nil {
			return err
		}
		timers = append(timers, t)
	}
	load := loadAverage()
	sum.sawLoad()
	results, err := timeCases(ctx, timers, opts.handlerRequests)
	if err != nil {
		return err
	}
	sum.sawLoad()
	load += " → " + loadAverage()

	fmt.Fprintf(stdout, "1. HANDLER LATENCY IN PROCESS (%d requests per decision after %d untimed, in %d rounds taking the decisions in turn;\n"+
		"   heads from the webhook's informer cache, a live re-read of the head before each denial as --recheck-denials does by\n"+
		"   default, Events and JSON logs written nowhere; load average %s)\n",
		opts.handlerRequests, handlerWarmup, handlerRounds, load)
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "   DECISION\tREASON\tHANDLE p50\tp99\tALLOC/REQ\tSERVEHTTP p50\tp99\tTARGET p99 < 1ms")
	// The worst p99 of the decisions made from the cache alone, and of the denials that read the head again.
	var worst, worstIO decisionResult
	for _, r := range results {
		ok := r.handle[1] < targetHandlerP99
		fmt.Fprintf(tw, "   %s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.name, r.reason, us(r.handle[0]), us(r.handle[1]), kib(r.allocs),
			us(r.serve[0]), us(r.serve[1]), mark(ok))
		w := &worst
		if !r.allowed && !r.noRecheck {
			w = &worstIO
		}
		if r.handle[1] > w.handle[1] {
			*w = r
		}
	}
	tw.Flush()
	fmt.Fprintln(stdout, "   (HANDLE: Handler.Handle; SERVEHTTP: admission.Webhook.ServeHTTP around it, AdmissionReview JSON decoded and the")
	fmt.Fprintln(stdout, "   response with its JSON patch encoded, as the webhook server runs it behind TLS. A denial with the re-read includes")
	fmt.Fprintln(stdout, "   one GET of the head from the API server over loopback.)")
	fmt.Fprintln(stdout)
	sum.add("handler p99, worst decision from the cache ("+worst.name+")", us(worst.handle[1]), "< 1ms", worst.handle[1] < targetHandlerP99)
	sum.add("handler p99, worst denial with its re-read ("+worstIO.name+")", us(worstIO.handle[1]), "< 1ms", worstIO.handle[1] < targetHandlerP99)
	return nil
}

func kib(b uint64) string { return fmt.Sprintf("%.1f KiB", float64(b)/1024) }

// startManager starts webhook.NewManager in this process, as the webhook's ServiceAccount, with its servers
// on free local ports and metrics off, and waits for its cache to sync.
func startManager(ctx context.Context, c *cluster) (manager.Manager, func(), error) {
	addr, err := freeAddress()
	if err != nil {
		return nil, nil, err
	}
	_, port, _ := strings.Cut(addr, ":")
	o := webhook.DefaultServerOptions()
	wo := c.env.Envtest().WebhookInstallOptions
	o.Host, o.CertDir = "127.0.0.1", wo.LocalServingCertDir
	if o.Port, err = strconv.Atoi(port); err != nil {
		return nil, nil, err
	}
	o.MetricsBindAddress, o.HealthProbeBindAddress = "0", "0"
	o.Registry = prometheus.NewRegistry()
	o.BreakGlassUsers = []string{userCarol}
	// The configuration as the binary makes it from a kubeconfig: client-go's default client-side rate limits.
	mgr, err := webhook.NewManager(rest.CopyConfig(c.webhookSA.base), o)
	if err != nil {
		return nil, nil, err
	}
	mctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- mgr.Start(mctx) }()
	stop := func() {
		cancel()
		<-done
	}
	syncCtx, cancelSync := context.WithTimeout(ctx, 60*time.Second)
	defer cancelSync()
	if !mgr.GetCache().WaitForCacheSync(syncCtx) {
		stop()
		return nil, nil, fmt.Errorf("the in-process webhook manager's cache did not sync")
	}
	return mgr, stop, nil
}

// decisionCases builds one request per kind of decision from the release's objects as the API server has
// them. unlocked is the head before the deployer took the lock; bigLast, if set, is the last object of a
// large release of bigN objects.
func decisionCases(ctx context.Context, c *cluster, ns, name string, unlocked *corev1.ConfigMap, bigLast string, bigN int) ([]decisionCase, error) {
	cs := c.admin.cs
	deploy, err := cs.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	deploy.APIVersion, deploy.Kind = "apps/v1", "Deployment"
	get := func(n string) (*corev1.ConfigMap, error) {
		cm, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, n, metav1.GetOptions{})
		if cm != nil {
			cm.APIVersion, cm.Kind = "v1", "ConfigMap"
		}
		return cm, err
	}
	plain, err := get("plain")
	if err != nil {
		return nil, err
	}
	stray, err := get("stray")
	if err != nil {
		return nil, err
	}
	locked, err := get(ownership.HeadName(name))
	if err != nil {
		return nil, err
	}
	unlocked = unlocked.DeepCopy()
	unlocked.APIVersion, unlocked.Kind = "v1", "ConfigMap"
	// What the client sends when it takes the lock: the webhook stamps the user.
	taking := locked.DeepCopy()
	delete(taking.Annotations, ownership.AnnotationLockUser)
	taking.ResourceVersion = unlocked.ResourceVersion

	record, err := cs.CoreV1().Secrets(ns).Get(ctx, ownership.RevisionName(name, 1), metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	record.APIVersion, record.Kind = "v1", "Secret"
	next := record.DeepCopy()
	next.Name = ownership.RevisionName(name, 2)
	next.Labels[ownership.LabelRevision] = "2"
	next.Labels[ownership.LabelStatus] = string(release.StatusPendingUpgrade)
	delete(next.Annotations, ownership.AnnotationAppliedBy)
	next.ResourceVersion, next.UID, next.ManagedFields = "", "", nil
	edited := record.DeepCopy()
	for k, v := range edited.Data {
		edited.Data[k] = append(slices.Clone(v), ' ')
		break
	}

	annotate := func(o client.Object) client.Object {
		o = o.DeepCopyObject().(client.Object)
		a := o.GetAnnotations()
		if a == nil {
			a = map[string]string{}
		}
		a["example.com/note"] = "x"
		o.SetAnnotations(a)
		return o
	}
	scaled := deploy.DeepCopy()
	scaled.Spec.Replicas = new(int32)
	*scaled.Spec.Replicas = 9
	unlabelled := deploy.DeepCopy()
	delete(unlabelled.Labels, ownership.LabelRelease)

	req := func(op admissionv1.Operation, group, kind, user string, old, obj runtime.Object, manager string) (admission.Request, error) {
		return admissionRequest(op, group, kind, user, old, obj, manager)
	}
	type spec struct {
		name, reason      string
		op                admissionv1.Operation
		group, kind, user string
		old, obj          runtime.Object
		manager           string
		allowed, patched  bool
		noRecheck         bool
	}
	specs := []spec{
		{"allow: unlabelled object", ownership.ReasonNotOwned, admissionv1.Update, "", "ConfigMap", userAlice, plain, annotate(plain), "kubectl-annotate", true, false, false},
		{"allow: another user, new annotation", ownership.ReasonNotOwned, admissionv1.Update, "apps", "Deployment", userAlice, deploy, annotate(deploy), "kubectl-annotate", true, false, false},
		{"allow: the release's operation", ownership.ReasonLockHolder, admissionv1.Update, "apps", "Deployment", userDeployer, deploy, scaled, ownership.FieldManager, true, false, false},
		{"allow: labels copied, not in inventory", ownership.ReasonNotInInventory, admissionv1.Update, "", "ConfigMap", userAlice, stray, annotate(stray), "kubectl-annotate", true, false, false},
		{"allow: break-glass user", ownership.ReasonBreakGlass, admissionv1.Update, "apps", "Deployment", userCarol, deploy, scaled, "kubectl-edit", true, false, false},
		{"stamp: head lock taken", ownership.ReasonLockTaken, admissionv1.Update, "", "ConfigMap", userDeployer, unlocked, taking, ownership.FieldManager, true, true, false},
		{"stamp: revision record created", ownership.ReasonRecordCreated, admissionv1.Create, "", "Secret", userDeployer, nil, next, ownership.FieldManager, true, true, false},
		{"deny: owned field changed", ownership.ReasonOwnedFieldsChanged, admissionv1.Update, "apps", "Deployment", userAlice, deploy, scaled, "kubectl-edit", false, false, false},
		{"deny: owned field, no re-read", ownership.ReasonOwnedFieldsChanged, admissionv1.Update, "apps", "Deployment", userAlice, deploy, scaled, "kubectl-edit", false, false, true},
		{"deny: ownership label removed", ownership.ReasonOwnershipLabelsRemoved, admissionv1.Update, "apps", "Deployment", userAlice, deploy, unlabelled, "kubectl-label", false, false, false},
		{"deny: owned object deleted", ownership.ReasonOwnedObjectDeleted, admissionv1.Delete, "apps", "Deployment", userAlice, deploy, nil, "", false, false, false},
		{"deny: revision record data changed", ownership.ReasonRecordDataChanged, admissionv1.Update, "", "Secret", userAlice, record, edited, "kubectl-edit", false, false, false},
	}
	if bigLast != "" {
		last, err := get(bigLast)
		if err != nil {
			return nil, err
		}
		row := spec{fmt.Sprintf("allow: new annotation, %d-object release", bigN), ownership.ReasonNotOwned, admissionv1.Update, "", "ConfigMap", userAlice, last, annotate(last), "kubectl-annotate", true, false, false}
		specs = slices.Insert(specs, 2, row)
	}
	var cases []decisionCase
	for _, s := range specs {
		r, err := req(s.op, s.group, s.kind, s.user, s.old, s.obj, s.manager)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.name, err)
		}
		cases = append(cases, decisionCase{name: s.name, reason: s.reason, req: r, allowed: s.allowed, patched: s.patched, noRecheck: s.noRecheck})
	}
	return cases, nil
}

// checkCase answers dc once with a handler of its own metrics and checks the answer and the decision's
// reason, so that each row times the decision it names.
func checkCase(ctx context.Context, dc decisionCase, newHandler func(*webhook.Metrics) (*webhook.Handler, error)) error {
	reg := prometheus.NewRegistry()
	m, err := webhook.NewMetrics(reg)
	if err != nil {
		return err
	}
	h, err := newHandler(m)
	if err != nil {
		return err
	}
	resp := h.Handle(ctx, dc.req)
	msg := ""
	if resp.Result != nil {
		msg = resp.Result.Message
	}
	if resp.Allowed != dc.allowed {
		return fmt.Errorf("%s: allowed = %v, want %v (%s): %w", dc.name, resp.Allowed, dc.allowed, msg, errUnexpected)
	}
	if dc.patched != (len(resp.Patches) > 0) {
		return fmt.Errorf("%s: %d patch operations, want a patch: %v: %w", dc.name, len(resp.Patches), dc.patched, errUnexpected)
	}
	families, err := reg.Gather()
	if err != nil {
		return err
	}
	var reasons []string
	for _, f := range families {
		if f.GetName() != webhook.MetricDecisions {
			continue
		}
		for _, s := range f.GetMetric() {
			for _, l := range s.GetLabel() {
				if l.GetName() == "reason" && s.GetCounter().GetValue() > 0 {
					reasons = append(reasons, l.GetValue())
				}
			}
		}
	}
	if len(reasons) != 1 || reasons[0] != dc.reason {
		return fmt.Errorf("%s: decision reasons %q, want %s: %w", dc.name, reasons, dc.reason, errUnexpected)
	}
	return nil
}

// handlerRounds is the number of rounds the timed requests are spread over: each round times every case in
// turn, so that a burst of other work on the machine falls on all of them alike.
const handlerRounds = 10

// timer times one case: Handler.Handle and admission.Webhook.ServeHTTP on the case's request.
type timer struct {
	dc            decisionCase
	h             *webhook.Handler
	wh            *admission.Webhook
	review        []byte // the request as an AdmissionReview
	handle, serve []time.Duration
	allocs        uint64 // bytes allocated by the timed Handle calls
}

func newTimer(dc decisionCase, h *webhook.Handler, n int) (*timer, error) {
	review, err := json.Marshal(admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request:  &dc.req.AdmissionRequest,
	})
	if err != nil {
		return nil, err
	}
	return &timer{dc: dc, h: h, wh: &admission.Webhook{Handler: h}, review: review,
		handle: make([]time.Duration, 0, n), serve: make([]time.Duration, 0, n)}, nil
}

// run answers the case n times with Handle, then n times with ServeHTTP, and records the times when timed.
func (t *timer) run(ctx context.Context, n int, timed bool) error {
	var before, after goruntime.MemStats
	if timed {
		goruntime.ReadMemStats(&before)
	}
	for i := range n {
		start := time.Now()
		resp := t.h.Handle(ctx, t.dc.req)
		took := time.Since(start)
		if resp.Allowed != t.dc.allowed {
			return fmt.Errorf("%s: allowed = %v on request %d: %w", t.dc.name, resp.Allowed, i, errUnexpected)
		}
		if timed {
			t.handle = append(t.handle, took)
		}
	}
	if timed {
		goruntime.ReadMemStats(&after)
		t.allocs += after.TotalAlloc - before.TotalAlloc
	}
	for i := range n {
		r := httptest.NewRequest(http.MethodPost, webhook.PathValidate, bytes.NewReader(t.review))
		r.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		start := time.Now()
		t.wh.ServeHTTP(rec, r)
		took := time.Since(start)
		if i == 0 {
			var review admissionv1.AdmissionReview
			if err := json.Unmarshal(rec.Body.Bytes(), &review); err != nil || review.Response == nil {
				return fmt.Errorf("%s: ServeHTTP: HTTP %d, %q: %w", t.dc.name, rec.Code, rec.Body.String(), errUnexpected)
			}
			if review.Response.Allowed != t.dc.allowed || t.dc.patched != (len(review.Response.Patch) > 0) {
				return fmt.Errorf("%s: ServeHTTP: allowed %v, patch %q: %w", t.dc.name, review.Response.Allowed, review.Response.Patch, errUnexpected)
			}
		}
		if timed {
			t.serve = append(t.serve, took)
		}
	}
	return nil
}

// timeCases times every case n times (Handle and ServeHTTP each), after handlerWarmup untimed requests,
// in handlerRounds rounds that take the cases in turn.
func timeCases(ctx context.Context, timers []*timer, n int) ([]decisionResult, error) {
	for _, t := range timers {
		if err := t.run(ctx, handlerWarmup, false); err != nil {
			return nil, err
		}
	}
	for r := range handlerRounds {
		per := n / handlerRounds
		if r < n%handlerRounds {
			per++
		}
		for _, t := range timers {
			if err := t.run(ctx, per, true); err != nil {
				return nil, err
			}
		}
	}
	out := make([]decisionResult, len(timers))
	for i, t := range timers {
		h, s := percentiles(t.handle, 0.50, 0.99), percentiles(t.serve, 0.50, 0.99)
		out[i] = decisionResult{decisionCase: t.dc, handle: [2]time.Duration{h[0], h[1]}, serve: [2]time.Duration{s[0], s[1]}}
		if len(t.handle) > 0 {
			out[i].allocs = t.allocs / uint64(len(t.handle))
		}
	}
	return out, nil
}

// admissionRequest builds the request the API server would send.
func admissionRequest(op admissionv1.Operation, group, kind, user string, old, obj runtime.Object, manager string) (admission.Request, error) {
	raw := func(o runtime.Object) (runtime.RawExtension, error) {
		if o == nil {
			return runtime.RawExtension{}, nil
		}
		b, err := json.Marshal(o)
		return runtime.RawExtension{Raw: b}, err
	}
	var m metav1.Object = &metav1.ObjectMeta{}
	for _, o := range []runtime.Object{obj, old} {
		if mo, ok := o.(metav1.Object); ok && o != nil {
			m = mo
			break
		}
	}
	var opts runtime.RawExtension
	if manager != "" {
		opts.Raw, _ = json.Marshal(map[string]string{"fieldManager": manager})
	}
	o, err := raw(obj)
	if err != nil {
		return admission.Request{}, err
	}
	oo, err := raw(old)
	if err != nil {
		return admission.Request{}, err
	}
	return admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
		UID:       types.UID("bench"),
		Kind:      metav1.GroupVersionKind{Group: group, Version: "v1", Kind: kind},
		Resource:  metav1.GroupVersionResource{Group: group, Version: "v1", Resource: strings.ToLower(kind) + "s"},
		Name:      m.GetName(),
		Namespace: m.GetNamespace(),
		Operation: op,
		UserInfo:  authenticationv1.UserInfo{Username: user, Groups: []string{"system:authenticated"}},
		Object:    o,
		OldObject: oo,
		Options:   opts,
	}}, nil
}
