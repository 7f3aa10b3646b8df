package drift

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"

	"golang.org/x/sync/errgroup"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/client-go/discovery"
	"sigs.k8s.io/structured-merge-diff/v6/typed"

	"github.com/kubectl-chart/kubectl-chart/internal/apply"
	"github.com/kubectl-chart/kubectl-chart/pkg/release"
)

// Options says how Check reads.
type Options struct {
	// Concurrency bounds the requests in flight (default
	// apply.DefaultConcurrency).
	Concurrency int
}

// DefaultOptions are the options of `kubectl chart drift`.
func DefaultOptions() Options { return Options{Concurrency: apply.DefaultConcurrency} }

// Checker compares releases with their live objects on one cluster.
type Checker struct {
	applier *apply.Manager
	store   release.Store
	schemas *schemas
}

// NewChecker is a Checker that reads releases from store and objects, and
// the OpenAPI schemas, with applier (and its discovery cache).
func NewChecker(applier *apply.Manager, store release.Store) *Checker {
	oc := discovery.OpenAPIV3ToSchemaInterfaceWithContext(applier.Discovery())
	return &Checker{applier: applier, store: store, schemas: newSchemas(oc.OpenAPIV3WithContext(context.Background()))}
}

// NoDeployedRevisionError says a release has no deployed revision to
// compare with (it was never deployed, or is uninstalled).
type NoDeployedRevisionError struct {
	Name, Namespace string
}

func (e *NoDeployedRevisionError) Error() string {
	return fmt.Sprintf("release %s/%s has no deployed revision", e.Namespace, e.Name)
}

// released is one release being checked: its applied objects, by key.
type released struct {
	head    *release.Head
	rev     *release.Revision
	applied map[string]*unstructured.Unstructured
	refs    []release.ObjectRef // the inventory's objects the revision applied
	report  Release
}

// Check compares every object of the heads' inventories with what their
// deployed revision applied. The live objects of all the releases are read
// with one Observe (one LIST per kind and namespace). A release whose
// records cannot be read, or an object that cannot be read or compared, is
// an error joined with the others; the report holds everything else.
func (c *Checker) Check(ctx context.Context, heads []*release.Head, opts Options) (*Report, error) {
	if opts.Concurrency <= 0 {
		opts.Concurrency = apply.DefaultConcurrency
	}
	rels := make([]*released, len(heads))
	errs := make([]error, len(heads))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(opts.Concurrency)
	for i, h := range heads {
		g.Go(func() error {
			rels[i], errs[i] = c.load(gctx, h)
			return nil
		})
	}
	_ = g.Wait()

	var refs []release.ObjectRef
	var owners []*released
	var loaded []*released
	for _, r := range rels {
		if r == nil {
			continue
		}
		loaded = append(loaded, r)
		for _, ref := range r.refs {
			refs = append(refs, ref)
			owners = append(owners, r)
		}
	}
	// The LISTs select the objects of the release, or of any release.
	selector := apply.AnyReleaseSelector()
	if len(loaded) == 1 {
		selector = apply.ReleaseSelector(loaded[0].head.Name, loaded[0].head.Namespace)
	}
	observed, _ := c.applier.Observe(ctx, refs, apply.ObserveOptions{LabelSelector: selector, Concurrency: opts.Concurrency})

	results := make([]*Object, len(observed))
	objErrs := make([]error, len(observed))
	cg := errgroup.Group{}
	cg.SetLimit(runtime.GOMAXPROCS(0))
	for i, o := range observed {
		cg.Go(func() error {
			results[i], objErrs[i] = c.compare(ctx, owners[i].applied[o.Ref.Key()], o)
			return nil
		})
	}
	_ = cg.Wait()

	report := &Report{Releases: []Release{}}
	for i, res := range results {
		if res != nil {
			owners[i].report.Objects = append(owners[i].report.Objects, *res)
		}
	}
	for _, r := range loaded {
		slices.SortFunc(r.report.Objects, func(a, b Object) int { return cmp.Compare(refOrder(a.ObjectRef), refOrder(b.ObjectRef)) })
		report.Releases = append(report.Releases, r.report)
	}
	slices.SortFunc(report.Releases, func(a, b Release) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})
	return report, errors.Join(append(errs, objErrs...)...)
}

func refOrder(r release.ObjectRef) string {
	return r.Kind + "/" + r.Group + "/" + r.Namespace + "/" + r.Name
}

// load reads a release's deployed revision and decodes what it applied.
func (c *Checker) load(ctx context.Context, h *release.Head) (*released, error) {
	if h.Deployed == 0 {
		return nil, &NoDeployedRevisionError{Name: h.Name, Namespace: h.Namespace}
	}
	rev, err := c.store.Revision(ctx, h.Namespace, h.Name, h.Deployed)
	if err != nil {
		return nil, fmt.Errorf("release %s/%s: revision %d: %w", h.Namespace, h.Name, h.Deployed, err)
	}
	objs, err := c.applier.Applied(rev.Manifest, h.Name, h.Namespace)
	if err != nil {
		return nil, fmt.Errorf("release %s/%s: revision %d: %w", h.Namespace, h.Name, h.Deployed, err)
	}
	r := &released{head: h, rev: rev, applied: make(map[string]*unstructured.Unstructured, len(objs)),
		report: Release{Name: h.Name, Namespace: h.Namespace, Revision: h.Deployed, Objects: []Object{}}}
	for _, o := range objs {
		r.applied[apply.RefOf(o).Key()] = o
	}
	// The head's inventory is what the release owns; during an operation it
	// also holds objects the deployed revision did not apply (nothing to
	// compare them with).
	for _, ref := range h.Inventory {
		if o, ok := r.applied[ref.Key()]; ok {
			r.refs = append(r.refs, apply.RefOf(o)) // read in the version applied
		}
	}
	r.report.Checked = len(r.refs)
	return r, nil
}

// compare is the drift of one object; nil when it has none.
func (c *Checker) compare(ctx context.Context, applied *unstructured.Unstructured, o apply.Observed) (*Object, error) {
	switch {
	case o.Err != nil:
		return nil, o.Err
	case o.Missing():
		return &Object{ObjectRef: o.Ref, Missing: true}, nil
	}
	tc, err := c.schemas.converter(ctx, applied.GroupVersionKind().GroupVersion())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", o.Ref, err)
	}
	at, lt, err := typedPair(tc, applied, o.Object)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", o.Ref, err)
	}
	fields, err := compareObject(at, lt, o.Object.Object, o.Object.GetManagedFields())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", o.Ref, err)
	}
	if len(fields) == 0 {
		return nil, nil
	}
	return &Object{ObjectRef: o.Ref, Fields: fields}, nil
}

// typedPair types the applied and the live object with tc, or, when
// either does not fit tc's schema, both without a schema.
func typedPair(tc managedfields.TypeConverter, applied, live *unstructured.Unstructured) (*typed.TypedValue, *typed.TypedValue, error) {
	at, err := tc.ObjectToTyped(applied, typed.AllowDuplicates)
	var lt *typed.TypedValue
	if err == nil {
		lt, err = tc.ObjectToTyped(live, typed.AllowDuplicates)
	}
	if err == nil {
		return at, lt, nil
	}
	if at, err = deduced.ObjectToTyped(applied, typed.AllowDuplicates); err != nil {
		return nil, nil, err
	}
	lt, err = deduced.ObjectToTyped(live, typed.AllowDuplicates)
	return at, lt, err
}
