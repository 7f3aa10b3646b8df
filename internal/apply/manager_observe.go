package apply

import (
	"context"
	"errors"
	"fmt"

	"github.com/fluxcd/cli-utils/pkg/kstatus/status"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/sets"

	"github.com/kubectl-chart/kubectl-chart/pkg/ownership"
	"github.com/kubectl-chart/kubectl-chart/pkg/release"
)

// This file is the one readiness engine: `kubectl chart status`, --wait
// (Wait's poll loop) and drift read the objects of an inventory through
// Observe, and judge them with computeStatus.

// Observed is one object of an inventory as Observe read it.
type Observed struct {
	Ref release.ObjectRef
	// Object is the live object; nil when it does not exist or could not
	// be read (Err).
	Object *unstructured.Unstructured
	// Status is its readiness: computeStatus of Object, NotFound when it
	// does not exist, Unknown when it could not be read.
	Status ObjectStatus
	// Err says why the object could not be read (its kind is not served,
	// the LIST or GET failed); nil otherwise.
	Err error
}

// Missing tells that the object does not exist.
func (o Observed) Missing() bool { return o.Err == nil && o.Object == nil }

// ObserveOptions says how Observe reads.
type ObserveOptions struct {
	// LabelSelector selects, in the LISTs, the objects of the release (see
	// ReleaseSelector); empty lists every object of the kind in the
	// namespace. Objects the selector misses (their labels were removed)
	// are read again without it.
	LabelSelector string
	// Concurrency bounds the requests in flight (default
	// DefaultConcurrency).
	Concurrency int
}

// ReleaseSelector is the label selector of the objects of one release, as
// Apply labels them.
func ReleaseSelector(name, namespace string) string {
	return labels.Set{ownership.LabelRelease: name, ownership.LabelReleaseNamespace: namespace}.String()
}

// AnyReleaseSelector selects the objects of every release.
func AnyReleaseSelector() string { return ownership.LabelRelease }

// observeGroup is the refs of one resource in one namespace.
type observeGroup struct {
	mapping *meta.RESTMapping
	ns      string
	idx     []int // indexes into refs
}

// Observe reads the live objects of refs and computes their readiness, in
// the order of refs. Objects of one resource in one namespace are read with
// one LIST (paged, by opts.LabelSelector) when there are several, a GET
// when there is one; the few a LIST does not return are read with a GET
// each (many, with one LIST without the selector), so that an object whose
// labels were removed is not taken for missing. Failures are per object
// (Observed.Err); the error is the join of them, for callers that stop at
// the first.
func (m *Manager) Observe(ctx context.Context, refs []release.ObjectRef, opts ObserveOptions) ([]Observed, error) {
	out := make([]Observed, len(refs))
	type key struct {
		gvr schema.GroupVersionResource
		ns  string
	}
	groups := map[key]*observeGroup{}
	var order []*observeGroup
	for i, ref := range refs {
		out[i].Ref = ref
		mapping, err := m.mappingForRef(ref)
		if err != nil {
			out[i].Err = &ObjectError{Ref: ref, Op: "resolve kind", Err: err}
			continue
		}
		ns := ref.Namespace
		if mapping.Scope.Name() != meta.RESTScopeNameNamespace {
			ns = ""
		}
		k := key{mapping.Resource, ns}
		g := groups[k]
		if g == nil {
			g = &observeGroup{mapping: mapping, ns: ns}
			groups[k] = g
			order = append(order, g)
		}
		g.idx = append(g.idx, i)
	}
	forEach(ctx, len(order), opts.Concurrency, func(i int) {
		m.observeGroup(ctx, order[i], refs, out, opts)
	}, func(i int) {
		for _, j := range order[i].idx {
			out[j].Err = &ObjectError{Ref: refs[j], Op: "read", Err: ctx.Err()}
		}
	})
	var errs []error
	for i := range out {
		switch {
		case out[i].Err != nil:
			out[i].Object = nil
			out[i].Status = ObjectStatus{Ref: refs[i], Status: status.UnknownStatus, Message: out[i].Err.Error()}
			errs = append(errs, out[i].Err)
		case out[i].Object == nil:
			out[i].Status = ObjectStatus{Ref: refs[i], Status: status.NotFoundStatus, Message: "not found"}
		default:
			out[i].Status = computeStatus(refs[i], out[i].Object)
		}
	}
	return out, errors.Join(errs...)
}

// observeGroup reads the objects of one group into out.
func (m *Manager) observeGroup(ctx context.Context, g *observeGroup, refs []release.ObjectRef, out []Observed, opts ObserveOptions) {
	ri := m.resource(g.mapping, g.ns)
	get := func(j int) {
		obj, err := ri.Get(ctx, refs[j].Name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			out[j].Object = nil
		case err != nil:
			out[j].Err = &ObjectError{Ref: refs[j], Op: "get", Err: err}
		default:
			out[j].Object = obj
		}
	}
	if len(g.idx) == 1 {
		get(g.idx[0])
		return
	}
	rest, err := m.listInto(ctx, g, refs, out, opts.LabelSelector)
	if err != nil && !apierrors.IsMethodNotSupported(err) && !apierrors.IsForbidden(err) {
		for _, j := range g.idx {
			out[j].Err = &ObjectError{Ref: refs[j], Op: "list", Err: err}
		}
		return
	}
	if err == nil && opts.LabelSelector == "" {
		return // what the unfiltered LIST did not return does not exist
	}
	if err == nil && len(rest) >= listThreshold {
		sub := &observeGroup{mapping: g.mapping, ns: g.ns, idx: rest}
		if _, err = m.listInto(ctx, sub, refs, out, ""); err == nil {
			return
		}
	}
	if err != nil {
		rest = g.idx // the kind cannot be listed: a GET each
	}
	forEach(ctx, len(rest), opts.Concurrency, func(i int) { get(rest[i]) }, func(i int) {
		out[rest[i]].Err = &ObjectError{Ref: refs[rest[i]], Op: "get", Err: ctx.Err()}
	})
}

// listInto lists the objects of g by selector, sets those of its refs it
// finds in out, and returns the indexes of those it did not find (all of
// them, when the LIST returned nothing).
func (m *Manager) listInto(ctx context.Context, g *observeGroup, refs []release.ObjectRef, out []Observed, selector string) ([]int, error) {
	want := sets.New[string]()
	for _, j := range g.idx {
		want.Insert(refs[j].Name)
	}
	found := map[string]*unstructured.Unstructured{}
	ri := m.resource(g.mapping, g.ns)
	for cont := ""; ; {
		list, err := ri.List(ctx, metav1.ListOptions{LabelSelector: selector, Limit: listPageSize, Continue: cont})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", g.mapping.Resource, err)
		}
		for i := range list.Items {
			if name := list.Items[i].GetName(); want.Has(name) {
				found[name] = &list.Items[i]
			}
		}
		if cont = list.GetContinue(); cont == "" {
			break
		}
	}
	var rest []int
	for _, j := range g.idx {
		if obj, ok := found[refs[j].Name]; ok {
			out[j].Object = obj
		} else {
			rest = append(rest, j)
		}
	}
	return rest, nil
}
