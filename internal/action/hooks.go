package action

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kubectl-chart/kubectl-chart/internal/apply"
	"github.com/kubectl-chart/kubectl-chart/pkg/release"
	"github.com/kubectl-chart/kubectl-chart/pkg/render"
)

// Hook delete policies (Helm's).
const (
	policyBeforeCreation = "before-hook-creation"
	policySucceeded      = "hook-succeeded"
	policyFailed         = "hook-failed"
)

// HookRun is one hook that ran.
type HookRun struct {
	Name    string
	Event   string
	Ref     release.ObjectRef
	Weight  int
	Status  string // Succeeded, Failed
	Message string
	Started time.Time
	Done    time.Time
}

type hookOptions struct {
	Namespace   string
	Release     string
	Timeout     time.Duration
	Concurrency int
	// Poll is the status polling interval (default 250ms).
	Poll time.Duration
	// Unlabelled applies the hooks without the release's ownership labels,
	// as objects of no release (test hooks: like Helm's, they are not part
	// of the release, and a test run writes no revision record).
	Unlabelled bool
	// DeferCleanup leaves the hook-succeeded and hook-failed deletions to
	// the caller (test: after the pods' logs are read).
	DeferCleanup bool
}

// hooksOf converts rendered hooks for the revision record.
func hooksOf(hs []*render.Hook) []release.Hook {
	out := make([]release.Hook, 0, len(hs))
	for _, h := range hs {
		events := make([]string, len(h.Events))
		for i, e := range h.Events {
			events[i] = string(e)
		}
		out = append(out, release.Hook{
			Name: h.Name, Kind: h.Kind, Path: h.Path, Manifest: h.Manifest,
			Events: events, Weight: h.Weight, DeletePolicies: h.DeletePolicies,
		})
	}
	return out
}

// HookError is a hook that failed: its name, object and the reason.
type HookError struct {
	Hook   string
	Event  string
	Ref    release.ObjectRef
	Reason string
}

// failedHook is the event of the hook that err says failed, if any
// (release.Outcome.FailedHook).
func failedHook(err error) string {
	var he *HookError
	if errors.As(err, &he) {
		return he.Event
	}
	return ""
}

func (e *HookError) Error() string {
	return fmt.Sprintf("%s hook %s (%s) failed: %s", e.Event, e.Hook, e.Ref, e.Reason)
}

// runHooks runs the hooks of one event in Helm's order (weight, then name),
// one after the other, each to completion.
func (c *Config) runHooks(ctx context.Context, rev *release.Revision, event string, o hookOptions) ([]HookRun, error) {
	var hooks []release.Hook
	for _, h := range rev.Hooks {
		if slices.Contains(h.Events, event) {
			hooks = append(hooks, h)
		}
	}
	if len(hooks) == 0 {
		return nil, nil
	}
	slices.SortStableFunc(hooks, func(a, b release.Hook) int {
		if a.Weight != b.Weight {
			return a.Weight - b.Weight
		}
		return strings.Compare(a.Name, b.Name)
	})
	if o.Poll == 0 {
		o.Poll = 250 * time.Millisecond
	}
	deadline := time.Now().Add(o.Timeout)
	if o.Timeout <= 0 {
		deadline = time.Now().Add(5 * time.Minute)
	}
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()

	var runs []HookRun
	var done []release.Hook
	var doneRefs [][]release.ObjectRef
	for _, h := range hooks {
		objs, err := c.Applier.Decode(h.Manifest, o.Namespace)
		if err != nil {
			return runs, fmt.Errorf("%s hook %s: %w", event, h.Name, err)
		}
		refs := refsOf(objs)
		policies := h.DeletePolicies
		if len(policies) == 0 {
			policies = []string{policyBeforeCreation}
		}
		if slices.Contains(policies, policyBeforeCreation) {
			if _, err := c.Applier.Delete(ctx, refs, apply.DeleteOptions{Wait: true, Timeout: time.Until(deadline), IgnoreKeep: true}); err != nil {
				return runs, fmt.Errorf("%s hook %s: deleting the previous run: %w", event, h.Name, err)
			}
		}
		run := HookRun{Name: h.Name, Event: event, Weight: h.Weight, Started: c.now()}
		if len(refs) > 0 {
			run.Ref = refs[0]
		}
		ao := apply.Options{Release: o.Release, ReleaseNamespace: o.Namespace, Force: true, TakeOwnership: true, Concurrency: o.Concurrency}
		if o.Unlabelled {
			ao.Release, ao.ReleaseNamespace = "", ""
		}
		if _, err := c.Applier.Apply(ctx, objs, ao); err != nil {
			run.Status, run.Message, run.Done = "Failed", err.Error(), c.now()
			runs = append(runs, run)
			return runs, &HookError{Hook: h.Name, Event: event, Ref: run.Ref, Reason: err.Error()}
		}
		var waitErr error
		for _, ref := range refs {
			if waitErr = c.waitHook(ctx, ref, o.Poll); waitErr != nil {
				break
			}
		}
		run.Done = c.now()
		if waitErr != nil {
			run.Status, run.Message = "Failed", waitErr.Error()
			runs = append(runs, run)
			if slices.Contains(policies, policyFailed) && !o.DeferCleanup {
				_, _ = c.Applier.Delete(context.WithoutCancel(ctx), refs, apply.DeleteOptions{IgnoreKeep: true})
			}
			return runs, &HookError{Hook: h.Name, Event: event, Ref: run.Ref, Reason: waitErr.Error()}
		}
		run.Status = "Succeeded"
		runs = append(runs, run)
		done = append(done, h)
		doneRefs = append(doneRefs, refs)
	}
	// Helm deletes succeeded hooks once all of the event have run.
	if o.DeferCleanup {
		return runs, nil
	}
	var errs []error
	for i, h := range done {
		if slices.Contains(h.DeletePolicies, policySucceeded) {
			if _, err := c.Applier.Delete(ctx, doneRefs[i], apply.DeleteOptions{IgnoreKeep: true}); err != nil {
				errs = append(errs, fmt.Errorf("%s hook %s: deleting after success: %w", event, h.Name, err))
			}
		}
	}
	return runs, errors.Join(errs...)
}

// waitHook waits until a Job completes or a Pod succeeds; other kinds are
// done once created. A failure returns the reason the object gives.
func (c *Config) waitHook(ctx context.Context, ref release.ObjectRef, poll time.Duration) error {
	if ref.Kind != "Job" && ref.Kind != "Pod" {
		return nil
	}
	for {
		u, err := c.Applier.Get(ctx, ref)
		if err == nil {
			finished, failure := hookState(u)
			if failure != "" {
				return errors.New(failure)
			}
			if finished {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			last := ""
			if err != nil {
				last = ": " + err.Error()
			}
			return fmt.Errorf("timed out waiting for %s to complete%s", ref, last)
		case <-time.After(poll):
		}
	}
}

// hookState reads whether a Job or Pod finished, and why it failed.
func hookState(u *unstructured.Unstructured) (finished bool, failure string) {
	switch u.GetKind() {
	case "Job":
		conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
		for _, c := range conds {
			m, _ := c.(map[string]any)
			if m["status"] != "True" {
				continue
			}
			switch m["type"] {
			case "Complete":
				return true, ""
			case "Failed":
				reason, _ := m["reason"].(string)
				msg, _ := m["message"].(string)
				return true, fmt.Sprintf("job failed: %s: %s", reason, msg)
			}
		}
	case "Pod":
		phase, _, _ := unstructured.NestedString(u.Object, "status", "phase")
		switch phase {
		case "Succeeded":
			return true, ""
		case "Failed":
			return true, podFailure(u)
		}
	}
	return false, ""
}

// podFailure says why a failed pod failed: its reason and message when
// the kubelet gave them, and each container that exited non-zero.
func podFailure(u *unstructured.Unstructured) string {
	var parts []string
	reason, _, _ := unstructured.NestedString(u.Object, "status", "reason")
	msg, _, _ := unstructured.NestedString(u.Object, "status", "message")
	if s := strings.TrimSpace(reason + " " + msg); s != "" {
		parts = append(parts, s)
	}
	for _, key := range []string{"initContainerStatuses", "containerStatuses"} {
		statuses, _, _ := unstructured.NestedSlice(u.Object, "status", key)
		for _, st := range statuses {
			m, _ := st.(map[string]any)
			name, _, _ := unstructured.NestedString(m, "name")
			code, found, _ := unstructured.NestedInt64(m, "state", "terminated", "exitCode")
			if !found || code == 0 {
				continue
			}
			why, _, _ := unstructured.NestedString(m, "state", "terminated", "reason")
			s := fmt.Sprintf("container %s exited with code %d", name, code)
			if why != "" {
				s += " (" + why + ")"
			}
			parts = append(parts, s)
		}
	}
	if len(parts) == 0 {
		return "pod failed"
	}
	return "pod failed: " + strings.Join(parts, "; ")
}
