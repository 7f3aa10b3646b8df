// Package manifests holds the deployment manifests of chart-webhook, the
// ownership admission webhook: kustomization.yaml and the objects it lists.
// They are embedded so that `kubectl chart webhook install` applies what
// `kubectl apply --server-side -k manifests/` applies, from the same files.
package manifests

import "embed"

// FS holds every *.yaml file of this folder: kustomization.yaml and the
// resources it lists.
//
//go:embed *.yaml
var FS embed.FS
