package testregistry

import (
	"crypto/tls"
	"net/http"
	"testing"
)

func TestStart(t *testing.T) {
	cases := []struct {
		name       string
		opts       Options
		user, pass string
		want       int
	}{
		{name: "plain HTTP", opts: Options{}, want: http.StatusOK},
		{name: "TLS", opts: Options{TLS: true}, want: http.StatusOK},
		{name: "TLS and auth without credentials", opts: Options{TLS: true, Users: map[string]string{"u": "p"}}, want: http.StatusUnauthorized},
		{name: "TLS and auth, wrong password", opts: Options{TLS: true, Users: map[string]string{"u": "p"}}, user: "u", pass: "x", want: http.StatusUnauthorized},
		{name: "TLS and auth", opts: Options{TLS: true, Users: map[string]string{"u": "p"}}, user: "u", pass: "p", want: http.StatusOK},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := Start(t, tc.opts)
			scheme := "http"
			client := &http.Client{}
			if tc.opts.TLS {
				scheme = "https"
				client.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: r.CAPool, MinVersion: tls.VersionTLS12}}
			}
			req, err := http.NewRequest(http.MethodGet, scheme+"://"+r.Host+"/v2/", nil)
			if err != nil {
				t.Fatal(err)
			}
			if tc.user != "" {
				req.SetBasicAuth(tc.user, tc.pass)
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Errorf("GET /v2/: %d, want %d", resp.StatusCode, tc.want)
			}
		})
	}
}

func TestProxyCounts(t *testing.T) {
	r := Start(t, Options{})
	p := NewProxy(t, r)
	resp, err := http.Get("http://" + p.Host + "/v2/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := p.Requests(); len(got) != 1 || got[0] != "GET /v2/" {
		t.Errorf("requests %v", got)
	}
	p.Reset()
	if got := p.Requests(); len(got) != 0 {
		t.Errorf("after Reset: %v", got)
	}
}
