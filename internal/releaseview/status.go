package releaseview

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fluxcd/cli-utils/pkg/kstatus/status"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kubectl-chart/kubectl-chart/pkg/release"
	"github.com/kubectl-chart/kubectl-chart/pkg/release/wire"
)

// WebhookConfigurationName is the name of the MutatingWebhookConfiguration
// of the ownership webhook (chart-webhook, deployed from manifests/).
const WebhookConfigurationName = "chart-webhook"

// MaxOwnershipEvents is how many of the last blocked or break-glass writes
// status shows.
const MaxOwnershipEvents = 5

// MaxLastOperations is how many of the newest revisions status shows in
// LAST OPERATIONS.
const MaxLastOperations = 5

// Event reasons status shows: the webhook records denials with a reason
// starting with Blocked, break-glass writes with one starting with
// BreakGlass, and locks taken over (--force-unlock) as LockTakenOver, on
// the release head ConfigMap.
var ownershipReasonPrefixes = []string{"Blocked", "BreakGlass", "LockTakenOver"}

// StatusMissing is the status of an owned object that does not exist.
const StatusMissing = "missing"

// StatusView is everything status shows about a release.
type StatusView struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
	Revision  int    `json:"revision"`
	// Status is the shown revision's status.
	Status       release.Status `json:"status"`
	LastDeployed time.Time      `json:"lastDeployed,omitzero"`
	Description  string         `json:"description,omitempty"`
	Chart        string         `json:"chart"`
	AppVersion   string         `json:"appVersion,omitempty"`
	// Source is where the chart came from (SourceOf) and Digest its
	// archive's digest.
	Source string `json:"source,omitempty"`
	Digest string `json:"digest,omitempty"`
	// AppliedBy is the user the webhook stamped on the revision record.
	AppliedBy string `json:"appliedBy,omitempty"`
	// Lock is the operation lock of the head, nil when the release is not
	// locked.
	Lock *LockView `json:"lock,omitempty"`
	// Webhook says whether the ownership webhook enforces ownership.
	Webhook WebhookState `json:"webhook"`
	// Resources are the owned objects with their live kstatus status.
	Resources []ObjectStatus `json:"resources"`
	// Events are the last blocked or break-glass writes, oldest first.
	Events []OwnershipEvent `json:"events,omitempty"`
	// LastOperations are the operations of the newest revisions, newest
	// first (SetHistory).
	LastOperations []OperationView `json:"lastOperations,omitempty"`
	// TestSuite is the last test run (kubectl chart test) of the revision
	// shown, or, when that is not the deployed one and no revision was
	// asked for, of the deployed one (TestedRevision says which); nil when
	// never tested.
	TestSuite      *wire.TestResult `json:"testSuite,omitempty"`
	TestedRevision int              `json:"testedRevision,omitempty"`
	Notes          string           `json:"notes,omitempty"`
}

// OperationView is the operation of one revision, as status lists it.
type OperationView struct {
	Revision  int    `json:"revision"`
	Operation string `json:"operation"`
	// Status is the revision's status: the operation's outcome (deployed,
	// failed, pending-* while it runs), or what became of it since.
	Status  release.Status `json:"status"`
	Started time.Time      `json:"started,omitzero"`
	// Duration is how long the operation took (FormatDuration of
	// Duration), empty when the record does not tell.
	Duration string `json:"duration,omitempty"`
}

// SetHistory fills LastOperations from a release's revisions (any order):
// the newest n (all when n ≤ 0), newest first. Without a revision asked
// for (revisionAsked false), when the revision shown is not the deployed
// one, TestSuite is the deployed revision's.
func (s *StatusView) SetHistory(revs []*release.Revision, n int, deployed int, revisionAsked bool) {
	sorted := slices.Clone(revs)
	sorted = slices.DeleteFunc(sorted, func(r *release.Revision) bool { return r == nil })
	slices.SortFunc(sorted, func(a, b *release.Revision) int { return cmp.Compare(b.Revision, a.Revision) })
	if !revisionAsked && s.TestSuite == nil && deployed > 0 && deployed != s.Revision {
		for _, r := range sorted {
			if r.Revision == deployed && r.Test != nil {
				s.TestSuite, s.TestedRevision = r.Test, r.Revision
			}
		}
	}
	if n > 0 && len(sorted) > n {
		sorted = sorted[:n]
	}
	s.LastOperations = make([]OperationView, 0, len(sorted))
	for _, r := range sorted {
		s.LastOperations = append(s.LastOperations, OperationView{
			Revision: r.Revision, Operation: r.Operation, Status: r.Status,
			Started: DeployedAt(r), Duration: FormatDuration(Duration(r)),
		})
	}
}

// LockView is the lock of a release as status shows it.
type LockView struct {
	// Holder is user@host (pid N), as the client that took it says.
	Holder string `json:"holder"`
	// User is the server-verified user the webhook stamped (may be empty).
	User      string    `json:"user,omitempty"`
	Operation string    `json:"operation"`
	Started   time.Time `json:"started"`
	Expires   time.Time `json:"expires"`
	// Expired tells that the lock no longer holds: the next operation takes
	// it over.
	Expired bool `json:"expired"`
}

// NewStatusView is the status of a release from its head and the record of
// the revision shown (nil when the release has written no revision yet),
// with the lock judged at time now. Resources, Webhook and Events are for
// the caller to fill from the cluster.
func NewStatusView(h *release.Head, r *release.Revision, now time.Time) *StatusView {
	s := &StatusView{
		Name:      h.Name,
		Namespace: h.Namespace,
		Revision:  h.Revision,
		Status:    h.Status,
		Chart:     ChartName(r),
		Resources: []ObjectStatus{},
	}
	if s.Status == "" {
		s.Status = StatusUnknown
	}
	if r != nil {
		s.Revision = r.Revision
		s.Status = r.Status
		s.LastDeployed = DeployedAt(r)
		s.Description = r.Description
		s.AppVersion = r.Chart.AppVersion
		s.Source, s.Digest = SourceOf(r), r.Chart.Digest
		s.AppliedBy = r.AppliedBy
		s.Notes = r.Notes
		if r.Test != nil {
			s.TestSuite, s.TestedRevision = r.Test, r.Revision
		}
	}
	if l := h.Lock; l != nil {
		s.Lock = &LockView{
			Holder:    l.Holder,
			User:      l.User,
			Operation: l.Operation,
			Started:   l.Started,
			Expires:   l.Expires,
			Expired:   l.Expired(now),
		}
	}
	return s
}

// Inventory is the objects status shows: those of the head (everything the
// release may own, during an operation the union of the old and new
// revisions), or those a given revision applied when it is not the head's.
func Inventory(h *release.Head, r *release.Revision) []release.ObjectRef {
	if r != nil && r.Revision != h.Revision {
		return r.Inventory
	}
	return h.Inventory
}

// ObjectStatus is an owned object with its kstatus status.
type ObjectStatus struct {
	release.ObjectRef
	// Status is a kstatus status (Current, InProgress, Failed, Terminating,
	// Unknown) or StatusMissing.
	Status  string `json:"status"`
	Message string `json:"message,omitempty"`
}

// ObjectStatusOf computes the status of ref from the live object obj, or
// from the error reading it: NotFound is StatusMissing, another error
// Unknown with the error as message.
func ObjectStatusOf(ref release.ObjectRef, obj *unstructured.Unstructured, err error) ObjectStatus {
	switch {
	case apierrors.IsNotFound(err):
		return ObjectStatus{ObjectRef: ref, Status: StatusMissing}
	case err != nil:
		return ObjectStatus{ObjectRef: ref, Status: string(status.UnknownStatus), Message: err.Error()}
	case obj == nil:
		return ObjectStatus{ObjectRef: ref, Status: StatusMissing}
	}
	res, err := status.Compute(obj)
	if err != nil {
		return ObjectStatus{ObjectRef: ref, Status: string(status.UnknownStatus), Message: err.Error()}
	}
	return ObjectStatus{ObjectRef: ref, Status: string(res.Status), Message: res.Message}
}

// WebhookState says whether the ownership webhook enforces ownership.
type WebhookState struct {
	// Installed tells that its MutatingWebhookConfiguration exists.
	Installed bool `json:"installed"`
	// Enforcing tells that it intercepts writes (it has webhooks).
	Enforcing bool `json:"enforcing"`
	// Message says so in a sentence, with what follows for the release.
	Message string `json:"message"`
}

// WebhookStateOf judges the ownership webhook from its
// MutatingWebhookConfiguration cfg, or from the error reading it (NotFound:
// not installed).
func WebhookStateOf(cfg *admissionregistrationv1.MutatingWebhookConfiguration, err error) WebhookState {
	switch {
	case apierrors.IsNotFound(err) || (err == nil && cfg == nil):
		return WebhookState{Message: "not installed: nothing blocks writes from other tools"}
	case err != nil:
		return WebhookState{Message: fmt.Sprintf("unknown: cannot read MutatingWebhookConfiguration %s: %v", WebhookConfigurationName, err)}
	case len(cfg.Webhooks) == 0:
		return WebhookState{Installed: true, Message: fmt.Sprintf("%s is installed but has no webhooks: nothing blocks writes from other tools", cfg.Name)}
	}
	var ignore []string
	for _, w := range cfg.Webhooks {
		if w.FailurePolicy != nil && *w.FailurePolicy == admissionregistrationv1.Ignore {
			ignore = append(ignore, w.Name)
		}
	}
	if len(ignore) > 0 {
		return WebhookState{Installed: true, Enforcing: true, Message: fmt.Sprintf(
			"%s is enforcing ownership, but with failurePolicy Ignore (%s): writes pass unchecked while it is unreachable",
			cfg.Name, strings.Join(ignore, ", "))}
	}
	return WebhookState{Installed: true, Enforcing: true, Message: fmt.Sprintf("%s is enforcing ownership: writes from other tools to what the release owns are refused", cfg.Name)}
}

// OwnershipEvent is a write the webhook blocked, or a break-glass write it
// let through, as recorded in an Event on the release head.
type OwnershipEvent struct {
	Time    time.Time `json:"time"`
	Reason  string    `json:"reason"`
	Message string    `json:"message"`
	// Count is how many times the Event was recorded (1 when once).
	Count int32 `json:"count"`
}

// OwnershipEvents picks from events (those of the release head) the last
// n whose reason starts with Blocked or BreakGlass (all when n ≤ 0), oldest
// first.
func OwnershipEvents(events []corev1.Event, n int) []OwnershipEvent {
	var out []OwnershipEvent
	for _, e := range events {
		if !slices.ContainsFunc(ownershipReasonPrefixes, func(p string) bool { return strings.HasPrefix(e.Reason, p) }) {
			continue
		}
		out = append(out, OwnershipEvent{Time: eventTime(&e), Reason: e.Reason, Message: e.Message, Count: max(e.Count, 1)})
	}
	slices.SortStableFunc(out, func(a, b OwnershipEvent) int {
		return cmp.Or(a.Time.Compare(b.Time), cmp.Compare(a.Reason, b.Reason), cmp.Compare(a.Message, b.Message))
	})
	if n > 0 && len(out) > n {
		out = out[len(out)-n:]
	}
	return out
}

// eventTime is when an Event last happened, whichever API wrote it (core
// v1 events carry lastTimestamp, events.k8s.io/v1 ones eventTime and a
// series).
func eventTime(e *corev1.Event) time.Time {
	switch {
	case e.Series != nil && !e.Series.LastObservedTime.IsZero():
		return e.Series.LastObservedTime.Time
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp.Time
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	case !e.FirstTimestamp.IsZero():
		return e.FirstTimestamp.Time
	}
	return e.CreationTimestamp.Time
}

// Text is status's table form, laid out as helm status (NAME, LAST
// DEPLOYED, NAMESPACE, STATUS, REVISION, DESCRIPTION … NOTES) with what
// kubectl chart adds: who applied the revision, the lock, the webhook, the
// owned objects with their kstatus status and the last blocked writes.
// Times are in loc (nil: UTC) as time.ANSIC.
func (s *StatusView) Text(loc *time.Location) string {
	loc = location(loc)
	ansic := func(t time.Time) string { return t.In(loc).Format(time.ANSIC) }
	var b strings.Builder
	fmt.Fprintf(&b, "NAME: %s\n", s.Name)
	if !s.LastDeployed.IsZero() {
		fmt.Fprintf(&b, "LAST DEPLOYED: %s\n", ansic(s.LastDeployed))
	}
	fmt.Fprintf(&b, "NAMESPACE: %s\n", s.Namespace)
	fmt.Fprintf(&b, "STATUS: %s\n", s.Status)
	fmt.Fprintf(&b, "REVISION: %d\n", s.Revision)
	fmt.Fprintf(&b, "CHART: %s\n", s.Chart)
	if s.Source != "" {
		if s.Digest != "" {
			fmt.Fprintf(&b, "SOURCE: %s (%s)\n", s.Source, s.Digest)
		} else {
			fmt.Fprintf(&b, "SOURCE: %s\n", s.Source)
		}
	}
	appliedBy := s.AppliedBy
	if appliedBy == "" {
		appliedBy = "-"
	}
	fmt.Fprintf(&b, "APPLIED BY: %s\n", appliedBy)
	fmt.Fprintf(&b, "DESCRIPTION: %s\n", s.Description)
	if l := s.Lock; l != nil {
		who := l.Holder
		if l.User != "" {
			who += " (user " + l.User + ")"
		}
		if l.Expired {
			fmt.Fprintf(&b, "LOCK: expired at %s, held by %s running %s since %s: the next operation takes it over\n",
				ansic(l.Expires), who, l.Operation, ansic(l.Started))
		} else {
			fmt.Fprintf(&b, "LOCK: held by %s running %s since %s; expires at %s unless renewed (--force-unlock takes it now)\n",
				who, l.Operation, ansic(l.Started), ansic(l.Expires))
		}
	}
	fmt.Fprintf(&b, "WEBHOOK: %s\n", s.Webhook.Message)
	if len(s.LastOperations) > 0 {
		rows := [][]string{{"REVISION", "OPERATION", "STATUS", "DURATION", "STARTED"}}
		for _, op := range s.LastOperations {
			started := "-"
			if !op.Started.IsZero() {
				started = ansic(op.Started)
			}
			rows = append(rows, []string{strconv.Itoa(op.Revision), dash(op.Operation), string(op.Status), dash(op.Duration), started})
		}
		fmt.Fprintf(&b, "LAST OPERATIONS:\n%s", Table(rows))
	}
	if len(s.Resources) > 0 {
		rows := [][]string{{"KIND", "NAMESPACE", "NAME", "STATUS", "MESSAGE"}}
		for _, o := range s.Resources {
			kind := o.Kind
			if o.Group != "" {
				kind += "." + o.Group
			}
			ns := o.Namespace
			if ns == "" {
				ns = "-"
			}
			rows = append(rows, []string{kind, ns, o.Name, o.Status, o.Message})
		}
		fmt.Fprintf(&b, "RESOURCES:\n%s\n", Table(rows))
	}
	if len(s.Events) > 0 {
		b.WriteString("BLOCKED AND BREAK-GLASS WRITES:\n")
		for _, e := range s.Events {
			count := ""
			if e.Count > 1 {
				count = fmt.Sprintf(" (x%d)", e.Count)
			}
			fmt.Fprintf(&b, "  %s  %s%s: %s\n", ansic(e.Time), e.Reason, count, e.Message)
		}
		b.WriteString("\n")
	}
	if s.TestSuite != nil && s.TestedRevision != 0 && s.TestedRevision != s.Revision {
		fmt.Fprintf(&b, "TESTED REVISION: %d (deployed)\n", s.TestedRevision)
	}
	b.WriteString(TestSuiteText(s.TestSuite, loc))
	if s.Notes != "" {
		fmt.Fprintf(&b, "NOTES:\n%s\n", strings.TrimSpace(s.Notes))
	}
	return b.String()
}

// TestSuiteText is helm status's TEST SUITE block: for each test that ran,
// its name, when it last started and completed, and its phase, in Helm's
// words and layout; "TEST SUITE: None" when none ran. Times in loc (nil:
// UTC) as time.ANSIC.
func TestSuiteText(t *wire.TestResult, loc *time.Location) string {
	var b strings.Builder
	n := 0
	if t != nil {
		for _, h := range t.Hooks {
			if h.Started.IsZero() {
				continue // Helm shows only the hooks that started
			}
			n++
			fmt.Fprintf(&b, "TEST SUITE:     %s\nLast Started:   %s\nLast Completed: %s\nPhase:          %s\n",
				h.Name, h.Started.In(location(loc)).Format(time.ANSIC), h.Completed.In(location(loc)).Format(time.ANSIC), h.Phase)
		}
	}
	if n == 0 {
		return "TEST SUITE: None\n"
	}
	return b.String()
}

// TestText is helm test's output: the release's NAME, LAST DEPLOYED,
// NAMESPACE, STATUS, REVISION and DESCRIPTION, then the TEST SUITE of the
// revision tested, as Helm v4.3.1's helm test prints them (helm status's
// layout, without resources and notes: compared with Helm itself in
// internal/cmd's TestReleaseTestHelm). Times in loc (nil: UTC).
func TestText(r *release.Revision, loc *time.Location) string {
	loc = location(loc)
	var b strings.Builder
	fmt.Fprintf(&b, "NAME: %s\n", r.Name)
	if t := DeployedAt(r); !t.IsZero() {
		fmt.Fprintf(&b, "LAST DEPLOYED: %s\n", t.In(loc).Format(time.ANSIC))
	}
	fmt.Fprintf(&b, "NAMESPACE: %s\n", r.Namespace)
	fmt.Fprintf(&b, "STATUS: %s\n", r.Status)
	fmt.Fprintf(&b, "REVISION: %d\n", r.Revision)
	fmt.Fprintf(&b, "DESCRIPTION: %s\n", r.Description)
	b.WriteString(TestSuiteText(r.Test, loc))
	return b.String()
}
