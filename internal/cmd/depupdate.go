package cmd

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/kubectl-chart/kubectl-chart/internal/helmpath"
	"github.com/kubectl-chart/kubectl-chart/pkg/chart"
	"github.com/kubectl-chart/kubectl-chart/pkg/chart/dependency"
	"github.com/kubectl-chart/kubectl-chart/pkg/chart/loader"
	"github.com/kubectl-chart/kubectl-chart/pkg/registry"
	"github.com/kubectl-chart/kubectl-chart/pkg/render"
)

// dependencyUpdate is Helm's --dependency-update of install, upgrade and
// template: a local chart whose charts/ lacks a dependency of Chart.yaml
// gets `dependency update` (its messages on out), then is loaded again.
type dependencyUpdate struct {
	enabled bool
	out     io.Writer
}

func (d *dependencyUpdate) addFlag(cmd *cobra.Command, usage string, out io.Writer) {
	d.out = out
	cmd.Flags().BoolVar(&d.enabled, "dependency-update", false, usage)
}

// ensure updates the dependencies of the local chart at path when some are
// missing, and returns the chart loaded again; ch as it is otherwise.
func (d *dependencyUpdate) ensure(ctx context.Context, f *chartRefFlags, path string, ch *chart.Chart) (*chart.Chart, error) {
	if d == nil || !d.enabled || render.CheckDependencies(ch) == nil {
		return ch, nil
	}
	epoch, err := sourceDateEpochFromEnv()
	if err != nil {
		return nil, err
	}
	if _, err := d.manager(f, epoch).Update(ctx, path); err != nil {
		return nil, err
	}
	ch, err = loader.Load(path)
	if err != nil {
		return nil, fmt.Errorf("failed reloading chart after repo update: %w", err) // Helm's words
	}
	return ch, nil
}

// manager is the dependency engine with the chart flags' credentials,
// printing its messages on d.out.
func (d *dependencyUpdate) manager(f *chartRefFlags, epoch *time.Time) *dependency.Manager {
	paths := helmpath.New()
	return &dependency.Manager{
		Paths:   paths,
		Keyring: f.Keyring,
		Registry: registry.Options{
			RegistryConfig: paths.RegistryConfig(), Username: f.Username, Password: f.Password,
			PlainHTTP: f.PlainHTTP, TLS: tlsOptions(f.CAFile, f.CertFile, f.KeyFile, f.InsecureSkipTLS),
		},
		SourceDateEpoch: epoch,
		Progress: func(e dependency.Event) {
			if d.out != nil {
				fmt.Fprintln(d.out, e.String())
			}
		},
	}
}
