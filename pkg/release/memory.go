package release

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"sync"
	"time"
)

// MemoryStoreOptions configure a MemoryStore client.
type MemoryStoreOptions struct {
	// LockTTL is how long a lock holds unless renewed. Default
	// DefaultLockTTL.
	LockTTL time.Duration
	// Holder names this client in the locks it takes. Default
	// DefaultHolder().
	Holder string
	// Now is the clock of lock times and status moves. Default time.Now.
	Now func() time.Time
}

// MemoryStore keeps releases in memory, with the semantics of KubeStore
// (locks, optimistic concurrency, forward-only statuses, JSON round trips of
// records), for unit tests of its callers. It is safe for concurrent use.
type MemoryStore struct {
	lock lockSettings
	db   *memoryDB
}

var _ Store = (*MemoryStore)(nil)

type memoryDB struct {
	mu    sync.Mutex
	rv    int
	heads map[string]*Head                 // by namespace/name
	revs  map[string]map[int]*memoryRecord // by namespace/name, revision
}

type memoryRecord struct {
	data       []byte // JSON of the Revision, written once
	status     Status
	appliedBy  string
	updated    time.Time
	outcome    string // SetOutcome's description
	failedHook string
	// annotations are SetAnnotations'.
	annotations map[string]string
	moved       bool // the status moved since CreateRevision
	finished    time.Time
}

// NewMemoryStore returns an empty store with the default options.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{
		lock: newLockSettings("", 0, nil),
		db:   &memoryDB{heads: map[string]*Head{}, revs: map[string]map[int]*memoryRecord{}},
	}
}

// Client returns a store sharing m's releases that acts with opts (zero
// fields take their defaults): another client of the same cluster, with its
// own holder name, lock TTL or clock.
func (m *MemoryStore) Client(opts MemoryStoreOptions) *MemoryStore {
	return &MemoryStore{lock: newLockSettings(opts.Holder, opts.LockTTL, opts.Now), db: m.db}
}

// KeepAlive renews the lock held by h every third of the lock TTL until
// stop is called; see the KeepAlive function.
func (m *MemoryStore) KeepAlive(ctx context.Context, h *Head) (stop func() error) {
	return KeepAlive(ctx, m, h, m.lock.ttl/3)
}

// KeepAliveNotify is KeepAlive that calls lost when the lock is gone; see
// the KeepAliveNotify function.
func (m *MemoryStore) KeepAliveNotify(ctx context.Context, h *Head, lost func(error)) (stop func() error) {
	return KeepAliveNotify(ctx, m, h, m.lock.ttl/3, lost)
}

func memoryKey(namespace, name string) string { return namespace + "/" + name }

func (db *memoryDB) nextRV() string {
	db.rv++
	return strconv.Itoa(db.rv)
}

// Head reads a release's head; ErrNotFound when there is none.
func (m *MemoryStore) Head(_ context.Context, namespace, name string) (*Head, error) {
	m.db.mu.Lock()
	defer m.db.mu.Unlock()
	h, ok := m.db.heads[memoryKey(namespace, name)]
	if !ok {
		return nil, fmt.Errorf("release %s/%s: %w", namespace, name, ErrNotFound)
	}
	return copyHead(h).withoutLockID(), nil
}

// Acquire takes the lock for an operation, creating the head if needed.
func (m *MemoryStore) Acquire(_ context.Context, namespace, name, operation string, force bool) (*Head, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	m.db.mu.Lock()
	defer m.db.mu.Unlock()
	key := memoryKey(namespace, name)
	cur, ok := m.db.heads[key]
	if !ok {
		cur = &Head{Name: name, Namespace: namespace}
	}
	lock, err := m.lock.take(key, cur.Lock, operation, force)
	if err != nil {
		return nil, err
	}
	cur.Lock = lock
	cur.ResourceVersion = m.db.nextRV()
	m.db.heads[key] = cur
	return copyHead(cur), nil
}

// onHead runs write on h's stored head once mayWrite allows it, then gives
// the head a new resourceVersion (unless write deleted it) and updates h's
// resourceVersion and lock.
func (m *MemoryStore) onHead(h *Head, write func(cur *Head) (deleted bool, err error)) error {
	m.db.mu.Lock()
	defer m.db.mu.Unlock()
	key := memoryKey(h.Namespace, h.Name)
	cur, ok := m.db.heads[key]
	if !ok {
		return fmt.Errorf("release %s: %w", key, ErrNotFound)
	}
	if err := mayWrite(h, cur, m.lock.now()); err != nil {
		return err
	}
	deleted, err := write(cur)
	if err != nil {
		return err
	}
	if deleted {
		delete(m.db.heads, key)
		h.Lock = nil
		return nil
	}
	cur.ResourceVersion = m.db.nextRV()
	h.ResourceVersion = cur.ResourceVersion
	h.Lock = copyHead(cur).Lock
	return nil
}

// UpdateHead writes h's revision, deployed revision, status and inventory.
func (m *MemoryStore) UpdateHead(_ context.Context, h *Head) error {
	return m.onHead(h, func(cur *Head) (bool, error) {
		cur.Revision, cur.Deployed, cur.Status = h.Revision, h.Deployed, h.Status
		cur.Inventory = slices.Clone(h.Inventory)
		cur.Labels = maps.Clone(h.Labels)
		return false, nil
	})
}

// Release drops the lock held by h.
func (m *MemoryStore) Release(_ context.Context, h *Head) error {
	return m.onHead(h, func(cur *Head) (bool, error) {
		if cur.Lock != nil && !holds(h, cur.Lock) {
			return false, lockLost(memoryKey(h.Namespace, h.Name), cur.Lock)
		}
		cur.Lock = nil
		return false, nil
	})
}

// Renew extends the lock held by h by a TTL from now.
func (m *MemoryStore) Renew(_ context.Context, h *Head) error {
	if h.Lock == nil {
		return fmt.Errorf("release %s/%s: renew without a lock", h.Namespace, h.Name)
	}
	return m.onHead(h, func(cur *Head) (bool, error) {
		if !holds(h, cur.Lock) {
			return false, lockLost(memoryKey(h.Namespace, h.Name), cur.Lock)
		}
		m.lock.renew(cur.Lock)
		return false, nil
	})
}

// DeleteHead removes the head (and with it the lock).
func (m *MemoryStore) DeleteHead(_ context.Context, h *Head) error {
	return m.onHead(h, func(*Head) (bool, error) { return true, nil })
}

// List lists heads in a namespace ("" for all namespaces), sorted by
// namespace and name.
func (m *MemoryStore) List(_ context.Context, namespace string) ([]*Head, error) {
	m.db.mu.Lock()
	defer m.db.mu.Unlock()
	var heads []*Head
	for _, h := range m.db.heads {
		if namespace == "" || h.Namespace == namespace {
			heads = append(heads, copyHead(h).withoutLockID())
		}
	}
	slices.SortFunc(heads, func(a, b *Head) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})
	return heads, nil
}

// CreateRevision writes a new revision record; ErrConflict when it exists.
func (m *MemoryStore) CreateRevision(_ context.Context, r *Revision) error {
	if err := checkName(r.Name); err != nil {
		return err
	}
	if r.Revision < 1 {
		return fmt.Errorf("release %s/%s: revision %d: revisions start at 1", r.Namespace, r.Name, r.Revision)
	}
	if !r.Status.Known() {
		return fmt.Errorf("release %s/%s: revision %d: unknown status %q", r.Namespace, r.Name, r.Revision, r.Status)
	}
	data, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("release %s/%s: encode revision %d: %w", r.Namespace, r.Name, r.Revision, err)
	}
	m.db.mu.Lock()
	defer m.db.mu.Unlock()
	key := memoryKey(r.Namespace, r.Name)
	if m.db.revs[key] == nil {
		m.db.revs[key] = map[int]*memoryRecord{}
	}
	if _, ok := m.db.revs[key][r.Revision]; ok {
		return fmt.Errorf("release %s revision %d exists: %w", key, r.Revision, ErrConflict)
	}
	now := m.lock.now().UTC()
	m.db.revs[key][r.Revision] = &memoryRecord{data: data, status: r.Status, updated: now}
	r.Updated, r.AppliedBy = now, ""
	return nil
}

func (rec *memoryRecord) revision() (*Revision, error) {
	var r Revision
	if err := json.Unmarshal(rec.data, &r); err != nil {
		return nil, err
	}
	r.Status, r.AppliedBy, r.Updated = rec.status, rec.appliedBy, rec.updated
	r.Description = describeRead(r.Description, rec.outcome, rec.status)
	r.Test = testResultOf(rec.annotations)
	r.StatusMoved = rec.moved
	r.Finished = rec.finished
	return &r, nil
}

// SetStatus moves a revision's status forward (CanMove); moving it to the
// status it has is a no-op.
func (m *MemoryStore) SetStatus(ctx context.Context, namespace, name string, revision int, status Status) error {
	return m.SetOutcome(ctx, namespace, name, revision, Outcome{Status: status, statusOnly: true})
}

// SetOutcome moves a revision's status forward, as SetStatus, and records
// description as its outcome.
func (m *MemoryStore) SetOutcome(_ context.Context, namespace, name string, revision int, o Outcome) error {
	status, description := o.Status, o.Description
	m.db.mu.Lock()
	defer m.db.mu.Unlock()
	rec, ok := m.db.revs[memoryKey(namespace, name)][revision]
	if !ok {
		return fmt.Errorf("release %s/%s revision %d: %w", namespace, name, revision, ErrNotFound)
	}
	if rec.status == status {
		return nil
	}
	if !CanMove(rec.status, status) {
		return fmt.Errorf("release %s/%s: revision %d cannot move from %s to %s", namespace, name, revision, rec.status, status)
	}
	now := m.lock.now().UTC()
	if ends(rec.status, status) && !o.statusOnly {
		rec.finished = now
	}
	rec.status, rec.updated = status, now
	rec.moved = true
	if description != "" {
		rec.outcome = clipDescription(description)
	}
	if o.FailedHook != "" {
		rec.failedHook = o.FailedHook
	}
	return nil
}

// Revision reads one revision; ErrNotFound when it does not exist.
func (m *MemoryStore) Revision(_ context.Context, namespace, name string, revision int) (*Revision, error) {
	m.db.mu.Lock()
	defer m.db.mu.Unlock()
	rec, ok := m.db.revs[memoryKey(namespace, name)][revision]
	if !ok {
		return nil, fmt.Errorf("release %s/%s revision %d: %w", namespace, name, revision, ErrNotFound)
	}
	return rec.revision()
}

// History lists a release's revisions, oldest first.
func (m *MemoryStore) History(_ context.Context, namespace, name string) ([]*Revision, error) {
	m.db.mu.Lock()
	defer m.db.mu.Unlock()
	var revs []*Revision
	for _, rec := range m.db.revs[memoryKey(namespace, name)] {
		r, err := rec.revision()
		if err != nil {
			return nil, err
		}
		revs = append(revs, r)
	}
	slices.SortFunc(revs, func(a, b *Revision) int { return cmp.Compare(a.Revision, b.Revision) })
	return revs, nil
}

// DeleteRevision removes a revision record; ErrNotFound when it does not
// exist.
func (m *MemoryStore) DeleteRevision(_ context.Context, namespace, name string, revision int) error {
	m.db.mu.Lock()
	defer m.db.mu.Unlock()
	key := memoryKey(namespace, name)
	if _, ok := m.db.revs[key][revision]; !ok {
		return fmt.Errorf("release %s revision %d: %w", key, revision, ErrNotFound)
	}
	delete(m.db.revs[key], revision)
	return nil
}
