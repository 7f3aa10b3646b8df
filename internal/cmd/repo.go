package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-chart/kubectl-chart/internal/helmpath"
	"github.com/kubectl-chart/kubectl-chart/internal/releaseview"
	"github.com/kubectl-chart/kubectl-chart/pkg/repo"
)

const repoLong = `This command consists of multiple subcommands to interact with chart repositories.

It can be used to add, remove, list, and index chart repositories. Repositories
are Helm's: those added with "helm repo add" are used here with no other step,
and the other way round.`

// NewCmdRepo builds `kubectl chart repo` and its subcommands.
func NewCmdRepo(streams genericiooptions.IOStreams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "repo add|remove|list|index|update [ARGS]",
		Short: "Add, list, remove, update, and index chart repositories",
		Long:  repoLong,
		Args:  noArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(
		newCmdRepoAdd(streams),
		newCmdRepoList(streams),
		newCmdRepoUpdate(streams),
		newCmdRepoRemove(streams),
		newCmdRepoIndex(streams),
	)
	return cmd
}

// deprecatedRepos are repositories that were deleted for good, with their
// replacements, as in Helm.
var deprecatedRepos = map[string]string{
	"//kubernetes-charts.storage.googleapis.com":           "https://charts.helm.sh/stable",
	"//kubernetes-charts-incubator.storage.googleapis.com": "https://charts.helm.sh/incubator",
}

// RepoAddOptions are the options of `kubectl chart repo add`.
type RepoAddOptions struct {
	Name, URL string
	// Entry holds the credentials and TLS files of the flags.
	Entry repo.Entry
	// PasswordStdin reads the password from standard input.
	PasswordStdin bool
	// ForceUpdate replaces a repository of the same name.
	ForceUpdate bool
	// AllowDeprecatedRepos allows the deleted official repositories.
	AllowDeprecatedRepos bool
	// Timeout bounds the download of the index.
	Timeout time.Duration

	paths helmpath.Paths
	genericiooptions.IOStreams
}

func newCmdRepoAdd(streams genericiooptions.IOStreams) *cobra.Command {
	o := &RepoAddOptions{IOStreams: streams}
	cmd := &cobra.Command{
		Use:   "add [NAME] [URL]",
		Short: "add a chart repository",
		Example: `  # Add a repository
  kubectl chart repo add bitnami https://charts.bitnami.com/bitnami

  # Add a private repository, the password from standard input
  echo "$PASSWORD" | kubectl chart repo add private https://charts.example.com --username me --password-stdin`,
		Args:              exactArgs(2),
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
	f := cmd.Flags()
	f.StringVar(&o.Entry.Username, "username", "", "chart repository username")
	f.StringVar(&o.Entry.Password, "password", "", "chart repository password")
	f.BoolVar(&o.PasswordStdin, "password-stdin", false, "read chart repository password from stdin")
	f.BoolVar(&o.ForceUpdate, "force-update", false, "replace (overwrite) the repo if it already exists")
	f.StringVar(&o.Entry.CertFile, "cert-file", "", "identify HTTPS client using this SSL certificate file")
	f.StringVar(&o.Entry.KeyFile, "key-file", "", "identify HTTPS client using this SSL key file")
	f.StringVar(&o.Entry.CAFile, "ca-file", "", "verify certificates of HTTPS-enabled servers using this CA bundle")
	f.BoolVar(&o.Entry.InsecureSkipTLSVerify, "insecure-skip-tls-verify", false, "skip tls certificate checks for the repository")
	f.BoolVar(&o.AllowDeprecatedRepos, "allow-deprecated-repos", false, "by default, this command will not allow adding official repos that have been permanently deleted. This disables that behavior")
	f.BoolVar(&o.Entry.PassCredentialsAll, "pass-credentials", false, "pass credentials to all domains")
	f.DurationVar(&o.Timeout, "timeout", repo.DefaultTimeout, "time to wait for the index file download to complete")
	return cmd
}

// Complete reads the arguments, the paths and the password.
func (o *RepoAddOptions) Complete(args []string) error {
	o.Name, o.URL = args[0], args[1]
	o.Entry.Name, o.Entry.URL = o.Name, o.URL
	o.paths = helmpath.New()
	if o.Entry.Username == "" || o.Entry.Password != "" {
		return nil
	}
	if o.PasswordStdin {
		b, err := io.ReadAll(o.In)
		if err != nil {
			return err
		}
		o.Entry.Password = strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
		return nil
	}
	in, ok := o.In.(*os.File)
	if !ok || !term.IsTerminal(int(in.Fd())) {
		return errors.New("--username needs a password: give --password, or --password-stdin with the password on standard input")
	}
	fmt.Fprint(o.Out, "Password: ")
	pw, err := term.ReadPassword(int(in.Fd()))
	fmt.Fprintln(o.Out)
	if err != nil {
		return err
	}
	o.Entry.Password = string(pw)
	return nil
}

// Validate refuses deleted repositories and names with a slash.
func (o *RepoAddOptions) Validate() error {
	if !o.AllowDeprecatedRepos {
		for oldURL, newURL := range deprecatedRepos {
			if strings.Contains(o.URL, oldURL) {
				return fmt.Errorf("repo %q is no longer available; try %q instead", o.URL, newURL)
			}
		}
	}
	if strings.Contains(o.Name, "/") {
		return fmt.Errorf("repository name (%s) contains '/', please specify a different name without '/'", o.Name)
	}
	if strings.HasPrefix(o.URL, "oci://") {
		return fmt.Errorf("%s is an OCI registry, not a chart repository: use oci:// chart references directly", o.URL)
	}
	return nil
}

// Run downloads the index and, when it is one, records the repository,
// under the lock of repositories.yaml, as helm repo add does.
func (o *RepoAddOptions) Run(ctx context.Context) error {
	r := repo.NewResolver(o.paths)
	r.Timeout = o.Timeout
	var msg string
	err := repo.EditFile(ctx, o.paths.RepositoryConfig(), func(f *repo.File) error {
		if existing := f.Get(o.Name); existing != nil && !o.ForceUpdate {
			if *existing != o.Entry {
				return fmt.Errorf("repository name (%s) already exists, please specify a different name", o.Name)
			}
			msg = fmt.Sprintf("%q already exists with the same configuration, skipping\n", o.Name)
			return repo.ErrNoChange
		}
		if _, err := r.DownloadIndex(ctx, o.Entry); err != nil {
			return err
		}
		e := o.Entry
		f.Update(&e)
		msg = fmt.Sprintf("%q has been added to your repositories\n", o.Name)
		return nil
	})
	if err != nil {
		return err
	}
	_, err = io.WriteString(o.Out, msg)
	return err
}

func newCmdRepoList(streams genericiooptions.IOStreams) *cobra.Command {
	output := releaseview.FormatTable
	noHeaders := false
	cmd := &cobra.Command{
		Use:               "list",
		Aliases:           []string{"ls"},
		Short:             "list chart repositories",
		Example:           "  kubectl chart repo list -o json",
		Args:              noArgs,
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE: func(_ *cobra.Command, _ []string) error {
			f, _ := repo.LoadFile(helmpath.New().RepositoryConfig())
			if len(f.Repositories) == 0 && output == releaseview.FormatTable {
				_, err := fmt.Fprintln(streams.Out, "no repositories to show")
				return err
			}
			type element struct {
				Name string `json:"name"`
				URL  string `json:"url"`
			}
			list := make([]element, 0, len(f.Repositories))
			rows := [][]string{{"NAME", "URL"}}
			if noHeaders {
				rows = nil
			}
			for _, e := range f.Repositories {
				list = append(list, element{e.Name, e.URL})
				rows = append(rows, []string{e.Name, e.URL})
			}
			return writeFormatted(streams.Out, output, list, releaseview.Table(rows))
		},
	}
	cmd.Flags().VarP(&output, "output", "o", releaseview.FormatUsage())
	cmd.Flags().BoolVar(&noHeaders, "no-headers", false, "suppress headers in the output")
	return cmd
}

const repoUpdateLong = `Update gets the latest information about charts from the respective chart repositories.
Information is cached locally, where it is used by commands like 'kubectl chart search'.

You can optionally specify a list of repositories you want to update.
	$ kubectl chart repo update <repo_name> ...
To update all the repositories, use 'kubectl chart repo update'.`

// RepoUpdateOptions are the options of `kubectl chart repo update`.
type RepoUpdateOptions struct {
	// Names are the repositories to update; none means all.
	Names   []string
	Timeout time.Duration

	paths helmpath.Paths
	genericiooptions.IOStreams
}

func newCmdRepoUpdate(streams genericiooptions.IOStreams) *cobra.Command {
	o := &RepoUpdateOptions{IOStreams: streams}
	cmd := &cobra.Command{
		Use:               "update [REPO1 [REPO2 ...]]",
		Aliases:           []string{"up"},
		Short:             "update information of available charts locally from chart repositories",
		Long:              repoUpdateLong,
		ValidArgsFunction: completeRepoNames,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Names = args
			o.paths = helmpath.New()
			return o.Run(cmd.Context())
		},
	}
	cmd.Flags().DurationVar(&o.Timeout, "timeout", repo.DefaultTimeout, "time to wait for the index file download to complete")
	return cmd
}

var errNoRepositories = errors.New("no repositories found. You must add one before updating")

// Run downloads the indexes and prints what happened to each, as Helm.
func (o *RepoUpdateOptions) Run(ctx context.Context) error {
	f, err := repo.LoadFile(o.paths.RepositoryConfig())
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return errNoRepositories
	case err != nil:
		return fmt.Errorf("failed loading file: %s: %w", o.paths.RepositoryConfig(), err)
	case len(f.Repositories) == 0:
		return errNoRepositories
	}
	for _, n := range o.Names {
		if f.Get(n) == nil {
			return fmt.Errorf("no repositories found matching '%s'.  Nothing will be updated", n)
		}
	}
	var entries []*repo.Entry
	for _, e := range f.Repositories {
		if len(o.Names) == 0 || slices.Contains(o.Names, e.Name) {
			entries = append(entries, e)
		}
	}
	fmt.Fprintln(o.Out, "Hang tight while we grab the latest from your chart repositories...")
	r := repo.NewResolver(o.paths)
	r.Timeout = o.Timeout
	var failed []string
	for _, res := range r.Update(ctx, entries) {
		if res.Err != nil {
			fmt.Fprintf(o.Out, "...Unable to get an update from the %q chart repository (%s):\n\t%s\n", res.Entry.Name, res.Entry.URL, res.Err)
			failed = append(failed, res.Entry.URL)
			continue
		}
		fmt.Fprintf(o.Out, "...Successfully got an update from the %q chart repository\n", res.Entry.Name)
	}
	if len(failed) > 0 {
		return fmt.Errorf("Failed to update the following repositories: %s", failed)
	}
	_, err = fmt.Fprintln(o.Out, "Update Complete. ⎈Happy Helming!⎈")
	return err
}

func newCmdRepoRemove(streams genericiooptions.IOStreams) *cobra.Command {
	return &cobra.Command{
		Use:               "remove [REPO1 [REPO2 ...]]",
		Aliases:           []string{"rm"},
		Short:             "remove one or more chart repositories",
		Example:           "  kubectl chart repo remove bitnami",
		Args:              minimumNArgs(1),
		ValidArgsFunction: completeRepoNames,
		RunE: func(cmd *cobra.Command, args []string) error {
			paths := helmpath.New()
			r := repo.NewResolver(paths)
			for _, name := range args {
				err := repo.EditFile(cmd.Context(), paths.RepositoryConfig(), func(f *repo.File) error {
					if len(f.Repositories) == 0 {
						return errors.New("no repositories configured")
					}
					if !f.Remove(name) {
						return fmt.Errorf("no repo named %q found", name)
					}
					return nil
				})
				if err != nil {
					return err
				}
				if err := r.RemoveCache(name); err != nil {
					return err
				}
				fmt.Fprintf(streams.Out, "%q has been removed from your repositories\n", name)
			}
			return nil
		},
	}
}

const repoIndexLong = `Read the current directory, generate an index file based on the charts found
and write the result to 'index.yaml' in the current directory.

This tool is used for creating an 'index.yaml' file for a chart repository. To
set an absolute URL to the charts, use '--url' flag.

To merge the generated index with an existing index file, use the '--merge'
flag. In this case, the charts found in the current directory will be merged
into the index passed in with --merge, with local charts taking priority over
existing charts.

Entries and digests are those "helm repo index" writes for the same archives.`

// RepoIndexOptions are the options of `kubectl chart repo index`.
type RepoIndexOptions struct {
	Dir, URL, Merge string
	JSON            bool
}

func newCmdRepoIndex(streams genericiooptions.IOStreams) *cobra.Command {
	o := &RepoIndexOptions{}
	cmd := &cobra.Command{
		Use:     "index [DIR]",
		Short:   "generate an index file given a directory containing packaged charts",
		Long:    repoIndexLong,
		Example: "  kubectl chart repo index ./charts --url https://charts.example.com",
		Args:    exactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			o.Dir = args[0]
			return o.Run()
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.URL, "url", "", "url of chart repository")
	f.StringVar(&o.Merge, "merge", "", "merge the generated index into the given index")
	f.BoolVar(&o.JSON, "json", false, "output in JSON format")
	return cmd
}

// Run writes DIR/index.yaml.
func (o *RepoIndexOptions) Run() error {
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return err
	}
	i, err := repo.IndexDirectory(dir, o.URL)
	if err != nil {
		return err
	}
	if o.Merge != "" {
		var old *repo.IndexFile
		if _, err := os.Stat(o.Merge); errors.Is(err, fs.ErrNotExist) {
			// Helm writes an empty index where --merge points.
			old = repo.NewIndexFile()
			if err := old.WriteFile(o.Merge, o.JSON); err != nil {
				return err
			}
		} else if old, err = repo.LoadIndexFile(o.Merge); err != nil {
			return fmt.Errorf("merge failed: %w", err)
		}
		i.Merge(old)
	}
	i.SortEntries()
	return i.WriteFile(filepath.Join(dir, "index.yaml"), o.JSON)
}

// completeRepoNames completes the names of repositories.yaml not yet given.
func completeRepoNames(_ *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
	f, _ := repo.LoadFile(helmpath.New().RepositoryConfig())
	var names []string
	for _, e := range f.Repositories {
		if !slices.Contains(args, e.Name) {
			names = append(names, e.Name+"\t"+e.URL)
		}
	}
	return names, cobra.ShellCompDirectiveNoFileComp
}
