package webhook

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	authorizationclient "k8s.io/client-go/kubernetes/typed/authorization/v1"

	"github.com/kubectl-chart/kubectl-chart/pkg/ownership"
)

// Authorizer tells whether a user may do verb on a release: the
// SubjectAccessReview the ownership rules ask before a lock moves.
type Authorizer interface {
	Allowed(ctx context.Context, a Access) (bool, error)
}

// Access is one question to an Authorizer: may the user (as the admission
// request authenticated it) do Verb on release Name in Namespace?
type Access struct {
	User   string
	UID    string
	Groups []string
	Extra  map[string][]string
	Verb   string
	// Namespace and Name are the release's.
	Namespace, Name string
}

// key identifies a by every field, for the cache.
func (a Access) key() string {
	return accessKey(a.User, a.UID, a.Groups, a.Extra, a.Verb, a.Namespace, a.Name)
}

// accessKey identifies a question about a user for a cache of answers: a
// hash of the user's name, UID, groups (in any order) and extra, then of
// the question's fields.
func accessKey[E ~[]string](user, uid string, groups []string, extra map[string]E, fields ...string) string {
	h := sha256.New()
	w := func(s string) { h.Write([]byte(s)); h.Write([]byte{0}) }
	w(user)
	w(uid)
	groups = slices.Clone(groups)
	slices.Sort(groups)
	w(strings.Join(groups, "\x01"))
	keys := make([]string, 0, len(extra))
	for k := range extra {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		w(k)
		w(strings.Join(extra[k], "\x01"))
	}
	for _, f := range fields {
		w(f)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// CachedAuthorizer asks the API server with SubjectAccessReviews on the
// virtual resource releases.kubectl-chart.io and keeps each answer for a
// while, as the API server's own webhook authorizer does
// (--authorization-webhook-cache-authorized-ttl, …-unauthorized-ttl): a
// running operation renews its lock every TTL/3, and each renewal would
// otherwise cost a round trip.
type CachedAuthorizer struct {
	reviews authorizationclient.SubjectAccessReviewInterface
	// AllowedTTL and DeniedTTL are how long answers are kept.
	AllowedTTL, DeniedTTL time.Duration
	now                   func() time.Time
	// answers holds at most defaultMaxEntries answers.
	answers *ttlCache[bool]
}

// Default cache times of a CachedAuthorizer: a granted permission is
// trusted for a minute, a refusal for five seconds (so that a binding just
// created is seen almost at once).
const (
	DefaultAllowedTTL = time.Minute
	DefaultDeniedTTL  = 5 * time.Second
	defaultMaxEntries = 10000
)

// NewCachedAuthorizer returns an authorizer that creates
// SubjectAccessReviews with reviews.
func NewCachedAuthorizer(reviews authorizationclient.SubjectAccessReviewInterface) *CachedAuthorizer {
	return &CachedAuthorizer{
		reviews:    reviews,
		AllowedTTL: DefaultAllowedTTL,
		DeniedTTL:  DefaultDeniedTTL,
		now:        time.Now,
		answers:    newTTLCache[bool](defaultMaxEntries),
	}
}

// Allowed answers from the cache, or else with a SubjectAccessReview for
// verb on releases.kubectl-chart.io/Name in Namespace.
func (c *CachedAuthorizer) Allowed(ctx context.Context, a Access) (bool, error) {
	key := a.key()
	now := c.now()
	if allowed, ok := c.answers.get(key, now); ok {
		return allowed, nil
	}
	extra := make(map[string]authorizationv1.ExtraValue, len(a.Extra))
	for k, v := range a.Extra {
		extra[k] = v
	}
	review, err := c.reviews.Create(ctx, &authorizationv1.SubjectAccessReview{
		Spec: authorizationv1.SubjectAccessReviewSpec{
			User:   a.User,
			UID:    a.UID,
			Groups: a.Groups,
			Extra:  extra,
			ResourceAttributes: &authorizationv1.ResourceAttributes{
				Namespace: a.Namespace,
				Verb:      a.Verb,
				Group:     ownership.APIGroup,
				Resource:  ownership.ResourceReleases,
				Name:      a.Name,
			},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		return false, fmt.Errorf("SubjectAccessReview %s %s.%s/%s in namespace %s for user %s: %w",
			a.Verb, ownership.ResourceReleases, ownership.APIGroup, a.Name, a.Namespace, a.User, err)
	}
	allowed := review.Status.Allowed && !review.Status.Denied
	ttl := c.DeniedTTL
	if allowed {
		ttl = c.AllowedTTL
	}
	c.answers.put(key, allowed, now, ttl)
	return allowed, nil
}
