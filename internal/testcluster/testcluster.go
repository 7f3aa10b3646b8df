package testcluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// Options says which control plane to start. The zero value is a bare API server.
type Options struct {
	// Full adds kube-controller-manager, kube-scheduler and kwok with fake nodes, so
	// workloads become ready and Jobs complete. Without it: etcd and kube-apiserver
	// through envtest.
	Full bool
	// Nodes is the number of fake nodes of a full control plane (default 1), named
	// kwok-node-0, kwok-node-1, ...
	Nodes int
	// AssetsDir holds the binaries; default AssetsDir().
	AssetsDir string
	// StartTimeout bounds each component's start; default 60s, or
	// $KUBEBUILDER_CONTROLPLANE_START_TIMEOUT when that is longer.
	StartTimeout time.Duration
	// ConfigureEnvtest, for the bare shape, adjusts the envtest Environment before it
	// starts (CRDs to install, webhooks, extra API server flags).
	ConfigureEnvtest func(*envtest.Environment)
	// Logf, if set, receives progress lines (which process starts, how long it took).
	Logf func(format string, args ...any)
}

// DefaultStartTimeout is the default for Options.StartTimeout: generous, since CI
// machines compile other packages while control planes start.
const DefaultStartTimeout = 60 * time.Second

// Env is a running control plane.
type Env struct {
	opts       Options
	assets     string
	dir        string // state: certificates, etcd data, kubeconfig
	logDir     string // process logs; kept (and named in the error) when a start fails
	cfg        *rest.Config
	kubeconfig string
	clientset  kubernetes.Interface
	startTime  time.Duration

	procs   []*proc              // full shape
	envtest *envtest.Environment // bare shape
	reaper  *reaper

	skip string // why tests are skipped (KUBECTL_CHART_SKIP_CLUSTER); nothing runs

	stopOnce sync.Once
	stopErr  error
}

// Start starts a control plane and returns once it serves requests (and, for the full
// shape, once the controllers run and every fake node is Ready). ctx bounds the start
// only: the processes run until Stop. On failure nothing is left running and the error
// names the process that failed with the end of its log.
func Start(ctx context.Context, opts Options) (*Env, error) {
	began := time.Now()
	if opts.Nodes <= 0 {
		opts.Nodes = 1
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = DefaultStartTimeout
		if d, err := time.ParseDuration(os.Getenv(EnvStartTimeout)); err == nil && d > opts.StartTimeout {
			opts.StartTimeout = d
		}
	}
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	assets := opts.AssetsDir
	if assets == "" {
		var err error
		if assets, err = AssetsDir(); err != nil {
			return nil, fmt.Errorf("testcluster: %w", err)
		}
	}
	need := bareBinaries
	if opts.Full {
		need = fullBinaries
	}
	if err := checkBinaries(assets, need); err != nil {
		return nil, fmt.Errorf("testcluster: %w", err)
	}

	e := &Env{opts: opts, assets: assets}
	var err error
	if e.dir, err = os.MkdirTemp("", "testcluster-"); err != nil {
		return nil, fmt.Errorf("testcluster: %w", err)
	}
	if e.logDir, err = os.MkdirTemp("", "testcluster-logs-"); err != nil {
		os.RemoveAll(e.dir)
		return nil, fmt.Errorf("testcluster: %w", err)
	}
	if e.reaper, err = startReaper(e.dir, e.logDir); err != nil {
		os.RemoveAll(e.dir)
		os.RemoveAll(e.logDir)
		return nil, fmt.Errorf("testcluster: %w", err)
	}

	if opts.Full {
		err = e.startFull(ctx)
	} else {
		err = e.startBare(ctx)
	}
	if err == nil {
		e.clientset, err = kubernetes.NewForConfig(e.cfg)
	}
	if err != nil {
		// Keep the logs the error points at; remove everything else.
		e.stop(false)
		return nil, fmt.Errorf("testcluster: start %s control plane: %w (logs kept in %s)", e.shape(), err, e.logDir)
	}
	e.startTime = time.Since(began)
	opts.Logf("testcluster: %s control plane up in %s at %s", e.shape(), e.startTime.Round(time.Millisecond), e.cfg.Host)
	return e, nil
}

func (e *Env) shape() string {
	if e.opts.Full {
		return "full"
	}
	return "bare"
}

// Config returns a copy of the admin (system:masters) client configuration.
func (e *Env) Config() *rest.Config {
	if e.cfg == nil {
		return nil
	}
	return rest.CopyConfig(e.cfg)
}

// Clientset returns a clientset for the admin configuration.
func (e *Env) Clientset() kubernetes.Interface { return e.clientset }

// KubeconfigPath is a kubeconfig file for the admin user, for kubectl and the plugin.
func (e *Env) KubeconfigPath() string { return e.kubeconfig }

// AssetsDir is the folder of the binaries in use (kubectl is there too).
func (e *Env) AssetsDir() string { return e.assets }

// Dir is the temporary folder holding the environment's state; Stop removes it.
func (e *Env) Dir() string { return e.dir }

// LogDir is the temporary folder of the processes' logs (<name>.log); Stop removes it.
func (e *Env) LogDir() string { return e.logDir }

// StartDuration is how long Start took.
func (e *Env) StartDuration() time.Duration { return e.startTime }

// Envtest returns the envtest Environment of a bare control plane (nil for a full one),
// for its CRD and webhook install options.
func (e *Env) Envtest() *envtest.Environment { return e.envtest }

// PIDs lists the control-plane processes (for checks that none outlives Stop).
func (e *Env) PIDs() []int {
	if e.envtest != nil {
		return childrenMentioning(e.dir, e.reaper.pid())
	}
	var pids []int
	for _, p := range e.procs {
		pids = append(pids, p.cmd.Process.Pid)
	}
	return pids
}

// Require skips t when Main was told to skip cluster tests (KUBECTL_CHART_SKIP_CLUSTER).
func (e *Env) Require(t testing.TB) {
	t.Helper()
	if e == nil {
		t.Fatal("testcluster: no control plane: start one with testcluster.Main or testcluster.Start")
	}
	if e.skip != "" {
		t.Skip(e.skip)
	}
}

// Namespace creates a namespace unique to t, waits until its default ServiceAccount
// exists (Pods are refused before that) and deletes it (without waiting) when t ends.
func (e *Env) Namespace(t testing.TB) string {
	t.Helper()
	e.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ns, err := e.clientset.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{
		ObjectMeta: metav1.ObjectMeta{GenerateName: namespacePrefix(t.Name())},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("testcluster: create namespace: %v", err)
	}
	name := ns.Name
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = e.clientset.CoreV1().Namespaces().Delete(ctx, name, metav1.DeleteOptions{})
	})
	if err := e.waitDefaultServiceAccount(ctx, name); err != nil {
		t.Fatalf("testcluster: namespace %s: %v", name, err)
	}
	return name
}

func (e *Env) waitDefaultServiceAccount(ctx context.Context, ns string) error {
	sas := e.clientset.CoreV1().ServiceAccounts(ns)
	if !e.opts.Full {
		// No controller manager: create what it would have.
		_, err := sas.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create the default ServiceAccount: %w", err)
		}
		return nil
	}
	err := wait.PollUntilContextCancel(ctx, 25*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		_, err := sas.Get(ctx, "default", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return err == nil, err
	})
	if err != nil {
		return fmt.Errorf("wait for the default ServiceAccount: %w", err)
	}
	return nil
}

var notDNS = regexp.MustCompile(`[^a-z0-9]+`)

// namespacePrefix turns a test name into a generateName prefix (the server appends
// five random characters).
func namespacePrefix(testName string) string {
	s := strings.Trim(notDNS.ReplaceAllString(strings.ToLower(testName), "-"), "-")
	if len(s) > 50 {
		s = strings.TrimRight(s[:50], "-")
	}
	if s == "" {
		s = "test"
	}
	return s + "-"
}

// Stop ends every process (SIGTERM, then SIGKILL after a grace period) and removes
// the environment's folders. Safe to call more than once and from several goroutines.
func (e *Env) Stop() error {
	if e == nil {
		return nil
	}
	e.stopOnce.Do(func() { e.stopErr = e.stop(true) })
	return e.stopErr
}

func (e *Env) stop(removeLogs bool) error {
	var errs []error
	if e.envtest != nil {
		if err := e.envtest.Stop(); err != nil {
			errs = append(errs, fmt.Errorf("stop envtest: %w", err))
		}
		// envtest already waited; make sure nothing it started is left.
		for _, pid := range childrenMentioning(e.dir, e.reaper.pid()) {
			if p, err := os.FindProcess(pid); err == nil {
				_ = p.Kill()
			}
		}
	}
	// Clients first (together), then the API server, then etcd: an API server whose
	// etcd is gone, or that still serves watches, is slow to shut down.
	var mu sync.Mutex
	stopAll := func(ps []*proc) {
		var wg sync.WaitGroup
		for _, p := range ps {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := p.stop(10 * time.Second); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
	}
	var clients, servers []*proc
	for _, p := range e.procs {
		if p.name == "etcd" || p.name == "kube-apiserver" {
			servers = append(servers, p)
		} else {
			clients = append(clients, p)
		}
	}
	stopAll(clients)
	for i := len(servers) - 1; i >= 0; i-- {
		stopAll(servers[i : i+1])
	}
	if e.dir != "" {
		if err := os.RemoveAll(e.dir); err != nil {
			errs = append(errs, err)
		}
	}
	if removeLogs && e.logDir != "" {
		if err := os.RemoveAll(e.logDir); err != nil {
			errs = append(errs, err)
		}
	}
	e.reaper.dismiss()
	return errors.Join(errs...)
}
