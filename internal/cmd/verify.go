package cmd

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-chart/kubectl-chart/pkg/provenance"
)

const verifyLong = `Verify that the given chart archive has a valid provenance file, as
"helm verify" does.

Provenance files provide cryptographic verification that a chart has not been
tampered with, and was packaged by a trusted provider: CHART.tgz.prov must be
signed by a key of --keyring (a GnuPG public keyring, binary or armored) and
hold CHART.tgz's sha256. To generate a signed package, use
"kubectl chart package --sign".`

const verifyExample = `  # Verify a chart with the default keyring (~/.gnupg/pubring.gpg)
  kubectl chart verify mychart-0.1.0.tgz

  # Verify with the keyring of the chart's publisher
  kubectl chart verify mychart-0.1.0.tgz --keyring publisher.gpg`

// VerifyOptions are the options of `kubectl chart verify`.
type VerifyOptions struct {
	// Chart is the chart archive; its provenance file is Chart + ".prov".
	Chart string
	// Keyring holds the public keys the signer must be among.
	Keyring string

	genericiooptions.IOStreams
}

// NewCmdVerify builds `kubectl chart verify`.
func NewCmdVerify(streams genericiooptions.IOStreams) *cobra.Command {
	o := &VerifyOptions{IOStreams: streams}
	cmd := &cobra.Command{
		Use:     "verify PATH",
		Short:   "Verify that a chart archive has been signed and is valid, as helm verify does",
		Long:    verifyLong,
		Example: verifyExample,
		Args:    exactArgs(1),

		ValidArgsFunction: func(_ *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
			if len(args) > 0 {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			return []cobra.Completion{"tgz"}, cobra.ShellCompDirectiveFilterFileExt
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
	cmd.Flags().StringVar(&o.Keyring, "keyring", provenance.DefaultKeyring(), "keyring containing public keys")
	return cmd
}

// Complete reads the chart argument.
func (o *VerifyOptions) Complete(args []string) error {
	o.Chart = args[0]
	return nil
}

// Validate has nothing to check: VerifyFile reports Helm's errors.
func (o *VerifyOptions) Validate() error { return nil }

// Run verifies the chart and prints who signed it, as Helm does.
func (o *VerifyOptions) Run(ctx context.Context) error {
	v, err := provenance.VerifyFile(ctx, o.Chart, "", o.Keyring)
	if err != nil {
		return err
	}
	_, err = fmt.Fprint(o.Out, formatVerification(v))
	return err
}

// formatVerification is how Helm prints a verified chart (helm verify and
// the --verify flags): one "Signed by" line per identity of the key, its
// fingerprint and the archive's hash.
func formatVerification(v *provenance.Verification) string {
	var b strings.Builder
	for _, name := range v.SignedBy {
		fmt.Fprintf(&b, "Signed by: %s\n", name)
	}
	fmt.Fprintf(&b, "Using Key With Fingerprint: %s\n", v.Fingerprint)
	fmt.Fprintf(&b, "Chart Hash Verified: %s\n", v.FileHash)
	return b.String()
}
