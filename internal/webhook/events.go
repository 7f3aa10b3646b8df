package webhook

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/kubectl-chart/kubectl-chart/pkg/ownership"
)

// EventRecorder records Events; client-go's record.EventRecorder is one
// (cmd/webhook uses a broadcaster writing core/v1 Events, which correlates
// repeats into counts and rate-limits a flood per object).
type EventRecorder interface {
	Event(object runtime.Object, eventtype, reason, message string)
}

// maxEventFields bounds the fields an Event message lists.
const maxEventFields = 5

// eventMessage says who did what to which object, as `kubectl chart
// status` shows it: "blocked: user alice changed spec.replicas of
// Deployment.apps/ns/web via kubectl-edit".
func eventMessage(req ownership.Request, d ownership.Decision) string {
	if d.Allowed && !d.BreakGlass && d.Event != "" {
		return d.Message // says itself what happened (a lock taken over)
	}
	var b strings.Builder
	if d.Allowed {
		b.WriteString("break-glass: user ")
	} else {
		b.WriteString("blocked: user ")
	}
	b.WriteString(req.User)
	switch {
	case req.Operation == ownership.OperationDelete:
		b.WriteString(" deleted ")
	case req.Operation == ownership.OperationCreate:
		b.WriteString(" created ")
	case len(d.Fields) > 0:
		b.WriteString(" changed ")
		b.WriteString(listFields(d.Fields))
		b.WriteString(" of ")
	default:
		b.WriteString(" updated ")
	}
	b.WriteString(req.Kind.String())
	if req.FieldManager != "" {
		fmt.Fprintf(&b, " via %s", req.FieldManager)
	}
	return b.String()
}

func listFields(fields []string) string {
	if len(fields) <= maxEventFields {
		return strings.Join(fields, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(fields[:maxEventFields], ", "), len(fields)-maxEventFields)
}

// record records the Event of a denial or break-glass write on the release
// head ref.
func (h *Handler) record(ref corev1.ObjectReference, req ownership.Request, d ownership.Decision) {
	reason := d.EventReason(req.Operation)
	if h.opts.Recorder == nil || ref.Name == "" || reason == "" {
		return
	}
	h.opts.Recorder.Event(&ref, corev1.EventTypeWarning, reason, eventMessage(req, d))
}
