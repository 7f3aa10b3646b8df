package cmd

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-chart/kubectl-chart/internal/releaseview"
)

const getLong = `Print what a release keeps of one of its revisions (the last one unless
--revision says otherwise):

- manifest: the manifest it applied
- values:   the values the user supplied
- notes:    the chart's NOTES.txt, rendered
- hooks:    the hooks, rendered
- metadata: the release's facts: chart, labels, status, time
- all:      all of the above, with the release's facts`

// What `kubectl chart get` prints.
const (
	getManifest = "manifest"
	getValues   = "values"
	getNotes    = "notes"
	getHooks    = "hooks"
	getMetadata = "metadata"
	getAll      = "all"
)

// GetOptions are the options of `kubectl chart get <what>`.
type GetOptions struct {
	configFlags *genericclioptions.ConfigFlags

	// What is manifest, values, notes, hooks or all.
	What string
	// Name is the release.
	Name string
	// Revision is the revision to print; 0 for the last one.
	Revision int
	// AllValues is values' --all: print the computed values (the chart's
	// defaults coalesced with the user's).
	AllValues bool
	// Output is values' and metadata's -o: table, json or yaml.
	Output releaseview.Format
	// Namespace is the release namespace; set by Complete.
	Namespace string

	genericiooptions.IOStreams
}

// NewCmdGet builds `kubectl chart get` and its subcommands.
func NewCmdGet(f *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "get",
		Short: "Download extended information of a named release",
		Long:  getLong,
		Args:  noArgs,
	}
	cmd.AddCommand(
		newCmdGetWhat(f, streams, getManifest, "download the manifest for a named release",
			"Print the manifest a revision of a release applied: every object rendered from the\nchart's templates (CRDs of crds/ first), as YAML documents with their # Source: lines."),
		newCmdGetWhat(f, streams, getValues, "download the values file for a named release",
			"Print the values the user supplied for a revision of a release (-f and --set);\n"+
				"with --all, the computed values: the chart's defaults coalesced with them."),
		newCmdGetWhat(f, streams, getNotes, "download the notes for a named release",
			"Print the notes (the chart's NOTES.txt, rendered) of a revision of a release."),
		newCmdGetWhat(f, streams, getHooks, "download all hooks for a named release",
			"Print the hooks of a revision of a release.\n\nHooks are formatted in YAML and separated by the YAML '---\\n' separator."),
		newCmdGetWhat(f, streams, getMetadata, "This command fetches metadata for a given release",
			"Print the metadata of a revision of a release, as helm get metadata: its chart\n"+
				"(name, version, appVersion, annotations, dependencies), its release labels\n"+
				"(install/upgrade --labels), namespace, revision, status, deployment time and\n"+
				"apply method."),
		newCmdGetWhat(f, streams, getAll, "download all information for a named release",
			"Print a human readable collection of information about the notes, hooks,\n"+
				"supplied and computed values, and generated manifest of a revision of a release."),
	)
	return cmd
}

func newCmdGetWhat(f *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams, what, short, long string) *cobra.Command {
	o := &GetOptions{configFlags: f, IOStreams: streams, What: what, Output: releaseview.FormatTable}
	cmd := &cobra.Command{
		Use:     what + " RELEASE_NAME",
		Short:   short,
		Long:    long,
		Example: fmt.Sprintf("  kubectl chart get %s my-release\n  kubectl chart get %s my-release --revision 2", what, what),
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
	fs.IntVar(&o.Revision, "revision", 0, "get the named release with revision")
	if what == getValues {
		fs.BoolVarP(&o.AllValues, "all", "a", false, "dump all (computed) values")
	}
	if what == getValues || what == getMetadata {
		fs.VarP(&o.Output, "output", "o", releaseview.FormatUsage())
	}
	return cmd
}

// Complete reads the release name and the namespace.
func (o *GetOptions) Complete(args []string) error {
	o.Name = args[0]
	ns, err := readNamespace(o.configFlags)
	o.Namespace = ns
	return err
}

// Validate checks the release name and --revision.
func (o *GetOptions) Validate() error {
	if err := validateReleaseName(o.Name); err != nil {
		return err
	}
	if o.Revision < 0 {
		return fmt.Errorf("invalid --revision %d: revisions start at 1", o.Revision)
	}
	return nil
}

// Run reads the revision and prints what was asked.
func (o *GetOptions) Run(ctx context.Context) error {
	c, err := newReadClients(o.configFlags)
	if err != nil {
		return err
	}
	_, r, err := readRevision(ctx, c.store, o.Namespace, o.Name, o.Revision)
	if err != nil {
		return err
	}
	var text string
	switch o.What {
	case getManifest:
		text = releaseview.ManifestText(r)
	case getNotes:
		text = releaseview.NotesText(r)
	case getHooks:
		text = releaseview.HooksText(r)
	case getValues:
		vals, computed := releaseview.Values(r), false
		if o.AllValues {
			if r.ComputedValues != nil {
				vals, computed = r.ComputedValues, true
			} else {
				fmt.Fprintf(o.ErrOut, "warning: revision %d was recorded without its computed values: printing the user-supplied ones\n", r.Revision)
			}
		}
		text, err = releaseview.ValuesText(vals, o.Output, computed)
	case getMetadata:
		text, err = releaseview.MetadataText(releaseview.MetadataOf(r, o.Revision == 0, time.Local), o.Output)
	case getAll:
		text, err = releaseview.AllText(r, time.Local)
	default:
		err = fmt.Errorf("unknown get %q", o.What)
	}
	if err != nil {
		return err
	}
	_, err = io.WriteString(o.Out, text)
	return err
}
