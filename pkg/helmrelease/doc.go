// Package helmrelease reads and writes Helm's release storage, so that a
// release Helm installed can be adopted with its history (import-helm) and a
// kubectl-chart release can be handed back to Helm (export-helm).
//
// It owns Helm's record format (Helm 3 and Helm 4 write the same one: the
// JSON of helm.sh/helm's release v1 type, gzip'd and base64'd), the layout of
// the Secrets and ConfigMaps Helm's storage drivers keep it in (object names,
// labels, type, data key), and the mapping between a Helm release and a
// kubectl-chart revision record (package release). It does not import Helm:
// the types here are written from Helm's source and checked against Helm's
// own code by the oracle under testdata/helmoracle.
//
// It applies nothing and deletes nothing: Read and Names only list, and
// Secret and ConfigMap build objects that the caller creates.
package helmrelease
