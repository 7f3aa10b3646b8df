package webhook

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"
	"github.com/google/go-cmp/cmp"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// fakeAPI is an API server for metricsAuth: a fake clientset whose
// TokenReviews and SubjectAccessReviews answer as its fields tell, and
// which records what it was asked.
type fakeAPI struct {
	mu sync.Mutex
	// users are the users of the tokens the API server authenticates;
	// tokenErr, when set, is the answer to every TokenReview.
	users    map[string]authenticationv1.UserInfo
	tokenErr error
	// allowed and denied are the users allowed and explicitly denied;
	// sarErr, when set, is the answer to every SubjectAccessReview.
	allowed, denied map[string]bool
	sarErr          error

	tokenReviews  []authenticationv1.TokenReviewSpec
	accessReviews []authorizationv1.SubjectAccessReviewSpec
}

// newFakeAuth is a metricsAuth that asks api, with a clock the test sets.
func newFakeAuth(api *fakeAPI) (*metricsAuth, *fakeClock) {
	cs := fake.NewClientset()
	cs.PrependReactor("create", "tokenreviews", func(action k8stesting.Action) (bool, runtime.Object, error) {
		review := action.(k8stesting.CreateAction).GetObject().(*authenticationv1.TokenReview)
		api.mu.Lock()
		defer api.mu.Unlock()
		api.tokenReviews = append(api.tokenReviews, review.Spec)
		if api.tokenErr != nil {
			return true, nil, api.tokenErr
		}
		user, ok := api.users[review.Spec.Token]
		if !ok {
			return true, &authenticationv1.TokenReview{Status: authenticationv1.TokenReviewStatus{Error: "invalid bearer token"}}, nil
		}
		return true, &authenticationv1.TokenReview{Status: authenticationv1.TokenReviewStatus{Authenticated: true, User: user}}, nil
	})
	cs.PrependReactor("create", "subjectaccessreviews", func(action k8stesting.Action) (bool, runtime.Object, error) {
		review := action.(k8stesting.CreateAction).GetObject().(*authorizationv1.SubjectAccessReview)
		api.mu.Lock()
		defer api.mu.Unlock()
		api.accessReviews = append(api.accessReviews, review.Spec)
		if api.sarErr != nil {
			return true, nil, api.sarErr
		}
		return true, &authorizationv1.SubjectAccessReview{Status: authorizationv1.SubjectAccessReviewStatus{
			Allowed: api.allowed[review.Spec.User],
			Denied:  api.denied[review.Spec.User],
		}}, nil
	})
	clock := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	a := newMetricsAuth(cs.AuthenticationV1().TokenReviews(), cs.AuthorizationV1().SubjectAccessReviews())
	a.now = clock.Now
	return a, clock
}

// counts are how many reviews api was asked for.
func (api *fakeAPI) counts() (tokenReviews, accessReviews int) {
	api.mu.Lock()
	defer api.mu.Unlock()
	return len(api.tokenReviews), len(api.accessReviews)
}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// metricsAnswer is what a client of the filtered handler sees, and what
// the handler saw.
type metricsAnswer struct {
	Code int
	Body string
	// Served: the handler ran; Authorization is the header it saw.
	Served        bool
	Authorization string
	// Challenge is the WWW-Authenticate header.
	Challenge string
}

// filtered is a handler behind a's filter that answers "metrics", with the
// filter's log.
func filtered(t *testing.T, a *metricsAuth) (http.Handler, *strings.Builder) {
	t.Helper()
	var mu sync.Mutex
	logs := &strings.Builder{}
	log := funcr.New(func(prefix, args string) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintln(logs, prefix, args)
	}, funcr.Options{Verbosity: 10})
	h, err := a.filter(log, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Served", "true")
		w.Header().Set("X-Authorization", r.Header.Get("Authorization"))
		_, _ = w.Write([]byte("metrics"))
	}))
	if err != nil {
		t.Fatal(err)
	}
	return h, logs
}

// scrape sends a request with the Authorization header authorization (none
// when empty) through h.
func scrape(h http.Handler, method, authorization string) metricsAnswer {
	req := httptest.NewRequest(method, "/metrics", nil)
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return metricsAnswer{
		Code:          rec.Code,
		Body:          strings.TrimSpace(rec.Body.String()),
		Served:        rec.Header().Get("X-Served") == "true",
		Authorization: rec.Header().Get("X-Authorization"),
		Challenge:     rec.Header().Get("WWW-Authenticate"),
	}
}

// Users of the tests' fake API server.
var (
	scraperUser = authenticationv1.UserInfo{
		Username: "system:serviceaccount:monitoring:prometheus",
		UID:      "0b3e0c9a-1",
		Groups:   []string{"system:serviceaccounts", "system:serviceaccounts:monitoring", "system:authenticated"},
		Extra:    map[string]authenticationv1.ExtraValue{"authentication.kubernetes.io/pod-name": {"prometheus-0"}},
	}
	strangerUser = authenticationv1.UserInfo{Username: "stranger", Groups: []string{"system:authenticated"}}
)

// scraperReview is the SubjectAccessReview of scraperUser's GET /metrics.
var scraperReview = authorizationv1.SubjectAccessReviewSpec{
	User:                  scraperUser.Username,
	UID:                   scraperUser.UID,
	Groups:                scraperUser.Groups,
	Extra:                 map[string]authorizationv1.ExtraValue{"authentication.kubernetes.io/pod-name": {"prometheus-0"}},
	NonResourceAttributes: &authorizationv1.NonResourceAttributes{Path: "/metrics", Verb: "get"},
}

// TestMetricsAuthFilter: the filter answers 401 without a bearer token or
// with one the API server does not authenticate, 500 when a review fails,
// 403 when the user may not get the path, and passes the request on (with
// no Authorization header) when it may; it asks the API server about the
// token alone (no audiences) and about the token's user, verb and path;
// the token never reaches the log.
func TestMetricsAuthFilter(t *testing.T) {
	const token = "s3cr3t-token"
	unreachable := errors.New("dial tcp 10.96.0.1:443: connect: connection refused")
	type want struct {
		Answer        metricsAnswer
		TokenReviews  []authenticationv1.TokenReviewSpec
		AccessReviews []authorizationv1.SubjectAccessReviewSpec
	}
	tokenReview := []authenticationv1.TokenReviewSpec{{Token: token}}
	unauthorized := metricsAnswer{Code: http.StatusUnauthorized, Body: "Unauthorized", Challenge: "Bearer"}
	for _, c := range []struct {
		name          string
		method        string
		authorization string
		api           *fakeAPI
		want          want
	}{
		{name: "no header", want: want{Answer: unauthorized}},
		{name: "another scheme", authorization: "Basic " + token, want: want{Answer: unauthorized}},
		{name: "no token", authorization: "Bearer ", want: want{Answer: unauthorized}},
		{name: "a token with a space", authorization: "Bearer " + token + " more", want: want{Answer: unauthorized}},
		{name: "a token the API server does not authenticate", authorization: "Bearer " + token,
			want: want{Answer: unauthorized, TokenReviews: tokenReview}},
		{name: "the TokenReview fails", authorization: "Bearer " + token,
			api:  &fakeAPI{tokenErr: unreachable},
			want: want{Answer: metricsAnswer{Code: http.StatusInternalServerError, Body: "Authentication failed"}, TokenReviews: tokenReview}},
		{name: "the SubjectAccessReview fails", authorization: "Bearer " + token,
			api: &fakeAPI{users: map[string]authenticationv1.UserInfo{token: scraperUser}, sarErr: unreachable},
			want: want{Answer: metricsAnswer{Code: http.StatusInternalServerError, Body: "Authorization for user " + scraperUser.Username + " failed"},
				TokenReviews: tokenReview, AccessReviews: []authorizationv1.SubjectAccessReviewSpec{scraperReview}}},
		{name: "not allowed", authorization: "Bearer " + token,
			api: &fakeAPI{users: map[string]authenticationv1.UserInfo{token: scraperUser}},
			want: want{Answer: metricsAnswer{Code: http.StatusForbidden, Body: "Authorization denied for user " + scraperUser.Username},
				TokenReviews: tokenReview, AccessReviews: []authorizationv1.SubjectAccessReviewSpec{scraperReview}}},
		{name: "denied", authorization: "Bearer " + token,
			api: &fakeAPI{users: map[string]authenticationv1.UserInfo{token: scraperUser}, allowed: map[string]bool{scraperUser.Username: true}, denied: map[string]bool{scraperUser.Username: true}},
			want: want{Answer: metricsAnswer{Code: http.StatusForbidden, Body: "Authorization denied for user " + scraperUser.Username},
				TokenReviews: tokenReview, AccessReviews: []authorizationv1.SubjectAccessReviewSpec{scraperReview}}},
		{name: "allowed", authorization: "Bearer " + token,
			api: &fakeAPI{users: map[string]authenticationv1.UserInfo{token: scraperUser}, allowed: map[string]bool{scraperUser.Username: true}},
			want: want{Answer: metricsAnswer{Code: http.StatusOK, Body: "metrics", Served: true},
				TokenReviews: tokenReview, AccessReviews: []authorizationv1.SubjectAccessReviewSpec{scraperReview}}},
		{name: "allowed, the scheme in lower case", authorization: "bearer " + token,
			api: &fakeAPI{users: map[string]authenticationv1.UserInfo{token: scraperUser}, allowed: map[string]bool{scraperUser.Username: true}},
			want: want{Answer: metricsAnswer{Code: http.StatusOK, Body: "metrics", Served: true},
				TokenReviews: tokenReview, AccessReviews: []authorizationv1.SubjectAccessReviewSpec{scraperReview}}},
		{name: "the verb is the method in lower case", method: http.MethodPost, authorization: "Bearer " + token,
			api: &fakeAPI{users: map[string]authenticationv1.UserInfo{token: strangerUser}},
			want: want{Answer: metricsAnswer{Code: http.StatusForbidden, Body: "Authorization denied for user stranger"},
				TokenReviews: tokenReview, AccessReviews: []authorizationv1.SubjectAccessReviewSpec{{
					User: "stranger", Groups: []string{"system:authenticated"},
					NonResourceAttributes: &authorizationv1.NonResourceAttributes{Path: "/metrics", Verb: "post"},
				}}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			api := c.api
			if api == nil {
				api = &fakeAPI{}
			}
			a, _ := newFakeAuth(api)
			h, logs := filtered(t, a)
			method := c.method
			if method == "" {
				method = http.MethodGet
			}
			got := want{Answer: scrape(h, method, c.authorization), TokenReviews: api.tokenReviews, AccessReviews: api.accessReviews}
			if diff := cmp.Diff(c.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if strings.Contains(logs.String(), token) {
				t.Errorf("the log has the token:\n%s", logs)
			}
		})
	}
}

// TestMetricsAuthCache: TokenReview answers are kept a minute (a token the
// API server refused too), allowed SubjectAccessReviews five minutes,
// denied ones 30 seconds, so that a binding just created is seen then; a
// failed review is not kept.
func TestMetricsAuthCache(t *testing.T) {
	api := &fakeAPI{
		users:   map[string]authenticationv1.UserInfo{"scraper-token": scraperUser, "stranger-token": strangerUser},
		allowed: map[string]bool{scraperUser.Username: true},
	}
	a, clock := newFakeAuth(api)
	h, _ := filtered(t, a)
	type state struct {
		Code                        int
		TokenReviews, AccessReviews int
	}
	for i, step := range []struct {
		// after is the time since the previous step.
		after  time.Duration
		token  string
		change func()
		want   state
	}{
		// At 0 s: both reviews.
		{token: "scraper-token", want: state{http.StatusOK, 1, 1}},
		{after: 59 * time.Second, token: "scraper-token", want: state{http.StatusOK, 1, 1}},
		// At 60 s the token is reviewed again, the permission is kept.
		{after: time.Second, token: "scraper-token", want: state{http.StatusOK, 2, 1}},
		{after: 59 * time.Second, token: "scraper-token", want: state{http.StatusOK, 2, 1}},
		// At 300 s both are asked again.
		{after: 181 * time.Second, token: "scraper-token", want: state{http.StatusOK, 3, 2}},

		// At 300 s the stranger is refused; bound to the role at 329 s,
		// still refused until the refusal expires at 330 s.
		{token: "stranger-token", want: state{http.StatusForbidden, 4, 3}},
		{after: 29 * time.Second, token: "stranger-token", change: func() { api.allowed[strangerUser.Username] = true }, want: state{http.StatusForbidden, 4, 3}},
		{after: time.Second, token: "stranger-token", want: state{http.StatusOK, 4, 4}},
		{after: 30 * time.Second, token: "stranger-token", want: state{http.StatusOK, 5, 4}},

		// At 360 s: a token the API server refuses is kept a minute too.
		{token: "made-up", want: state{http.StatusUnauthorized, 6, 4}},
		{after: 59 * time.Second, token: "made-up", want: state{http.StatusUnauthorized, 6, 4}},
		{after: time.Second, token: "made-up", want: state{http.StatusUnauthorized, 7, 4}},

		// At 420 s: a failed review is not kept, the next request asks
		// again.
		{token: "carol-token", change: func() { api.tokenErr = errors.New("timeout") }, want: state{http.StatusInternalServerError, 8, 4}},
		{token: "carol-token", want: state{http.StatusInternalServerError, 9, 4}},
		{token: "carol-token", change: func() { api.tokenErr, api.users["carol-token"] = nil, strangerUser }, want: state{http.StatusOK, 10, 4}},
		{token: "scraper-token", change: func() { api.sarErr = errors.New("timeout") }, want: state{http.StatusOK, 11, 4}},
		{after: 180 * time.Second, token: "scraper-token", want: state{http.StatusInternalServerError, 12, 5}},
		{token: "scraper-token", want: state{http.StatusInternalServerError, 12, 6}},
	} {
		clock.Add(step.after)
		if step.change != nil {
			api.mu.Lock()
			step.change()
			api.mu.Unlock()
		}
		got := state{Code: scrape(h, http.MethodGet, "Bearer "+step.token).Code}
		got.TokenReviews, got.AccessReviews = api.counts()
		if diff := cmp.Diff(step.want, got); diff != "" {
			t.Errorf("step %d, %s: (-want +got):\n%s", i, step.token, diff)
		}
	}
}

// TestMetricsAuthCacheBound: made-up tokens and users do not grow the
// caches past metricsCacheEntries.
func TestMetricsAuthCacheBound(t *testing.T) {
	api := &fakeAPI{users: map[string]authenticationv1.UserInfo{}, allowed: map[string]bool{}}
	const n = 3 * metricsCacheEntries
	for i := range n {
		if i%2 == 0 {
			name := fmt.Sprintf("user-%d", i)
			api.users[fmt.Sprintf("token-%d", i)] = authenticationv1.UserInfo{Username: name}
			api.allowed[name] = true
		}
	}
	a, clock := newFakeAuth(api)
	h, _ := filtered(t, a)
	for i := range n {
		clock.Add(time.Millisecond)
		want := http.StatusUnauthorized
		if i%2 == 0 {
			want = http.StatusOK
		}
		if got := scrape(h, http.MethodGet, fmt.Sprintf("Bearer token-%d", i)).Code; got != want {
			t.Fatalf("token-%d: %d, want %d", i, got, want)
		}
	}
	if got := a.users.len(); got != metricsCacheEntries {
		t.Errorf("%d cached tokens, want %d", got, metricsCacheEntries)
	}
	if got := a.decisions.len(); got != metricsCacheEntries {
		t.Errorf("%d cached decisions, want %d", got, metricsCacheEntries)
	}
	// The last tokens are still cached, the first ones are not.
	tokenReviews, _ := api.counts()
	scrape(h, http.MethodGet, fmt.Sprintf("Bearer token-%d", n-1))
	if got, _ := api.counts(); got != tokenReviews {
		t.Errorf("the last token was reviewed again")
	}
	scrape(h, http.MethodGet, "Bearer token-0")
	if got, _ := api.counts(); got != tokenReviews+1 {
		t.Errorf("the first token was not reviewed again")
	}
}

// TestTTLCache: a full cache drops its expired entries first, then the
// oldest ones; an entry put again is not evicted to make room for itself.
func TestTTLCache(t *testing.T) {
	c := newTTLCache[int](3)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	keys := func(now time.Time) []string {
		var ks []string
		for _, k := range []string{"a", "b", "c", "d", "e", "f"} {
			if _, ok := c.get(k, now); ok {
				ks = append(ks, k)
			}
		}
		return ks
	}
	c.put("a", 1, t0, 10*time.Second)
	c.put("b", 2, t0, time.Minute)
	c.put("c", 3, t0.Add(time.Second), time.Minute)
	// a has expired: it goes, b and c stay.
	c.put("d", 4, t0.Add(20*time.Second), time.Minute)
	if diff := cmp.Diff([]string{"b", "c", "d"}, keys(t0.Add(20*time.Second))); diff != "" {
		t.Errorf("after d (-want +got):\n%s", diff)
	}
	// None has expired: the oldest, b, goes.
	c.put("e", 5, t0.Add(20*time.Second), time.Minute)
	if diff := cmp.Diff([]string{"c", "d", "e"}, keys(t0.Add(20*time.Second))); diff != "" {
		t.Errorf("after e (-want +got):\n%s", diff)
	}
	// c put again replaces itself and is the newest now; d goes next.
	c.put("c", 6, t0.Add(20*time.Second), time.Minute)
	c.put("f", 7, t0.Add(20*time.Second), time.Minute)
	if diff := cmp.Diff([]string{"c", "e", "f"}, keys(t0.Add(20*time.Second))); diff != "" {
		t.Errorf("after f (-want +got):\n%s", diff)
	}
	if v, ok := c.get("c", t0.Add(20*time.Second)); !ok || v != 6 {
		t.Errorf("c: %d, %t, want 6, true", v, ok)
	}
	// An entry expires at its time exactly.
	if _, ok := c.get("f", t0.Add(80*time.Second)); ok {
		t.Errorf("f is still there at its expiry")
	}
	if _, ok := c.get("f", t0.Add(80*time.Second-time.Nanosecond)); ok {
		t.Errorf("f is still there after get dropped it")
	}
}

// TestMetricsAuthConcurrent: the filter serves concurrent scrapes (run
// with -race), and asks about each token at most a few times.
func TestMetricsAuthConcurrent(t *testing.T) {
	api := &fakeAPI{
		users:   map[string]authenticationv1.UserInfo{"scraper-token": scraperUser, "stranger-token": strangerUser},
		allowed: map[string]bool{scraperUser.Username: true},
	}
	a, _ := newFakeAuth(api)
	h, _ := filtered(t, a)
	var wg sync.WaitGroup
	codes := make([][]int, 16)
	for g := range codes {
		wg.Go(func() {
			for i := range 50 {
				token := []string{"scraper-token", "stranger-token", "made-up"}[(g+i)%3]
				codes[g] = append(codes[g], scrape(h, http.MethodGet, "Bearer "+token).Code)
			}
		})
	}
	wg.Wait()
	for g, cs := range codes {
		for i, code := range cs {
			want := []int{http.StatusOK, http.StatusForbidden, http.StatusUnauthorized}[(g+i)%3]
			if code != want {
				t.Fatalf("goroutine %d, request %d: %d, want %d", g, i, code, want)
			}
		}
	}
	// Concurrent misses may each ask, but no more than one per goroutine.
	if tokenReviews, accessReviews := api.counts(); tokenReviews > 3*len(codes) || accessReviews > 2*len(codes) {
		t.Errorf("%d TokenReviews and %d SubjectAccessReviews for 3 tokens", tokenReviews, accessReviews)
	}
}
