package cmd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-chart/kubectl-chart/internal/drift"
	"github.com/kubectl-chart/kubectl-chart/internal/releaseview"
	"github.com/kubectl-chart/kubectl-chart/pkg/release"
)

const driftLong = `Show how the live objects of a release differ from what the release applied.

For every object the release owns (its inventory), the fields its deployed
revision applied (the labels the plugin stamps included) that kubectl-chart's
server-side apply entry in metadata.managedFields no longer holds: another
field manager took them (kubectl scale, kubectl edit, a forced apply, a write
made while the ownership webhook was not installed) or they were removed. Each
is shown with the applied and the live value, the manager that owns the field
now, how (operation, subresource) and when. Objects that no longer exist are
shown as missing. Fields only the API server defaulted are never reported.

Live objects are read with one LIST per kind and namespace. The next upgrade
takes the drifted fields back (see kubectl chart upgrade).

Exit status: 0 when nothing drifted, 1 when something did, 2 on an error.`

const driftExample = `  # Drift of release web
  kubectl chart drift web

  # Drift of every release in every namespace, as JSON
  kubectl chart drift -A -o json

  # In a script: 0 no drift, 1 drift, 2 error
  kubectl chart drift web >/dev/null; echo $?`

// errDrift is what drift returns, silently and with exit status 1, when
// something drifted.
var errDrift = errors.New("the release drifted")

// DriftOptions are the options of `kubectl chart drift`.
type DriftOptions struct {
	configFlags *genericclioptions.ConfigFlags

	// Name is the release; empty with AllNamespaces.
	Name string
	// AllNamespaces checks every release of every namespace (-A).
	AllNamespaces bool
	// Output is table, json or yaml.
	Output releaseview.Format
	// Namespace is the release namespace; set by Complete.
	Namespace string
	// Engine are the drift engine's options.
	Engine drift.Options

	genericiooptions.IOStreams
}

// NewCmdDrift builds `kubectl chart drift`. Every error of it, flag and
// argument errors included, exits with status 2: 1 means "drift".
func NewCmdDrift(f *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &DriftOptions{configFlags: f, IOStreams: streams, Output: releaseview.FormatTable, Engine: drift.DefaultOptions()}
	cmd := &cobra.Command{
		Use:     "drift [RELEASE_NAME | -A]",
		Short:   "Show how the live objects of releases differ from what they applied",
		Long:    driftLong,
		Example: driftExample,
		Args:    diffArgs(maximumNArgs(1)),

		ValidArgsFunction: completeArgs(completeReleases(f)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Complete(args); err != nil {
				return diffError(err)
			}
			if err := o.Validate(); err != nil {
				return diffError(err)
			}
			return o.Run(cmd.Context())
		},
	}
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return diffError(err) })
	fs := cmd.Flags()
	fs.BoolVarP(&o.AllNamespaces, "all-namespaces", "A", false, "check every release of every namespace")
	fs.VarP(&o.Output, "output", "o", releaseview.FormatUsage())
	fs.IntVar(&o.Engine.Concurrency, "concurrency", o.Engine.Concurrency, "maximum number of requests in flight")
	return cmd
}

// Complete reads the release name and the namespace.
func (o *DriftOptions) Complete(args []string) error {
	if len(args) == 1 {
		o.Name = args[0]
	}
	ns, err := readNamespace(o.configFlags)
	o.Namespace = ns
	return err
}

// Validate checks that a release or -A is given, not both.
func (o *DriftOptions) Validate() error {
	switch {
	case o.Name == "" && !o.AllNamespaces:
		return errors.New("a release name or -A/--all-namespaces is required")
	case o.Name != "" && o.AllNamespaces:
		return errors.New("a release name and -A/--all-namespaces exclude each other")
	case o.Name != "":
		return validateReleaseName(o.Name)
	}
	return nil
}

// Run reads the releases, compares them and prints the report. It returns
// nil when nothing drifted, a silent exit error of status 1 when something
// did, and errors with status 2 (after printing what could be compared).
func (o *DriftOptions) Run(ctx context.Context) error {
	c, err := newClients(o.configFlags)
	if err != nil {
		return diffError(err)
	}
	heads, err := o.heads(ctx, c.store)
	if err != nil {
		return diffError(err)
	}
	report, checkErr := drift.NewChecker(c.applier, c.store).Check(ctx, heads, o.Engine)
	if err := writeFormatted(o.Out, o.Output, report, driftTable(report, time.Local)); err != nil {
		return diffError(errors.Join(checkErr, err))
	}
	if checkErr != nil {
		return diffError(checkErr)
	}
	if report.HasDrift() {
		return &exitError{code: 1, err: errDrift, silent: true}
	}
	return nil
}

// heads are the releases to check: the named one, or with -A every release
// with a deployed revision that is not uninstalled.
func (o *DriftOptions) heads(ctx context.Context, store release.Store) ([]*release.Head, error) {
	if !o.AllNamespaces {
		h, err := store.Head(ctx, o.Namespace, o.Name)
		if errors.Is(err, release.ErrNotFound) {
			return nil, &releaseview.NotFoundError{Name: o.Name, Namespace: o.Namespace}
		}
		if err != nil {
			return nil, err
		}
		return []*release.Head{h}, nil
	}
	all, err := store.List(ctx, "")
	if all == nil && err != nil {
		return nil, err
	}
	var heads []*release.Head
	for _, h := range all {
		if h.Deployed > 0 && h.Status != release.StatusUninstalled && h.Status != release.StatusUninstalling {
			heads = append(heads, h)
		}
	}
	return heads, err
}

// driftMaxValue is the widest value the table shows (JSON, cut with …).
const driftMaxValue = 40

// driftTable is the report as a table (RELEASE, OBJECT, FIELD, APPLIED,
// LIVE, CHANGED BY, WHEN), one row per drifted field or missing object,
// then a summary line. Times are in loc.
func driftTable(r *drift.Report, loc *time.Location) string {
	rows := [][]string{{"RELEASE", "OBJECT", "FIELD", "APPLIED", "LIVE", "CHANGED BY", "WHEN"}}
	checked := 0
	for _, rel := range r.Releases {
		checked += rel.Checked
		name := rel.Namespace + "/" + rel.Name
		for _, obj := range rel.Objects {
			ref := obj.ObjectRef.Kind
			if obj.Group != "" {
				ref += "." + obj.Group
			}
			if obj.Namespace != "" && obj.Namespace != rel.Namespace {
				ref += "/" + obj.Namespace
			}
			ref += "/" + obj.Name
			if obj.Missing {
				rows = append(rows, []string{name, ref, "-", "-", "<missing>", "-", "-"})
				continue
			}
			for _, f := range obj.Fields {
				live := "<removed>"
				if f.Live != nil {
					live = driftValue(f.Live)
				}
				by, when := "-", "-"
				if len(f.Owners) > 0 {
					parts := make([]string, len(f.Owners))
					for i, ow := range f.Owners {
						how := ow.Operation
						if ow.Subresource != "" {
							how += " /" + ow.Subresource
						}
						parts[i] = ow.Manager + " (" + how + ")"
					}
					by = strings.Join(parts, ", ")
					if t := f.Owners[0].Time; t != nil {
						when = t.In(loc).Format(time.RFC3339)
					}
				}
				rows = append(rows, []string{name, ref, f.Path, driftValue(f.Applied), live, by, when})
			}
		}
	}
	objects, fields := r.Count()
	if objects == 0 {
		return fmt.Sprintf("no drift: %d object(s) of %d release(s) as applied\n", checked, len(r.Releases))
	}
	return releaseview.Table(rows) + fmt.Sprintf("%d object(s) drifted (%d field(s)) of %d object(s) in %d release(s)\n",
		objects, fields, checked, len(r.Releases))
}

// driftValue is v as compact JSON, cut at driftMaxValue runes.
func driftValue(v any) string {
	b, err := json.Marshal(v)
	s := string(b)
	if err != nil {
		s = fmt.Sprint(v)
	}
	if r := []rune(s); len(r) > driftMaxValue {
		s = string(r[:driftMaxValue-1]) + "…"
	}
	return s
}
