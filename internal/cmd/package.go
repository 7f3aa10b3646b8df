package cmd

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"
	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-chart/kubectl-chart/pkg/chart"
	"github.com/kubectl-chart/kubectl-chart/pkg/chart/loader"
	"github.com/kubectl-chart/kubectl-chart/pkg/chart/packager"
)

const packageLong = `Package a chart directory into a versioned chart archive
(<name>-<version>.tgz), as "helm package" does: .helmignore is honoured, and
every dependency of Chart.yaml must be under charts/.

The archive is byte-for-byte what Helm writes. Set SOURCE_DATE_EPOCH (seconds
since 1970) to stamp every file with that time for reproducible archives.`

const packageExample = `  # Package a chart into the current folder
  kubectl chart package ./mychart

  # Package with another version into dist/
  kubectl chart package ./mychart --version 1.2.3 --app-version 4.5.6 -d dist`

// PackageOptions are the options of `kubectl chart package`.
type PackageOptions struct {
	// Dirs are the chart directories to package.
	Dirs []string
	// Destination is the folder the archives are written to.
	Destination string
	// Version and AppVersion replace Chart.yaml's when set.
	Version    string
	AppVersion string

	// sourceDateEpoch, from $SOURCE_DATE_EPOCH, stamps every file.
	sourceDateEpoch *time.Time

	genericiooptions.IOStreams
}

// NewCmdPackage builds `kubectl chart package`.
func NewCmdPackage(streams genericiooptions.IOStreams) *cobra.Command {
	o := &PackageOptions{IOStreams: streams}
	cmd := &cobra.Command{
		Use:     "package CHART_DIR [CHART_DIR...]",
		Short:   "Package a chart directory into a chart archive, as helm package does",
		Long:    packageLong,
		Example: packageExample,
		Args:    cobra.MinimumNArgs(1),

		ValidArgsFunction: completeChartDirs,
		RunE: func(_ *cobra.Command, args []string) error {
			if err := o.Complete(args); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run()
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&o.Version, "version", "", "set the version on the chart to this semver version")
	fs.StringVar(&o.AppVersion, "app-version", "", "set the appVersion on the chart to this version")
	fs.StringVarP(&o.Destination, "destination", "d", ".", "location to write the chart.")
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

// Validate checks --version.
func (o *PackageOptions) Validate() error {
	if o.Version != "" {
		if _, err := semver.NewVersion(o.Version); err != nil {
			return fmt.Errorf("--version %q: %w", o.Version, err)
		}
	}
	return nil
}

// Run packages each chart and prints where it went; it stops at the first
// chart that cannot be packaged.
func (o *PackageOptions) Run() error {
	for _, dir := range o.Dirs {
		name, err := o.packageDir(dir)
		if err != nil {
			return err
		}
		if _, err := fmt.Fprintf(o.Out, "Successfully packaged chart and saved it to: %s\n", name); err != nil {
			return err
		}
	}
	return nil
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
		stampModTimes(ch, *o.sourceDateEpoch)
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

// stampModTimes sets every file's time, the lock's and the subcharts', as
// Helm's StampModTimes.
func stampModTimes(ch *chart.Chart, t time.Time) {
	t = t.UTC().Truncate(time.Second)
	if ch.Lock != nil {
		ch.Lock.Generated = t
	}
	for _, files := range [][]*chart.File{ch.Raw, ch.Templates, ch.Files} {
		for _, f := range files {
			if f != nil {
				f.ModTime = t
			}
		}
	}
	for _, d := range ch.Dependencies() {
		stampModTimes(d, t)
	}
}
