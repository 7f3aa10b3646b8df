// Package lint examines a chart for problems, as `helm lint` (Helm v4.3.1)
// does: Chart.yaml fields, values.yaml and its schema, every template rendered
// in lint mode (fail and required only warn) and every rendered document
// (valid YAML, a Kubernetes-valid metadata.name, no deprecated API, a
// selector for workloads), dependencies declared against charts/, and the
// files of crds/.
//
// Lint returns messages ([INFO], [WARNING], [ERROR] with the file they are
// about) with Helm's wording and order; it never prints. A chart is a
// directory or a packaged chart (.tgz), read into memory within the
// loader's bounds by loader.ReadArchiveFiles (the one archive reader).
//
// Where it differs from Helm's lint:
//
//   - documents without apiVersion or kind are errors (the API server
//     refuses them); Helm does not look;
//   - Chart.yaml's kubeVersion must be a valid constraint (an error) and
//     should admit the target Kubernetes version (a warning); Helm does not
//     look, and fails only at install;
//   - templates are checked from the render's documents: a template whose
//     output is not YAML is the only message of the render (Helm goes on
//     with the templates before it), including a subchart's, which Helm
//     does not check; Helm's warning for a document that starts indented
//     is not given (such a document fails to parse, as it fails helm
//     template); the documents of one template are checked in install
//     order, hooks last, rather than in file order; a document whose hook
//     annotation names no known event is not checked;
//   - .Release.IsInstall is true while rendering (false in Helm's lint).
package lint
