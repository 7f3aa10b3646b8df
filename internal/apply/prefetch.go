package apply

import (
	"context"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/kubectl-chart/kubectl-chart/pkg/ownership"
)

// From listThreshold objects of one resource in one namespace on, Apply
// reads them with LIST requests instead of one GET each.
const (
	listThreshold = 8
	listPageSize  = 500
)

// prefetch reads, for each resource and namespace with many items, the live
// objects of the release with one LIST (by its labels), then learns which of
// the others exist with one metadata-only LIST: those that do not are
// created without a GET. Objects that exist without the release's labels
// are left to a GET (their ownership is checked on the whole object). Any
// failure here only means more GETs later.
func (m *Manager) prefetch(ctx context.Context, items []*item, opts Options) {
	if opts.Release == "" {
		return
	}
	type key struct {
		gvr schema.GroupVersionResource
		ns  string
	}
	groups := map[key][]*item{}
	var keys []key
	for _, it := range items {
		if it == nil {
			continue
		}
		k := key{it.mapping.Resource, it.obj.GetNamespace()}
		if _, ok := groups[k]; !ok {
			keys = append(keys, k)
		}
		groups[k] = append(groups[k], it)
	}
	forEach(ctx, len(keys), opts.Concurrency, func(i int) {
		if g := groups[keys[i]]; len(g) >= listThreshold {
			m.prefetchGroup(ctx, g, opts)
		}
	}, nil)
}

// prefetchGroup prefetches items of one resource in one namespace.
func (m *Manager) prefetchGroup(ctx context.Context, items []*item, opts Options) {
	mapping, ns := items[0].mapping, items[0].obj.GetNamespace()
	byName := make(map[string]*item, len(items))
	for _, it := range items {
		byName[it.obj.GetName()] = it
	}

	ri := m.resource(mapping, ns)
	selector := labels.Set{
		ownership.LabelRelease:          opts.Release,
		ownership.LabelReleaseNamespace: opts.ReleaseNamespace,
	}.String()
	for cont := ""; ; {
		list, err := ri.List(ctx, metav1.ListOptions{LabelSelector: selector, Limit: listPageSize, Continue: cont})
		if err != nil {
			return
		}
		for i := range list.Items {
			if it, ok := byName[list.Items[i].GetName()]; ok {
				it.live, it.fetched = &list.Items[i], true
				delete(byName, it.obj.GetName())
			}
		}
		if cont = list.GetContinue(); cont == "" {
			break
		}
	}
	if len(byName) < listThreshold {
		return
	}

	mri := m.metadata.Resource(mapping.Resource)
	var lister interface {
		List(context.Context, metav1.ListOptions) (*metav1.PartialObjectMetadataList, error)
	} = mri
	if ns != "" {
		lister = mri.Namespace(ns)
	}
	exists := map[string]bool{}
	for cont := ""; ; {
		list, err := lister.List(ctx, metav1.ListOptions{Limit: listPageSize, Continue: cont})
		if err != nil {
			return
		}
		for _, o := range list.Items {
			exists[o.Name] = true
		}
		if cont = list.Continue; cont == "" {
			break
		}
	}
	for name, it := range byName {
		if !exists[name] {
			it.live, it.fetched = nil, true
		}
	}
}
