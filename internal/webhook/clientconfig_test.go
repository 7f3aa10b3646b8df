package webhook

import (
	"testing"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/flowcontrol"
)

// TestClientConfig: a configuration without rate limits (from --kubeconfig)
// gets no client-side rate limiter, as the in-cluster one from
// controller-runtime's GetConfig; one that sets them keeps them; the
// caller's configuration is not changed.
func TestClientConfig(t *testing.T) {
	limiter := flowcontrol.NewFakeAlwaysRateLimiter()
	for _, c := range []struct {
		name        string
		in          rest.Config
		wantQPS     float32
		wantBurst   int
		wantLimiter bool
	}{
		{name: "unset: no client-side limit", in: rest.Config{Host: "https://127.0.0.1:6443"}, wantQPS: -1},
		{name: "set: kept", in: rest.Config{QPS: 50, Burst: 100}, wantQPS: 50, wantBurst: 100},
		{name: "disabled: kept", in: rest.Config{QPS: -1}, wantQPS: -1},
		{name: "rate limiter: kept", in: rest.Config{RateLimiter: limiter}, wantLimiter: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			in := c.in
			got := clientConfig(&in)
			if got.QPS != c.wantQPS || got.Burst != c.wantBurst || (got.RateLimiter != nil) != c.wantLimiter {
				t.Errorf("QPS %v, Burst %d, RateLimiter %v; want %v, %d, %v", got.QPS, got.Burst, got.RateLimiter != nil, c.wantQPS, c.wantBurst, c.wantLimiter)
			}
			if got.Host != c.in.Host {
				t.Errorf("Host %q, want %q", got.Host, c.in.Host)
			}
			if in.QPS != c.in.QPS {
				t.Errorf("the caller's configuration changed: QPS %v, was %v", in.QPS, c.in.QPS)
			}
		})
	}
}
