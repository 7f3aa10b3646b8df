package webhook

import (
	"context"
	"fmt"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubectl-chart/kubectl-chart/pkg/ownership"
)

// HeadSelector is the label selector of the informer cache the webhook
// reads heads from: only release head ConfigMaps are cached.
const HeadSelector = ownership.LabelRecord + "=" + ownership.RecordHead

// headEntry is a release head as the webhook saw it: the ConfigMap's
// reference (Events are recorded on it) and the head decoded from it.
type headEntry struct {
	ref  corev1.ObjectReference
	rv   string // the ConfigMap's resourceVersion
	head *ownership.Head
}

// heads reads release heads from an informer cache, decoding each
// ConfigMap version once.
type heads struct {
	cache client.Reader // label-selected informer cache: never a request to the API server
	live  client.Reader // optional: the API server, read only before a denial

	mu   sync.Mutex
	memo map[types.NamespacedName]*headEntry
}

func newHeads(cache, live client.Reader) *heads {
	return &heads{cache: cache, live: live, memo: map[types.NamespacedName]*headEntry{}}
}

// get returns the head of release (namespace, name) from the cache; nil when
// the release has no head.
func (h *heads) get(ctx context.Context, namespace, name string) (*headEntry, error) {
	return h.read(ctx, h.cache, namespace, name)
}

// fresh reads the head of release (namespace, name) from the API server,
// for a second look before denying a request whose answer depended on a
// head the cache may not have caught up with (a lock taken a moment ago).
// ok is false when no live reader is configured; the entry is nil when
// there is no head.
func (h *heads) fresh(ctx context.Context, namespace, name string) (*headEntry, bool, error) {
	if h.live == nil {
		return nil, false, nil
	}
	e, err := h.read(ctx, h.live, namespace, name)
	return e, true, err
}

func (h *heads) read(ctx context.Context, r client.Reader, namespace, name string) (*headEntry, error) {
	key := types.NamespacedName{Namespace: namespace, Name: ownership.HeadName(name)}
	var cm corev1.ConfigMap
	if err := r.Get(ctx, key, &cm); err != nil {
		if apierrors.IsNotFound(err) {
			h.forget(key)
			return nil, nil
		}
		return nil, fmt.Errorf("ConfigMap/%s/%s: read the release head: %w", key.Namespace, key.Name, err)
	}
	// A live read sees ConfigMaps the cache's selector would not: only a
	// labelled head of this release is one.
	if cm.Labels[ownership.LabelRecord] != ownership.RecordHead || cm.Labels[ownership.LabelRelease] != name {
		return nil, nil
	}
	h.mu.Lock()
	e := h.memo[key]
	h.mu.Unlock()
	if e != nil && e.ref.UID == cm.UID && e.rv == cm.ResourceVersion {
		return e, nil
	}
	head, err := ownership.HeadFromConfigMap(&cm)
	if err != nil {
		return nil, fmt.Errorf("ConfigMap/%s/%s: %w", key.Namespace, key.Name, err)
	}
	e = &headEntry{ref: headRef(&cm), rv: cm.ResourceVersion, head: head}
	h.mu.Lock()
	h.memo[key] = e
	h.mu.Unlock()
	return e, nil
}

func (h *heads) forget(key types.NamespacedName) {
	h.mu.Lock()
	delete(h.memo, key)
	h.mu.Unlock()
}

// headRef references a head ConfigMap, for Events.
func headRef(cm *corev1.ConfigMap) corev1.ObjectReference {
	return corev1.ObjectReference{
		APIVersion: "v1",
		Kind:       "ConfigMap",
		Namespace:  cm.Namespace,
		Name:       cm.Name,
		UID:        cm.UID,
	}
}
