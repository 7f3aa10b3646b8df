// Package loader reads Helm charts from chart directories, from .tgz archives
// and from in-memory files into the chart model, with exactly the rules and the
// error messages of Helm v4 (helm.sh/helm/v4/pkg/chart/v2/loader): Chart.yaml
// (apiVersion v1 when unset), requirements.yaml and requirements.lock for v1
// charts, Chart.lock, values.yaml (every YAML document merged),
// values.schema.json, templates/, subcharts under charts/ (folders and .tgz
// archives, recursively) and every other file as a plain file. A UTF-8 byte
// order mark at the start of a file is dropped; .helmignore is honoured for
// directories, not for archives.
//
// Charts are untrusted input, so loading is bounded and stricter than Helm:
//
//   - archive entries that are absolute, reach a parent directory or name a
//     Windows drive are refused, as in Helm, and so are symbolic and hard link
//     entries (Helm loads those as empty files);
//   - in a chart directory, symbolic links are followed (as Helm does) only
//     while they stay inside the chart root; a link that leaves it or forms a
//     loop is refused;
//   - the decompressed size of the whole chart tree, nested .tgz subcharts
//     included, and its number of files are bounded (MaxDecompressedChartSize,
//     MaxFiles); Helm bounds each archive on its own and counts no files.
//
// ReadArchiveFiles is the one reader of chart archives in this module, with
// these bounds and checks: whoever needs an archive's files without the chart
// (pkg/lint, before it loads) reads them with it.
//
// Subcharts are added in the order of their names under charts/ (Helm's order
// is random).
package loader
