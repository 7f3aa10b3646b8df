// Package webhookinstall is the engine of `kubectl chart webhook install`,
// `status` and `uninstall`: it builds chart-webhook's objects from the
// embedded manifests/ (kustomization.yaml and its resources) for one of three
// modes, applies them with server-side apply (field manager kubectl-chart),
// reports on them and deletes them.
//
// The modes differ in where the webhook runs and who makes its certificate:
//
//   - cert-manager: in the cluster (Deployment, Service, …); a self-signed
//     Issuer, a CA Certificate, a CA Issuer and the serving Certificate,
//     built with cert-manager's Go API types, and cainjector fills the
//     caBundle of the MutatingWebhookConfiguration;
//   - self-signed: in the cluster; this package makes the CA and the serving
//     certificate (ECDSA P-256), stores them in Secrets and sets the caBundle
//     itself;
//   - local: on the user's machine (`chart-webhook --kubeconfig …`); a fresh
//     CA and serving certificate for 127.0.0.1 are written to a folder and
//     the same webhook configuration is registered with a URL clientConfig.
//
// The webhook configuration's rules, selectors and policies always come from
// manifests/mutatingwebhookconfiguration.yaml. The package returns data
// (change sets, status views, file lists) and errors; it never prints.
package webhookinstall
