package cmd

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-chart/kubectl-chart/internal/helmpath"
	"github.com/kubectl-chart/kubectl-chart/internal/transport"
	"github.com/kubectl-chart/kubectl-chart/pkg/registry"
)

const pushLong = `Upload a chart archive to an OCI registry, as "helm push" does: the chart
goes to REMOTE/NAME:VERSION with the manifest Helm makes (same media types,
annotations and digest for the same archive).

If the chart has an associated provenance file (CHART.tgz.prov),
it will also be uploaded.

Credentials come from "kubectl chart registry login" (or "helm registry
login": both use Helm's registry config.json), or --username/--password.`

const pushExample = `  # Push a packaged chart to a registry
  kubectl chart push mychart-0.1.0.tgz oci://registry.example.com/charts

  # Push to a local registry without TLS
  kubectl chart push mychart-0.1.0.tgz oci://localhost:5000/charts --plain-http`

// registryUnderscoreMessage is Helm's note on tags with '_' (helm/helm#10166).
const registryUnderscoreMessage = `
OCI artifact references (e.g. tags) do not support the plus sign (+). To support
storing semantic versions, Helm adopts the convention of changing plus (+) to
an underscore (_) in chart version tags when pushing to a registry and back to
a plus (+) when pulling from a registry.`

// RegistryFlags are the connection flags of push and the registry commands.
type RegistryFlags struct {
	CertFile              string
	KeyFile               string
	CAFile                string
	InsecureSkipTLSVerify bool
	PlainHTTP             bool
	Username              string
	Password              string
	// RegistryConfig is Helm's --registry-config: the credentials file.
	RegistryConfig string
}

// Options turns the flags into pkg/registry's options.
func (f RegistryFlags) Options() registry.Options {
	return registry.Options{
		RegistryConfig: f.RegistryConfig,
		Username:       f.Username,
		Password:       f.Password,
		PlainHTTP:      f.PlainHTTP,
		TLS: transport.TLSOptions{
			CAFile: f.CAFile, CertFile: f.CertFile, KeyFile: f.KeyFile, InsecureSkipVerify: f.InsecureSkipTLSVerify,
		},
	}
}

// PushOptions are the options of `kubectl chart push`.
type PushOptions struct {
	// ChartPath is the chart archive, Remote the oci:// destination.
	ChartPath string
	Remote    string
	RegistryFlags

	genericiooptions.IOStreams
}

// NewCmdPush builds `kubectl chart push`.
func NewCmdPush(streams genericiooptions.IOStreams) *cobra.Command {
	o := &PushOptions{IOStreams: streams}
	cmd := &cobra.Command{
		Use:     "push [chart] [remote]",
		Short:   "Push a chart archive to an OCI registry, as helm push does",
		Long:    pushLong,
		Example: pushExample,
		Args:    minimumNArgs(2),
		ValidArgsFunction: func(_ *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
			switch len(args) {
			case 0:
				return nil, cobra.ShellCompDirectiveDefault
			case 1:
				return []string{registry.OCIScheme + "://"}, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveNoSpace
			}
			return nil, cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Complete(args); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&o.CertFile, "cert-file", "", "identify registry client using this SSL certificate file")
	fs.StringVar(&o.KeyFile, "key-file", "", "identify registry client using this SSL key file")
	fs.StringVar(&o.CAFile, "ca-file", "", "verify certificates of HTTPS-enabled servers using this CA bundle")
	fs.BoolVar(&o.InsecureSkipTLSVerify, "insecure-skip-tls-verify", false, "skip tls certificate checks for the chart upload")
	fs.BoolVar(&o.PlainHTTP, "plain-http", false, "use insecure HTTP connections for the chart upload")
	fs.StringVar(&o.Username, "username", "", "chart repository username where to locate the requested chart")
	fs.StringVar(&o.Password, "password", "", "chart repository password where to locate the requested chart")
	addRegistryConfigFlag(fs.StringVar, &o.RegistryConfig)
	return cmd
}

// addRegistryConfigFlag adds Helm's --registry-config.
func addRegistryConfigFlag(add func(p *string, name, value, usage string), p *string) {
	add(p, "registry-config", helmpath.New().RegistryConfig(), "path to the registry config file")
}

// Complete reads the arguments.
func (o *PushOptions) Complete(args []string) error {
	o.ChartPath, o.Remote = args[0], args[1]
	return nil
}

// Validate checks the TLS flags.
func (o *PushOptions) Validate() error {
	if (o.CertFile == "") != (o.KeyFile == "") {
		return fmt.Errorf("--cert-file and --key-file must be given together")
	}
	return nil
}

// Run pushes the chart and prints Helm's lines.
func (o *PushOptions) Run(ctx context.Context) error {
	res, err := registry.Push(ctx, o.ChartPath, o.Remote, registry.PushOptions{Options: o.RegistryFlags.Options()})
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintf(o.Out, "Pushed: %s\nDigest: %s\n", res.Ref, res.Digest); err != nil {
		return err
	}
	return printUnderscoreNote(o.Out, res.Ref)
}

// printUnderscoreNote prints Helm's note when a reference's tag has '_'.
func printUnderscoreNote(out io.Writer, ref string) error {
	if r, err := registry.ParseReference(ref); err != nil || !strings.Contains(r.Tag, "_") {
		return nil
	}
	_, err := fmt.Fprintf(out, "%s contains an underscore.\n%s\n", ref, registryUnderscoreMessage)
	return err
}
