package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-chart/kubectl-chart/internal/action"
	"github.com/kubectl-chart/kubectl-chart/internal/apply"
	"github.com/kubectl-chart/kubectl-chart/pkg/helmrelease"
)

// ImportHelmOptions are the options of `kubectl chart import-helm`.
type ImportHelmOptions struct {
	configFlags   *genericclioptions.ConfigFlags
	action        action.ImportHelmOptions
	AllNamespaces bool
	genericiooptions.IOStreams
}

// NewCmdImportHelm builds `kubectl chart import-helm`.
func NewCmdImportHelm(f *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &ImportHelmOptions{configFlags: f, IOStreams: streams}
	cmd := &cobra.Command{
		Use:   "import-helm [RELEASE]",
		Short: "Adopt a Helm release, with its history, without reinstalling it",
		Long: `Adopt a release that Helm 3 or Helm 4 installed: kubectl chart manages it from
then on, with no restart and no value changed.

Helm's records of the release (Secrets, or ConfigMaps with Helm's ConfigMap
driver) become kubectl chart's revisions, with their numbers, statuses,
times, values, manifests, hooks and notes; each description says it was
imported. Every object of the deployed revision gets kubectl chart's
ownership labels, and kubectl chart takes from Helm's field manager the
ownership of exactly the fields Helm's manifest sets, without writing any of
them: no Deployment's generation changes, no pod restarts. A field whose
live value differs from Helm's manifest is reported and left as it is.

A release in the middle of a Helm operation (pending-*), one whose objects
are missing, and one whose objects belong to another kubectl chart release
are refused, and nothing is written. A killed import is finished by running
it again. Helm's records are kept unless --delete-helm-records: while they
exist, Helm still lists the release, and a helm upgrade would conflict with
kubectl chart (export-helm hands a release back to Helm).`,
		Example: `  # See what would change
  kubectl chart import-helm web -n apps --dry-run

  # Adopt it, then upgrade it as usual
  kubectl chart import-helm web -n apps
  kubectl chart upgrade web ./web -n apps --reuse-values

  # Every Helm release of the cluster
  kubectl chart import-helm -A`,
		Args: func(cmd *cobra.Command, args []string) error {
			if o.AllNamespaces && len(args) > 0 || !o.AllNamespaces && len(args) != 1 {
				return fmt.Errorf("%q requires a release name, or --all-namespaces without one", cmd.CommandPath())
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Complete(args); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	fs := cmd.Flags()
	fs.BoolVarP(&o.AllNamespaces, "all-namespaces", "A", false, "import every Helm release of every namespace")
	fs.BoolVar(&o.action.DryRun, "dry-run", false, "print what would change (records written, objects relabelled, fields taken) and write nothing")
	fs.BoolVar(&o.action.DeleteHelmRecords, "delete-helm-records", false, "delete Helm's records of the release once it is imported")
	fs.BoolVar(&o.action.ForceUnlock, "force-unlock", false, "take the release lock even if another operation holds it")
	fs.IntVar(&o.action.Concurrency, "concurrency", apply.DefaultConcurrency, "objects adopted in parallel")
	return cmd
}

// Complete reads the arguments.
func (o *ImportHelmOptions) Complete(args []string) error {
	if len(args) == 1 {
		o.action.Name = args[0]
	}
	ns, _, err := o.configFlags.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return err
	}
	o.action.Namespace = ns
	return nil
}

// Run imports.
func (o *ImportHelmOptions) Run(ctx context.Context) error {
	c, cfg, err := connect(ctx, o.configFlags)
	if err != nil {
		return err
	}
	targets := []action.ImportHelmOptions{o.action}
	if o.AllNamespaces {
		names, err := helmrelease.Names(ctx, c.kube, "")
		if err != nil {
			return err
		}
		if len(names) == 0 {
			fmt.Fprintln(o.Out, "No Helm releases found.")
			return nil
		}
		targets = targets[:0]
		for _, n := range names {
			t := o.action
			t.Name, t.Namespace = n.Name, n.Namespace
			targets = append(targets, t)
		}
	}
	var errs []error
	for _, t := range targets {
		res, err := cfg.ImportHelm(ctx, t)
		if res != nil {
			printImport(o.Out, t, res)
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// printImport says what an import did, or would do.
func printImport(w io.Writer, o action.ImportHelmOptions, res *action.ImportHelmResult) {
	would := func(done, dry string) string {
		if o.DryRun {
			return dry
		}
		return done
	}
	driver := helmrelease.DriverSecret
	if len(res.Helm) > 0 {
		driver = res.Helm[0].Driver
	}
	fmt.Fprintf(w, "%s Helm release %s in namespace %s (%d revisions in Helm's %s records; deployed: %d).\n",
		would("Imported", "Would import"), o.Name, o.Namespace, len(res.Revisions), driver, res.Deployed)
	for _, r := range res.Revisions {
		mark := ""
		if !slices.Contains(res.Recorded, r.Revision) {
			mark = " (recorded already)"
		}
		fmt.Fprintf(w, "  revision %d\t%s\t%s-%s\t%s%s\n", r.Revision, r.Status, r.Chart.Name, r.Chart.Version, r.Description, mark)
	}
	relabelled, taken, adopted := 0, 0, 0
	for _, a := range res.Objects {
		if a.Labelled {
			relabelled++
		}
		if len(a.Taken) > 0 {
			taken++
		}
		if a.Err == nil && !a.Missing {
			adopted++
		}
	}
	fmt.Fprintf(w, "%s %d objects: %d relabelled, fields taken from Helm's field manager on %d; no value changed.\n",
		would("Adopted", "Would adopt"), adopted, relabelled, taken)
	for _, a := range res.Objects {
		var what []string
		if a.Labelled {
			what = append(what, "labels")
		}
		if len(a.Taken) > 0 {
			what = append(what, fmt.Sprintf("%d fields from %s", a.Fields, strings.Join(a.Taken, ", ")))
		}
		if len(what) == 0 {
			what = append(what, "adopted already")
		}
		fmt.Fprintf(w, "  %s: %s\n", a.Ref, strings.Join(what, "; "))
	}
	for _, warn := range res.Warnings {
		fmt.Fprintf(w, "WARNING: %s\n", warn)
	}
	switch {
	case o.DryRun:
	case res.HelmRecordsDeleted:
		fmt.Fprintln(w, "Helm's records were deleted: Helm no longer lists the release.")
	default:
		fmt.Fprintf(w, "Helm's records are kept: helm still lists the release, and helm upgrade %s would now conflict with kubectl chart; delete them with --delete-helm-records, or hand the release back with: kubectl chart export-helm %s -n %s\n",
			o.Name, o.Name, o.Namespace)
	}
	if !o.DryRun {
		fmt.Fprintf(w, "kubectl chart upgrade needs the chart (Helm's records name it, %s, not where it came from): kubectl chart upgrade %s <chart> -n %s --reuse-values\n",
			chartLabel(res), o.Name, o.Namespace)
	}
}

func chartLabel(res *action.ImportHelmResult) string {
	for _, r := range res.Revisions {
		if r.Revision == res.Deployed {
			return r.Chart.Name + "-" + r.Chart.Version
		}
	}
	return "?"
}
