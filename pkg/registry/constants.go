package registry

import "github.com/kubectl-chart/kubectl-chart/pkg/chart/loader"

// Helm's reserved media types and the reference scheme (helm.sh/helm/v4/pkg/registry).
const (
	// OCIScheme is the scheme of chart references in registries: oci://host/path/chart.
	OCIScheme = "oci"

	// ConfigMediaType is the media type of a chart manifest's config blob:
	// Chart.yaml's metadata as JSON.
	ConfigMediaType = "application/vnd.cncf.helm.config.v1+json"

	// ChartLayerMediaType is the media type of the chart archive layer.
	ChartLayerMediaType = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"

	// ProvLayerMediaType is the media type of the provenance file layer.
	ProvLayerMediaType = "application/vnd.cncf.helm.chart.provenance.v1.prov"

	// LegacyChartLayerMediaType is what charts pushed by Helm 3.0-3.6 use for
	// their archive layer; pulls accept it.
	LegacyChartLayerMediaType = "application/tar+gzip"
)

// Bounds on what a registry may send.
const (
	maxManifestSize = 4 << 20
	maxConfigSize   = 4 << 20
	// MaxChartSize bounds a chart archive or provenance layer pulled from a
	// registry, whatever its descriptor claims: the loader's bound on a whole
	// chart (an archive larger than that could not be loaded anyway), as for
	// repositories and chart URLs.
	MaxChartSize = loader.MaxDecompressedChartSize
)
