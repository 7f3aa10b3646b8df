package cmd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-chart/kubectl-chart/internal/apply"
	"github.com/kubectl-chart/kubectl-chart/internal/releaseview"
	"github.com/kubectl-chart/kubectl-chart/internal/webhookinstall"
)

const webhookLong = `Install, inspect or remove chart-webhook, the ownership admission webhook.

Once it is installed, writes from other tools (kubectl edit, another deployer,
a script) that would change a field a release owns, remove its labels or
delete its objects are refused; release history becomes append-only. Without
it, nothing enforces ownership at write time.

The webhook runs in one of three modes:

  cert-manager (default)  in the cluster; cert-manager issues its certificate
                          and injects the CA into the webhook configuration
  --self-signed           in the cluster; kubectl chart makes the CA and the
                          serving certificate and sets the CA itself
  --local                 on this machine (chart-webhook --kubeconfig …), for
                          a cluster whose API server can reach it (a local
                          control plane)

The webhook's namespace is kubectl-chart-system, or -n when given.`

// NewCmdWebhook builds `kubectl chart webhook`.
func NewCmdWebhook(f *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "webhook",
		Short: "Install, inspect or remove the ownership webhook (chart-webhook)",
		Long:  webhookLong,
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return cmd.Help()
		},
	}
	cmd.AddCommand(
		NewCmdWebhookInstall(f, streams),
		NewCmdWebhookStatus(f, streams),
		NewCmdWebhookUninstall(f, streams),
	)
	return cmd
}

// webhookNamespace is the webhook's namespace: -n when given, else
// webhookinstall.DefaultNamespace (not the context's namespace: the
// webhook does not belong to whatever namespace one happens to work in).
func webhookNamespace(f *genericclioptions.ConfigFlags) string {
	if f.Namespace != nil && *f.Namespace != "" {
		return *f.Namespace
	}
	return webhookinstall.DefaultNamespace
}

// newWebhookInstaller connects to the cluster of the kube flags.
func newWebhookInstaller(f *genericclioptions.ConfigFlags) (*webhookinstall.Installer, error) {
	cfg, err := f.ToRESTConfig()
	if err != nil {
		return nil, err
	}
	cfg = rest.CopyConfig(cfg)
	cfg.QPS, cfg.Burst = max(cfg.QPS, 50), max(cfg.Burst, 100)
	return webhookinstall.New(cfg)
}

const webhookInstallLong = `Install chart-webhook, or update it (another --image, renewed certificates):
apply the embedded manifests/ with server-side apply (field manager
kubectl-chart), wait until the webhook is ready, then register its two webhook
configurations, both named "chart-webhook": the MutatingWebhookConfiguration,
which stamps release records, then the ValidatingWebhookConfiguration, which
decides.

Who may deploy: taking a release's lock (install, upgrade, rollback,
uninstall) needs the verb "deploy" on releases.kubectl-chart.io in the
release's namespace, granted by the ClusterRole kubectl-chart-deployer;
--force-unlock also needs "unlock" (ClusterRole kubectl-chart-unlocker). By
default both are aggregated into the built-in admin and edit roles: whoever
may edit a namespace may deploy there. With --strict they are not: only the
users and ServiceAccounts bound to them explicitly may deploy. An install
without --strict aggregates them again.

cert-manager mode (the default) needs cert-manager: a self-signed Issuer, a CA
Certificate, a CA Issuer and the serving Certificate are created, and
cainjector sets the caBundles. Without cert-manager, install says so; use
--self-signed instead: kubectl chart makes a CA (10 years) and a serving
certificate (90 days, ECDSA P-256) for chart-webhook.<namespace>.svc, stores
them in Secrets chart-webhook-ca and chart-webhook-tls and sets the caBundle.
Run install again to renew: it replaces a serving certificate with less than
15 days left (webhook status says when that is the case) and keeps it
otherwise.

--local registers a webhook that runs on this machine: a fresh CA and a
serving certificate for --host are written to --cert-dir (ca.crt, tls.crt,
tls.key), with a key that seals revision records (seal.key, kept if it
exists), and the webhook configurations (same rules and selectors) call
https://<host>:<port>/mutate and /validate. Start the webhook with the
command printed. While it does not answer, writes to objects that releases
own are refused.`

const webhookInstallExample = `  # With cert-manager installed in the cluster
  kubectl chart webhook install

  # Without cert-manager
  kubectl chart webhook install --self-signed

  # Only users and ServiceAccounts bound to kubectl-chart-deployer may deploy
  kubectl chart webhook install --strict
  kubectl create rolebinding ci-deploy -n shop --clusterrole=kubectl-chart-deployer --serviceaccount=ci:deployer

  # On a local control plane, with the webhook running on this machine
  kubectl chart webhook install --local --port 9443 --cert-dir /tmp/chart-webhook
  chart-webhook --kubeconfig ~/.kube/config --cert-dir /tmp/chart-webhook --seal-key-file /tmp/chart-webhook/seal.key --host 127.0.0.1 --port 9443

  # The objects, for a GitOps repository (Secrets included with --self-signed)
  kubectl chart webhook install --self-signed --dry-run=client -o yaml

  # With the Prometheus Operator: also a ServiceMonitor, alerts and a Grafana dashboard
  kubectl chart webhook install --monitoring`

// WebhookInstallOptions are the options of `kubectl chart webhook install`.
type WebhookInstallOptions struct {
	configFlags *genericclioptions.ConfigFlags

	// SelfSigned and Local pick the mode (neither: cert-manager).
	SelfSigned, Local bool
	// DryRun is none, client or server.
	DryRun string
	// Output is "" (a line per object) or yaml or json (the objects).
	Output string

	install webhookinstall.InstallOptions
	genericiooptions.IOStreams
}

// NewCmdWebhookInstall builds `kubectl chart webhook install`.
func NewCmdWebhookInstall(f *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &WebhookInstallOptions{configFlags: f, IOStreams: streams, install: webhookinstall.DefaultInstallOptions(), DryRun: "none"}
	cmd := &cobra.Command{
		Use:     "install",
		Short:   "Install or update the ownership webhook",
		Long:    webhookInstallLong,
		Example: webhookInstallExample,
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.Complete(cmd); err != nil {
				return err
			}
			if err := o.Validate(cmd); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	fs := cmd.Flags()
	i := &o.install
	fs.BoolVar(&o.SelfSigned, "self-signed", false, "make the CA and serving certificate here instead of with cert-manager")
	fs.BoolVar(&o.Local, "local", false, "register a webhook running on this machine (with --port and --cert-dir)")
	fs.StringVar(&i.Image, "image", i.Image, "the webhook's container image")
	fs.StringVar(&i.CertDir, "cert-dir", "", "--local: folder to write ca.crt, tls.crt, tls.key (chart-webhook --cert-dir) and seal.key (chart-webhook --seal-key-file) to")
	fs.StringVar(&i.Host, "host", i.Host, "--local: address the API server calls the local webhook on (an IP address or DNS name)")
	fs.IntVar(&i.Port, "port", i.Port, "--local: port the local webhook listens on")
	fs.StringVar(&o.DryRun, "dry-run", o.DryRun, `"client" builds the objects and writes nothing, "server" also validates them with a server-side dry run`)
	fs.Lookup("dry-run").NoOptDefVal = "client"
	fs.BoolVar(&i.ForceConflicts, "force-conflicts", false, "take fields that other field managers own")
	fs.BoolVar(&i.Strict, "strict", false, "only users and ServiceAccounts bound to the ClusterRoles kubectl-chart-deployer (and kubectl-chart-unlocker, for --force-unlock) may deploy; without it, they are aggregated into admin and edit, so whoever may edit a namespace may deploy there")
	fs.BoolVar(&i.Monitoring, "monitoring", false, "also apply manifests/monitoring: the Prometheus Operator's ServiceMonitor and PrometheusRule (skipped, with a message, when the cluster lacks their CRDs) and the Grafana dashboard's ConfigMap (docs/monitoring.md)")
	fs.BoolVar(&i.Wait, "wait", i.Wait, "wait until the webhook is ready before registering its configurations (in-cluster modes)")
	fs.DurationVar(&i.Timeout, "timeout", i.Timeout, "how long --wait waits")
	fs.StringVarP(&o.Output, "output", "o", "", "print the objects instead of what changed: yaml or json")
	return cmd
}

// Complete reads the mode and the namespace.
func (o *WebhookInstallOptions) Complete(cmd *cobra.Command) error {
	switch {
	case o.Local:
		o.install.Mode = webhookinstall.ModeLocal
	case o.SelfSigned:
		o.install.Mode = webhookinstall.ModeSelfSigned
	default:
		o.install.Mode = webhookinstall.ModeCertManager
	}
	o.install.Namespace = webhookNamespace(o.configFlags)
	switch o.DryRun {
	case "none", "false", "":
		o.install.DryRun = webhookinstall.DryRunNone
	case "client", "true":
		o.install.DryRun = webhookinstall.DryRunClient
	case "server":
		o.install.DryRun = webhookinstall.DryRunServer
	default:
		return fmt.Errorf(`--dry-run must be "none", "client" or "server", not %q`, o.DryRun)
	}
	return nil
}

// Validate checks that the flags fit the mode.
func (o *WebhookInstallOptions) Validate(cmd *cobra.Command) error {
	if o.Local && o.SelfSigned {
		return errors.New("--local and --self-signed exclude each other: --local always makes its own certificate")
	}
	if !o.Local {
		for _, name := range []string{"cert-dir", "host", "port"} {
			if cmd.Flags().Changed(name) {
				return fmt.Errorf("--%s is only for --local", name)
			}
		}
	} else {
		for _, name := range []string{"image", "wait", "timeout"} {
			if cmd.Flags().Changed(name) {
				return fmt.Errorf("--%s is only for the in-cluster modes, not --local", name)
			}
		}
		if ns := webhookNamespace(o.configFlags); ns != webhookinstall.DefaultNamespace {
			return fmt.Errorf("-n %s: the local webhook always excludes its default namespace %s; -n is only for the in-cluster modes", ns, webhookinstall.DefaultNamespace)
		}
	}
	switch o.Output {
	case "", "yaml", "json":
	default:
		return fmt.Errorf(`--output must be "yaml" or "json", not %q`, o.Output)
	}
	return o.install.Validate()
}

// Run installs and prints what changed, or the objects (-o).
func (o *WebhookInstallOptions) Run(ctx context.Context) error {
	in, err := newWebhookInstaller(o.configFlags)
	if err != nil {
		return err
	}
	res, err := in.Install(ctx, o.install)
	if res != nil {
		if o.Output != "" {
			if perr := printObjects(o.Out, o.Output, res.Objects); perr != nil {
				return errors.Join(err, perr)
			}
		} else {
			printChanges(o.Out, res.Changes, res.DryRun)
		}
	}
	if res != nil && res.Monitoring != nil {
		// With -o the objects own stdout.
		w := o.Out
		if o.Output != "" {
			w = o.ErrOut
		}
		fmt.Fprintln(w, res.Monitoring.Message())
	}
	if err != nil {
		return err
	}
	if o.Output == "" {
		o.printNext(res)
	}
	return nil
}

// printNext says what install did about certificates and, in local mode,
// how to start the webhook.
func (o *WebhookInstallOptions) printNext(res *webhookinstall.InstallResult) {
	w := o.Out
	if sv := res.Serving; sv != nil && res.Mode == webhookinstall.ModeSelfSigned {
		what := "issued"
		if sv.Reused {
			what = "kept"
		}
		fmt.Fprintf(w, "serving certificate for %s %s, valid until %s: run this command again before then to renew it\n",
			strings.Join(sv.Hosts, ", "), what, sv.NotAfter.UTC().Format(time.RFC3339))
	}
	if res.Mode == webhookinstall.ModeCertManager && res.DryRun == webhookinstall.DryRunNone {
		fmt.Fprintln(w, "cert-manager issues and renews the serving certificate; its cainjector sets the caBundles")
	}
	if o.install.Strict {
		fmt.Fprintf(w, "strict: only users and ServiceAccounts bound to ClusterRole %s may deploy (kubectl create rolebinding -n <namespace> --clusterrole=%s …)\n",
			webhookinstall.DeployerRoleName, webhookinstall.DeployerRoleName)
	}
	if res.Mode != webhookinstall.ModeLocal {
		return
	}
	if res.DryRun != webhookinstall.DryRunNone {
		fmt.Fprintf(w, "dry run: no certificate written to %s, nothing registered\n", o.install.CertDir)
		return
	}
	for _, f := range res.Files {
		fmt.Fprintf(w, "wrote %s\n", f)
	}
	i := o.install
	fmt.Fprintf(w, "\nchart-webhook is registered at %s. Start it on this machine with:\n\n", strings.Join(res.URLs, " and "))
	fmt.Fprintf(w, "  chart-webhook --kubeconfig %s --cert-dir %s --seal-key-file %s --host %s --port %d\n\n",
		shellQuote(o.kubeconfigPath()), shellQuote(i.CertDir), shellQuote(res.SealKeyFile), shellQuote(i.Host), i.Port)
	if c := o.configFlags.Context; c != nil && *c != "" {
		fmt.Fprintf(w, "(chart-webhook uses the kubeconfig's current context, not --context %s.)\n", *c)
	}
	fmt.Fprintln(w, "Until it answers, writes to objects that releases own are refused (failurePolicy Fail);")
	fmt.Fprintln(w, "`kubectl chart webhook uninstall` removes the registration.")
}

// kubeconfigPath is the kubeconfig file the kube flags use.
func (o *WebhookInstallOptions) kubeconfigPath() string {
	if k := o.configFlags.KubeConfig; k != nil && *k != "" {
		return *k
	}
	access := o.configFlags.ToRawKubeConfigLoader().ConfigAccess()
	if f := access.GetExplicitFile(); f != "" {
		return f
	}
	for _, f := range access.GetLoadingPrecedence() {
		if _, err := os.Stat(f); err == nil {
			return f
		}
	}
	return access.GetDefaultFilename()
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=@,+%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'"'"'`) + "'"
}

// printChanges prints one line per object, as kubectl apply does.
func printChanges(w io.Writer, changes []apply.Change, dryRun webhookinstall.DryRun) {
	suffix := ""
	switch dryRun {
	case webhookinstall.DryRunClient:
		suffix = " (client dry run)"
	case webhookinstall.DryRunServer:
		suffix = " (server dry run)"
	}
	for _, c := range changes {
		kind := strings.ToLower(c.Ref.Kind)
		if c.Ref.Group != "" {
			kind += "." + c.Ref.Group
		}
		line := fmt.Sprintf("%s/%s %s%s", kind, c.Ref.Name, c.Action, suffix)
		if c.Err != nil {
			line = fmt.Sprintf("%s/%s failed: %v", kind, c.Ref.Name, c.Err)
		}
		fmt.Fprintln(w, line)
	}
}

// printObjects prints objects as a YAML stream or a JSON List.
func printObjects(w io.Writer, format string, objs []*unstructured.Unstructured) error {
	if format == "json" {
		list := &unstructured.UnstructuredList{Object: map[string]any{"apiVersion": "v1", "kind": "List"}}
		for _, o := range objs {
			list.Items = append(list.Items, *o)
		}
		data, err := list.MarshalJSON()
		if err != nil {
			return err
		}
		var b bytes.Buffer
		if err := json.Indent(&b, data, "", "    "); err != nil {
			return err
		}
		b.WriteByte('\n')
		_, err = w.Write(b.Bytes())
		return err
	}
	for i, o := range objs {
		data, err := yaml.Marshal(o.Object)
		if err != nil {
			return err
		}
		if i > 0 {
			fmt.Fprintln(w, "---")
		}
		if _, err := w.Write(data); err != nil {
			return err
		}
	}
	return nil
}

// WebhookStatusOptions are the options of `kubectl chart webhook status`.
type WebhookStatusOptions struct {
	configFlags *genericclioptions.ConfigFlags
	// Output is table, json or yaml.
	Output releaseview.Format
	genericiooptions.IOStreams
}

// NewCmdWebhookStatus builds `kubectl chart webhook status`.
func NewCmdWebhookStatus(f *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &WebhookStatusOptions{configFlags: f, IOStreams: streams, Output: releaseview.FormatTable}
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show whether the ownership webhook is installed and enforcing",
		Long: `Show whether chart-webhook is installed and in which mode, whether it was
installed --strict (the ClusterRoles kubectl-chart-deployer and
kubectl-chart-unlocker left out of admin and edit), where the API server calls
its mutating and its validating configuration and their failure policies, the
CAs of their caBundles, its Deployment's readiness (in-cluster modes) or
whether the local webhook answers (--local), its serving certificate (valid
until when, trusted by the caBundles or not), cert-manager's Certificates, and
every problem found, with what to do.`,
		Example: "  kubectl chart webhook status\n  kubectl chart webhook status -o json",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.Run(cmd.Context())
		},
	}
	cmd.Flags().VarP(&o.Output, "output", "o", releaseview.FormatUsage())
	return cmd
}

// Run reads and prints the webhook's status.
func (o *WebhookStatusOptions) Run(ctx context.Context) error {
	in, err := newWebhookInstaller(o.configFlags)
	if err != nil {
		return err
	}
	st, err := in.Status(ctx, webhookinstall.StatusOptions{Namespace: webhookNamespace(o.configFlags)})
	if err != nil {
		return err
	}
	return writeFormatted(o.Out, o.Output, st, st.Text())
}

// WebhookUninstallOptions are the options of `kubectl chart webhook
// uninstall`.
type WebhookUninstallOptions struct {
	configFlags *genericclioptions.ConfigFlags
	// DryRun is none, client or server.
	DryRun string
	genericiooptions.IOStreams
}

// NewCmdWebhookUninstall builds `kubectl chart webhook uninstall`.
func NewCmdWebhookUninstall(f *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &WebhookUninstallOptions{configFlags: f, IOStreams: streams, DryRun: "none"}
	cmd := &cobra.Command{
		Use:   "uninstall",
		Short: "Remove the ownership webhook",
		Long: `Remove chart-webhook in whichever mode it was installed: its
ValidatingWebhookConfiguration, then its MutatingWebhookConfiguration (writes
are no longer judged from then on), then its Deployment, Service, RBAC
(the ClusterRoles kubectl-chart-deployer and kubectl-chart-unlocker included),
certificates and Secrets, and its namespace if install created it and nothing
else lives there. Objects already gone are skipped: it is safe to run again.
Files --local wrote stay.`,
		Example: "  kubectl chart webhook uninstall",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.Run(cmd.Context())
		},
	}
	cmd.Flags().StringVar(&o.DryRun, "dry-run", o.DryRun, `"client" lists what would be deleted, "server" also has the API server check the deletions`)
	cmd.Flags().Lookup("dry-run").NoOptDefVal = "client"
	return cmd
}

// Run uninstalls and prints what was deleted.
func (o *WebhookUninstallOptions) Run(ctx context.Context) error {
	var dry webhookinstall.DryRun
	switch o.DryRun {
	case "none", "false", "":
		dry = webhookinstall.DryRunNone
	case "client", "true":
		dry = webhookinstall.DryRunClient
	case "server":
		dry = webhookinstall.DryRunServer
	default:
		return fmt.Errorf(`--dry-run must be "none", "client" or "server", not %q`, o.DryRun)
	}
	in, err := newWebhookInstaller(o.configFlags)
	if err != nil {
		return err
	}
	res, err := in.Uninstall(ctx, webhookinstall.UninstallOptions{Namespace: webhookNamespace(o.configFlags), DryRun: dry})
	if res != nil {
		printChanges(o.Out, res.Changes, dry)
		if res.KeptNamespace != "" {
			fmt.Fprintf(o.Out, "namespace/%s kept: %s\n", res.KeptNamespace, keptReason(res.KeptFor))
		}
		if err == nil && len(res.Changes) == 0 {
			fmt.Fprintln(o.Out, "chart-webhook is not installed: nothing to delete")
		}
	}
	return err
}

func keptReason(kept []string) string {
	const show = 5
	if len(kept) == 1 && !strings.Contains(kept[0], "/") {
		return kept[0]
	}
	more := ""
	if len(kept) > show {
		more = " and " + strconv.Itoa(len(kept)-show) + " more"
		kept = kept[:show]
	}
	return "it holds " + strings.Join(kept, ", ") + more
}
