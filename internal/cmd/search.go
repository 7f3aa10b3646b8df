package cmd

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-chart/kubectl-chart/internal/helmpath"
	"github.com/kubectl-chart/kubectl-chart/internal/releaseview"
	"github.com/kubectl-chart/kubectl-chart/pkg/repo"
)

// NewCmdSearch builds `kubectl chart search` and `search repo`.
func NewCmdSearch(streams genericiooptions.IOStreams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "search [keyword]",
		Short: "search for a keyword in charts",
		Long:  "Search provides the ability to search for charts in the chart repositories you have added.",
		Args:  noArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newCmdSearchRepo(streams))
	return cmd
}

const searchRepoLong = `Search reads through all of the repositories configured on the system, and
looks for matches. Search of these repositories uses the metadata stored on
the system.

Repositories are managed with 'kubectl chart repo' commands (or 'helm repo':
they are the same repositories).

It will display the latest stable versions of the charts found. If you
specify the --devel flag, the output will include pre-release versions.
If you want to search using a version constraint, use --version.`

const searchRepoExample = `  # Search for stable release versions matching the keyword "nginx"
  kubectl chart search repo nginx

  # Search for release versions matching the keyword "nginx", including pre-release versions
  kubectl chart search repo nginx --devel

  # Search for the latest stable release for nginx-ingress with a major version of 1
  kubectl chart search repo nginx-ingress --version ^1.0.0`

// SearchRepoOptions are the options of `kubectl chart search repo`.
type SearchRepoOptions struct {
	repo.SearchOptions
	// MaxColWidth bounds the width of the table's columns.
	MaxColWidth uint
	// FailOnNoResult makes an empty result an error.
	FailOnNoResult bool
	Output         releaseview.Format

	paths helmpath.Paths
	genericiooptions.IOStreams
}

func newCmdSearchRepo(streams genericiooptions.IOStreams) *cobra.Command {
	o := &SearchRepoOptions{IOStreams: streams, Output: releaseview.FormatTable}
	cmd := &cobra.Command{
		Use:               "repo [keyword]",
		Short:             "search repositories for a keyword in charts",
		Long:              searchRepoLong,
		Example:           searchRepoExample,
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE: func(_ *cobra.Command, args []string) error {
			o.Complete(args)
			return o.Run()
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&o.Regexp, "regexp", "r", false, "use regular expressions for searching repositories you have added")
	f.BoolVarP(&o.Versions, "versions", "l", false, "show the long listing, with each version of each chart on its own line, for repositories you have added")
	f.BoolVar(&o.Devel, "devel", false, "use development versions (alpha, beta, and release candidate releases), too. Equivalent to version '>0.0.0-0'. If --version is set, this is ignored")
	f.StringVar(&o.Version, "version", "", "search using semantic versioning constraints on repositories you have added")
	f.UintVar(&o.MaxColWidth, "max-col-width", 50, "maximum column width for output table")
	f.BoolVar(&o.FailOnNoResult, "fail-on-no-result", false, "search fails if no results are found")
	f.VarP(&o.Output, "output", "o", releaseview.FormatUsage())
	return cmd
}

// Complete joins the keywords and reads the paths.
func (o *SearchRepoOptions) Complete(args []string) {
	o.Keyword = strings.Join(args, " ")
	o.paths = helmpath.New()
}

// Run searches the cached indexes of every repository.
func (o *SearchRepoOptions) Run() error {
	f, err := repo.LoadFile(o.paths.RepositoryConfig())
	if err != nil || len(f.Repositories) == 0 {
		return errors.New("no repositories configured")
	}
	r := repo.NewResolver(o.paths)
	var indexes []repo.NamedIndex
	for _, e := range f.Repositories {
		x, err := r.LoadIndex(e.Name)
		if err != nil {
			fmt.Fprintf(o.ErrOut, "WARNING: repo %q is corrupt or missing: %v\n", e.Name, err)
			continue
		}
		indexes = append(indexes, repo.NamedIndex{Name: e.Name, Index: x})
	}
	res, err := repo.Search(indexes, o.SearchOptions)
	if err != nil {
		return err
	}
	if len(res) == 0 && o.FailOnNoResult {
		return errors.New("no results found")
	}
	type element struct {
		Name        string `json:"name"`
		Version     string `json:"version"`
		AppVersion  string `json:"app_version"`
		Description string `json:"description"`
	}
	list := make([]element, 0, len(res))
	for _, r := range res {
		list = append(list, element{r.Name, r.Version, r.AppVersion, r.Description})
	}
	table := "No results found\n"
	if len(res) > 0 {
		rows := [][]string{{"NAME", "CHART VERSION", "APP VERSION", "DESCRIPTION"}}
		for _, r := range res {
			rows = append(rows, []string{r.Name, r.Version, r.AppVersion, r.Description})
		}
		table = releaseview.Table(truncateCells(rows, o.MaxColWidth))
	}
	return writeFormatted(o.Out, o.Output, list, table)
}

// truncateCells shortens cells wider than width as Helm's tables
// (gosuri/uitable) do: to width-3 characters and "...".
func truncateCells(rows [][]string, width uint) [][]string {
	if width == 0 {
		return rows
	}
	n := int(width)
	for _, row := range rows {
		for i, cell := range row {
			if utf8.RuneCountInString(cell) <= n {
				continue
			}
			var b strings.Builder
			w := 0
			for _, r := range cell {
				b.WriteRune(r)
				if w+1 >= n-3 {
					break
				}
				w++
			}
			b.WriteString("...")
			row[i] = b.String()
		}
	}
	return rows
}
