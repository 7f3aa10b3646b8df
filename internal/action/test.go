package action

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-chart/kubectl-chart/internal/apply"
	"github.com/kubectl-chart/kubectl-chart/pkg/release"
	"github.com/kubectl-chart/kubectl-chart/pkg/release/wire"
)

// testEvent is the hook event of tests (render maps Helm 2's test-success
// to it; test-failure is not a test in Helm 3 and 4 either).
const testEvent = "test"

// OperationTest names a test run in the release lock.
const OperationTest = "test"

// maxLogBytes bounds the log of one container that a test run keeps.
const maxLogBytes = 4 << 20

// TestOptions shape a test run (`kubectl chart test`).
type TestOptions struct {
	Name      string
	Namespace string
	// Include names the tests to run (--filter name=X), every test when
	// empty; Exclude names tests not to run (--filter '!name=X'). Helm's
	// semantics: Exclude first, then Include among what is left.
	Include []string
	Exclude []string
	// Timeout bounds the whole run (Helm: "any individual Kubernetes
	// operation").
	Timeout time.Duration
	// Logs reads the logs of the test pods once the tests ran, before the
	// hook-succeeded and hook-failed deletions.
	Logs        bool
	Concurrency int
	// Poll is the status polling interval (default 250ms).
	Poll time.Duration
}

// DefaultTestOptions are Helm's defaults.
func DefaultTestOptions() TestOptions {
	return TestOptions{Timeout: 5 * time.Minute, Concurrency: apply.DefaultConcurrency}
}

// TestRun is the outcome of a test run.
type TestRun struct {
	// Revision is the revision tested (the deployed one); its Test is the
	// result recorded for it.
	Revision *release.Revision
	// Hooks are the tests that ran, in order (the first failure ends the
	// run, as in Helm).
	Hooks []HookRun
	// Logs are the logs of the test pods (TestOptions.Logs), in the order
	// of Hooks.
	Logs []PodLog
}

// PodLog is the log of one container of a test pod.
type PodLog struct {
	Pod       string
	Container string
	Text      string
}

// Test runs the test hooks of a release's deployed revision, as helm test
// does: in Helm's order (weight, then name), each to completion, the first
// failure ending the run, with the hooks' delete policies. It holds the
// release lock (operation "test") meanwhile: the result is recorded on the
// revision record (wire.AnnotationTest), which only the lock holder may
// change. Test hooks are applied without the release's ownership labels:
// like Helm's test pods, they are not part of the release.
//
// The run is returned whenever the revision was read, with the error of a
// failed test (a *HookError naming it) or of the recording.
func (c *Config) Test(ctx context.Context, o TestOptions) (*TestRun, error) {
	if err := validateName(o.Name); err != nil {
		return nil, err
	}
	head, err := c.Store.Head(ctx, o.Namespace, o.Name)
	if errors.Is(err, release.ErrNotFound) {
		return nil, fmt.Errorf("release %q in namespace %q: %w", o.Name, o.Namespace, ErrReleaseNotFound)
	}
	if err != nil {
		return nil, err
	}
	if head.Deployed == 0 {
		return nil, fmt.Errorf("release %q in namespace %q has no deployed revision to test", o.Name, o.Namespace)
	}
	head, err = c.Store.Acquire(ctx, o.Namespace, o.Name, OperationTest, false)
	if err != nil {
		return nil, err
	}
	run, opErr := whileLocked(ctx, c, head, func(ctx context.Context) (*TestRun, error) {
		return c.testLocked(ctx, o, head)
	})
	if relErr := c.Store.Release(context.WithoutCancel(ctx), head); relErr != nil && !errors.Is(relErr, release.ErrNotFound) {
		opErr = errors.Join(opErr, fmt.Errorf("releasing the lock: %w", relErr))
	}
	return run, opErr
}

func (c *Config) testLocked(ctx context.Context, o TestOptions, head *release.Head) (*TestRun, error) {
	if head.Deployed == 0 {
		return nil, fmt.Errorf("release %q in namespace %q has no deployed revision to test", o.Name, o.Namespace)
	}
	rev, err := c.Store.Revision(ctx, o.Namespace, o.Name, head.Deployed)
	if err != nil {
		return nil, err
	}
	all := testHooks(rev.Hooks)
	selected := filterTests(all, o.Include, o.Exclude)
	tested := *rev
	tested.Hooks = selected
	runs, runErr := c.runHooks(ctx, &tested, testEvent, hookOptions{
		Namespace: o.Namespace, Release: o.Name, Timeout: o.Timeout, Concurrency: o.Concurrency, Poll: o.Poll,
		Unlabelled: true, DeferCleanup: true,
	})
	out := &TestRun{Revision: rev, Hooks: runs}
	var errs []error
	errs = append(errs, runErr)
	if o.Logs {
		logs, err := c.testLogs(ctx, runs)
		out.Logs = logs
		errs = append(errs, err)
	}
	errs = append(errs, c.cleanupTests(context.WithoutCancel(ctx), selected, runs, o.Namespace))
	if len(runs) > 0 {
		result := testResult(all, rev.Test, runs)
		if err := c.recordTest(context.WithoutCancel(ctx), rev, result); err != nil {
			errs = append(errs, err)
		} else {
			rev.Test = result
		}
	}
	return out, errors.Join(errs...)
}

// testHooks are the test hooks of a revision, in the revision's order
// (Helm's: by kind, as rendered), in which helm status lists them; they
// run in Helm's hook order (runHooks: weight, then name).
func testHooks(hooks []release.Hook) []release.Hook {
	var out []release.Hook
	for _, h := range hooks {
		if slices.Contains(h.Events, testEvent) || slices.Contains(h.Events, "test-success") {
			h.Events = []string{testEvent}
			out = append(out, h)
		}
	}
	return out
}

// filterTests applies helm test's --filter: the tests named in exclude are
// skipped; then, when include names any, only those named run.
func filterTests(hooks []release.Hook, include, exclude []string) []release.Hook {
	var out []release.Hook
	for _, h := range hooks {
		if slices.Contains(exclude, h.Name) {
			continue
		}
		if len(include) > 0 && !slices.Contains(include, h.Name) {
			continue
		}
		out = append(out, h)
	}
	return out
}

// testResult is the result recorded after a run: the tests of this run
// and, for those it did not run (skipped by --filter, or after a failure),
// their last earlier result, as Helm keeps each hook's last run; in the
// order of all. Its phase is Failed when any of them failed.
func testResult(all []release.Hook, prev *wire.TestResult, runs []HookRun) *wire.TestResult {
	res := &wire.TestResult{Phase: wire.TestSucceeded}
	ran := make(map[string]HookRun, len(runs))
	for i, r := range runs {
		ran[r.Name] = r
		if i == 0 || r.Started.Before(res.Started) {
			res.Started = r.Started
		}
		if r.Done.After(res.Completed) {
			res.Completed = r.Done
		}
	}
	for _, h := range all {
		th, ok := wire.TestHook{}, false
		if r, done := ran[h.Name]; done {
			th, ok = wire.TestHook{Name: h.Name, Kind: h.Kind, Phase: r.Status, Started: r.Started.UTC(), Completed: r.Done.UTC(), Message: r.Message}, true
		} else if prev != nil {
			i := slices.IndexFunc(prev.Hooks, func(p wire.TestHook) bool { return p.Name == h.Name })
			if i >= 0 {
				th, ok = prev.Hooks[i], true
			}
		}
		if !ok {
			continue
		}
		if th.Phase != wire.TestSucceeded {
			res.Phase = wire.TestFailed
		}
		res.Hooks = append(res.Hooks, th)
	}
	res.Started, res.Completed = res.Started.UTC(), res.Completed.UTC()
	return res
}

// recordTest writes result on rev's record (wire.AnnotationTest).
func (c *Config) recordTest(ctx context.Context, rev *release.Revision, result *wire.TestResult) error {
	v, err := release.TestAnnotation(result)
	if err != nil {
		return err
	}
	if err := c.Store.SetAnnotations(ctx, rev.Namespace, rev.Name, rev.Revision, map[string]string{wire.AnnotationTest: v}); err != nil {
		return fmt.Errorf("recording the test result on revision %d: %w", rev.Revision, err)
	}
	return nil
}

// cleanupTests deletes, after the logs were read, the tests that ran as
// their delete policies say (hook-succeeded, hook-failed), the last first,
// as Helm does.
func (c *Config) cleanupTests(ctx context.Context, hooks []release.Hook, runs []HookRun, namespace string) error {
	var errs []error
	for i := len(runs) - 1; i >= 0; i-- {
		r := runs[i]
		j := slices.IndexFunc(hooks, func(h release.Hook) bool { return h.Name == r.Name })
		if j < 0 {
			continue
		}
		h := hooks[j]
		policy := policySucceeded
		if r.Status != wire.TestSucceeded {
			policy = policyFailed
		}
		if !slices.Contains(h.DeletePolicies, policy) {
			continue
		}
		objs, err := c.Applier.Decode(h.Manifest, namespace)
		if err != nil {
			errs = append(errs, fmt.Errorf("test hook %s: %w", h.Name, err))
			continue
		}
		if _, err := c.Applier.Delete(ctx, refsOf(objs), apply.DeleteOptions{IgnoreKeep: true}); err != nil {
			errs = append(errs, fmt.Errorf("test hook %s: deleting after the run (%s): %w", h.Name, policy, err))
		}
	}
	return errors.Join(errs...)
}

// testLogs reads the logs of every container (init containers first) of
// the pods of the tests that ran: a Pod hook's own pod, a Job hook's pods.
// A container whose log cannot be read is reported in the error; the
// others are still returned.
func (c *Config) testLogs(ctx context.Context, runs []HookRun) ([]PodLog, error) {
	if c.Kube == nil {
		return nil, errors.New("reading the test pods' logs: no Kubernetes client")
	}
	var out []PodLog
	var errs []error
	for _, r := range runs {
		pods, err := c.testPods(ctx, r.Ref)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, pod := range pods {
			containers := append(slices.Clone(pod.Spec.InitContainers), pod.Spec.Containers...)
			for _, ct := range containers {
				text, err := c.containerLog(ctx, pod.Namespace, pod.Name, ct.Name)
				if err != nil {
					errs = append(errs, fmt.Errorf("unable to get logs for pod %s, container %s: %w", pod.Name, ct.Name, err))
					continue
				}
				out = append(out, PodLog{Pod: pod.Name, Container: ct.Name, Text: text})
			}
		}
	}
	return out, errors.Join(errs...)
}

// testPods are the pods of a test hook: the Pod itself, or a Job's pods
// (by their job-name label), by name.
func (c *Config) testPods(ctx context.Context, ref release.ObjectRef) ([]corev1.Pod, error) {
	pods := c.Kube.CoreV1().Pods(ref.Namespace)
	switch {
	case ref.Kind == "Pod" && ref.Group == "":
		p, err := pods.Get(ctx, ref.Name, metav1.GetOptions{})
		if err != nil {
			return nil, fmt.Errorf("unable to get pod %s: %w", ref.Name, err)
		}
		return []corev1.Pod{*p}, nil
	case ref.Kind == "Job" && ref.Group == "batch":
		list, err := pods.List(ctx, metav1.ListOptions{LabelSelector: "job-name=" + ref.Name})
		if err != nil {
			return nil, fmt.Errorf("unable to list the pods of job %s: %w", ref.Name, err)
		}
		slices.SortFunc(list.Items, func(a, b corev1.Pod) int { return strings.Compare(a.Name, b.Name) })
		return list.Items, nil
	}
	return nil, nil
}

// containerLog reads the log of one container, cut at maxLogBytes.
func (c *Config) containerLog(ctx context.Context, namespace, pod, container string) (string, error) {
	rc, err := c.Kube.CoreV1().Pods(namespace).GetLogs(pod, &corev1.PodLogOptions{Container: container}).Stream(ctx)
	if err != nil {
		return "", err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, maxLogBytes))
	return string(b), err
}
