package apply

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/fluxcd/cli-utils/pkg/kstatus/status"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kubectl-chart/kubectl-chart/pkg/release"
)

// WaitOptions says how long and how Wait waits.
type WaitOptions struct {
	// Timeout bounds the wait (default 5 minutes, as Helm's --timeout).
	Timeout time.Duration
	// Interval between two polls of the objects not yet ready (default
	// 500ms).
	Interval time.Duration
	// WaitForJobs waits for Jobs to Complete (--wait-for-jobs); without it
	// Jobs are not waited for.
	WaitForJobs bool
	// Concurrency bounds the parallel reads of one poll (default
	// DefaultConcurrency); each poll reads the objects not yet ready with
	// Observe, one LIST per resource and namespace.
	Concurrency int
}

// DefaultWaitOptions are the options of --wait without other flags.
func DefaultWaitOptions() WaitOptions {
	return WaitOptions{Timeout: 5 * time.Minute, Interval: 500 * time.Millisecond, Concurrency: DefaultConcurrency}
}

// NotReadyError says which objects did not become ready, and why: a Failed
// kstatus status, or the timeout.
type NotReadyError struct {
	// Objects are the objects not ready, with their last kstatus status.
	Objects []ObjectStatus
	// TimedOut is true when the wait ran out of time (else an object Failed).
	TimedOut bool
	Timeout  time.Duration
}

// ObjectStatus is the kstatus status of one object.
type ObjectStatus struct {
	Ref     release.ObjectRef
	Status  status.Status
	Message string
}

func (e *NotReadyError) Error() string {
	lines := make([]string, 0, len(e.Objects))
	for _, o := range e.Objects {
		lines = append(lines, fmt.Sprintf("%s: %s: %s", o.Ref, o.Status, o.Message))
	}
	what := strings.Join(lines, "; ")
	if e.TimedOut {
		return fmt.Sprintf("timed out after %s waiting for %d object(s) to be ready: %s", e.Timeout, len(e.Objects), what)
	}
	return fmt.Sprintf("%d object(s) failed: %s", len(e.Objects), what)
}

// Status reads an object and computes its kstatus status (with Jobs
// Current only once Complete), through Observe. A missing object is
// NotFound.
func (m *Manager) Status(ctx context.Context, ref release.ObjectRef) (ObjectStatus, error) {
	obs, err := m.Observe(ctx, []release.ObjectRef{ref}, ObserveOptions{})
	return obs[0].Status, err
}

// computeStatus is kstatus' Compute, except that a Job is Current only once
// Complete (kstatus calls a running Job Current).
func computeStatus(ref release.ObjectRef, obj *unstructured.Unstructured) ObjectStatus {
	res, err := status.Compute(obj)
	if err != nil {
		return ObjectStatus{Ref: ref, Status: status.UnknownStatus, Message: err.Error()}
	}
	st := ObjectStatus{Ref: ref, Status: res.Status, Message: res.Message}
	if isJob(ref) && res.Status == status.CurrentStatus && !jobComplete(obj) {
		st.Status = status.InProgressStatus
	}
	return st
}

func isJob(ref release.ObjectRef) bool { return ref.Kind == "Job" && ref.Group == "batch" }

func jobComplete(obj *unstructured.Unstructured) bool {
	conds, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
	for _, c := range conds {
		cm, _ := c.(map[string]any)
		if cm["type"] == "Complete" && cm["status"] == "True" {
			return true
		}
	}
	return false
}

// Wait polls objects until every one is Current (kstatus): Deployments
// Available with their replicas updated, CRDs Established, and so on; Jobs
// Complete when WaitForJobs, else Jobs are not waited for. An object whose
// status is Failed ends the wait at once; on the timeout, every object not
// ready is reported. Both are a *NotReadyError.
func (m *Manager) Wait(ctx context.Context, refs []release.ObjectRef, opts WaitOptions) error {
	def := DefaultWaitOptions()
	if opts.Timeout <= 0 {
		opts.Timeout = def.Timeout
	}
	if opts.Interval <= 0 {
		opts.Interval = def.Interval
	}
	pending := make([]release.ObjectRef, 0, len(refs))
	for _, r := range refs {
		if isJob(r) && !opts.WaitForJobs {
			continue
		}
		pending = append(pending, r)
	}
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()

	last := map[string]ObjectStatus{}
	for {
		var (
			notReady []release.ObjectRef
			failed   []ObjectStatus
			errs     []error
		)
		// One LIST per resource and namespace (Observe), not a GET per
		// object.
		observed, _ := m.Observe(ctx, pending, ObserveOptions{Concurrency: opts.Concurrency})
		for _, o := range observed {
			if o.Err != nil {
				if ctx.Err() == nil && !isTransient(o.Err) {
					errs = append(errs, o.Err)
				}
				notReady = append(notReady, o.Ref)
				continue
			}
			last[o.Ref.Key()] = o.Status
			switch o.Status.Status {
			case status.CurrentStatus:
			case status.FailedStatus:
				failed = append(failed, o.Status)
			default:
				notReady = append(notReady, o.Ref)
			}
		}
		if len(errs) > 0 {
			return errors.Join(errs...)
		}
		if len(failed) > 0 {
			sortStatuses(failed)
			return &NotReadyError{Objects: failed}
		}
		if len(notReady) == 0 {
			return nil
		}
		pending = notReady
		select {
		case <-ctx.Done():
			e := &NotReadyError{TimedOut: true, Timeout: opts.Timeout}
			for _, r := range pending {
				st, ok := last[r.Key()]
				if !ok {
					st = ObjectStatus{Ref: r, Status: status.UnknownStatus, Message: "status not read"}
				}
				e.Objects = append(e.Objects, st)
			}
			sortStatuses(e.Objects)
			return e
		case <-time.After(opts.Interval):
		}
	}
}

// isTransient tells errors worth another poll (the server is busy or
// briefly unavailable).
func isTransient(err error) bool {
	return apierrors.IsTooManyRequests(err) || apierrors.IsServerTimeout(err) || apierrors.IsTimeout(err) ||
		apierrors.IsServiceUnavailable(err) || apierrors.IsInternalError(err)
}

func sortStatuses(s []ObjectStatus) {
	sort.Slice(s, func(i, j int) bool { return s[i].Ref.String() < s[j].Ref.String() })
}
