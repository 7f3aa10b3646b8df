// Package packager writes charts as .tgz archives the way `helm package`
// does (helm.sh/helm/v4/pkg/chart/v2/util.Save): <name>-<version>.tgz holding
// every file under <name>/, Chart.yaml written from the chart's metadata,
// values.yaml as it was, subcharts expanded under <name>/charts/<sub>/, so
// that Helm and this module's loader read it back as the same chart.
package packager
