package cmd

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-chart/kubectl-chart/internal/action"
	"github.com/kubectl-chart/kubectl-chart/internal/testcluster"
	"github.com/kubectl-chart/kubectl-chart/pkg/ownership"
	"github.com/kubectl-chart/kubectl-chart/pkg/release/wire"
)

// testApp is a chart with a ConfigMap and two tests: web-test-job (a Job,
// weight -1) and web-test-pod (a Pod, weight 0); --set failJob=true or
// failPod=true makes one fail (testcluster.FailAnnotation).
const testApp = "testdata/charts/test-app"

// completeBarePods plays the kubelet for Pods of ns that no controller owns
// (test hooks), until t ends: kwok's stages complete only the pods of Jobs
// and fail those annotated testcluster.FailAnnotation, and leave other
// pods Running. Each Running bare pod without that annotation is moved to
// Succeeded, its containers terminated with exit code 0.
func completeBarePods(t *testing.T, ns string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	pods := env.Clientset().CoreV1().Pods(ns)
	wg.Go(func() {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			list, err := pods.List(ctx, metav1.ListOptions{})
			if err != nil {
				continue
			}
			for i := range list.Items {
				p := &list.Items[i]
				if len(p.OwnerReferences) > 0 || p.DeletionTimestamp != nil || p.Status.Phase != corev1.PodRunning ||
					p.Annotations[testcluster.FailAnnotation] == "true" {
					continue
				}
				now := metav1.Now()
				p.Status.Phase = corev1.PodSucceeded
				p.Status.ContainerStatuses = nil
				for _, ct := range p.Spec.Containers {
					p.Status.ContainerStatuses = append(p.Status.ContainerStatuses, corev1.ContainerStatus{Name: ct.Name, Image: ct.Image,
						State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 0, Reason: "Completed", StartedAt: now, FinishedAt: now}}})
				}
				_, _ = pods.UpdateStatus(ctx, p, metav1.UpdateOptions{}) // a conflict: next tick
			}
		}
	})
}

// ansicTime matches a time as time.ANSIC writes it.
var ansicTime = regexp.MustCompile(`[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \d{4}`)

// normalizeTest replaces times and the namespace in test's output.
func normalizeTest(out, ns string) string {
	return strings.ReplaceAll(ansicTime.ReplaceAllString(out, "<TIME>"), ns, "$NS")
}

// recordedTest is the test result on the record of revision rev of release
// name (wire.AnnotationTest), nil when absent.
func (c *releaseCLI) recordedTest(name string, rev int) *wire.TestResult {
	c.t.Helper()
	sec, err := env.Clientset().CoreV1().Secrets(c.ns).Get(c.t.Context(), ownership.RevisionName(name, rev), metav1.GetOptions{})
	if err != nil {
		c.t.Fatal(err)
	}
	v, ok := sec.Annotations[wire.AnnotationTest]
	if !ok {
		return nil
	}
	var r wire.TestResult
	if err := json.Unmarshal([]byte(v), &r); err != nil {
		c.t.Fatalf("annotation %s: %v: %s", wire.AnnotationTest, err, v)
	}
	return &r
}

// phases are "name Phase" of each test of r.
func phases(r *wire.TestResult) []string {
	if r == nil {
		return nil
	}
	var out []string
	for _, h := range r.Hooks {
		out = append(out, h.Name+" "+h.Phase)
	}
	return out
}

// testSuccessOutput is `kubectl chart test web` of revision 1 of testApp
// when both tests pass, times and namespace normalized: Helm's layout
// (helm test prints helm status's text without notes), tests listed in the
// revision's order (Helm's: Pod before Job, by kind). TestReleaseTestHelm
// checks that Helm v4.3.1 prints the same.
const testSuccessOutput = `NAME: web
LAST DEPLOYED: <TIME>
NAMESPACE: $NS
STATUS: deployed
REVISION: 1
DESCRIPTION: Install complete
TEST SUITE:     web-test-pod
Last Started:   <TIME>
Last Completed: <TIME>
Phase:          Succeeded
TEST SUITE:     web-test-job
Last Started:   <TIME>
Last Completed: <TIME>
Phase:          Succeeded
`

// TestReleaseTest runs `kubectl chart test` on the real control plane with
// the ownership webhook enforcing (the result is written on the record by
// the lock holder; the unlabelled test objects pass): both tests pass
// (exit 0, the result on the record, no release labels on the test
// objects, the lock released), --filter name= and !name=, a failing Pod
// test (exit 1, the error names it, the record says Failed), a failing Job
// test ending the run before the Pod test; status shows the suite and the
// last operations, history the duration and who applied each revision.
func TestReleaseTest(t *testing.T) {
	c := newReleaseCLI(t)
	localWebhook(t)
	completeBarePods(t, c.ns)
	ctx := t.Context()

	c.ok("install", "web", testApp)
	out := c.ok("test", "web")
	if diff := cmp.Diff(testSuccessOutput, normalizeTest(out, c.ns)); diff != "" {
		t.Errorf("test output (-want +got):\n%s", diff)
	}
	first := c.recordedTest("web", 1)
	if first == nil || first.Phase != wire.TestSucceeded {
		t.Fatalf("recorded result %+v, want Succeeded", first)
	}
	if diff := cmp.Diff([]string{"web-test-pod Succeeded", "web-test-job Succeeded"}, phases(first)); diff != "" {
		t.Errorf("recorded tests (-want +got):\n%s", diff)
	}
	pod, err := env.Clientset().CoreV1().Pods(c.ns).Get(ctx, "web-test-pod", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := pod.Labels[ownership.LabelRelease]; ok {
		t.Errorf("test pod carries the release label: %v", pod.Labels)
	}
	head, err := env.Clientset().CoreV1().ConfigMaps(c.ns).Get(ctx, ownership.HeadName("web"), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, held := head.Data[wire.HeadKeyLock]; held {
		t.Errorf("the lock is still held after the test run: %s", head.Data[wire.HeadKeyLock])
	}

	// --logs: kwok's fake nodes serve no logs (no kubelet), so every
	// container's log is an error, named after the suite, exit 1, as helm
	// test does when it cannot read them. (Logs read are checked in
	// internal/action's TestTestRun.) The Job's pods are read too, which
	// Helm does not do (it asks for a pod named as the Job).
	withLogs := c.run("test", "web", "--logs")
	if withLogs.exit() != 1 || !strings.HasSuffix(normalizeTest(withLogs.stdout, c.ns), "Phase:          Succeeded\n\n") {
		t.Errorf("test --logs on kwok: exit %d, output:\n%s", withLogs.exit(), withLogs.stdout)
	}
	for _, want := range []string{"unable to get logs for pod web-test-pod, container check", "unable to get logs for pod web-test-job-"} {
		if withLogs.err == nil || !strings.Contains(withLogs.err.Error(), want) {
			t.Errorf("test --logs on kwok: error %v, want one containing %q", withLogs.err, want)
		}
	}

	// --filter name=: only the Job runs; the Pod keeps its last result.
	first = c.recordedTest("web", 1) // as the --logs run left it
	out = c.ok("test", "web", "--filter", "name=web-test-job")
	byName := func(r *wire.TestResult, name string) wire.TestHook {
		for _, h := range r.Hooks {
			if h.Name == name {
				return h
			}
		}
		t.Fatalf("no test %s in %+v", name, r)
		return wire.TestHook{}
	}
	second := c.recordedTest("web", 1)
	if !byName(second, "web-test-pod").Started.Equal(byName(first, "web-test-pod").Started) {
		t.Errorf("--filter name=web-test-job ran web-test-pod too")
	}
	if !byName(second, "web-test-job").Started.After(byName(first, "web-test-job").Started) {
		t.Errorf("--filter name=web-test-job did not run web-test-job")
	}
	if !strings.Contains(out, "TEST SUITE:     web-test-pod") {
		t.Errorf("the output no longer shows the test the filter skipped:\n%s", out)
	}
	// --filter !name=: everything but the Job.
	c.ok("test", "web", "--filter", "!name=web-test-job")
	third := c.recordedTest("web", 1)
	if !byName(third, "web-test-job").Started.Equal(byName(second, "web-test-job").Started) ||
		!byName(third, "web-test-pod").Started.After(byName(second, "web-test-pod").Started) {
		t.Errorf("--filter !name=web-test-job: recorded %+v after %+v", third, second)
	}

	status := c.ok("status", "web")
	for _, want := range []string{"TEST SUITE:     web-test-pod\n", "Phase:          Succeeded\n", "LAST OPERATIONS:\n", "REVISION\tOPERATION"} {
		if !strings.Contains(status, want) {
			t.Errorf("status does not show %q:\n%s", want, status)
		}
	}

	// A failing Pod test: exit 1 naming it, after the output; Failed on the
	// record of revision 2. The Job (weight -1) ran first and passed.
	c.ok("upgrade", "web", testApp, "--set", "failPod=true")
	logPodEvents(t, c.ns)
	got := c.fails([]string{"web-test-pod", "test"}, "test", "web", "--timeout", "60s")
	if !strings.Contains(got.stdout, "TEST SUITE:     web-test-pod\nLast Started:   ") || !strings.Contains(got.stdout, "Phase:          Failed\n") {
		t.Errorf("failed test run: output does not show the failed test:\n%s", got.stdout)
	}
	failed := c.recordedTest("web", 2)
	if failed == nil || failed.Phase != wire.TestFailed {
		t.Fatalf("recorded result %+v, want Failed", failed)
	}
	if diff := cmp.Diff([]string{"web-test-pod Failed", "web-test-job Succeeded"}, phases(failed)); diff != "" {
		t.Errorf("recorded tests (-want +got):\n%s", diff)
	}
	if msg := byName(failed, "web-test-pod").Message; msg != "pod failed: container check exited with code 1 (Error)" {
		t.Errorf("recorded message %q, want the pod's failure", msg)
	}
	if status := c.ok("status", "web"); !strings.Contains(status, "Phase:          Failed\n") {
		t.Errorf("status does not show the failed test:\n%s", status)
	}

	// A failing Job test ends the run: the Pod test does not run.
	c.ok("upgrade", "web", testApp, "--set", "failJob=true")
	c.fails([]string{"web-test-job"}, "test", "web", "--timeout", "60s")
	if diff := cmp.Diff([]string{"web-test-job Failed"}, phases(c.recordedTest("web", 3))); diff != "" {
		t.Errorf("recorded tests after a failing Job (-want +got):\n%s", diff)
	}

	// history: DURATION of each operation, all ended (the superseded ones
	// too: a record keeps when its operation finished), APPLIED BY as the
	// webhook stamped it.
	for _, r := range c.historyRows("web") {
		if r.AppliedBy == "" {
			t.Errorf("history revision %d: no applied_by with the webhook running", r.Revision)
		}
		if r.Duration == "" {
			t.Errorf("history revision %d (%s): duration %q", r.Revision, r.Status, r.Duration)
		}
	}
	table := c.ok("history", "web")
	if !strings.HasPrefix(table, "REVISION\tUPDATED                 \tSTATUS    \tCHART         \tAPP VERSION\tDESCRIPTION     \tDURATION\tAPPLIED BY") {
		t.Errorf("history's columns:\n%s", table)
	}
}

// TestReleaseTestHelm compares `kubectl chart test` with `helm test` of
// Helm v4.3.1 (the oracle, $HELM) on the same chart and cluster: the same
// text once times and namespaces are normalized. Skipped without $HELM.
func TestReleaseTestHelm(t *testing.T) {
	helm := helmBinary(t)
	if helm == "" {
		t.Skip("HELM is not set")
	}
	c := newReleaseCLI(t)
	completeBarePods(t, c.ns)
	helmNS := env.Namespace(t)
	completeBarePods(t, helmNS)

	runHelm := func(args ...string) (string, error) {
		cmd := exec.CommandContext(t.Context(), helm, append(args, "--kubeconfig", env.KubeconfigPath(), "-n", helmNS)...)
		home := t.TempDir()
		cmd.Env = append(os.Environ(), "HELM_CONFIG_HOME="+filepath.Join(home, "config"), "HELM_CACHE_HOME="+filepath.Join(home, "cache"),
			"HELM_DATA_HOME="+filepath.Join(home, "data"), "TZ=UTC")
		var stdout strings.Builder
		cmd.Stdout = &stdout
		err := cmd.Run()
		return stdout.String(), err
	}
	if out, err := runHelm("install", "web", testApp); err != nil {
		t.Fatalf("helm install: %v\n%s", err, out)
	}
	helmOut, err := runHelm("test", "web")
	if err != nil {
		t.Fatalf("helm test: %v\n%s", err, helmOut)
	}
	c.ok("install", "web", testApp)
	ours := c.ok("test", "web")
	if diff := cmp.Diff(normalizeTest(helmOut, helmNS), normalizeTest(ours, c.ns)); diff != "" {
		t.Errorf("kubectl chart test differs from helm test (-helm +ours):\n%s", diff)
	}
	if diff := cmp.Diff(testSuccessOutput, normalizeTest(helmOut, helmNS)); diff != "" {
		t.Errorf("helm test's output is not the one TestReleaseTest expects (-want +helm):\n%s", diff)
	}

	// Failing: both exit 1 after the same text.
	if out, err := runHelm("upgrade", "web", testApp, "--set", "failPod=true"); err != nil {
		t.Fatalf("helm upgrade: %v\n%s", err, out)
	}
	helmOut, err = runHelm("test", "web")
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) || exitErr.ExitCode() != 1 {
		t.Fatalf("helm test of a failing test: %v, want exit 1", err)
	}
	c.ok("upgrade", "web", testApp, "--set", "failPod=true")
	got := c.run("test", "web")
	if got.exit() != 1 {
		t.Fatalf("kubectl chart test of a failing test: exit %d, want 1", got.exit())
	}
	if diff := cmp.Diff(normalizeTest(helmOut, helmNS), normalizeTest(got.stdout, c.ns)); diff != "" {
		t.Errorf("failing run: kubectl chart test differs from helm test (-helm +ours):\n%s", diff)
	}
}

// logPodEvents logs every change to the pods of ns until t ends (shown
// when t fails or with -v): a test pod that vanishes (the first run of
// TestReleaseTest once timed out on a failing pod found missing) is then
// traced to its writer.
func logPodEvents(t *testing.T, ns string) {
	w, err := env.Clientset().CoreV1().Pods(ns).Watch(t.Context(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	go func() {
		for ev := range w.ResultChan() {
			p, ok := ev.Object.(*corev1.Pod)
			if !ok {
				continue
			}
			var mf []string
			for _, m := range p.ManagedFields {
				mf = append(mf, m.Manager+"/"+string(m.Operation))
			}
			t.Logf("%s %s %s %s uid=%s del=%v ann=%v mf=%v", time.Now().Format("15:04:05.000"), ev.Type, p.Name, p.Status.Phase, p.UID, p.DeletionTimestamp, p.Annotations, mf)
		}
	}()
}

// TestTestFilters: --filter as helm test reads it: name=X runs only the
// tests named, !name=X (or "! name=X") skips them, values repeated or
// separated by commas; anything else is refused (Helm ignores it).
func TestTestFilters(t *testing.T) {
	t.Setenv("KUBECONFIG", filepath.Join(t.TempDir(), "none"))
	tests := []struct {
		name             string
		args             []string
		include, exclude []string
		wantErr          string
	}{
		{name: "none"},
		{name: "include", args: []string{"--filter", "name=a,name=b"}, include: []string{"a", "b"}},
		{name: "exclude", args: []string{"--filter", "!name=a", "--filter", "! name=b"}, exclude: []string{"a", "b"}},
		{name: "both", args: []string{"--filter", "name=a,!name=b"}, include: []string{"a"}, exclude: []string{"b"}},
		{name: "unknown attribute", args: []string{"--filter", "kind=Pod"}, wantErr: `invalid --filter "kind=Pod"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			streams := genericiooptions.NewTestIOStreamsDiscard()
			cmd := NewCmdTest(genericclioptions.NewConfigFlags(true), streams)
			if err := cmd.ParseFlags(tt.args); err != nil {
				t.Fatal(err)
			}
			o := &TestOptions{configFlags: genericclioptions.NewConfigFlags(true), action: action.DefaultTestOptions()}
			o.Filters, _ = cmd.Flags().GetStringSlice("filter")
			err := o.Complete([]string{"web"})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Complete: %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.include, o.action.Include); diff != "" {
				t.Errorf("include (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.exclude, o.action.Exclude); diff != "" {
				t.Errorf("exclude (-want +got):\n%s", diff)
			}
		})
	}
}
