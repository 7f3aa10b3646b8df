package action

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-chart/kubectl-chart/internal/apply"
	"github.com/kubectl-chart/kubectl-chart/pkg/release"
	"github.com/kubectl-chart/kubectl-chart/pkg/render"
)

// Applier is the apply engine as actions use it (internal/apply.Manager).
type Applier interface {
	Decode(manifest, defaultNamespace string) ([]*unstructured.Unstructured, error)
	Apply(ctx context.Context, objs []*unstructured.Unstructured, opts apply.Options) (*apply.ChangeSet, error)
	Delete(ctx context.Context, refs []release.ObjectRef, opts apply.DeleteOptions) (*apply.ChangeSet, error)
	Wait(ctx context.Context, refs []release.ObjectRef, opts apply.WaitOptions) error
	Get(ctx context.Context, ref release.ObjectRef) (*unstructured.Unstructured, error)
}

// Config is what every action needs.
type Config struct {
	Store   release.Store
	Applier Applier
	// Capabilities are the cluster's (discovery); nil means client-only
	// defaults.
	Capabilities *render.Capabilities
	// Lookup backs the lookup template function.
	Lookup render.LookupFunc
	// Kube reads and writes what the release store and the apply engine do
	// not: Helm's release records (import-helm, export-helm). Nil where
	// they are not needed.
	Kube kubernetes.Interface
	// KeepAlive renews the lock while an operation runs and calls lost when
	// the lock is gone (release.KeepAliveNotify); nil: no renewal.
	KeepAlive func(ctx context.Context, h *release.Head, lost func(error)) (stop func() error)
	// Now is the clock (tests); nil means time.Now.
	Now func() time.Time

	// decoded is the last revision decodeRevision decoded: an operation
	// decodes its new revision once to check it, and again to apply it.
	decodedMu sync.Mutex
	decoded   *decodedRevision
}

// decodedRevision is a revision's manifest decoded into objects.
type decodedRevision struct {
	crdText, manifest, namespace string
	crds, objs                   []*unstructured.Unstructured
}

func (c *Config) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// Errors callers branch on.
var (
	// ErrReleaseNotFound: upgrade or rollback of a release that does not
	// exist.
	ErrReleaseNotFound = errors.New("release not found")
	// ErrReleaseExists: install of a release that has a deployed revision.
	ErrReleaseExists = errors.New("cannot re-use a name that is still in use")
)

// Result is the outcome of an install, upgrade or rollback.
type Result struct {
	Revision *release.Revision
	// Changes are the objects applied and pruned.
	Changes []apply.Change
	// Hooks are the hooks run, in order.
	Hooks []HookRun
	// RolledBack is set when --atomic undid the operation.
	RolledBack string
	// CleanedUp are the objects a failed operation had created and
	// --cleanup-on-fail deleted.
	CleanedUp []release.ObjectRef
}

// Takeovers are the fields the operation took from other field managers
// (Changes' Taken, in order): fields the previous revision applied, taken
// back, and with --force-conflicts any other. The revision's description
// names them too.
func (r *Result) Takeovers() []apply.Takeover {
	if r == nil {
		return nil
	}
	return apply.Takeovers(r.Changes)
}

// refOf names an object.
func refOf(u *unstructured.Unstructured) release.ObjectRef {
	gvk := u.GroupVersionKind()
	return release.ObjectRef{Group: gvk.Group, Version: gvk.Version, Kind: gvk.Kind, Namespace: u.GetNamespace(), Name: u.GetName()}
}

func refsOf(objs []*unstructured.Unstructured) []release.ObjectRef {
	out := make([]release.ObjectRef, 0, len(objs))
	for _, o := range objs {
		out = append(out, refOf(o))
	}
	return out
}

// union is a ∪ b by object identity, a's order first.
func union(a, b []release.ObjectRef) []release.ObjectRef {
	seen := make(map[string]bool, len(a)+len(b))
	var out []release.ObjectRef
	for _, list := range [][]release.ObjectRef{a, b} {
		for _, r := range list {
			if !seen[r.Key()] {
				seen[r.Key()] = true
				out = append(out, r)
			}
		}
	}
	return out
}

// minus is a \ b by object identity.
func minus(a, b []release.ObjectRef) []release.ObjectRef {
	in := make(map[string]bool, len(b))
	for _, r := range b {
		in[r.Key()] = true
	}
	var out []release.ObjectRef
	for _, r := range a {
		if !in[r.Key()] {
			out = append(out, r)
		}
	}
	return out
}

// validateName applies Helm's rule for release names.
func validateName(name string) error {
	if name == "" {
		return errors.New("release name is required")
	}
	if len(name) > 53 {
		return fmt.Errorf("release name %q: release name exceeds max length of 53", name)
	}
	for i, r := range name {
		ok := r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || (r == '-' || r == '.') && i > 0 && i < len(name)-1
		if !ok {
			return fmt.Errorf("release name %q: must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character", name)
		}
	}
	return nil
}

// recoverStale repairs what an interrupted operation left, with the lock
// held: pending revisions are marked failed; a record newer than the head
// (written just before a crash, before the head named it) raises the head's
// revision, so the next one gets a fresh number, and its objects join the
// inventory; a revision recorded deployed after the head last moved becomes
// the deployed one.
func (c *Config) recoverStale(ctx context.Context, h *release.Head) error {
	hist, err := c.Store.History(ctx, h.Namespace, h.Name)
	if err != nil && len(hist) == 0 {
		if errors.Is(err, release.ErrNotFound) {
			return nil
		}
		return err
	}
	for _, r := range hist {
		if r.Revision > h.Revision {
			h.SetRevision(r)
			h.Inventory = union(h.Inventory, r.Inventory)
		}
		if r.Status.IsPending() {
			desc := fmt.Sprintf("Interrupted: the %s stopped before it finished (found by the next operation)", r.Operation)
			if err := c.Store.SetOutcome(ctx, h.Namespace, h.Name, r.Revision, release.Outcome{Status: release.StatusFailed, Description: desc}); err != nil {
				return fmt.Errorf("marking interrupted revision %d failed: %w", r.Revision, err)
			}
			r.Status, r.Description = release.StatusFailed, desc
		}
		if r.Status == release.StatusDeployed && r.Revision > h.Deployed {
			h.Deployed = r.Revision
		}
	}
	return nil
}

// supersedeOthers marks every deployed revision but rev superseded (more
// than one is deployed only after an interrupted finish).
func (c *Config) supersedeOthers(ctx context.Context, h *release.Head, rev int, prev *release.Revision) error {
	hist, err := c.Store.History(ctx, h.Namespace, h.Name)
	if err != nil && len(hist) == 0 {
		if prev == nil || prev.Revision == rev {
			return nil
		}
		if err := c.Store.SetStatus(ctx, h.Namespace, h.Name, prev.Revision, release.StatusSuperseded); err != nil && !errors.Is(err, release.ErrNotFound) {
			return fmt.Errorf("recording revision %d superseded: %w", prev.Revision, err)
		}
		return nil
	}
	for _, r := range hist {
		if r.Revision != rev && r.Status == release.StatusDeployed {
			if err := c.Store.SetStatus(ctx, h.Namespace, h.Name, r.Revision, release.StatusSuperseded); err != nil && !errors.Is(err, release.ErrNotFound) {
				return fmt.Errorf("recording revision %d superseded: %w", r.Revision, err)
			}
		}
	}
	return nil
}

// pruneHistory deletes the oldest revisions beyond max (never the deployed
// one nor the newest).
func (c *Config) pruneHistory(ctx context.Context, h *release.Head, max int) error {
	if max <= 0 {
		return nil
	}
	hist, err := c.Store.History(ctx, h.Namespace, h.Name)
	if err != nil {
		return err
	}
	var errs []error
	for i := 0; len(hist)-i > max; i++ {
		r := hist[i]
		if r.Revision == h.Deployed || r.Revision == h.Revision {
			continue
		}
		if err := c.Store.DeleteRevision(ctx, h.Namespace, h.Name, r.Revision); err != nil && !errors.Is(err, release.ErrNotFound) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// splitManifest separates the CRDs of a rendered manifest from the rest;
// both are applied, CRDs first (the apply engine orders stages).
func containsKind(objs []*unstructured.Unstructured, kind string) bool {
	return slices.ContainsFunc(objs, func(u *unstructured.Unstructured) bool { return u.GetKind() == kind })
}

// deletable splits refs into those an operation may delete and the CRDs
// among them: like Helm, CRDs are never deleted by a release operation
// (deleting one deletes every custom resource of its kind, in every
// namespace). The CRDs are reported as kept.
func deletable(refs []release.ObjectRef) ([]release.ObjectRef, []apply.Change) {
	var del []release.ObjectRef
	var kept []apply.Change
	for _, r := range refs {
		if r.Kind == "CustomResourceDefinition" && r.Group == "apiextensions.k8s.io" {
			kept = append(kept, apply.Change{Ref: r, Action: apply.Kept})
			continue
		}
		del = append(del, r)
	}
	return del, kept
}

// describe joins a description for a revision.
func describe(user, fallback string) string {
	if strings.TrimSpace(user) != "" {
		return user
	}
	return fallback
}

// whileLocked runs op with the release's lock kept alive. When the lock is
// lost meanwhile (another user took it over with --force-unlock, the head
// was deleted), op's context is cancelled at once with the reason, and an
// operation cut short by it fails with that reason rather than "context
// canceled". What it left is what a killed client leaves: the next command
// recovers it.
func whileLocked[R any](ctx context.Context, c *Config, head *release.Head, op func(context.Context) (R, error)) (R, error) {
	if c.KeepAlive == nil {
		return op(ctx)
	}
	opCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stop := c.KeepAlive(opCtx, head, func(err error) {
		cancel(fmt.Errorf("%w: the operation was stopped", err))
	})
	res, err := op(opCtx)
	_ = stop()
	if err != nil && ctx.Err() == nil {
		if cause := context.Cause(opCtx); cause != nil && !errors.Is(cause, context.Canceled) {
			return res, cause
		}
	}
	return res, err
}
