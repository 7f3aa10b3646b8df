package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sync"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/kubectl-chart/kubectl-chart/internal/releaseview"
	"github.com/kubectl-chart/kubectl-chart/pkg/release"
)

const listLong = `List the releases of a namespace: the current one, the one -n names, or
every namespace with -A.

By default it lists the releases that are deployed or failed, and those with an
operation under way (pending-install, pending-upgrade, pending-rollback,
uninstalling) so that a stuck release never hides. --all lists every release;
--deployed, --failed, --pending, --superseded, --uninstalling and
--uninstalled select others and combine: '--uninstalled --failed'.

Releases are sorted by name; -d sorts them by the time of their last revision
(oldest first) and -r reverses the order.

--filter keeps the releases whose name matches a regular expression (Go RE2
syntax, as Helm's).

--selector keeps the releases whose labels match a label selector, as Helm's:
the release labels of their last revision (install/upgrade --labels) and the
labels Helm's storage gives a release, which Helm matches too: name, owner
(always helm), status, version (the last revision), and createdAt or
modifiedAt (Unix seconds).

At most --max releases are listed (256 by default, 0 for all), from --offset.`

const listExample = `  # Releases of the current namespace
  kubectl chart list

  # Releases of every namespace whose name starts with "web", as JSON
  kubectl chart list -A --filter '^web' -o json

  # Only the names of failed releases
  kubectl chart list --failed -q

  # Releases labelled team=payments (install --labels team=payments)
  kubectl chart list -l team=payments,tier!=canary`

// ListOptions are the options of `kubectl chart list`.
type ListOptions struct {
	configFlags *genericclioptions.ConfigFlags

	// AllNamespaces lists the releases of every namespace (-A).
	AllNamespaces bool
	// Filter is a regular expression on release names.
	Filter string
	// Selector is a label selector on the releases' labels (-l).
	Selector string
	// Short prints the names only (-q).
	Short bool
	// NoHeaders leaves out the header of the table.
	NoHeaders bool
	// TimeFormat is a Go time layout for UPDATED.
	TimeFormat string
	// ByDate, Reverse, Max and Offset order and page the list.
	ByDate, Reverse bool
	Max, Offset     int
	// States select releases by status.
	States releaseview.States
	// Output is table, json or yaml.
	Output releaseview.Format

	// Namespace is the namespace listed ("" with -A); set by Complete.
	Namespace string
	filter    *regexp.Regexp
	selector  labels.Selector

	genericiooptions.IOStreams
}

// NewCmdList builds `kubectl chart list`.
func NewCmdList(f *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &ListOptions{configFlags: f, IOStreams: streams, Output: releaseview.FormatTable}
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List releases",
		Long:    listLong,
		Example: listExample,
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.Complete(); err != nil {
				return err
			}
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run(cmd.Context())
		},
	}
	fs := cmd.Flags()
	fs.BoolVarP(&o.Short, "short", "q", false, "output short (quiet) listing format")
	fs.BoolVar(&o.NoHeaders, "no-headers", false, "don't print headers when using the default output format")
	fs.StringVar(&o.TimeFormat, "time-format", "", `format time using golang time formatter. Example: --time-format "2006-01-02 15:04:05Z0700"`)
	fs.BoolVarP(&o.ByDate, "date", "d", false, "sort by release date")
	fs.BoolVarP(&o.Reverse, "reverse", "r", false, "reverse the sort order")
	fs.BoolVarP(&o.States.All, "all", "a", false, "show all releases without any filter applied")
	fs.BoolVar(&o.States.Uninstalled, "uninstalled", false, "show uninstalled releases (if 'kubectl chart uninstall --keep-history' was used)")
	fs.BoolVar(&o.States.Superseded, "superseded", false, "show superseded releases")
	fs.BoolVar(&o.States.Uninstalling, "uninstalling", false, "show releases that are currently being uninstalled")
	fs.BoolVar(&o.States.Deployed, "deployed", false, "show deployed releases")
	fs.BoolVar(&o.States.Failed, "failed", false, "show failed releases")
	fs.BoolVar(&o.States.Pending, "pending", false, "show pending releases")
	fs.BoolVarP(&o.AllNamespaces, "all-namespaces", "A", false, "list releases across all namespaces")
	fs.IntVarP(&o.Max, "max", "m", 256, "maximum number of releases to fetch (0 for all)")
	fs.IntVar(&o.Offset, "offset", 0, "next release index in the list, used to offset from start value")
	fs.StringVarP(&o.Filter, "filter", "f", "", "a regular expression. Any releases that match the expression will be included in the results")
	fs.StringVarP(&o.Selector, "selector", "l", "", "Selector (label query) to filter on, supports '=', '==', and '!='.(e.g. -l key1=value1,key2=value2)")
	fs.VarP(&o.Output, "output", "o", releaseview.FormatUsage())
	return cmd
}

// Complete reads the namespace.
func (o *ListOptions) Complete() error {
	if o.AllNamespaces {
		return nil
	}
	ns, err := readNamespace(o.configFlags)
	o.Namespace = ns
	return err
}

// Validate compiles the filter, parses the selector and checks the paging
// flags.
func (o *ListOptions) Validate() error {
	if o.Filter != "" {
		re, err := regexp.Compile(o.Filter)
		if err != nil {
			return fmt.Errorf("invalid --filter: %w", err)
		}
		o.filter = re
	}
	if o.Selector != "" {
		sel, err := labels.Parse(o.Selector)
		if err != nil {
			return err // Helm's message, as it is
		}
		o.selector = sel
	}
	if o.Max < 0 {
		return fmt.Errorf("invalid --max %d: must not be negative", o.Max)
	}
	if o.Offset < 0 {
		return fmt.Errorf("invalid --offset %d: must not be negative", o.Offset)
	}
	return nil
}

// Run lists the heads, reads the last revision of those kept and prints
// them. A release that cannot be read is reported after the others.
func (o *ListOptions) Run(ctx context.Context) error {
	c, err := newReadClients(o.configFlags)
	if err != nil {
		return err
	}
	view := releaseview.DefaultListOptions()
	view.Filter, view.Selector, view.States = o.filter, o.selector, o.States
	view.ByDate, view.Reverse = o.ByDate, o.Reverse
	view.Max, view.Offset, view.TimeFormat = o.Max, o.Offset, o.TimeFormat

	heads, listErr := c.store.List(ctx, o.Namespace)
	if heads == nil && listErr != nil {
		return listErr
	}
	var kept []*release.Head
	for _, h := range heads {
		if view.Keeps(h) {
			kept = append(kept, h)
		}
	}
	entries, readErr := readLastRevisions(ctx, c.store, kept)
	rows := releaseview.List(entries, view)
	if err := o.print(rows); err != nil {
		return err
	}
	return errors.Join(listErr, readErr)
}

func (o *ListOptions) print(rows []releaseview.ListRow) error {
	if o.Short {
		names := make([]string, len(rows))
		for i, r := range rows {
			names[i] = r.Name
		}
		if o.Output == releaseview.FormatTable {
			for _, n := range names {
				if _, err := fmt.Fprintln(o.Out, n); err != nil {
					return err
				}
			}
			return nil
		}
		return writeFormatted(o.Out, o.Output, names, "")
	}
	return writeFormatted(o.Out, o.Output, rows, releaseview.ListTable(rows, o.NoHeaders))
}

// readLastRevisions reads the record of the last revision of every head, a
// few at a time. A head whose record cannot be read keeps a nil revision
// and its error is returned with the others.
func readLastRevisions(ctx context.Context, store release.Store, heads []*release.Head) ([]releaseview.ListEntry, error) {
	entries := make([]releaseview.ListEntry, len(heads))
	errs := make([]error, len(heads))
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for i, h := range heads {
		entries[i].Head = h
		if h.Revision == 0 {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			entries[i].Revision, errs[i] = store.Revision(ctx, h.Namespace, h.Name, h.Revision)
		}()
	}
	wg.Wait()
	return entries, errors.Join(errs...)
}

// writeFormatted writes v as JSON or YAML, or table as it is.
func writeFormatted(w io.Writer, f releaseview.Format, v any, table string) error {
	text := table
	var err error
	switch f {
	case releaseview.FormatJSON:
		text, err = releaseview.EncodeJSON(v)
	case releaseview.FormatYAML:
		text, err = releaseview.EncodeYAML(v)
	}
	if err != nil {
		return err
	}
	_, err = io.WriteString(w, text)
	return err
}

// readClients are what the read-only release commands (list, history, get,
// status) talk to, built from the kube flags.
type readClients struct {
	config    *rest.Config
	clientset kubernetes.Interface
	store     release.Store
}

// readQPS and readBurst raise client-go's default rate limit (5 QPS): status
// reads every owned object.
const (
	readQPS   = 100
	readBurst = 200
)

func newReadClients(f *genericclioptions.ConfigFlags) (*readClients, error) {
	cfg, err := f.ToRESTConfig()
	if err != nil {
		return nil, err
	}
	cfg = rest.CopyConfig(cfg)
	cfg.QPS = max(cfg.QPS, readQPS)
	cfg.Burst = max(cfg.Burst, readBurst)
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	return &readClients{
		config:    cfg,
		clientset: cs,
		store:     release.NewKubeStore(cs, release.DefaultKubeStoreOptions()),
	}, nil
}

// readNamespace is the namespace of the kube flags: -n, else the context's,
// else default.
func readNamespace(f *genericclioptions.ConfigFlags) (string, error) {
	ns, _, err := f.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return "", err
	}
	return ns, nil
}

// readRevision reads revision n of a release, or its last revision when n
// is 0. It returns the head too when it read it (n = 0). Missing releases
// and revisions are *releaseview.NotFoundError; a release whose first
// revision is not written yet is an error too.
func readRevision(ctx context.Context, store release.Store, namespace, name string, n int) (*release.Head, *release.Revision, error) {
	var head *release.Head
	if n == 0 {
		h, err := store.Head(ctx, namespace, name)
		if errors.Is(err, release.ErrNotFound) {
			return nil, nil, &releaseview.NotFoundError{Name: name, Namespace: namespace}
		}
		if err != nil {
			return nil, nil, err
		}
		if h.Revision == 0 {
			return h, nil, fmt.Errorf("release %q in namespace %q has no revision yet: its first operation has not written one (kubectl chart status %s says who holds it)",
				name, namespace, name)
		}
		head, n = h, h.Revision
	}
	r, err := store.Revision(ctx, namespace, name, n)
	if errors.Is(err, release.ErrNotFound) {
		if head != nil {
			return head, nil, fmt.Errorf("release %q in namespace %q: the record of its revision %d is missing: %w", name, namespace, n, err)
		}
		if _, herr := store.Head(ctx, namespace, name); errors.Is(herr, release.ErrNotFound) {
			return nil, nil, &releaseview.NotFoundError{Name: name, Namespace: namespace}
		}
		return nil, nil, &releaseview.NotFoundError{Name: name, Namespace: namespace, Revision: n}
	}
	return head, r, err
}
