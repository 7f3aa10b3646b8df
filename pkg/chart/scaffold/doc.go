// Package scaffold writes new charts as `helm create` does (Helm v4.3.1,
// helm.sh/helm/v4/pkg/chart/v2/util/create.go): Create writes Helm's
// default chart (a Deployment of nginx with its Service, ServiceAccount,
// optional Ingress, HTTPRoute and HorizontalPodAutoscaler, NOTES.txt,
// _helpers.tpl and a test Pod), CreateFrom a chart made from a starter chart
// (`helm create --starter`), with <CHARTNAME> in its templates and
// values.yaml replaced by the new chart's name.
//
// The files' texts are Helm's (Apache License 2.0), copied into this package
// so that `kubectl chart create` writes the same files, with the same modes,
// the same checks and the same error messages as `helm create`; nothing here
// imports Helm. The package prints nothing: the files it overwrote are
// returned for the caller to report.
package scaffold
