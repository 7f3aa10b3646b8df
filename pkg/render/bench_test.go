package render_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/kubectl-chart/kubectl-chart/pkg/chart/loader"
	"github.com/kubectl-chart/kubectl-chart/pkg/render"
)

// BenchmarkRender renders the charts of `make bench` in-process (load,
// render, format), to profile the engine apart from process start-up:
//
//	go test ./pkg/render -run '^$' -bench Render/wordpress -cpuprofile cpu.out -memprofile mem.out
//
// docs/performance.md says where the time goes.
func BenchmarkRender(b *testing.B) {
	corpus := corpusDir(b)
	for _, c := range []string{
		"prometheus-community/prometheus-operator-crds", "bitnami/postgresql", "ingress-nginx/ingress-nginx",
		"prometheus-community/kube-prometheus-stack", "cert-manager/cert-manager", "bitnami/wordpress",
		"bitnami/elasticsearch",
	} {
		b.Run(filepath.Base(c), func(b *testing.B) {
			for b.Loop() {
				ch, err := loader.Load(filepath.Join(corpus, c))
				if err != nil {
					b.Fatal(err)
				}
				if _, err := completeFromCorpus(corpus, ch); err != nil {
					b.Fatal(err)
				}
				res, err := render.Render(context.Background(), ch, nil, render.DefaultOptions())
				if err != nil {
					b.Fatal(err)
				}
				if _, err := res.Template(render.TemplateOptions{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
