package cmd

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-chart/kubectl-chart/internal/helmpath"
	"github.com/kubectl-chart/kubectl-chart/pkg/release"
	"github.com/kubectl-chart/kubectl-chart/pkg/repo"
)

const completionLong = `Print a shell completion script for bash, zsh, fish or PowerShell.

With kubectl 1.26 or later, "kubectl chart <TAB>" completes through kubectl's
own completion: kubectl runs the executable kubectl_complete-chart from your
PATH, which asks "kubectl chart __complete" for the candidates. So enable
kubectl's completion (see "kubectl completion --help") and put
kubectl_complete-chart on your PATH. It comes in the release archive (krew
keeps it in ~/.krew/store/chart/<version>/ and its install message says how
to copy it to ~/.krew/bin); it is only:

    #!/usr/bin/env sh
    exec kubectl chart __complete "$@"

The script this command prints is for running the binary as kubectl-chart.

Arguments complete too: release names from the cluster (in the namespace of
-n, else the current context's), revisions for rollback, chart references as
Helm completes them (repositories, their charts as "kubectl chart repo
update" or "helm repo update" cached them, URL prefixes), --version with the
versions of a repository chart, and chart folders and chart archives (.tgz)
from disk for lint, package and dependency.`

const completionExample = `  # kubectl chart <TAB>, once kubectl's completion is on: the helper on PATH
  cp ~/.krew/store/chart/v0.1.0/kubectl_complete-chart ~/.krew/bin/

  # bash, for this shell (kubectl-chart <TAB>)
  source <(kubectl chart completion bash)

  # zsh, for every new shell
  kubectl chart completion zsh > "${fpath[1]}/_kubectl-chart"

  # fish
  kubectl chart completion fish > ~/.config/fish/completions/kubectl-chart.fish

  # PowerShell
  kubectl chart completion powershell | Out-String | Invoke-Expression`

// completionShells are the shells `completion` writes scripts for.
var completionShells = []string{"bash", "zsh", "fish", "powershell"}

// CompletionOptions are the options of `kubectl chart completion`.
type CompletionOptions struct {
	// Shell is one of completionShells.
	Shell string
	// NoDescriptions leaves the candidates' descriptions out.
	NoDescriptions bool

	root *cobra.Command
	genericiooptions.IOStreams
}

// NewCmdCompletion builds `kubectl chart completion`. It takes the place of
// cobra's default completion command, with kubectl's help and the plugin's
// name.
func NewCmdCompletion(streams genericiooptions.IOStreams) *cobra.Command {
	o := &CompletionOptions{IOStreams: streams}
	cmd := &cobra.Command{
		Use:                   "completion bash|zsh|fish|powershell",
		Short:                 "Print the shell completion script",
		Long:                  completionLong,
		Example:               completionExample,
		DisableFlagsInUseLine: true,
		Args:                  exactArgs(1),
		ValidArgs:             completionShells,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Complete(cmd, args)
			if err := o.Validate(); err != nil {
				return err
			}
			return o.Run()
		},
	}
	cmd.Flags().BoolVar(&o.NoDescriptions, "no-descriptions", false, "leave the descriptions of the candidates out")
	return cmd
}

// Complete reads the shell and finds the command tree to describe.
func (o *CompletionOptions) Complete(cmd *cobra.Command, args []string) {
	o.Shell = args[0]
	o.root = cmd.Root()
}

// Validate checks the shell.
func (o *CompletionOptions) Validate() error {
	if !slices.Contains(completionShells, o.Shell) {
		return fmt.Errorf("unsupported shell %q: want one of %s", o.Shell, strings.Join(completionShells, ", "))
	}
	return nil
}

// Run writes the script.
func (o *CompletionOptions) Run() error {
	desc := !o.NoDescriptions
	switch o.Shell {
	case "bash":
		return o.root.GenBashCompletionV2(o.Out, desc)
	case "zsh":
		if desc {
			return o.root.GenZshCompletion(o.Out)
		}
		return o.root.GenZshCompletionNoDesc(o.Out)
	case "fish":
		return o.root.GenFishCompletion(o.Out, desc)
	default:
		if desc {
			return o.root.GenPowerShellCompletionWithDesc(o.Out)
		}
		return o.root.GenPowerShellCompletion(o.Out)
	}
}

// completeTimeout bounds the cluster reads of one completion: a shell waits
// for them, and an unreachable cluster must not hang the prompt.
const completeTimeout = 5 * time.Second

// completeArgs completes positional argument i with fns[i] and nothing
// (not even file names) past them.
func completeArgs(fns ...cobra.CompletionFunc) cobra.CompletionFunc {
	return completePositional(cobra.NoFileCompletions, fns)
}

// completeArgsNoMore is completeArgs with Helm's ActiveHelp past the last
// argument (its noMoreArgsComp, on upgrade and show).
func completeArgsNoMore(fns ...cobra.CompletionFunc) cobra.CompletionFunc {
	return completePositional(completeNoMoreArgs, fns)
}

func completePositional(rest cobra.CompletionFunc, fns []cobra.CompletionFunc) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) >= len(fns) {
			return rest(cmd, args, toComplete)
		}
		return fns[len(args)](cmd, args, toComplete)
	}
}

// completeNoMoreArgs is Helm's noMoreArgsComp: no candidates, no file
// names, and an ActiveHelp line saying why.
func completeNoMoreArgs(_ *cobra.Command, _ []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
	return cobra.AppendActiveHelp(nil, "This command does not take any more arguments (but may accept flags)."), cobra.ShellCompDirectiveNoFileComp
}

// completeReleases completes the names of the releases of the namespace
// the kube flags select, leaving out those already on the command line; each
// comes with its status and revision.
func completeReleases(f *genericclioptions.ConfigFlags) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		ctx, cancel := context.WithTimeout(cmd.Context(), completeTimeout)
		defer cancel()
		store, ns, err := completionStore(f)
		if err != nil {
			return completionError(err)
		}
		heads, err := store.List(ctx, ns)
		if heads == nil && err != nil {
			return completionError(err)
		}
		var out []cobra.Completion
		for _, h := range heads {
			if strings.HasPrefix(h.Name, toComplete) && !slices.Contains(args, h.Name) {
				out = append(out, cobra.CompletionWithDesc(h.Name, headSummary(h)))
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

// completeRevisions completes the revisions of the release named by the
// first argument, newest first.
func completeRevisions(f *genericclioptions.ConfigFlags) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		ctx, cancel := context.WithTimeout(cmd.Context(), completeTimeout)
		defer cancel()
		store, ns, err := completionStore(f)
		if err != nil {
			return completionError(err)
		}
		hist, err := store.History(ctx, ns, args[0])
		if err != nil {
			return completionError(err)
		}
		var out []cobra.Completion
		for _, r := range slices.Backward(hist) {
			n := strconv.Itoa(r.Revision)
			if strings.HasPrefix(n, toComplete) {
				out = append(out, cobra.CompletionWithDesc(n, revisionSummary(r)))
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveKeepOrder
	}
}

// completionStore is the release store and namespace of the kube flags.
func completionStore(f *genericclioptions.ConfigFlags) (release.Store, string, error) {
	ns, err := readNamespace(f)
	if err != nil {
		return nil, "", err
	}
	c, err := newReadClients(f)
	if err != nil {
		return nil, "", err
	}
	return c.store, ns, nil
}

// completionError reports err on stderr (shells do not show it; cobra's
// debug log and `kubectl chart __complete` do) and completes nothing.
func completionError(err error) ([]cobra.Completion, cobra.ShellCompDirective) {
	cobra.CompErrorln(err.Error())
	return nil, cobra.ShellCompDirectiveError
}

func headSummary(h *release.Head) string {
	if h.Revision == 0 {
		return "no revision yet"
	}
	return fmt.Sprintf("%s, revision %d", h.Status, h.Revision)
}

func revisionSummary(r *release.Revision) string {
	s := fmt.Sprintf("%s, %s-%s", r.Status, r.Chart.Name, r.Chart.Version)
	if r.Description != "" {
		s += ": " + r.Description
	}
	return s
}

// completionPaths are Helm's paths as the command line gives them. Cobra
// parses the flags before it completes, but PersistentPreRunE, which
// exports --repository-config and the others (helmGlobalFlags.apply), does
// not run.
func completionPaths(cmd *cobra.Command) helmpath.Paths {
	set := map[string]string{}
	for name, env := range helmPathFlags {
		if f := cmd.Flags().Lookup(name); f != nil && f.Changed {
			set[env] = f.Value.String()
		}
	}
	return helmpath.FromEnv(func(key string) string {
		if v, ok := set[key]; ok {
			return v
		}
		return os.Getenv(key)
	})
}

// chartURLPrefixes are the URL prefixes Helm offers for a chart reference,
// each with its description.
var chartURLPrefixes = []string{"oci://\tChart OCI prefix", "https://\tChart URL prefix", "http://\tChart URL prefix", "file://\tChart local URL prefix"}

// completeChartRefs completes a chart reference argument (install, upgrade,
// template, show, pull) as Helm's compListCharts does, candidate for
// candidate and directive for directive; localFiles is Helm's includeFiles
// (all but pull).
func completeChartRefs(localFiles bool) cobra.CompletionFunc {
	return func(cmd *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		return chartRefCompletions(completionPaths(cmd), toComplete, localFiles)
	}
}

// chartRefCompletions is Helm's compListCharts:
//   - "repo/" for each repository whose name starts with toComplete, with
//     its URL as description and no space after it; once toComplete starts
//     with "repo/", the charts of that repository instead, all of them (the
//     shell filters);
//   - the URL prefixes that start with toComplete (Helm tests toComplete
//     against the prefix with its description, so "oci://" is still offered
//     when typed in full and nothing is offered past it);
//   - with localFiles, when there are candidates already and toComplete is
//     not empty, the names in the working folder that start with it; with
//     localFiles and nothing typed, the "./" and "/" hints.
//
// With localFiles the directive lets the shell complete file names itself.
func chartRefCompletions(paths helmpath.Paths, toComplete string, localFiles bool) ([]cobra.Completion, cobra.ShellCompDirective) {
	var out []cobra.Completion
	noSpace, noFile := false, false
	if f, err := repo.LoadFile(paths.RepositoryConfig()); err == nil {
		for _, e := range f.Repositories {
			if e == nil {
				continue
			}
			if strings.HasPrefix(toComplete, e.Name+"/") {
				out = append(out, repoChartRefs(paths, e.Name)...)
				noSpace = false
				break
			}
			if strings.HasPrefix(e.Name, toComplete) {
				out = append(out, cobra.CompletionWithDesc(e.Name+"/", e.URL))
				noSpace = true
			}
		}
	}
	for _, prefix := range chartURLPrefixes {
		if strings.HasPrefix(toComplete, prefix) {
			noFile, noSpace = true, true
		} else if strings.HasPrefix(prefix, toComplete) {
			out = append(out, prefix)
			noSpace = true
		}
	}
	if localFiles && len(out) > 0 && toComplete != "" {
		if entries, err := os.ReadDir("."); err == nil {
			for _, e := range entries {
				if strings.HasPrefix(e.Name(), toComplete) {
					out = append(out, e.Name())
				}
			}
		}
	}
	if localFiles && toComplete == "" {
		out = append(out, cobra.CompletionWithDesc("./", "Relative path prefix to local chart"), cobra.CompletionWithDesc("/", "Absolute path prefix to local chart"))
	}
	directive := cobra.ShellCompDirectiveDefault
	if noFile || !localFiles {
		directive |= cobra.ShellCompDirectiveNoFileComp
	}
	if noSpace {
		directive |= cobra.ShellCompDirectiveNoSpace
	}
	return out, directive
}

// repoChartRefs are "repo/chart" for the charts of a repository: from the
// <repo>-charts.txt of the last update, in its order, or, when there is
// none, from the cached index (sorted by name; Helm's order there is its map
// order).
func repoChartRefs(paths helmpath.Paths, name string) []cobra.Completion {
	r := repo.NewResolver(paths)
	var out []cobra.Completion
	b, err := os.ReadFile(r.ChartsPath(name))
	if err == nil {
		lines := bufio.NewScanner(bytes.NewReader(b))
		for lines.Scan() {
			out = append(out, name+"/"+lines.Text())
		}
		return out
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	x, err := r.LoadIndex(name)
	if err != nil {
		return nil
	}
	for _, c := range x.Charts {
		out = append(out, name+"/"+c.Name)
	}
	return out
}

// installChartArg is the position of install's and template's CHART as
// Helm's compInstall counts: the first argument with --generate-name, else
// the second.
func installChartArg(names *nameFlags) func() int {
	return func() int {
		if names.GenerateName {
			return 0
		}
		return 1
	}
}

// argAt is a fixed argument position.
func argAt(n int) func() int { return func() int { return n } }

// completeInstallArgs completes the arguments of install and template as
// Helm's compInstall: the chart reference where installChartArg says,
// nothing (not even file names) elsewhere.
func completeInstallArgs(names *nameFlags) cobra.CompletionFunc {
	chartArg, refs := installChartArg(names), completeChartRefs(true)
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) == chartArg() {
			return refs(cmd, args, toComplete)
		}
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
}

// registerVersionCompletion completes --version (chartRefFlags) with the
// versions of the chart at argument chartArg().
func registerVersionCompletion(cmd *cobra.Command, chartArg func() int) {
	if err := cmd.RegisterFlagCompletionFunc("version", completeVersionFlag(chartArg)); err != nil {
		// No --version, or a second registration: the command's wiring is
		// wrong, and every test that builds the command tree says so.
		panic(fmt.Sprintf("%s: %v", cmd.CommandPath(), err))
	}
}

// completeVersionFlag is Helm's compVersionFlag: once the chart argument
// (at chartArg()) is the last argument given and reads "repo/chart", every
// version of the chart in the repository's cached index, newest first,
// whatever was typed, each described by its app version, its date and
// whether it is deprecated.
func completeVersionFlag(chartArg func() int) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
		n := chartArg()
		if len(args) != n+1 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return chartVersionCompletions(completionPaths(cmd), args[n]), cobra.ShellCompDirectiveNoFileComp
	}
}

func chartVersionCompletions(paths helmpath.Paths, ref string) []cobra.Completion {
	parts := strings.Split(ref, "/")
	if len(parts) != 2 {
		return nil
	}
	x, err := repo.NewResolver(paths).LoadIndex(parts[0])
	if err != nil {
		return nil
	}
	c := x.Chart(parts[1])
	if c == nil {
		return nil
	}
	out := make([]cobra.Completion, 0, len(c.Versions))
	for _, v := range c.Versions {
		desc := ""
		if v.AppVersion != "" {
			desc = "App: " + v.AppVersion + ", "
		}
		desc += "Created: " + v.Created.Format("January 2, 2006") + " "
		if v.Deprecated {
			desc += "(deprecated)"
		}
		out = append(out, cobra.CompletionWithDesc(v.Version, desc))
	}
	return out
}

// completeChartPaths completes a CHART argument: chart folders and chart
// archives (.tgz, .tar.gz) on disk, and every folder, to look inside.
func completeChartPaths(_ *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	return chartPathCompletions(toComplete, true)
}

// completeChartDirs completes a CHART_DIR argument: folders only.
func completeChartDirs(_ *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	return chartPathCompletions(toComplete, false)
}

// chartPathCompletions lists the entries of toComplete's folder that start
// with its last element: folders end with a separator and, when they hold a
// Chart.yaml, say which chart; archives are listed when archives is set.
// Hidden entries are listed only when the prefix starts with a dot. A folder
// candidate wants no space after it, so that completion can go on inside.
func chartPathCompletions(toComplete string, archives bool) ([]cobra.Completion, cobra.ShellCompDirective) {
	dir, prefix := filepath.Split(toComplete)
	readDir := dir
	if readDir == "" {
		readDir = "."
	}
	entries, err := os.ReadDir(readDir)
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var out []cobra.Completion
	folders := 0
	for _, e := range entries {
		name := e.Name()
		if !strings.HasPrefix(name, prefix) || (strings.HasPrefix(name, ".") && !strings.HasPrefix(prefix, ".")) {
			continue
		}
		path := filepath.Join(readDir, name)
		isDir := e.IsDir()
		if e.Type()&os.ModeSymlink != 0 {
			if st, err := os.Stat(path); err == nil {
				isDir = st.IsDir()
			}
		}
		switch {
		case isDir:
			out = append(out, withDesc(dir+name+string(filepath.Separator), chartFolderSummary(path)))
			folders++
		case archives && (strings.HasSuffix(name, ".tgz") || strings.HasSuffix(name, ".tar.gz")):
			out = append(out, cobra.CompletionWithDesc(dir+name, "chart archive"))
		}
	}
	directive := cobra.ShellCompDirectiveNoFileComp
	if folders > 0 {
		directive |= cobra.ShellCompDirectiveNoSpace
	}
	return out, directive
}

// withDesc is a candidate with its description, if any.
func withDesc(choice, desc string) cobra.Completion {
	if desc == "" {
		return choice
	}
	return cobra.CompletionWithDesc(choice, desc)
}

// chartFolderSummary is "chart NAME VERSION" for a folder with a readable
// Chart.yaml, else "".
func chartFolderSummary(dir string) string {
	b, err := os.ReadFile(filepath.Join(dir, "Chart.yaml"))
	if err != nil {
		return ""
	}
	var meta struct {
		Name    string `json:"name"`
		Version string `json:"version"`
	}
	if yaml.Unmarshal(b, &meta) != nil || meta.Name == "" {
		return "chart"
	}
	return strings.TrimSpace("chart " + meta.Name + " " + meta.Version)
}
