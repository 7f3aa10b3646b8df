package webhook

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-chart/kubectl-chart/pkg/ownership"
	"github.com/kubectl-chart/kubectl-chart/pkg/release"
)

// Users of the scenario tests. The API server authenticates each by a
// client certificate (envtest AddUser); all may write anything (RBAC), so
// only the webhook stands between them and what a release owns.
const (
	userDeployer = "deployer" // runs the release's operations (kubectl chart)
	userAlice    = "alice"    // another person with kubectl
	userBob      = "bob"      // on call: member of the break-glass group
	userCarol    = "carol"    // a break-glass user

	breakGlassGroup = "sre-oncall"
	// webhookUser is the webhook's ServiceAccount as RBAC names it: the
	// webhook runs as this user with manifests/rbac.yaml's ClusterRole only.
	webhookUser = "system:serviceaccount:kubectl-chart-system:chart-webhook"
)

// running is the webhook started for this package's tests.
type running struct {
	registry *prometheus.Registry
	probe    string      // host:port of /healthz and /readyz
	heads    cache.Cache // the webhook's informer cache of release heads
}

var (
	webhookOnce sync.Once
	webhookRun  *running
	webhookErr  error
)

// startWebhook starts chart-webhook's manager (NewManager, as cmd/webhook
// runs it) on envtest's local serving address and certificates, as the
// webhook's ServiceAccount with manifests/rbac.yaml's permissions, once
// per package, and waits until it is ready. envtest installed manifests/'
// MutatingWebhookConfiguration (failurePolicy Fail) at start, so writes to
// labelled objects fail until then.
func startWebhook(t testing.TB) *running {
	t.Helper()
	env.Require(t)
	webhookOnce.Do(func() { webhookRun, webhookErr = runWebhook() })
	if webhookErr != nil {
		t.Fatalf("start the webhook: %v", webhookErr)
	}
	return webhookRun
}

func runWebhook() (*running, error) {
	ctx := context.Background()
	if err := applyRBAC(ctx, env.Clientset()); err != nil {
		return nil, err
	}
	te := env.Envtest()
	sa, err := te.AddUser(envtest.User{Name: webhookUser, Groups: []string{"system:serviceaccounts", "system:serviceaccounts:kubectl-chart-system"}}, nil)
	if err != nil {
		return nil, err
	}
	probe, err := freeAddress()
	if err != nil {
		return nil, err
	}
	var logOut io.Writer = io.Discard
	if testing.Verbose() {
		logOut = os.Stderr
	}
	r := &running{registry: prometheus.NewRegistry(), probe: probe}
	wo := te.WebhookInstallOptions
	o := DefaultServerOptions()
	o.Host, o.Port, o.CertDir = wo.LocalServingHost, wo.LocalServingPort, wo.LocalServingCertDir
	o.MetricsBindAddress = "0"
	o.HealthProbeBindAddress = probe
	o.BreakGlassUsers = []string{userCarol}
	o.BreakGlassGroups = []string{breakGlassGroup}
	o.Registry = r.registry
	o.SealKey = testSealKey
	// Short, so that a test that binds a role sees it at once.
	o.AuthorizationDeniedTTL = 100 * time.Millisecond
	o.Logger = zap.New(zap.WriteTo(logOut), zap.UseDevMode(true))
	log.SetLogger(o.Logger)
	cfg := sa.Config()
	cfg.QPS, cfg.Burst = 200, 400
	mgr, err := NewManager(cfg, o)
	if err != nil {
		return nil, err
	}
	r.heads = mgr.GetCache()
	// The webhook runs until envtest stops: the API server does not stop
	// while the webhook's clients hold it (it times out after 20 s), and
	// testcluster.Main offers no hook after the tests, but envtest.Stop
	// removes the serving certificates first: that stops the webhook.
	mctx, cancel := context.WithCancel(ctx)
	go func() {
		for {
			time.Sleep(20 * time.Millisecond)
			if _, err := os.Stat(o.CertDir); os.IsNotExist(err) {
				cancel()
				return
			}
		}
	}()
	go func() {
		if err := mgr.Start(mctx); err != nil {
			fmt.Fprintf(os.Stderr, "webhook manager: %v\n", err)
		}
	}()
	var last string
	err = wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		resp, err := http.Get("http://" + probe + "/readyz?verbose")
		if err != nil {
			last = err.Error()
			return false, nil
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		last = string(body)
		return resp.StatusCode == http.StatusOK, nil
	})
	if err != nil {
		return nil, fmt.Errorf("the webhook did not become ready: %w; /readyz: %s", err, last)
	}
	return r, nil
}

// applyRBAC creates manifests/rbac.yaml's ClusterRole and binding.
func applyRBAC(ctx context.Context, cs kubernetes.Interface) error {
	docs, err := readManifests("rbac.yaml")
	if err != nil {
		return err
	}
	for _, doc := range docs {
		var head metav1.TypeMeta
		if err := yaml.Unmarshal(doc, &head); err != nil {
			return err
		}
		switch head.Kind {
		case "ClusterRole":
			var o rbacv1.ClusterRole
			if err := yaml.UnmarshalStrict(doc, &o); err != nil {
				return err
			}
			_, err = cs.RbacV1().ClusterRoles().Create(ctx, &o, metav1.CreateOptions{})
		case "ClusterRoleBinding":
			var o rbacv1.ClusterRoleBinding
			if err := yaml.UnmarshalStrict(doc, &o); err != nil {
				return err
			}
			_, err = cs.RbacV1().ClusterRoleBindings().Create(ctx, &o, metav1.CreateOptions{})
		default:
			return fmt.Errorf("rbac.yaml: unexpected %s", head.Kind)
		}
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return err
		}
	}
	return nil
}

// testSealKey is the seal key of the webhook of this package's tests (a
// second webhook answering the same API server must use the same).
var testSealKey = []byte("kubectl-chart test seal key, 32b")

// testSealKeyFile writes testSealKey for a chart-webhook process
// (--seal-key-file).
func testSealKeyFile(t testing.TB) string {
	p := filepath.Join(t.TempDir(), "seal.key")
	if err := os.WriteFile(p, testSealKey, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func freeAddress() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// warnings collects the warnings the API server returns to a client.
type warnings struct {
	mu   sync.Mutex
	list []string
}

func (w *warnings) HandleWarningHeader(_ int, _ string, text string) {
	w.mu.Lock()
	w.list = append(w.list, text)
	w.mu.Unlock()
}

func (w *warnings) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	l := w.list
	w.list = nil
	return l
}

// user is a client authenticated as one user.
type user struct {
	name     string
	cs       kubernetes.Interface
	warnings *warnings
}

var (
	usersMu sync.Mutex
	users   = map[string]*user{}
)

// as returns a client for name (in system:masters, plus groups).
func as(t testing.TB, name string, groups ...string) *user {
	t.Helper()
	usersMu.Lock()
	defer usersMu.Unlock()
	if u := users[name]; u != nil {
		return u
	}
	au, err := env.Envtest().AddUser(envtest.User{Name: name, Groups: append([]string{"system:masters"}, groups...)}, nil)
	if err != nil {
		t.Fatalf("add user %s: %v", name, err)
	}
	cfg := au.Config()
	cfg.QPS, cfg.Burst = 500, 1000
	w := &warnings{}
	cfg.WarningHandler = w
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	u := &user{name: name, cs: cs, warnings: w}
	users[name] = u
	return u
}

// fixture is an installed release: a head, revision 1 deployed, and two
// owned objects applied by userDeployer with field manager kubectl-chart.
type fixture struct {
	ns, name string
	store    *release.KubeStore
	deployer *user
}

const (
	deploymentName = "web"
	configMapName  = "web-config"
)

func (f *fixture) inventory() []release.ObjectRef {
	return []release.ObjectRef{
		{Group: "apps", Version: "v1", Kind: "Deployment", Namespace: f.ns, Name: deploymentName},
		{Version: "v1", Kind: "ConfigMap", Namespace: f.ns, Name: configMapName},
	}
}

// install installs release name in a new namespace as the plugin does:
// take the lock, write the inventory and revision 1, apply the objects,
// mark the revision deployed, drop the lock.
func install(t testing.TB, name string) *fixture {
	t.Helper()
	startWebhook(t)
	ctx := t.Context()
	f := &fixture{ns: env.Namespace(t), name: name, deployer: as(t, userDeployer)}
	f.store = release.NewKubeStore(f.deployer.cs, release.KubeStoreOptions{Holder: "deployer@test (pid 1)"})
	h, err := f.store.Acquire(ctx, f.ns, name, "install", false)
	if err != nil {
		t.Fatalf("acquire: %v", err)
	}
	if h.Lock.User != userDeployer {
		t.Errorf("lock user stamped on the new head = %q, want %q", h.Lock.User, userDeployer)
	}
	rev := &release.Revision{
		Name: name, Namespace: f.ns, Revision: 1, Status: release.StatusPendingInstall,
		Chart:    release.ChartInfo{Name: "web", Version: "1.0.0"},
		Manifest: "# Source: web/templates/deployment.yaml\n...", Inventory: f.inventory(),
		Operation: "install", Started: time.Now().UTC(),
	}
	if err := f.store.CreateRevision(ctx, rev); err != nil {
		t.Fatalf("create revision: %v", err)
	}
	if rev.AppliedBy != userDeployer {
		t.Errorf("applied-by stamped on revision 1 = %q, want %q", rev.AppliedBy, userDeployer)
	}
	if seal, err := ownership.ParseRecordSeal(rev.Seal); err != nil || !seal.Valid(testSealKey, f.ns, name) || seal.User != userDeployer || seal.Revision != 1 {
		t.Errorf("seal stamped on revision 1 = %q (%v), want a valid seal of revision 1 by %s", rev.Seal, err, userDeployer)
	}
	// The record first, then the head names it: objects are written only
	// under a sealed pending record.
	h.Revision, h.Status, h.Inventory, h.Record = 1, release.StatusPendingInstall, f.inventory(), rev.Seal
	if err := f.store.UpdateHead(ctx, h); err != nil {
		t.Fatalf("update head: %v", err)
	}
	f.apply(t, f.deployer, "apps/v1", "deployments", deploymentName, map[string]any{
		"spec": map[string]any{
			"replicas": 2,
			"selector": map[string]any{"matchLabels": map[string]any{"app": "web"}},
			"template": map[string]any{
				"metadata": map[string]any{"labels": map[string]any{"app": "web"}},
				"spec": map[string]any{"containers": []any{
					map[string]any{"name": "web", "image": "nginx:1.27", "ports": []any{map[string]any{"containerPort": 80}}},
				}},
			},
		},
	})
	f.apply(t, f.deployer, "v1", "configmaps", configMapName, map[string]any{"data": map[string]any{"mode": "production"}})
	if err := f.store.SetStatus(ctx, f.ns, name, 1, release.StatusDeployed); err != nil {
		t.Fatalf("set status: %v", err)
	}
	h.Deployed, h.Status = 1, release.StatusDeployed
	if err := f.store.UpdateHead(ctx, h); err != nil {
		t.Fatalf("update head: %v", err)
	}
	if err := f.store.Release(ctx, h); err != nil {
		t.Fatalf("release: %v", err)
	}
	return f
}

// apply server-side applies an owned object (release labels added) as u
// with field manager kubectl-chart.
func (f *fixture) apply(t testing.TB, u *user, apiVersion, resource, name string, body map[string]any) {
	t.Helper()
	if err := f.tryApply(t, u, apiVersion, resource, name, body); err != nil {
		t.Fatalf("apply %s/%s as %s: %v", resource, name, u.name, err)
	}
}

// record has the lock holder h record revision rev as the plugin does
// before it writes objects: a pending record, then the head naming it with
// the webhook's seal.
func (f *fixture) record(t testing.TB, h *release.Head, rev int) {
	t.Helper()
	r := &release.Revision{
		Name: f.name, Namespace: f.ns, Revision: rev, Status: release.StatusPendingUpgrade,
		Chart: release.ChartInfo{Name: "web", Version: "1.0.0"}, Manifest: "...", Inventory: f.inventory(),
		Operation: "upgrade", Started: time.Now().UTC(),
	}
	if err := f.store.CreateRevision(t.Context(), r); err != nil {
		t.Fatalf("create revision %d: %v", rev, err)
	}
	h.Revision, h.Status, h.Record = rev, release.StatusPendingUpgrade, r.Seal
	if err := f.store.UpdateHead(t.Context(), h); err != nil {
		t.Fatalf("update head: %v", err)
	}
}

// tryApply is apply that returns the error.
func (f *fixture) tryApply(t testing.TB, u *user, apiVersion, resource, name string, body map[string]any) error {
	t.Helper()
	kind := map[string]string{"deployments": "Deployment", "configmaps": "ConfigMap"}[resource]
	obj := map[string]any{
		"apiVersion": apiVersion,
		"kind":       kind,
		"metadata": map[string]any{
			"name": name, "namespace": f.ns,
			"labels": map[string]any{ownership.LabelRelease: f.name, ownership.LabelReleaseNamespace: f.ns},
		},
	}
	for k, v := range body {
		obj[k] = v
	}
	data, _ := json.Marshal(obj)
	force := true
	opts := metav1.PatchOptions{FieldManager: ownership.FieldManager, Force: &force}
	var err error
	switch resource {
	case "deployments":
		_, err = u.cs.AppsV1().Deployments(f.ns).Patch(t.Context(), name, types.ApplyPatchType, data, opts)
	case "configmaps":
		_, err = u.cs.CoreV1().ConfigMaps(f.ns).Patch(t.Context(), name, types.ApplyPatchType, data, opts)
	}
	return err
}

// headEvents lists the Events on the release head, as `kubectl chart
// status` reads them.
func (f *fixture) headEvents(t *testing.T) []corev1.Event {
	t.Helper()
	sel := fields.Set{"involvedObject.kind": "ConfigMap", "involvedObject.name": ownership.HeadName(f.name)}.String()
	list, err := env.Clientset().CoreV1().Events(f.ns).List(t.Context(), metav1.ListOptions{FieldSelector: sel})
	if err != nil {
		t.Fatalf("list events: %v", err)
	}
	return list.Items
}

// waitEvent waits for an Event on the head with reason and a message
// containing every one of parts, and returns it.
func (f *fixture) waitEvent(t *testing.T, reason string, parts ...string) corev1.Event {
	t.Helper()
	var found *corev1.Event
	var seen []string
	err := wait.PollUntilContextTimeout(t.Context(), 50*time.Millisecond, 15*time.Second, true, func(context.Context) (bool, error) {
		seen = seen[:0]
		for _, e := range f.headEvents(t) {
			seen = append(seen, e.Reason+": "+e.Message)
			if e.Reason == reason && containsAll(e.Message, parts...) {
				found = &e
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("no %s Event on the head with %q; events: %q", reason, parts, seen)
	}
	return *found
}

func containsAll(s string, parts ...string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

// mustForbid checks that err is the webhook's denial (403 from the
// admission webhook) and that its message holds every one of parts.
func mustForbid(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("allowed, want a denial naming %q", parts)
	}
	if !apierrors.IsForbidden(err) {
		t.Fatalf("error %v (reason %s), want 403 Forbidden", err, apierrors.ReasonForError(err))
	}
	msg := err.Error()
	if want := `admission webhook "ownership.kubectl-chart.io" denied the request`; !strings.Contains(msg, want) {
		t.Errorf("denial %q does not come from the webhook (%q)", msg, want)
	}
	if !containsAll(msg, parts...) {
		t.Errorf("denial %q does not name all of %q", msg, parts)
	}
}

var _ rest.WarningHandler = (*warnings)(nil)
