package webhook

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/go-logr/logr"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	authenticationclient "k8s.io/client-go/kubernetes/typed/authentication/v1"
	authorizationclient "k8s.io/client-go/kubernetes/typed/authorization/v1"
	"k8s.io/client-go/rest"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
)

// Cache times and bounds of the metrics filter, controller-runtime's: a
// scraper's token is reviewed again after a minute, its permission after
// five minutes, a refusal after 30 seconds (so that a binding just created
// is seen soon).
const (
	metricsTokenTTL   = time.Minute
	metricsAllowedTTL = 5 * time.Minute
	metricsDeniedTTL  = 30 * time.Second
	// metricsReviewTimeout bounds each review, as controller-runtime's
	// TokenAccessReviewTimeout does.
	metricsReviewTimeout = 10 * time.Second
	// metricsCacheEntries bounds each cache: scrapers are few, and a
	// client sending made-up tokens must not grow the webhook's memory.
	metricsCacheEntries = 1024
)

// metricsAuthFilter is a metricsserver.FilterProvider that lets a request
// to the metrics server through only when the API server authenticates its
// bearer token (TokenReview) and authorizes its user to get the path
// (SubjectAccessReview on the non-resource URL, ClusterRole
// chart-webhook-metrics-reader of manifests/rbac.yaml), as
// controller-runtime's filters.WithAuthenticationAndAuthorization does:
// that filter is built on k8s.io/apiserver, which would bring some 185
// packages (CEL, gRPC, OpenTelemetry) into the webhook for two API calls.
// It answers 401 to a request without a bearer token or with one the API
// server does not authenticate, 403 to a user without the permission, and
// 500 when a review fails; answers are cached as controller-runtime's are.
func metricsAuthFilter(c *rest.Config, httpClient *http.Client) (metricsserver.Filter, error) {
	tokens, err := authenticationclient.NewForConfigAndClient(c, httpClient)
	if err != nil {
		return nil, fmt.Errorf("webhook: TokenReview client: %w", err)
	}
	reviews, err := authorizationclient.NewForConfigAndClient(c, httpClient)
	if err != nil {
		return nil, fmt.Errorf("webhook: SubjectAccessReview client: %w", err)
	}
	return newMetricsAuth(tokens.TokenReviews(), reviews.SubjectAccessReviews()).filter, nil
}

// metricsAuth authenticates and authorizes requests to the metrics server
// with the API server and caches its answers.
type metricsAuth struct {
	tokens  authenticationclient.TokenReviewInterface
	reviews authorizationclient.SubjectAccessReviewInterface
	// now is the clock of the caches; tests set it.
	now func() time.Time
	// users holds the TokenReview answers by the SHA-256 of the token,
	// decisions the SubjectAccessReview answers by metricsAccessKey.
	users     *ttlCache[tokenAnswer]
	decisions *ttlCache[bool]
}

// tokenAnswer is a TokenReview's answer on a token.
type tokenAnswer struct {
	authenticated bool
	user          authenticationv1.UserInfo
}

func newMetricsAuth(tokens authenticationclient.TokenReviewInterface, reviews authorizationclient.SubjectAccessReviewInterface) *metricsAuth {
	return &metricsAuth{
		tokens:    tokens,
		reviews:   reviews,
		now:       time.Now,
		users:     newTTLCache[tokenAnswer](metricsCacheEntries),
		decisions: newTTLCache[bool](metricsCacheEntries),
	}
}

// filter is the metricsserver.Filter: handler serves the requests that
// pass. The token never reaches the log or the handler (the Authorization
// header is removed before handler runs).
func (a *metricsAuth) filter(log logr.Logger, handler http.Handler) (http.Handler, error) {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := bearerToken(r.Header)
		if !ok {
			log.V(4).Info("Request to the metrics server without a bearer token", "path", r.URL.Path)
			unauthorized(w)
			return
		}
		answer, err := a.authenticate(r.Context(), token)
		if err != nil {
			log.Error(err, "Authentication failed")
			http.Error(w, "Authentication failed", http.StatusInternalServerError)
			return
		}
		if !answer.authenticated {
			log.V(4).Info("The API server did not authenticate the bearer token", "path", r.URL.Path)
			unauthorized(w)
			return
		}
		user := answer.user
		allowed, err := a.authorize(r.Context(), user, strings.ToLower(r.Method), r.URL.Path)
		if err != nil {
			msg := "Authorization for user " + user.Username + " failed"
			log.Error(err, msg)
			http.Error(w, msg, http.StatusInternalServerError)
			return
		}
		if !allowed {
			msg := "Authorization denied for user " + user.Username
			log.V(4).Info(msg, "verb", strings.ToLower(r.Method), "path", r.URL.Path)
			http.Error(w, msg, http.StatusForbidden)
			return
		}
		r.Header.Del("Authorization")
		handler.ServeHTTP(w, r)
	}), nil
}

// unauthorized answers 401 with the challenge RFC 6750 asks for.
func unauthorized(w http.ResponseWriter) {
	w.Header().Set("WWW-Authenticate", "Bearer")
	http.Error(w, "Unauthorized", http.StatusUnauthorized)
}

// bearerToken is the token of an "Authorization: Bearer <token>" header
// (the scheme's case does not matter); false when there is no such header,
// or its token is empty or has spaces in it.
func bearerToken(h http.Header) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(h.Get("Authorization")), " ")
	if !ok || !strings.EqualFold(scheme, "bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	if token == "" || strings.ContainsAny(token, " \t") {
		return "", false
	}
	return token, true
}

// authenticate answers from the cache, or else with a TokenReview of token
// (no audiences: the API server's own). Answers are cached whether the
// token was authenticated or not; failures to ask are not.
func (a *metricsAuth) authenticate(ctx context.Context, token string) (tokenAnswer, error) {
	sum := sha256.Sum256([]byte(token))
	key := hex.EncodeToString(sum[:])
	if answer, ok := a.users.get(key, a.now()); ok {
		return answer, nil
	}
	ctx, cancel := context.WithTimeout(ctx, metricsReviewTimeout)
	defer cancel()
	review, err := a.tokens.Create(ctx, &authenticationv1.TokenReview{
		Spec: authenticationv1.TokenReviewSpec{Token: token},
	}, metav1.CreateOptions{})
	if err != nil {
		return tokenAnswer{}, fmt.Errorf("TokenReview: %w", err)
	}
	answer := tokenAnswer{authenticated: review.Status.Authenticated, user: review.Status.User}
	a.users.put(key, answer, a.now(), metricsTokenTTL)
	return answer, nil
}

// authorize answers from the cache, or else with a SubjectAccessReview of
// verb on the non-resource URL path for user.
func (a *metricsAuth) authorize(ctx context.Context, user authenticationv1.UserInfo, verb, path string) (bool, error) {
	key := metricsAccessKey(user, verb, path)
	if allowed, ok := a.decisions.get(key, a.now()); ok {
		return allowed, nil
	}
	var extra map[string]authorizationv1.ExtraValue
	if len(user.Extra) > 0 {
		extra = make(map[string]authorizationv1.ExtraValue, len(user.Extra))
		for k, v := range user.Extra {
			extra[k] = authorizationv1.ExtraValue(v)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, metricsReviewTimeout)
	defer cancel()
	review, err := a.reviews.Create(ctx, &authorizationv1.SubjectAccessReview{
		Spec: authorizationv1.SubjectAccessReviewSpec{
			User:                  user.Username,
			UID:                   user.UID,
			Groups:                user.Groups,
			Extra:                 extra,
			NonResourceAttributes: &authorizationv1.NonResourceAttributes{Path: path, Verb: verb},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		return false, fmt.Errorf("SubjectAccessReview %s %s for user %s: %w", verb, path, user.Username, err)
	}
	allowed := review.Status.Allowed && !review.Status.Denied
	ttl := metricsDeniedTTL
	if allowed {
		ttl = metricsAllowedTTL
	}
	a.decisions.put(key, allowed, a.now(), ttl)
	return allowed, nil
}

// metricsAccessKey identifies a SubjectAccessReview by every field it
// asks about; the order of groups does not matter.
func metricsAccessKey(user authenticationv1.UserInfo, verb, path string) string {
	return accessKey(user.Username, user.UID, user.Groups, user.Extra, verb, path)
}
