package cmd

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-chart/kubectl-chart/pkg/registry"
)

const registryLoginLong = `Authenticate to a remote registry, as "helm registry login" does: the
credentials are checked against the registry, then stored in Helm's registry
config.json (or the credential helper it names), where helm finds them too.

For example for Github Container Registry:

    echo "$GITHUB_TOKEN" | kubectl chart registry login ghcr.io -u $GITHUB_USER --password-stdin`

// NewCmdRegistry builds `kubectl chart registry` and its login and logout.
func NewCmdRegistry(streams genericiooptions.IOStreams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "registry",
		Short: "Login to or logout from a registry, as helm registry does",
		Long:  "This command consists of multiple subcommands to interact with registries.",
		Args:  noArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(NewCmdRegistryLogin(streams), NewCmdRegistryLogout(streams))
	return cmd
}

// RegistryLoginOptions are the options of `kubectl chart registry login`.
type RegistryLoginOptions struct {
	Host string
	RegistryFlags
	// PasswordStdin reads the password from standard input.
	PasswordStdin bool

	genericiooptions.IOStreams
}

// NewCmdRegistryLogin builds `kubectl chart registry login`.
func NewCmdRegistryLogin(streams genericiooptions.IOStreams) *cobra.Command {
	o := &RegistryLoginOptions{IOStreams: streams}
	cmd := &cobra.Command{
		Use:   "login [host]",
		Short: "Login to a registry",
		Long:  registryLoginLong,
		Example: `  # Log in with a password from standard input
  echo "$PASSWORD" | kubectl chart registry login registry.example.com -u me --password-stdin

  # Log in to a registry whose certificate a private CA signed
  kubectl chart registry login registry.example.com -u me --ca-file ca.crt`,
		Args:              minimumNArgs(1),
		ValidArgsFunction: cobra.NoFileCompletions,
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
	fs.StringVarP(&o.Username, "username", "u", "", "registry username")
	fs.StringVarP(&o.Password, "password", "p", "", "registry password or identity token")
	fs.BoolVar(&o.PasswordStdin, "password-stdin", false, "read password or identity token from stdin")
	fs.BoolVar(&o.InsecureSkipTLSVerify, "insecure", false, "allow connections to TLS registry without certs")
	fs.StringVar(&o.CertFile, "cert-file", "", "identify registry client using this SSL certificate file")
	fs.StringVar(&o.KeyFile, "key-file", "", "identify registry client using this SSL key file")
	fs.StringVar(&o.CAFile, "ca-file", "", "verify certificates of HTTPS-enabled servers using this CA bundle")
	fs.BoolVar(&o.PlainHTTP, "plain-http", false, "use insecure HTTP connections for the chart upload")
	addRegistryConfigFlag(fs.StringVar, &o.RegistryConfig)
	return cmd
}

// Complete reads the host and the credentials: the password from standard
// input with --password-stdin, else prompted for (without echo) when not
// given, as Helm does.
func (o *RegistryLoginOptions) Complete(args []string) error {
	o.Host = args[0]
	switch {
	case o.PasswordStdin:
		b, err := io.ReadAll(o.In)
		if err != nil {
			return err
		}
		o.Password = strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	case o.Password == "":
		in := bufio.NewReader(o.In)
		if o.Username == "" {
			u, err := o.prompt(in, "Username: ", false)
			if err != nil {
				return err
			}
			o.Username = strings.TrimSpace(u)
		}
		label, missing := "Password: ", "password required"
		if o.Username == "" {
			label, missing = "Token: ", "token required"
		}
		p, err := o.prompt(in, label, true)
		if err != nil {
			return err
		}
		if p == "" {
			return errors.New(missing)
		}
		o.Password = p
	default:
		fmt.Fprintln(o.ErrOut, "WARNING: using --password via the CLI is insecure. Use --password-stdin")
	}
	return nil
}

// prompt reads one line after label; silent turns echo off when standard
// input is a terminal.
func (o *RegistryLoginOptions) prompt(in *bufio.Reader, label string, silent bool) (string, error) {
	fmt.Fprint(o.Out, label)
	if f, ok := o.In.(*os.File); ok && silent && term.IsTerminal(int(f.Fd())) {
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(o.Out)
		return string(b), err
	}
	line, err := in.ReadString('\n')
	if err != nil && !(errors.Is(err, io.EOF) && line != "") {
		return "", err
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// Validate checks the TLS flags.
func (o *RegistryLoginOptions) Validate() error {
	if (o.CertFile == "") != (o.KeyFile == "") {
		return errors.New("--cert-file and --key-file must be given together")
	}
	return nil
}

// Run logs in and says so.
func (o *RegistryLoginOptions) Run(ctx context.Context) error {
	if hasPath, host := registry.HostHasPath(o.Host); hasPath {
		fmt.Fprintf(o.ErrOut, "WARNING: registry login currently only supports registry hostname, not a repository path (host %q, suggested %q)\n", o.Host, host)
	}
	if err := registry.Login(ctx, o.Host, o.RegistryFlags.Options()); err != nil {
		return err
	}
	_, err := fmt.Fprintln(o.Out, "Login Succeeded")
	return err
}

// RegistryLogoutOptions are the options of `kubectl chart registry logout`.
type RegistryLogoutOptions struct {
	Host           string
	RegistryConfig string

	genericiooptions.IOStreams
}

// NewCmdRegistryLogout builds `kubectl chart registry logout`.
func NewCmdRegistryLogout(streams genericiooptions.IOStreams) *cobra.Command {
	o := &RegistryLogoutOptions{IOStreams: streams}
	cmd := &cobra.Command{
		Use:               "logout [host]",
		Short:             "Logout from a registry",
		Long:              "Remove credentials stored for a remote registry, as \"helm registry logout\" does.",
		Example:           "  kubectl chart registry logout registry.example.com",
		Args:              minimumNArgs(1),
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Host = args[0]
			return o.Run(cmd.Context())
		},
	}
	addRegistryConfigFlag(cmd.Flags().StringVar, &o.RegistryConfig)
	return cmd
}

// Run removes the credentials and says so.
func (o *RegistryLogoutOptions) Run(ctx context.Context) error {
	if err := registry.Logout(ctx, o.Host, registry.Options{RegistryConfig: o.RegistryConfig}); err != nil {
		return err
	}
	_, err := fmt.Fprintf(o.Out, "Removing login credentials for %s\n", o.Host)
	return err
}
