package testcluster_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"
	batchv1ac "k8s.io/client-go/applyconfigurations/batch/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-chart/kubectl-chart/internal/testcluster"
)

// fieldManager is the field manager of every write the plugin makes (DESIGN.md).
const fieldManager = "kubectl-chart"

var env *testcluster.Env

func TestMain(m *testing.M) {
	testcluster.Main(m, &env, testcluster.Options{Full: true, Nodes: 1})
}

func applyOpts() metav1.ApplyOptions {
	return metav1.ApplyOptions{FieldManager: fieldManager, Force: true}
}

// waitFor polls cond every 50ms for up to timeout and fails t with the last state.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func(ctx context.Context) (bool, string, error)) {
	t.Helper()
	start := time.Now()
	last := ""
	err := wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, timeout, true,
		func(ctx context.Context) (bool, error) {
			ok, state, err := cond(ctx)
			last = state
			return ok, err
		})
	if err != nil {
		t.Fatalf("%s: %v (last state: %s)", what, err, last)
	}
	t.Logf("%s after %s", what, time.Since(start).Round(time.Millisecond))
}

func podTemplate(app string) *corev1ac.PodTemplateSpecApplyConfiguration {
	return corev1ac.PodTemplateSpec().
		WithLabels(map[string]string{"app": app}).
		WithSpec(corev1ac.PodSpec().WithContainers(
			corev1ac.Container().WithName("main").WithImage("registry.k8s.io/pause:3.10")))
}

func TestServerSideApplyRecordsFieldManager(t *testing.T) {
	ns := env.Namespace(t)
	cs := env.Clientset()
	cm := corev1ac.ConfigMap("settings", ns).WithData(map[string]string{"greeting": "hello"})
	got, err := cs.CoreV1().ConfigMaps(ns).Apply(context.Background(), cm, applyOpts())
	if err != nil {
		t.Fatalf("ConfigMap/%s/settings: apply: %v", ns, err)
	}
	var managers []string
	for _, f := range got.ManagedFields {
		managers = append(managers, f.Manager+"/"+string(f.Operation))
		if f.Manager == fieldManager && f.Operation == metav1.ManagedFieldsOperationApply &&
			strings.Contains(string(f.FieldsV1.Raw), `"f:greeting"`) {
			return
		}
	}
	t.Fatalf("ConfigMap/%s/settings: no Apply entry of %q owning data.greeting in managedFields (have %v)",
		ns, fieldManager, managers)
}

func TestDeploymentBecomesAvailable(t *testing.T) {
	ns := env.Namespace(t)
	cs := env.Clientset()
	d := appsv1ac.Deployment("web", ns).WithSpec(appsv1ac.DeploymentSpec().
		WithReplicas(2).
		WithSelector(metav1ac.LabelSelector().WithMatchLabels(map[string]string{"app": "web"})).
		WithTemplate(podTemplate("web")))
	if _, err := cs.AppsV1().Deployments(ns).Apply(context.Background(), d, applyOpts()); err != nil {
		t.Fatalf("Deployment/%s/web: apply: %v", ns, err)
	}
	waitFor(t, "Deployment/"+ns+"/web available with 2 replicas", 60*time.Second,
		func(ctx context.Context) (bool, string, error) {
			d, err := cs.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
			if err != nil {
				return false, "", err
			}
			state := describeConditions(d.Status.Conditions)
			for _, c := range d.Status.Conditions {
				if c.Type == appsv1.DeploymentAvailable && c.Status == corev1.ConditionTrue &&
					d.Status.AvailableReplicas == 2 && d.Status.ObservedGeneration == d.Generation {
					return true, state, nil
				}
			}
			return false, state, nil
		})
}

func TestJobCompletes(t *testing.T) {
	ns := env.Namespace(t)
	cs := env.Clientset()
	tmpl := podTemplate("job")
	tmpl.Spec.WithRestartPolicy(corev1.RestartPolicyNever)
	j := batchv1ac.Job("once", ns).WithSpec(batchv1ac.JobSpec().WithTemplate(tmpl))
	if _, err := cs.BatchV1().Jobs(ns).Apply(context.Background(), j, applyOpts()); err != nil {
		t.Fatalf("Job/%s/once: apply: %v", ns, err)
	}
	waitFor(t, "Job/"+ns+"/once complete", 60*time.Second, func(ctx context.Context) (bool, string, error) {
		j, err := cs.BatchV1().Jobs(ns).Get(ctx, "once", metav1.GetOptions{})
		if err != nil {
			return false, "", err
		}
		for _, c := range j.Status.Conditions {
			if c.Type == batchv1.JobFailed && c.Status == corev1.ConditionTrue {
				return false, "", errors.New("job failed: " + c.Message)
			}
			if c.Type == batchv1.JobComplete && c.Status == corev1.ConditionTrue {
				return true, "", nil
			}
		}
		return false, "", nil
	})
}

func TestStatefulSetBecomesReady(t *testing.T) {
	ns := env.Namespace(t)
	cs := env.Clientset()
	s := appsv1ac.StatefulSet("db", ns).WithSpec(appsv1ac.StatefulSetSpec().
		WithReplicas(2).
		WithServiceName("db").
		WithSelector(metav1ac.LabelSelector().WithMatchLabels(map[string]string{"app": "db"})).
		WithTemplate(podTemplate("db")))
	if _, err := cs.AppsV1().StatefulSets(ns).Apply(context.Background(), s, applyOpts()); err != nil {
		t.Fatalf("StatefulSet/%s/db: apply: %v", ns, err)
	}
	waitFor(t, "StatefulSet/"+ns+"/db ready with 2 replicas", 60*time.Second,
		func(ctx context.Context) (bool, string, error) {
			s, err := cs.AppsV1().StatefulSets(ns).Get(ctx, "db", metav1.GetOptions{})
			if err != nil {
				return false, "", err
			}
			st := s.Status
			return st.ObservedGeneration == s.Generation && st.ReadyReplicas == 2 && st.AvailableReplicas == 2 &&
					st.UpdatedReplicas == 2 && st.CurrentRevision == st.UpdateRevision,
				fmt.Sprintf("ready %d/2, updated %d, revision %s→%s", st.ReadyReplicas, st.UpdatedReplicas, st.CurrentRevision, st.UpdateRevision), nil
		})
}

// The server reports the pinned version: charts' kubeVersion checks depend on it.
func TestServerVersionIsStamped(t *testing.T) {
	env.Require(t)
	versions, err := testcluster.Versions()
	if err != nil {
		t.Fatal(err)
	}
	v, err := env.Clientset().Discovery().ServerVersion()
	if err != nil {
		t.Fatal(err)
	}
	if want := versions["KUBERNETES_VERSION"]; v.GitVersion != want {
		t.Errorf("server version %s, want %s (hack/k8s/versions.env)", v.GitVersion, want)
	}
}

func TestKubectlUsesKubeconfig(t *testing.T) {
	ns := env.Namespace(t)
	out, err := kubectl(t, nil, "get", "namespace", ns, "-o", "name")
	if err != nil {
		t.Fatalf("kubectl get namespace: %v\n%s", err, out)
	}
	if got, want := strings.TrimSpace(out), "namespace/"+ns; got != want {
		t.Errorf("kubectl get namespace: got %q, want %q", got, want)
	}
}

// `kubectl chart version` reaches the plugin through the built kubectl's plugin lookup.
func TestKubectlChartPlugin(t *testing.T) {
	env.Require(t)
	root := repoRoot(t)
	if !hasMainPackage(filepath.Join(root, "cmd", "kubectl-chart")) {
		t.Skip("./cmd/kubectl-chart has no main package yet: nothing to run as a plugin")
	}
	bin := t.TempDir()
	build := exec.Command("go", "build", "-o", filepath.Join(bin, "kubectl-chart"), "./cmd/kubectl-chart")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/kubectl-chart: %v\n%s", err, out)
	}
	out, err := kubectl(t, []string{bin}, "chart", "version")
	if err != nil {
		t.Fatalf("kubectl chart version: %v\n%s", err, out)
	}
	if strings.TrimSpace(out) == "" {
		t.Fatal("kubectl chart version printed nothing")
	}
	t.Logf("kubectl chart version: %s", strings.TrimSpace(out))
}

// kubectl runs the built kubectl against env, with extraPath (then the binary folder)
// first on PATH so the machine's own kubectl or plugins are never picked.
func kubectl(t *testing.T, extraPath []string, args ...string) (string, error) {
	t.Helper()
	path := strings.Join(append(append(extraPath, env.AssetsDir()), os.Getenv("PATH")), string(os.PathListSeparator))
	cmd := exec.Command(filepath.Join(env.AssetsDir(), "kubectl"), args...)
	cmd.Env = append(os.Environ(), "PATH="+path, "KUBECONFIG="+env.KubeconfigPath(), "HOME="+t.TempDir())
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if data, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil &&
			strings.HasPrefix(string(data), "module github.com/kubectl-chart/kubectl-chart\n") {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("repository root (go.mod of github.com/kubectl-chart/kubectl-chart) not found")
		}
		dir = parent
	}
}

func hasMainPackage(dir string) bool {
	files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if src := "\n" + string(data); strings.Contains(src, "\npackage main\n") {
			return true
		}
	}
	return false
}

// A second control plane runs beside the package's one, and Stop leaves no process
// and no folder behind.
func TestStopLeavesNothingBehind(t *testing.T) {
	env.Require(t)
	for _, full := range []bool{false, true} {
		name := "bare"
		if full {
			name = "full"
		}
		t.Run(name, func(t *testing.T) {
			if full && testing.Short() {
				t.Skip("-short: a second full control plane takes ~5 s")
			}
			e, err := testcluster.Start(context.Background(), testcluster.Options{Full: full, Nodes: 2, Logf: t.Logf})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = e.Stop() })
			t.Logf("%s control plane started in %s", name, e.StartDuration().Round(time.Millisecond))

			cs, err := kubernetes.NewForConfig(e.Config())
			if err != nil {
				t.Fatal(err)
			}
			cm := corev1ac.ConfigMap("probe", metav1.NamespaceDefault).WithData(map[string]string{"k": "v"})
			if _, err := cs.CoreV1().ConfigMaps(metav1.NamespaceDefault).Apply(context.Background(), cm, applyOpts()); err != nil {
				t.Fatalf("apply: %v", err)
			}
			if _, err := os.Stat(e.KubeconfigPath()); err != nil {
				t.Fatalf("kubeconfig: %v", err)
			}

			pids := e.PIDs()
			want := 2
			if full {
				want = 5
			}
			if len(pids) != want {
				t.Fatalf("PIDs() = %v, want %d processes", pids, want)
			}
			stopped := time.Now()
			if err := e.Stop(); err != nil {
				t.Fatalf("Stop: %v", err)
			}
			t.Logf("stopped in %s", time.Since(stopped).Round(time.Millisecond))
			for _, pid := range pids {
				if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
					t.Errorf("process %d still in the process table after Stop (kill -0: %v)", pid, err)
				}
			}
			if _, err := os.Stat(e.Dir()); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("folder %s still there after Stop (%v)", e.Dir(), err)
			}
		})
	}
}

func TestStartFailureQuotesTheLog(t *testing.T) {
	assets := t.TempDir()
	for _, name := range []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl", "kwok"} {
		script := "#!/bin/sh\necho \"" + name + ": cannot start: disk on fire\" >&2\nexit 3\n"
		if err := os.WriteFile(filepath.Join(assets, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(assets, "kwok-stages.yaml"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	e, err := testcluster.Start(context.Background(), testcluster.Options{Full: true, AssetsDir: assets})
	if err == nil {
		_ = e.Stop()
		t.Fatal("Start succeeded with binaries that exit at once")
	}
	msg := err.Error()
	t.Log(msg)
	for _, want := range []string{"etcd exited before it was ready", "exit status 3", "etcd: cannot start: disk on fire", "etcd.log"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error does not say %q:\n%s", want, msg)
		}
	}
	if d := time.Since(began); d > 10*time.Second {
		t.Errorf("Start took %s to notice that etcd exited", d)
	}
	// The logs the message points at are kept.
	_, after, _ := strings.Cut(msg, "last lines of ")
	logPath, _, _ := strings.Cut(after, ":\n")
	if _, err := os.Stat(logPath); err != nil {
		t.Errorf("log named in the error: %v", err)
	} else {
		_ = os.RemoveAll(filepath.Dir(logPath))
	}
}

func TestMissingBinariesSayHowToBuildThem(t *testing.T) {
	_, err := testcluster.Start(context.Background(), testcluster.Options{AssetsDir: t.TempDir()})
	if !errors.Is(err, testcluster.ErrNoBinaries) {
		t.Fatalf("Start with an empty binary folder: got %v, want ErrNoBinaries", err)
	}
	if !strings.Contains(err.Error(), "make k8s-binaries") || !strings.Contains(err.Error(), "kube-apiserver") {
		t.Errorf("error does not name the missing binary and `make k8s-binaries`: %v", err)
	}
}

func describeConditions(cs []appsv1.DeploymentCondition) string {
	var parts []string
	for _, c := range cs {
		parts = append(parts, string(c.Type)+"="+string(c.Status)+" ("+c.Reason+")")
	}
	return strings.Join(parts, ", ")
}

// envtest's own message names the process; the harness adds the end of its log.
func TestBareStartFailureQuotesTheLog(t *testing.T) {
	env.Require(t)
	assets := t.TempDir()
	for _, name := range []string{"etcd", "kubectl"} {
		if err := os.Symlink(filepath.Join(env.AssetsDir(), name), filepath.Join(assets, name)); err != nil {
			t.Fatal(err)
		}
	}
	// envtest reads --help for the flags it may pass; then the start fails.
	script := "#!/bin/sh\n[ \"$1\" = --help ] && { echo '      --secure-port int'; exit 0; }\n" +
		"echo 'kube-apiserver: cannot start: disk on fire' >&2\nexit 3\n"
	if err := os.WriteFile(filepath.Join(assets, "kube-apiserver"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	e, err := testcluster.Start(context.Background(), testcluster.Options{AssetsDir: assets})
	if err == nil {
		_ = e.Stop()
		t.Fatal("Start succeeded with a kube-apiserver that exits at once")
	}
	msg := err.Error()
	t.Log(msg)
	for _, want := range []string{"kube-apiserver", "kube-apiserver: cannot start: disk on fire", "kube-apiserver.log"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error does not say %q:\n%s", want, msg)
		}
	}
	if d := time.Since(began); d > 20*time.Second {
		t.Errorf("Start took %s to notice that kube-apiserver exited", d)
	}
	_, after, _ := strings.Cut(msg, "last lines of ")
	logPath, _, _ := strings.Cut(after, ":\n")
	if _, err := os.Stat(logPath); err != nil {
		t.Errorf("log named in the error: %v", err)
	} else {
		_ = os.RemoveAll(filepath.Dir(logPath))
	}
}
