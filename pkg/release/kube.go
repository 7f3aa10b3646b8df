package release

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-chart/kubectl-chart/pkg/ownership"
	"github.com/kubectl-chart/kubectl-chart/pkg/release/wire"
)

// DefaultMaxChunkBytes bounds the compressed record bytes kept in one
// Secret: a record larger than this is split across several Secrets, each
// well under the API server's 1 MiB limit on a Secret's data.
const DefaultMaxChunkBytes = 900 << 10

// maxChunkBytes is the most MaxChunkBytes may be: a Secret's data is at most
// 1 MiB, and chunk 0 carries a few more keys.
const maxChunkBytes = corev1.MaxSecretSize - 4<<10

// DefaultTooling is the ApplySet tooling annotation written when
// KubeStoreOptions.Tooling is empty.
const DefaultTooling = ownership.FieldManager + "/unknown"

// attempts bounds the retries of a write that met a conflict it may retry.
const attempts = 8

// KubeStoreOptions configure a KubeStore.
type KubeStoreOptions struct {
	// Tooling is the ApplySet tooling annotation written on heads:
	// kubectl-chart/<version>. Default DefaultTooling.
	Tooling string
	// LockTTL is how long a lock holds unless renewed. Default
	// DefaultLockTTL.
	LockTTL time.Duration
	// Holder names this client in the locks it takes. Default
	// DefaultHolder().
	Holder string
	// MaxChunkBytes bounds the compressed record bytes in one Secret; larger
	// records are split. Default DefaultMaxChunkBytes; at most 1 MiB − 4 KiB.
	MaxChunkBytes int
	// Now is the clock of lock times and status moves. Default time.Now.
	Now func() time.Time
}

// DefaultKubeStoreOptions are the options NewKubeStore puts in place of
// zero fields.
func DefaultKubeStoreOptions() KubeStoreOptions {
	return KubeStoreOptions{
		Tooling:       DefaultTooling,
		LockTTL:       DefaultLockTTL,
		Holder:        DefaultHolder(),
		MaxChunkBytes: DefaultMaxChunkBytes,
		Now:           time.Now,
	}
}

// KubeStore keeps releases on a cluster: a head ConfigMap per release and
// immutable revision Secrets (DESIGN.md, "Releases"). It is safe for
// concurrent use.
type KubeStore struct {
	client kubernetes.Interface
	opts   KubeStoreOptions
	lock   lockSettings
}

var _ Store = (*KubeStore)(nil)

// NewKubeStore returns a store that keeps releases through client. Zero
// fields of opts take their DefaultKubeStoreOptions values.
func NewKubeStore(client kubernetes.Interface, opts KubeStoreOptions) *KubeStore {
	if opts.Tooling == "" {
		opts.Tooling = DefaultTooling
	}
	if opts.MaxChunkBytes <= 0 {
		opts.MaxChunkBytes = DefaultMaxChunkBytes
	}
	opts.MaxChunkBytes = min(opts.MaxChunkBytes, maxChunkBytes)
	s := &KubeStore{client: client, lock: newLockSettings(opts.Holder, opts.LockTTL, opts.Now)}
	opts.Holder, opts.LockTTL, opts.Now = s.lock.holder, s.lock.ttl, s.lock.now
	s.opts = opts
	return s
}

// KeepAlive renews the lock held by h every third of the lock TTL until
// stop is called; see the KeepAlive function.
func (s *KubeStore) KeepAlive(ctx context.Context, h *Head) (stop func() error) {
	return KeepAlive(ctx, s, h, s.lock.ttl/3)
}

// KeepAliveNotify is KeepAlive that calls lost when the lock is gone; see
// the KeepAliveNotify function.
func (s *KubeStore) KeepAliveNotify(ctx context.Context, h *Head, lost func(error)) (stop func() error) {
	return KeepAliveNotify(ctx, s, h, s.lock.ttl/3, lost)
}

// ---------------------------------------------------------------------------
// Heads
// ---------------------------------------------------------------------------

func headRef(namespace, name string) string {
	return "ConfigMap/" + namespace + "/" + ownership.HeadName(name)
}

// Head reads a release's head; ErrNotFound when there is none. The lock it
// shows carries no ID: only Acquire makes a holder.
func (s *KubeStore) Head(ctx context.Context, namespace, name string) (*Head, error) {
	cm, err := s.getHead(ctx, namespace, name)
	if err != nil {
		return nil, err
	}
	h, err := decodeHead(cm)
	if err != nil {
		return nil, err
	}
	return h.withoutLockID(), nil
}

func (s *KubeStore) getHead(ctx context.Context, namespace, name string) (*corev1.ConfigMap, error) {
	cm, err := s.client.CoreV1().ConfigMaps(namespace).Get(ctx, ownership.HeadName(name), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("release %s/%s: %w", namespace, name, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", headRef(namespace, name), err)
	}
	if cm.Labels[ownership.LabelRecord] != ownership.RecordHead || cm.Labels[ownership.LabelRelease] != name {
		return nil, fmt.Errorf("%s: exists but is not the head of release %s (labels %s=%s and %s=%s missing)",
			headRef(namespace, name), name, ownership.LabelRecord, ownership.RecordHead, ownership.LabelRelease, name)
	}
	return cm, nil
}

// decodeHead reads a head ConfigMap.
func decodeHead(cm *corev1.ConfigMap) (*Head, error) {
	name := cm.Labels[ownership.LabelRelease]
	ref := headRef(cm.Namespace, name)
	h := &Head{
		Name:            name,
		Namespace:       cm.Namespace,
		Status:          Status(cm.Data[HeadKeyStatus]),
		ResourceVersion: cm.ResourceVersion,
	}
	var err error
	if h.Revision, err = atoi(cm.Data[HeadKeyRevision]); err != nil {
		return nil, fmt.Errorf("%s: %s: %w", ref, HeadKeyRevision, err)
	}
	if h.Deployed, err = atoi(cm.Data[HeadKeyDeployed]); err != nil {
		return nil, fmt.Errorf("%s: %s: %w", ref, HeadKeyDeployed, err)
	}
	if v := cm.Data[HeadKeyInventory]; v != "" {
		if err := json.Unmarshal([]byte(v), &h.Inventory); err != nil {
			return nil, fmt.Errorf("%s: %s: %w", ref, HeadKeyInventory, err)
		}
	}
	if v, ok := cm.Data[HeadKeyLock]; ok {
		var l Lock
		if err := json.Unmarshal([]byte(v), &l); err != nil {
			return nil, fmt.Errorf("%s: %s: %w", ref, HeadKeyLock, err)
		}
		l.User = cm.Annotations[ownership.AnnotationLockUser]
		h.Lock = &l
	}
	h.Record = cm.Data[HeadKeyRecord]
	if v := cm.Data[HeadKeyChart]; v != "" {
		var c ChartRef
		if err := json.Unmarshal([]byte(v), &c); err != nil {
			return nil, fmt.Errorf("%s: %s: %w", ref, HeadKeyChart, err)
		}
		h.Chart = &c
	}
	if v := cm.Data[HeadKeyLabels]; v != "" {
		if err := json.Unmarshal([]byte(v), &h.Labels); err != nil {
			return nil, fmt.Errorf("%s: %s: %w", ref, HeadKeyLabels, err)
		}
	}
	return h, nil
}

func atoi(s string) (int, error) {
	if s == "" {
		return 0, nil
	}
	return strconv.Atoi(s)
}

// encodeHead writes h's revision, status and inventory into cm, with the
// labels and ApplySet annotations of a head. The lock is left as it is.
func encodeHead(cm *corev1.ConfigMap, h *Head, tooling string) error {
	inv := h.Inventory
	if inv == nil {
		inv = []ObjectRef{}
	}
	invJSON, err := json.Marshal(inv)
	if err != nil {
		return fmt.Errorf("%s: encode inventory: %w", headRef(h.Namespace, h.Name), err)
	}
	if cm.Labels == nil {
		cm.Labels = map[string]string{}
	}
	cm.Labels[ownership.LabelRelease] = h.Name
	cm.Labels[ownership.LabelRecord] = ownership.RecordHead
	cm.Labels[ownership.LabelApplySetID] = ownership.ApplySetID(h.Name, h.Namespace)
	if cm.Annotations == nil {
		cm.Annotations = map[string]string{}
	}
	cm.Annotations[ownership.AnnotationApplySetTooling] = tooling
	cm.Annotations[ownership.AnnotationApplySetGroupKinds] = applySetGroupKinds(h.Inventory)
	cm.Annotations[ownership.AnnotationApplySetAdditionalNamespaces] = applySetAdditionalNamespaces(h.Inventory, h.Namespace)
	if cm.Data == nil {
		cm.Data = map[string]string{}
	}
	cm.Data[HeadKeyRevision] = strconv.Itoa(h.Revision)
	cm.Data[HeadKeyDeployed] = strconv.Itoa(h.Deployed)
	cm.Data[HeadKeyStatus] = string(h.Status)
	cm.Data[HeadKeyInventory] = string(invJSON)
	if h.Record != "" {
		cm.Data[HeadKeyRecord] = h.Record
	} else {
		delete(cm.Data, HeadKeyRecord)
	}
	if h.Chart != nil {
		b, _ := json.Marshal(h.Chart) // strings only: always encodes
		cm.Data[HeadKeyChart] = string(b)
	} else {
		delete(cm.Data, HeadKeyChart)
	}
	if len(h.Labels) > 0 {
		b, _ := json.Marshal(h.Labels) // strings only: always encodes
		cm.Data[HeadKeyLabels] = string(b)
	} else {
		delete(cm.Data, HeadKeyLabels)
	}
	return nil
}

// setLock writes l into cm (nil removes it). The webhook's lock-user stamp
// belongs to the lock it was stamped for: it goes whenever the lock changes
// hands, and the webhook stamps the new taker.
func setLock(cm *corev1.ConfigMap, l *Lock, newHolder bool) {
	if newHolder || l == nil {
		delete(cm.Annotations, ownership.AnnotationLockUser)
	}
	if l == nil {
		delete(cm.Data, HeadKeyLock)
		return
	}
	b, _ := json.Marshal(l) // a Lock always encodes
	if cm.Data == nil {
		cm.Data = map[string]string{}
	}
	cm.Data[HeadKeyLock] = string(b)
}

// Acquire takes the lock for an operation, creating the head if needed. It
// fails at once with *LockedError when someone else holds a live lock,
// unless force; an expired lock is taken over.
func (s *KubeStore) Acquire(ctx context.Context, namespace, name, operation string, force bool) (*Head, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	release := namespace + "/" + name
	cms := s.client.CoreV1().ConfigMaps(namespace)
	for range attempts {
		cm, err := s.getHead(ctx, namespace, name)
		if errors.Is(err, ErrNotFound) {
			lock, _ := s.lock.take(release, nil, operation, force)
			cm = &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: ownership.HeadName(name), Namespace: namespace}}
			if err := encodeHead(cm, &Head{Name: name, Namespace: namespace}, s.opts.Tooling); err != nil {
				return nil, err
			}
			setLock(cm, lock, true)
			created, err := cms.Create(ctx, cm, metav1.CreateOptions{FieldManager: ownership.FieldManager})
			if apierrors.IsAlreadyExists(err) {
				continue // created meanwhile: read it
			}
			if err != nil {
				return nil, fmt.Errorf("%s: create: %w", headRef(namespace, name), err)
			}
			return decodeHead(created)
		}
		if err != nil {
			return nil, err
		}
		cur, err := decodeHead(cm)
		if err != nil {
			return nil, err
		}
		lock, err := s.lock.take(release, cur.Lock, operation, force)
		if err != nil {
			return nil, err
		}
		setLock(cm, lock, true)
		updated, err := cms.Update(ctx, cm, metav1.UpdateOptions{FieldManager: ownership.FieldManager})
		if apierrors.IsConflict(err) {
			continue // changed meanwhile: look again (someone may hold it now)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: take the lock: %w", headRef(namespace, name), err)
		}
		return decodeHead(updated)
	}
	return nil, fmt.Errorf("release %s: the head kept changing while taking the lock: %w", release, ErrConflict)
}

// onHead reads h's head, checks that h may write it, and runs write on it,
// again after a conflict while h holds the lock. h may write when it holds
// the head's lock, whatever happened since it read the head (the only other
// writer then was its own KeepAlive), or, when no live lock is held, when
// the head is still as h read it. write returns the object written (nil
// when it wrote nothing or deleted); h's resourceVersion and lock follow it.
func (s *KubeStore) onHead(ctx context.Context, h *Head, write func(cm *corev1.ConfigMap, cur *Head) (*corev1.ConfigMap, error)) error {
	release := h.Namespace + "/" + h.Name
	for range attempts {
		cm, err := s.getHead(ctx, h.Namespace, h.Name)
		if err != nil {
			return err
		}
		cur, err := decodeHead(cm)
		if err != nil {
			return err
		}
		if err := mayWrite(h, cur, s.lock.now()); err != nil {
			return err
		}
		out, err := write(cm, cur)
		if apierrors.IsConflict(err) {
			continue
		}
		if err != nil {
			return err
		}
		if out != nil {
			nh, err := decodeHead(out)
			if err != nil {
				return err
			}
			h.ResourceVersion, h.Lock = nh.ResourceVersion, nh.Lock
		}
		return nil
	}
	return fmt.Errorf("release %s: the head kept changing: %w", release, ErrConflict)
}

// UpdateHead writes h's revision, deployed revision, status and inventory
// (and the ApplySet annotations that follow from it). The lock is not
// changed. It fails with ErrConflict when h's lock was lost, or, without a
// lock, when the head changed since h was read.
func (s *KubeStore) UpdateHead(ctx context.Context, h *Head) error {
	return s.onHead(ctx, h, func(cm *corev1.ConfigMap, _ *Head) (*corev1.ConfigMap, error) {
		if err := encodeHead(cm, h, s.opts.Tooling); err != nil {
			return nil, err
		}
		return s.updateHead(ctx, cm)
	})
}

// Release drops the lock held by h. Releasing a head that holds no lock is
// a no-op; one whose lock someone else took is ErrConflict.
func (s *KubeStore) Release(ctx context.Context, h *Head) error {
	err := s.onHead(ctx, h, func(cm *corev1.ConfigMap, cur *Head) (*corev1.ConfigMap, error) {
		if cur.Lock == nil {
			return nil, nil
		}
		if !holds(h, cur.Lock) {
			return nil, lockLost(h.Namespace+"/"+h.Name, cur.Lock)
		}
		setLock(cm, nil, true)
		return s.updateHead(ctx, cm)
	})
	if err == nil {
		h.Lock = nil
	}
	return err
}

// Renew extends the lock held by h by a TTL from now.
func (s *KubeStore) Renew(ctx context.Context, h *Head) error {
	if h.Lock == nil {
		return fmt.Errorf("release %s/%s: renew without a lock", h.Namespace, h.Name)
	}
	return s.onHead(ctx, h, func(cm *corev1.ConfigMap, cur *Head) (*corev1.ConfigMap, error) {
		if !holds(h, cur.Lock) {
			return nil, lockLost(h.Namespace+"/"+h.Name, cur.Lock)
		}
		l := *cur.Lock
		s.lock.renew(&l)
		setLock(cm, &l, false)
		return s.updateHead(ctx, cm)
	})
}

// DeleteHead removes the head (and with it the lock).
func (s *KubeStore) DeleteHead(ctx context.Context, h *Head) error {
	err := s.onHead(ctx, h, func(cm *corev1.ConfigMap, _ *Head) (*corev1.ConfigMap, error) {
		err := s.client.CoreV1().ConfigMaps(h.Namespace).Delete(ctx, cm.Name, metav1.DeleteOptions{
			Preconditions: &metav1.Preconditions{UID: &cm.UID, ResourceVersion: &cm.ResourceVersion},
		})
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("release %s/%s: %w", h.Namespace, h.Name, ErrNotFound)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: delete: %w", headRef(h.Namespace, h.Name), err)
		}
		return nil, nil
	})
	if err == nil {
		h.Lock = nil
	}
	return err
}

// updateHead writes cm with the resourceVersion it was read with.
func (s *KubeStore) updateHead(ctx context.Context, cm *corev1.ConfigMap) (*corev1.ConfigMap, error) {
	out, err := s.client.CoreV1().ConfigMaps(cm.Namespace).Update(ctx, cm, metav1.UpdateOptions{FieldManager: ownership.FieldManager})
	if err != nil {
		return nil, fmt.Errorf("ConfigMap/%s/%s: update: %w", cm.Namespace, cm.Name, err)
	}
	return out, nil
}

// List lists the heads of a namespace ("" for all namespaces), sorted by
// namespace and name. A head that cannot be read is reported in the error,
// the others are still returned.
func (s *KubeStore) List(ctx context.Context, namespace string) ([]*Head, error) {
	sel := labels.Set{ownership.LabelRecord: ownership.RecordHead}.String()
	var heads []*Head
	var errs []error
	opts := metav1.ListOptions{LabelSelector: sel, Limit: 500}
	for {
		list, err := s.client.CoreV1().ConfigMaps(namespace).List(ctx, opts)
		if err != nil {
			return nil, fmt.Errorf("list release heads: %w", err)
		}
		for i := range list.Items {
			h, err := decodeHead(&list.Items[i])
			if err != nil {
				errs = append(errs, err)
				continue
			}
			heads = append(heads, h.withoutLockID())
		}
		if list.Continue == "" {
			break
		}
		opts.Continue = list.Continue
	}
	slices.SortFunc(heads, func(a, b *Head) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})
	return heads, errors.Join(errs...)
}

// ---------------------------------------------------------------------------
// Revision records
// ---------------------------------------------------------------------------

func secretRef(namespace, name string) string { return "Secret/" + namespace + "/" + name }

// recordSecret is chunk i of a revision's record, holding part.
func recordSecret(r *Revision, i int, part []byte) *corev1.Secret {
	lbl := map[string]string{
		ownership.LabelRelease:  r.Name,
		ownership.LabelRecord:   ownership.RecordRevision,
		ownership.LabelRevision: strconv.Itoa(r.Revision),
		ownership.LabelChunk:    strconv.Itoa(i),
	}
	if i == 0 {
		lbl[ownership.LabelStatus] = string(r.Status)
	}
	immutable := true
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Name:      ownership.RevisionChunkName(r.Name, r.Revision, i),
			Namespace: r.Namespace,
			Labels:    lbl,
		},
		Type:      ownership.SecretTypeRelease,
		Immutable: &immutable,
		Data:      map[string][]byte{RecordKeyRelease: part},
	}
}

// CreateRevision writes a new revision record, split into chunks when it
// is larger than MaxChunkBytes compressed. Chunks 1… are written first and
// chunk 0 last, so that a record is visible only once complete. A revision
// that exists already is ErrConflict. On success r.Updated and r.AppliedBy
// are set from the record written.
func (s *KubeStore) CreateRevision(ctx context.Context, r *Revision) error {
	if err := checkName(r.Name); err != nil {
		return err
	}
	if r.Revision < 1 {
		return fmt.Errorf("release %s/%s: revision %d: revisions start at 1", r.Namespace, r.Name, r.Revision)
	}
	if !r.Status.Known() {
		return fmt.Errorf("release %s/%s: revision %d: unknown status %q", r.Namespace, r.Name, r.Revision, r.Status)
	}
	blob, err := encodeRevision(r)
	if err != nil {
		return fmt.Errorf("release %s/%s: %w", r.Namespace, r.Name, err)
	}
	parts := splitChunks(blob, s.opts.MaxChunkBytes)
	secs := make([]*corev1.Secret, len(parts))
	for i, p := range parts {
		secs[i] = recordSecret(r, i, p)
	}
	if len(parts) > 1 {
		sum := sha256.Sum256(blob)
		secs[0].Data[RecordKeyChunks] = []byte(strconv.Itoa(len(parts)))
		secs[0].Data[RecordKeySHA256] = []byte(hex.EncodeToString(sum[:]))
	}
	client := s.client.CoreV1().Secrets(r.Namespace)
	if err := parallel(len(secs)-1, func(i int) error { return s.createChunk(ctx, r, secs[i+1]) }); err != nil {
		s.deleteCreated(r, secs[1:])
		return err
	}
	created, err := client.Create(ctx, secs[0], metav1.CreateOptions{FieldManager: ownership.FieldManager})
	if err != nil {
		s.deleteCreated(r, secs[1:])
		if apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("%s: revision %d exists: %w", secretRef(r.Namespace, secs[0].Name), r.Revision, ErrConflict)
		}
		return fmt.Errorf("%s: create: %w", secretRef(r.Namespace, secs[0].Name), err)
	}
	r.Updated = created.CreationTimestamp.UTC()
	r.AppliedBy = created.Annotations[ownership.AnnotationAppliedBy]
	r.Seal = created.Annotations[ownership.AnnotationRecordSeal]
	return nil
}

// createChunk creates chunk sec (≥ 1). A chunk of the same name left by an
// interrupted CreateRevision (its chunk 0 absent) is replaced.
func (s *KubeStore) createChunk(ctx context.Context, r *Revision, sec *corev1.Secret) error {
	client := s.client.CoreV1().Secrets(r.Namespace)
	ref := secretRef(r.Namespace, sec.Name)
	for range 2 {
		_, err := client.Create(ctx, sec, metav1.CreateOptions{FieldManager: ownership.FieldManager})
		if !apierrors.IsAlreadyExists(err) {
			if err != nil {
				return fmt.Errorf("%s: create: %w", ref, err)
			}
			return nil
		}
		first := ownership.RevisionName(r.Name, r.Revision)
		if _, err := client.Get(ctx, first, metav1.GetOptions{}); err == nil {
			return fmt.Errorf("%s: revision %d exists: %w", secretRef(r.Namespace, first), r.Revision, ErrConflict)
		} else if !apierrors.IsNotFound(err) {
			return fmt.Errorf("%s: %w", secretRef(r.Namespace, first), err)
		}
		old, err := client.Get(ctx, sec.Name, metav1.GetOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("%s: %w", ref, err)
		}
		if err == nil {
			if bytes.Equal(old.Data[RecordKeyRelease], sec.Data[RecordKeyRelease]) {
				return nil // the same chunk, from an earlier attempt
			}
			err = client.Delete(ctx, sec.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &old.UID}})
			if err != nil && !apierrors.IsNotFound(err) {
				return fmt.Errorf("%s: delete a stale chunk: %w", ref, err)
			}
		}
	}
	return fmt.Errorf("%s: a stale chunk keeps coming back: %w", ref, ErrConflict)
}

// deleteCreated removes the chunks of a record whose creation failed, as
// far as it can: a chunk without its chunk 0 is never read.
func (s *KubeStore) deleteCreated(r *Revision, secs []*corev1.Secret) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, sec := range secs {
		_ = s.client.CoreV1().Secrets(r.Namespace).Delete(ctx, sec.Name, metav1.DeleteOptions{})
	}
}

// getRecord reads chunk 0 of a revision record and checks it is one.
func (s *KubeStore) getRecord(ctx context.Context, namespace, name string, revision int) (*corev1.Secret, error) {
	secName := ownership.RevisionName(name, revision)
	sec, err := s.client.CoreV1().Secrets(namespace).Get(ctx, secName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("release %s/%s revision %d: %w", namespace, name, revision, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", secretRef(namespace, secName), err)
	}
	if err := checkRecord(sec, name, revision, 0); err != nil {
		return nil, err
	}
	return sec, nil
}

// checkRecord checks that sec is chunk i of the record of a revision.
func checkRecord(sec *corev1.Secret, name string, revision, chunk int) error {
	l := sec.Labels
	if sec.Type != ownership.SecretTypeRelease || l[ownership.LabelRelease] != name ||
		l[ownership.LabelRecord] != ownership.RecordRevision || l[ownership.LabelRevision] != strconv.Itoa(revision) ||
		l[ownership.LabelChunk] != strconv.Itoa(chunk) {
		return fmt.Errorf("%s: not chunk %d of revision %d of release %s (type %s, labels %v)",
			secretRef(sec.Namespace, sec.Name), chunk, revision, name, sec.Type, l)
	}
	return nil
}

// chunkCount is the number of chunks chunk 0 announces.
func chunkCount(sec *corev1.Secret) (int, error) {
	v, ok := sec.Data[RecordKeyChunks]
	if !ok {
		return 1, nil
	}
	n, err := strconv.Atoi(string(v))
	if err != nil || n < 1 {
		return 0, fmt.Errorf("%s: %s %q: not a chunk count", secretRef(sec.Namespace, sec.Name), RecordKeyChunks, v)
	}
	if n > MaxRecordChunks {
		return 0, fmt.Errorf("%s: %s %d: more than the %d chunks a record may have", secretRef(sec.Namespace, sec.Name), RecordKeyChunks, n, MaxRecordChunks)
	}
	return n, nil
}

// Revision reads one revision, reassembling its chunks; ErrNotFound when it
// does not exist.
func (s *KubeStore) Revision(ctx context.Context, namespace, name string, revision int) (*Revision, error) {
	sec, err := s.getRecord(ctx, namespace, name, revision)
	if err != nil {
		return nil, err
	}
	n, err := chunkCount(sec)
	if err != nil {
		return nil, err
	}
	chunks := make([]*corev1.Secret, n)
	chunks[0] = sec
	err = parallel(n-1, func(i int) error {
		secName := ownership.RevisionChunkName(name, revision, i+1)
		c, err := s.client.CoreV1().Secrets(namespace).Get(ctx, secName, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return fmt.Errorf("%s: missing chunk %d of %d", secretRef(namespace, secName), i+1, n)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", secretRef(namespace, secName), err)
		}
		chunks[i+1] = c
		return checkRecord(c, name, revision, i+1)
	})
	if err != nil {
		return nil, err
	}
	return assemble(chunks)
}

// assemble decodes a record from its chunks, in order.
func assemble(chunks []*corev1.Secret) (*Revision, error) {
	sec := chunks[0]
	ref := secretRef(sec.Namespace, sec.Name)
	blob := sec.Data[RecordKeyRelease]
	if len(chunks) > 1 {
		size := 0
		for _, c := range chunks {
			size += len(c.Data[RecordKeyRelease])
		}
		blob = make([]byte, 0, size)
		for _, c := range chunks {
			blob = append(blob, c.Data[RecordKeyRelease]...)
		}
		sum := sha256.Sum256(blob)
		if want := string(sec.Data[RecordKeySHA256]); want != hex.EncodeToString(sum[:]) {
			return nil, fmt.Errorf("%s: the %d chunks reassembled do not match their sha256 %s", ref, len(chunks), want)
		}
	}
	r, err := decodeRevision(blob)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ref, err)
	}
	if want, _ := strconv.Atoi(sec.Labels[ownership.LabelRevision]); r.Revision != want {
		return nil, fmt.Errorf("%s: holds revision %d, labelled %d", ref, r.Revision, want)
	}
	r.Status = Status(sec.Labels[ownership.LabelStatus])
	r.Description = describeRead(r.Description, sec.Annotations[AnnotationDescription], r.Status)
	r.AppliedBy = sec.Annotations[ownership.AnnotationAppliedBy]
	r.Seal = sec.Annotations[ownership.AnnotationRecordSeal]
	r.FailedHook = sec.Annotations[wire.AnnotationFailedHook]
	r.Test = testResultOf(sec.Annotations)
	r.Updated = sec.CreationTimestamp.UTC()
	if t, err := time.Parse(time.RFC3339Nano, sec.Annotations[AnnotationUpdated]); err == nil {
		r.Updated = t.UTC()
		r.StatusMoved = true
	}
	if t, err := time.Parse(time.RFC3339Nano, sec.Annotations[AnnotationFinished]); err == nil {
		r.Finished = t.UTC()
	}
	return r, nil
}

// SetStatus moves a revision's status forward (CanMove); moving it to the
// status it has is a no-op. Only the status label and the updated
// annotation change: the record's data is immutable.
func (s *KubeStore) SetStatus(ctx context.Context, namespace, name string, revision int, status Status) error {
	return s.SetOutcome(ctx, namespace, name, revision, Outcome{Status: status, statusOnly: true})
}

// SetOutcome moves a revision's status forward, as SetStatus, and records
// description in the record's AnnotationDescription.
func (s *KubeStore) SetOutcome(ctx context.Context, namespace, name string, revision int, o Outcome) error {
	status, description := o.Status, o.Description
	for range attempts {
		sec, err := s.getRecord(ctx, namespace, name, revision)
		if err != nil {
			return err
		}
		from := Status(sec.Labels[ownership.LabelStatus])
		if from == status {
			return nil
		}
		if !CanMove(from, status) {
			return fmt.Errorf("%s: revision %d cannot move from %s to %s", secretRef(namespace, sec.Name), revision, from, status)
		}
		now := s.lock.now().UTC().Format(time.RFC3339Nano)
		annotations := map[string]string{AnnotationUpdated: now}
		if ends(from, status) && !o.statusOnly {
			annotations[AnnotationFinished] = now
		}
		if description != "" {
			annotations[AnnotationDescription] = clipDescription(description)
		}
		if o.FailedHook != "" {
			annotations[wire.AnnotationFailedHook] = o.FailedHook
		}
		patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{
			"resourceVersion": sec.ResourceVersion,
			"labels":          map[string]string{ownership.LabelStatus: string(status)},
			"annotations":     annotations,
		}})
		_, err = s.client.CoreV1().Secrets(namespace).Patch(ctx, sec.Name, types.MergePatchType, patch,
			metav1.PatchOptions{FieldManager: ownership.FieldManager})
		if apierrors.IsConflict(err) {
			continue // moved meanwhile: check the move again
		}
		if err != nil {
			return fmt.Errorf("%s: set status %s: %w", secretRef(namespace, sec.Name), status, err)
		}
		return nil
	}
	return fmt.Errorf("release %s/%s revision %d: the record kept changing: %w", namespace, name, revision, ErrConflict)
}

// recordSelector selects a release's record Secrets (every chunk).
func recordSelector(name string, revision int) string {
	set := labels.Set{ownership.LabelRelease: name, ownership.LabelRecord: ownership.RecordRevision}
	if revision > 0 {
		set[ownership.LabelRevision] = strconv.Itoa(revision)
	}
	return set.String()
}

// History lists a release's revisions, oldest first, from one list of its
// record Secrets. A record that cannot be read is reported in the error;
// the others are still returned. Chunks without their chunk 0 (left by an
// interrupted write) are not revisions and are skipped.
func (s *KubeStore) History(ctx context.Context, namespace, name string) ([]*Revision, error) {
	list, err := s.client.CoreV1().Secrets(namespace).List(ctx, metav1.ListOptions{LabelSelector: recordSelector(name, 0)})
	if err != nil {
		return nil, fmt.Errorf("release %s/%s: list revision records: %w", namespace, name, err)
	}
	byRev := map[int]map[int]*corev1.Secret{}
	for i := range list.Items {
		sec := &list.Items[i]
		rev, err1 := strconv.Atoi(sec.Labels[ownership.LabelRevision])
		chunk, err2 := strconv.Atoi(sec.Labels[ownership.LabelChunk])
		if err1 != nil || err2 != nil || sec.Type != ownership.SecretTypeRelease {
			continue
		}
		if byRev[rev] == nil {
			byRev[rev] = map[int]*corev1.Secret{}
		}
		byRev[rev][chunk] = sec
	}
	var revs []*Revision
	var errs []error
	for rev, chunks := range byRev {
		sec := chunks[0]
		if sec == nil {
			continue
		}
		n, err := chunkCount(sec)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		ordered := make([]*corev1.Secret, n)
		for i := range n {
			if ordered[i] = chunks[i]; ordered[i] == nil {
				err = fmt.Errorf("%s: missing chunk %d of %d", secretRef(namespace, ownership.RevisionChunkName(name, rev, i)), i, n)
				break
			}
		}
		var r *Revision
		if err == nil {
			r, err = assemble(ordered)
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		revs = append(revs, r)
	}
	slices.SortFunc(revs, func(a, b *Revision) int { return cmp.Compare(a.Revision, b.Revision) })
	return revs, errors.Join(errs...)
}

// DeleteRevision removes a revision record with all its chunks: chunks 1…
// first and chunk 0 last, so that an interrupted delete leaves a record
// that is still listed (unreadable) and can be deleted again, never
// invisible garbage. ErrNotFound when there is no record.
func (s *KubeStore) DeleteRevision(ctx context.Context, namespace, name string, revision int) error {
	client := s.client.CoreV1().Secrets(namespace)
	list, err := client.List(ctx, metav1.ListOptions{LabelSelector: recordSelector(name, revision)})
	if err != nil {
		return fmt.Errorf("release %s/%s revision %d: list records: %w", namespace, name, revision, err)
	}
	if len(list.Items) == 0 {
		return fmt.Errorf("release %s/%s revision %d: %w", namespace, name, revision, ErrNotFound)
	}
	var first *corev1.Secret
	var rest []*corev1.Secret
	for i := range list.Items {
		if sec := &list.Items[i]; sec.Labels[ownership.LabelChunk] == "0" {
			first = sec
		} else {
			rest = append(rest, sec)
		}
	}
	del := func(sec *corev1.Secret) error {
		err := client.Delete(ctx, sec.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &sec.UID}})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("%s: delete: %w", secretRef(namespace, sec.Name), err)
		}
		return nil
	}
	if err := parallel(len(rest), func(i int) error { return del(rest[i]) }); err != nil {
		return err
	}
	if first != nil {
		return del(first)
	}
	return nil
}

// parallel runs f(0…n-1), a few at a time, and joins their errors.
func parallel(n int, f func(i int) error) error {
	if n <= 0 {
		return nil
	}
	errs := make([]error, n)
	sem := make(chan struct{}, 4)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			errs[i] = f(i)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}
