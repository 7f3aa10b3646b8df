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
//     caBundle of both webhook configurations;
//   - self-signed: in the cluster; this package makes the CA and the serving
//     certificate (ECDSA P-256), stores them in Secrets and sets the caBundle
//     itself;
//   - local: on the user's machine (`chart-webhook --kubeconfig …`); a fresh
//     CA and serving certificate for 127.0.0.1, and a key for sealing
//     revision records (kept across installs), are written to a folder, and
//     the same webhook configurations are registered with URL clientConfigs
//     (/mutate and /validate), with the ClusterRoles kubectl-chart-deployer
//     and kubectl-chart-unlocker.
//
// The webhook configurations are two, both named chart-webhook: the
// MutatingWebhookConfiguration only stamps release records, the
// ValidatingWebhookConfiguration decides. Their rules, selectors and
// policies always come from manifests/. They are registered last, once the
// webhook answers, the mutating one first, and removed first, the
// validating one first. Install --strict leaves the deployer and unlocker
// ClusterRoles out of the built-in admin and edit roles (no aggregation
// labels; server-side apply removes them from an earlier install's roles).
//
// The package returns data (change sets, status views, file lists) and
// errors; it never prints.
package webhookinstall
