// Package chart holds the in-memory model of a Helm chart: its metadata
// (Chart.yaml), templates, values, schema, plain files and subcharts.
//
// The model follows Helm's chart API v1 and v2 exactly, so that a chart that
// Helm loads is loaded here with the same names, the same validation errors and
// the same view for templates (.Chart, .Files). Loading from disk or from an
// archive lives in the loader subpackage; this package has no I/O.
package chart
