package cmd

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"
	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/spf13/cobra"
	"golang.org/x/term"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-chart/kubectl-chart/pkg/chart"
	"github.com/kubectl-chart/kubectl-chart/pkg/chart/loader"
	"github.com/kubectl-chart/kubectl-chart/pkg/chart/packager"
	"github.com/kubectl-chart/kubectl-chart/pkg/provenance"
)

const packageLong = `Package a chart directory into a versioned chart archive
(<name>-<version>.tgz), as "helm package" does: .helmignore is honoured, and
every dependency of Chart.yaml must be under charts/.

The archive is byte-for-byte what Helm writes. Set SOURCE_DATE_EPOCH (seconds
since 1970) to stamp every file with that time for reproducible archives.

To sign a chart, use --sign with --key (a part of the key's name or email)
and --keyring (a GnuPG secret keyring, e.g. from
"gpg --export-secret-keys > secring.gpg"): the provenance file
<name>-<version>.tgz.prov is written beside the archive, as "helm package
--sign" writes it. A key protected by a passphrase reads it from
--passphrase-file ("-" for standard input), from $HELM_KEY_PASSPHRASE, or
asks for it on the terminal.`

const packageExample = `  # Package a chart into the current folder
  kubectl chart package ./mychart

  # Package with another version into dist/
  kubectl chart package ./mychart --version 1.2.3 --app-version 4.5.6 -d dist

  # Package and sign with a GnuPG key
  kubectl chart package ./mychart --sign --key 'John Smith' --keyring ~/.gnupg/secring.gpg`

// PackageOptions are the options of `kubectl chart package`.
type PackageOptions struct {
	// Dirs are the chart directories to package.
	Dirs []string
	// Destination is the folder the archives are written to.
	Destination string
	// Version and AppVersion replace Chart.yaml's when set.
	Version    string
	AppVersion string

	// Sign writes a provenance file (.prov) beside each archive, signed
	// with the key of Keyring whose identity contains Key.
	Sign    bool
	Key     string
	Keyring string
	// PassphraseFile holds the key's passphrase on its first line; "-"
	// reads it from standard input.
	PassphraseFile string

	// DependencyUpdate runs `dependency update` on each chart first
	// (-u/--dependency-update), fetching with deps' credentials and TLS.
	DependencyUpdate bool
	deps             chartRefFlags

	// sourceDateEpoch, from $SOURCE_DATE_EPOCH, stamps every file.
	sourceDateEpoch *time.Time
	// signer is the unlocked signing key, when signing.
	signer *openpgp.Entity

	genericiooptions.IOStreams
}

// NewCmdPackage builds `kubectl chart package`.
func NewCmdPackage(streams genericiooptions.IOStreams) *cobra.Command {
	o := &PackageOptions{IOStreams: streams}
	cmd := &cobra.Command{
		Use:     "package [CHART_PATH] [...]",
		Short:   "Package a chart directory into a chart archive, as helm package does",
		Long:    packageLong,
		Example: packageExample,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) == 0 {
				return errors.New("need at least one argument, the path to the chart") // Helm's words
			}
			return nil
		},

		ValidArgsFunction: completeChartDirs,
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
	fs.BoolVar(&o.Sign, "sign", false, "use a PGP private key to sign this package")
	fs.StringVar(&o.Key, "key", "", "name of the key to use when signing. Used if --sign is true")
	fs.StringVar(&o.Keyring, "keyring", provenance.DefaultKeyring(), "location of a public keyring")
	fs.StringVar(&o.PassphraseFile, "passphrase-file", "", `location of a file which contains the passphrase for the signing key. Use "-" in order to read from stdin.`)
	fs.StringVar(&o.Version, "version", "", "set the version on the chart to this semver version")
	fs.StringVar(&o.AppVersion, "app-version", "", "set the appVersion on the chart to this version")
	fs.StringVarP(&o.Destination, "destination", "d", ".", "location to write the chart.")
	fs.BoolVarP(&o.DependencyUpdate, "dependency-update", "u", false, `update dependencies from "Chart.yaml" to dir "charts/" before packaging`)
	fs.StringVar(&o.deps.Username, "username", "", "chart repository username where to locate the requested chart")
	fs.StringVar(&o.deps.Password, "password", "", "chart repository password where to locate the requested chart")
	fs.StringVar(&o.deps.CertFile, "cert-file", "", "identify HTTPS client using this SSL certificate file")
	fs.StringVar(&o.deps.KeyFile, "key-file", "", "identify HTTPS client using this SSL key file")
	fs.BoolVar(&o.deps.InsecureSkipTLS, "insecure-skip-tls-verify", false, "skip tls certificate checks for the chart download")
	fs.BoolVar(&o.deps.PlainHTTP, "plain-http", false, "use insecure HTTP connections for the chart download")
	fs.StringVar(&o.deps.CAFile, "ca-file", "", "verify certificates of HTTPS-enabled servers using this CA bundle")
	return cmd
}

// Complete reads the arguments, the destination and $SOURCE_DATE_EPOCH.
func (o *PackageOptions) Complete(args []string) error {
	o.Dirs = args
	if o.Destination == "." || o.Destination == "" {
		wd, err := os.Getwd()
		if err != nil {
			return err
		}
		o.Destination = wd
	}
	t, err := sourceDateEpochFromEnv()
	if err != nil {
		return err
	}
	o.sourceDateEpoch = t
	return nil
}

// sourceDateEpochFromEnv reads $SOURCE_DATE_EPOCH as Helm does.
func sourceDateEpochFromEnv() (*time.Time, error) {
	s, ok := os.LookupEnv("SOURCE_DATE_EPOCH")
	if !ok || s == "" {
		return nil, nil
	}
	epoch, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("invalid SOURCE_DATE_EPOCH: %w", err)
	}
	if epoch < 0 {
		return nil, errors.New("invalid SOURCE_DATE_EPOCH: must not be negative")
	}
	t := time.Unix(epoch, 0).UTC()
	return &t, nil
}

// Validate checks --version and the signing flags.
func (o *PackageOptions) Validate() error {
	if o.Sign {
		if o.Key == "" {
			return errors.New("--key is required for signing a package")
		}
		if o.Keyring == "" {
			return errors.New("--keyring is required for signing a package")
		}
	}
	if o.Version != "" {
		if _, err := semver.NewVersion(o.Version); err != nil {
			return fmt.Errorf("--version %q: %w", o.Version, err)
		}
	}
	return nil
}

// Run packages each chart, signs it with --sign, and prints where it went;
// it stops at the first chart that cannot be packaged. The signing key is
// unlocked once, before anything is written.
func (o *PackageOptions) Run(ctx context.Context) error {
	if o.Sign {
		signer, err := o.unlockSigner()
		if err != nil {
			return err
		}
		o.signer = signer
	}
	for _, dir := range o.Dirs {
		if o.DependencyUpdate {
			// As helm package -u: always, not only when some are missing.
			o.deps.Keyring = o.Keyring
			m := (&dependencyUpdate{enabled: true, out: o.Out}).manager(&o.deps, o.sourceDateEpoch)
			if _, err := m.Update(ctx, dir); err != nil {
				return err
			}
		}
		name, err := o.packageDir(dir)
		if err != nil {
			return err
		}
		if o.signer != nil {
			prov, err := provenance.Sign(ctx, name, o.signer)
			if err != nil {
				return err
			}
			if err := os.WriteFile(name+".prov", prov, 0o644); err != nil {
				return err
			}
		}
		if _, err := fmt.Fprintf(o.Out, "Successfully packaged chart and saved it to: %s\n", name); err != nil {
			return err
		}
	}
	return nil
}

// unlockSigner finds --key in --keyring and unlocks it.
func (o *PackageOptions) unlockSigner() (*openpgp.Entity, error) {
	ring, err := provenance.LoadKeyring(o.Keyring)
	if err != nil {
		return nil, err
	}
	e, err := provenance.FindKey(ring, o.Key)
	if err != nil {
		return nil, err
	}
	if err := provenance.Unlock(e, o.passphrase); err != nil {
		return nil, err
	}
	return e, nil
}

// passphrase is the signing key's passphrase: the first line of
// --passphrase-file (or of standard input for "-"), $HELM_KEY_PASSPHRASE,
// or what the user types on the terminal.
func (o *PackageOptions) passphrase(identity string) ([]byte, error) {
	switch {
	case o.PassphraseFile == "-":
		if f, ok := o.In.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			return nil, errors.New("specified reading passphrase from stdin, without input on stdin")
		}
		return firstLine(o.In)
	case o.PassphraseFile != "":
		f, err := os.Open(o.PassphraseFile)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		return firstLine(f)
	}
	if p, ok := os.LookupEnv("HELM_KEY_PASSPHRASE"); ok {
		return []byte(p), nil
	}
	f, ok := o.In.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil, fmt.Errorf("key %q is protected by a passphrase: give it with --passphrase-file or $HELM_KEY_PASSPHRASE", identity)
	}
	fmt.Fprintf(o.ErrOut, "Password for key %q >  ", identity)
	p, err := term.ReadPassword(int(f.Fd()))
	fmt.Fprintln(o.ErrOut)
	return p, err
}

// firstLine is r's first line, without its end, as Helm reads a
// passphrase file.
func firstLine(r io.Reader) ([]byte, error) {
	line, _, err := bufio.NewReader(r).ReadLine()
	if err != nil {
		return nil, fmt.Errorf("reading the passphrase: %w", err)
	}
	return line, nil
}

func (o *PackageOptions) packageDir(dir string) (string, error) {
	if _, err := os.Stat(dir); err != nil {
		return "", err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	ch, err := loader.LoadDir(abs)
	if err != nil {
		return "", err
	}
	if o.Version != "" {
		ch.Metadata.Version = o.Version
	}
	if _, err := semver.NewVersion(ch.Metadata.Version); err != nil {
		return "", fmt.Errorf("%s: version %q: %w", ch.Name(), ch.Metadata.Version, err)
	}
	if o.AppVersion != "" {
		ch.Metadata.AppVersion = o.AppVersion
	}
	if o.sourceDateEpoch != nil {
		packager.StampModTimes(ch, *o.sourceDateEpoch)
	}
	if err := checkPackageDependencies(ch); err != nil {
		return "", err
	}
	name, err := packager.Save(ch, o.Destination)
	if err != nil {
		return "", fmt.Errorf("failed to save: %w", err)
	}
	return name, nil
}

// checkPackageDependencies is Helm's CheckDependencies: every dependency
// named in Chart.yaml must be under charts/.
func checkPackageDependencies(ch *chart.Chart) error {
	present := map[string]bool{}
	for _, d := range ch.Dependencies() {
		present[d.Name()] = true
	}
	var missing []string
	for _, d := range ch.Metadata.Dependencies {
		if d != nil && !present[d.Name] {
			missing = append(missing, d.Name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("found in Chart.yaml, but missing in charts/ directory: %s", strings.Join(missing, ", "))
	}
	return nil
}
