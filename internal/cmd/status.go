package cmd

import (
	"context"
	"errors"
	"fmt"

	"sync"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-chart/kubectl-chart/internal/apply"
	"github.com/kubectl-chart/kubectl-chart/internal/releaseview"
	"github.com/kubectl-chart/kubectl-chart/pkg/helmrelease"
	"github.com/kubectl-chart/kubectl-chart/pkg/ownership"
	"github.com/kubectl-chart/kubectl-chart/pkg/release"
)

const statusLong = `Show the status of a release:

- its name, namespace, status, revision, when it was deployed and by whom
  (APPLIED BY: the user the ownership webhook stamped on the revision record);
- the lock, when an operation holds it: who, what, since when, until when;
- whether the ownership webhook (chart-webhook) is installed and enforcing:
  without it nothing blocks writes from other tools to what the release owns;
- every object the release owns, with its live status as kstatus computes it
  (Current, InProgress, Failed, Terminating, Unknown), or "missing";
- the last operations: the newest 5 revisions' operation, outcome, duration
  and start;
- the last writes the webhook blocked or let through by break-glass (Events on
  the release head);
- the last test run (kubectl chart test) of the revision, or of the deployed
  one: each test's start, completion and phase (TEST SUITE, as Helm's);
- the chart's notes.

With --revision, the facts and objects of that revision are shown; the objects'
status is always their live one.`

const statusExample = `  # Status of release web
  kubectl chart status web

  # The same as JSON
  kubectl chart status web -o json`

// statusConcurrency bounds the parallel reads of owned objects.
const statusConcurrency = 16

// StatusOptions are the options of `kubectl chart status`.
type StatusOptions struct {
	configFlags *genericclioptions.ConfigFlags

	// Name is the release.
	Name string
	// Revision is the revision to show; 0 for the last one.
	Revision int
	// Output is table, json or yaml.
	Output releaseview.Format
	// Namespace is the release namespace; set by Complete.
	Namespace string

	genericiooptions.IOStreams
}

// NewCmdStatus builds `kubectl chart status`.
func NewCmdStatus(f *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &StatusOptions{configFlags: f, IOStreams: streams, Output: releaseview.FormatTable}
	cmd := &cobra.Command{
		Use:     "status RELEASE_NAME",
		Short:   "Display the status of the named release",
		Long:    statusLong,
		Example: statusExample,
		Args:    exactArgs(1),

		ValidArgsFunction: completeArgs(completeReleases(f)),
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
	fs.IntVar(&o.Revision, "revision", 0, "if set, display the status of the named release with revision")
	fs.VarP(&o.Output, "output", "o", releaseview.FormatUsage())
	return cmd
}

// Complete reads the release name and the namespace.
func (o *StatusOptions) Complete(args []string) error {
	o.Name = args[0]
	ns, err := readNamespace(o.configFlags)
	o.Namespace = ns
	return err
}

// Validate checks the release name and --revision.
func (o *StatusOptions) Validate() error {
	if err := validateReleaseName(o.Name); err != nil {
		return err
	}
	if o.Revision < 0 {
		return fmt.Errorf("invalid --revision %d: revisions start at 1", o.Revision)
	}
	return nil
}

// Run reads the release, its objects, the webhook configuration and the
// head's Events, and prints the status. What cannot be read beyond the
// release records is shown as unknown and warned about on stderr.
func (o *StatusOptions) Run(ctx context.Context) error {
	c, err := newReadClients(o.configFlags)
	if err != nil {
		return err
	}
	head, err := c.store.Head(ctx, o.Namespace, o.Name)
	if errors.Is(err, release.ErrNotFound) {
		return &releaseview.NotFoundError{Name: o.Name, Namespace: o.Namespace}
	}
	if err != nil {
		return err
	}
	var rev *release.Revision
	if n := o.Revision; n > 0 || head.Revision > 0 {
		if n == 0 {
			n = head.Revision
		}
		if _, rev, err = readRevision(ctx, c.store, o.Namespace, o.Name, n); err != nil {
			return err
		}
	}
	view := releaseview.NewStatusView(head, rev, time.Now())

	var wg sync.WaitGroup
	var objErr, eventsErr error
	wg.Go(func() {
		view.Resources, objErr = o.objectStatuses(ctx, c, releaseview.Inventory(head, rev))
	})
	wg.Go(func() {
		cfg, err := c.clientset.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(ctx, releaseview.WebhookConfigurationName, metav1.GetOptions{})
		view.Webhook = releaseview.WebhookStateOf(cfg, err)
	})
	wg.Go(func() {
		sel := fields.Set{"involvedObject.kind": "ConfigMap", "involvedObject.name": ownership.HeadName(o.Name)}.String()
		list, err := c.clientset.CoreV1().Events(o.Namespace).List(ctx, metav1.ListOptions{FieldSelector: sel})
		if err != nil {
			eventsErr = fmt.Errorf("events of ConfigMap/%s/%s: %w", o.Namespace, ownership.HeadName(o.Name), err)
			return
		}
		view.Events = releaseview.OwnershipEvents(list.Items, releaseview.MaxOwnershipEvents)
	})
	var hist []*release.Revision
	var histErr error
	wg.Go(func() {
		hist, histErr = c.store.History(ctx, o.Namespace, o.Name)
	})
	var helmRecords []*helmrelease.Record
	wg.Go(func() {
		// Left behind by import-helm (without --delete-helm-records): Helm
		// still lists the release. A user who may not read Secrets gets no
		// warning rather than an error.
		helmRecords, _ = helmrelease.Read(ctx, c.clientset, o.Namespace, o.Name)
	})
	wg.Wait()
	view.SetHistory(hist, releaseview.MaxLastOperations, head.Deployed, o.Revision > 0)
	for _, err := range []error{objErr, eventsErr, histErr} {
		if err != nil {
			fmt.Fprintf(o.ErrOut, "warning: %v\n", err)
		}
	}
	if n := len(helmRecords); n > 0 && head.Status != release.StatusUninstalled {
		last := helmRecords[n-1]
		fmt.Fprintf(o.ErrOut, "WARNING: Helm still has %d record(s) of release %s (the last: %s/%s/%s): helm upgrade %s would now conflict with kubectl chart; "+
			"delete them with: kubectl chart import-helm %s -n %s --delete-helm-records, or hand the release back to Helm with: kubectl chart export-helm %s -n %s\n",
			n, o.Name, last.Driver, o.Namespace, last.Name, o.Name, o.Name, o.Namespace, o.Name, o.Namespace)
	}
	return writeFormatted(o.Out, o.Output, view, view.Text(time.Local))
}

// objectStatuses reads every object of refs with the apply engine's
// Observe (one LIST per kind and namespace, by the release's labels) and
// returns its status as --wait judges it (a Job is Current once Complete),
// in the order of refs. Objects that cannot be read are Unknown, with the
// reason as message; the error is for a failure that concerns them all
// (no client).
func (o *StatusOptions) objectStatuses(ctx context.Context, c *readClients, refs []release.ObjectRef) ([]releaseview.ObjectStatus, error) {
	out := make([]releaseview.ObjectStatus, len(refs))
	if len(refs) == 0 {
		return out, nil
	}
	m, err := apply.New(c.config)
	if err != nil {
		for i, ref := range refs {
			out[i] = releaseview.ObjectStatusOf(ref, nil, err)
		}
		return out, err
	}
	observed, _ := m.Observe(ctx, refs, apply.ObserveOptions{
		LabelSelector: apply.ReleaseSelector(o.Name, o.Namespace),
		Concurrency:   statusConcurrency,
	})
	for i, obs := range observed {
		out[i] = releaseview.ObjectStatus{ObjectRef: refs[i], Status: string(obs.Status.Status), Message: obs.Status.Message}
		if obs.Missing() {
			out[i].Status, out[i].Message = releaseview.StatusMissing, ""
		}
	}
	return out, nil
}
