package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/pmezard/go-difflib/difflib"
	"github.com/spf13/cobra"
	"golang.org/x/term"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-chart/kubectl-chart/internal/action"
	"github.com/kubectl-chart/kubectl-chart/pkg/release"
)

const diffLong = `Show what an upgrade or a rollback would change, object by object, without
changing anything (no lock is taken, nothing is written).

Every object is applied with a server-side dry run and compared with the live
object, so that defaults, admission and field ownership are the server's;
objects the release owns and would prune are shown as removed. Each added,
changed or removed object is printed as a unified diff of its YAML (without
status and the metadata the server rewrites on every change), coloured when
the output is a terminal. The values of Secrets are masked unless
--show-secrets. Fields the operation would take back from other field
managers (the release applied them in its previous revision and someone
changed them since, with kubectl scale or kubectl edit) are listed too:
"dry run: reclaimed .spec.replicas of Deployment.apps/prod/web from kubectl".

Exit status: 0 when nothing would change, 1 when something would, 2 on an
error.`

const diffUpgradeExample = `  # What upgrading my-app with new values would change
  kubectl chart diff upgrade my-app ./my-app -f prod.yaml --set image.tag=1.2.4

  # In a script: 0 no changes, 1 changes, 2 error
  kubectl chart diff upgrade my-app ./my-app --color=never >/dev/null; echo $?`

const diffRollbackExample = `  # What rolling my-app back to the revision before the deployed one would change
  kubectl chart diff rollback my-app

  # ... to revision 3, Secret values shown
  kubectl chart diff rollback my-app 3 --show-secrets`

// errChanges is what a diff returns, silently and with exit status 1, when
// something would change.
var errChanges = errors.New("the release would change")

// Colour modes of --color.
const (
	colorAuto   = "auto"
	colorAlways = "always"
	colorNever  = "never"
)

// DiffOptions are the options every diff subcommand shares.
type DiffOptions struct {
	configFlags *genericclioptions.ConfigFlags
	// ShowSecrets prints the values of Secrets; by default they are masked.
	ShowSecrets bool
	// Color is auto (when the output is a terminal), always or never.
	Color string
	// ContextLines is the number of unchanged lines shown around a change.
	ContextLines int

	genericiooptions.IOStreams
}

// DiffUpgradeOptions are the options of `kubectl chart diff upgrade`.
type DiffUpgradeOptions struct {
	DiffOptions
	render   renderFlags
	chartRef chartRefFlags
	action   action.UpgradeOptions
}

// DiffRollbackOptions are the options of `kubectl chart diff rollback`.
type DiffRollbackOptions struct {
	DiffOptions
	action action.RollbackOptions
}

// NewCmdDiff builds `kubectl chart diff` and its subcommands. Every error of
// theirs, flag and argument errors included, exits with status 2: 1 means
// "changes".
func NewCmdDiff(f *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "diff",
		Short: "Show what an upgrade or a rollback would change",
		Long:  diffLong,
	}
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return diffError(err) })
	cmd.AddCommand(newCmdDiffUpgrade(f, streams), newCmdDiffRollback(f, streams))
	return cmd
}

func newCmdDiffUpgrade(f *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &DiffUpgradeOptions{
		DiffOptions: DiffOptions{configFlags: f, IOStreams: streams},
		action:      action.DefaultUpgradeOptions(),
	}
	cmd := &cobra.Command{
		Use:     "upgrade NAME CHART",
		Short:   "Show what upgrading a release would change",
		Long:    diffLong,
		Example: diffUpgradeExample,
		Args:    diffArgs(exactArgs(2)),

		ValidArgsFunction: completeArgs(completeReleases(f), completeChartRefs(true)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.Complete(cmd.Context(), args); err != nil {
				return diffError(err)
			}
			if err := o.Validate(); err != nil {
				return diffError(err)
			}
			return o.Run(cmd.Context())
		},
	}
	o.render.addFlags(cmd)
	o.chartRef.addFlags(cmd)
	registerVersionCompletion(cmd, argAt(1))
	o.chartRef.addTimeoutFlag(cmd, "time allowed for each chart download")
	addKubeInsecureFlag(cmd, f)
	cmd.Long += "\n\n" + chartRefLong
	o.addFlags(cmd)
	fs := cmd.Flags()
	a := &o.action
	fs.BoolVarP(&a.Install, "install", "i", false, "if the release does not exist, show what installing it would create")
	fs.BoolVar(&a.ReuseValues, "reuse-values", false, "reuse the last release's values and merge in any overrides")
	fs.BoolVar(&a.ResetValues, "reset-values", false, "reset the values to the ones built into the chart")
	fs.BoolVar(&a.ResetThenReuseValues, "reset-then-reuse-values", false, "reset to the chart's values, then merge in the last release's values and any overrides")
	fs.BoolVar(&a.ForceConflicts, "force-conflicts", false, "take fields owned by other field managers (server-side apply force)")
	fs.BoolVar(&a.TakeOwnership, "take-ownership", false, "adopt objects owned by another release or created by another tool")
	return cmd
}

func newCmdDiffRollback(f *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &DiffRollbackOptions{
		DiffOptions: DiffOptions{configFlags: f, IOStreams: streams},
		action:      action.DefaultRollbackOptions(),
	}
	cmd := &cobra.Command{
		Use:     "rollback NAME [REVISION]",
		Short:   "Show what rolling a release back would change",
		Long:    diffLong + "\n\nWithout REVISION, the revision before the deployed one is the target.",
		Example: diffRollbackExample,
		Args:    diffArgs(rangeArgs(1, 2)),

		ValidArgsFunction: completeArgs(completeReleases(f), completeRevisions(f)),
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
	o.addFlags(cmd)
	fs := cmd.Flags()
	a := &o.action
	fs.BoolVar(&a.ForceConflicts, "force-conflicts", false, "take fields owned by other field managers (server-side apply force)")
	fs.BoolVar(&a.TakeOwnership, "take-ownership", false, "adopt objects owned by another release or created by another tool")
	return cmd
}

func (o *DiffOptions) addFlags(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.BoolVar(&o.ShowSecrets, "show-secrets", false, "show the values of Secrets instead of masking them")
	fs.StringVar(&o.Color, "color", colorAuto, `colour the diff: "auto" (when the output is a terminal), "always" or "never"`)
	fs.IntVar(&o.ContextLines, "context-lines", 3, "number of unchanged lines shown around each change")
}

// Validate checks the output flags.
func (o *DiffOptions) Validate() error {
	switch o.Color {
	case colorAuto, colorAlways, colorNever:
	default:
		return fmt.Errorf(`--color must be "auto", "always" or "never", not %q`, o.Color)
	}
	if o.ContextLines < 0 {
		return fmt.Errorf("--context-lines must not be negative, not %d", o.ContextLines)
	}
	return nil
}

// Complete reads arguments, values and the chart.
func (o *DiffUpgradeOptions) Complete(ctx context.Context, args []string) error {
	o.action.Name = args[0]
	return completeRelease(ctx, &o.action, o.configFlags, &o.render, &o.chartRef, o.In, args[1])
}

// Run diffs the upgrade and prints it.
func (o *DiffUpgradeOptions) Run(ctx context.Context) error {
	_, cfg, err := connect(ctx, o.configFlags)
	if err != nil {
		return diffError(err)
	}
	res, err := cfg.DiffUpgrade(ctx, o.action)
	return o.print(res, err)
}

// Complete reads the arguments.
func (o *DiffRollbackOptions) Complete(args []string) error {
	o.action.Name = args[0]
	if len(args) == 2 {
		n, err := strconv.Atoi(args[1])
		if err != nil || n < 1 {
			return fmt.Errorf("revision must be a positive number, not %q", args[1])
		}
		o.action.Revision = n
	}
	ns, _, err := o.configFlags.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return err
	}
	o.action.Namespace = ns
	return nil
}

// Run diffs the rollback and prints it.
func (o *DiffRollbackOptions) Run(ctx context.Context) error {
	_, cfg, err := connect(ctx, o.configFlags)
	if err != nil {
		return diffError(err)
	}
	res, err := cfg.DiffRollback(ctx, o.action)
	return o.print(res, err)
}

// print writes a unified diff for every object that would change (those
// compared before an error, too), then a summary line. It returns nil when
// nothing would change, a silent exit error of status 1 when something
// would, and err with status 2.
func (o *DiffOptions) print(res *action.DiffResult, err error) error {
	color := o.useColor()
	var entries []action.DiffEntry
	if res != nil {
		entries = res.Entries
	}
	for _, e := range entries {
		if e.Change == action.DiffUnchanged {
			continue
		}
		text, ferr := formatEntry(e, diffFormat{ShowSecrets: o.ShowSecrets, Context: o.ContextLines, Color: color})
		if ferr != nil {
			err = errors.Join(err, ferr)
			continue
		}
		if _, werr := io.WriteString(o.Out, text); werr != nil {
			return diffError(werr)
		}
	}
	if err != nil {
		return diffError(err)
	}
	printTakeovers(o.Out, res.Taken, time.Now(), true)
	if !res.HasChanges() {
		fmt.Fprintf(o.Out, "no changes: %d objects up to date\n", res.Count(action.DiffUnchanged))
		return nil
	}
	fmt.Fprintf(o.Out, "%d to add, %d to change, %d to remove\n",
		res.Count(action.DiffAdded), res.Count(action.DiffChanged), res.Count(action.DiffRemoved))
	return &exitError{code: 1, err: errChanges, silent: true}
}

// useColor applies --color: auto colours a terminal, unless NO_COLOR is set.
func (o *DiffOptions) useColor() bool {
	switch o.Color {
	case colorAlways:
		return true
	case colorNever:
		return false
	}
	if os.Getenv("NO_COLOR") != "" {
		return false
	}
	f, ok := o.Out.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// diffError gives err the exit status of a diff error (2), unless it has
// one.
func diffError(err error) error {
	if err == nil {
		return nil
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return err
	}
	return &exitError{code: 2, err: err}
}

// diffArgs makes an argument check's errors diff errors.
func diffArgs(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error { return diffError(check(cmd, args)) }
}

// diffFormat says how formatEntry prints.
type diffFormat struct {
	// ShowSecrets: Secret values as they are, not masked.
	ShowSecrets bool
	// Context is the number of unchanged lines around a change.
	Context int
	// Color adds ANSI colours: headers bold, hunk ranges cyan, removed lines
	// red, added lines green.
	Color bool
}

// ANSI escapes of the coloured diff.
const (
	ansiBold  = "\x1b[1m"
	ansiRed   = "\x1b[31m"
	ansiGreen = "\x1b[32m"
	ansiCyan  = "\x1b[36m"
	ansiReset = "\x1b[0m"
)

// formatEntry is the unified diff of one object's YAML (sorted keys), live
// then desired, with the headers `--- live Kind/ns/name` and
// `+++ desired Kind/ns/name`; empty when the two print the same.
func formatEntry(e action.DiffEntry, f diffFormat) (string, error) {
	live, desired := e.Live, e.Desired
	if isSecret(e.Ref) && !f.ShowSecrets {
		live, desired = maskSecret(live, desired)
	}
	a, err := yamlLines(live)
	if err != nil {
		return "", fmt.Errorf("%s: %w", e.Ref, err)
	}
	b, err := yamlLines(desired)
	if err != nil {
		return "", fmt.Errorf("%s: %w", e.Ref, err)
	}
	text, err := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A: a, B: b,
		FromFile: "live " + e.Ref.String(),
		ToFile:   "desired " + e.Ref.String(),
		Context:  f.Context,
	})
	if err != nil || !f.Color {
		return text, err
	}
	return colorize(text), nil
}

// yamlLines is obj as YAML lines (each ending in a newline); none for nil.
func yamlLines(obj map[string]any) ([]string, error) {
	if obj == nil {
		return nil, nil
	}
	data, err := yaml.Marshal(obj)
	if err != nil {
		return nil, err
	}
	return difflib.SplitLines(strings.TrimSuffix(string(data), "\n")), nil
}

// colorize colours a unified diff of one object: its two header lines bold,
// hunk ranges cyan, removed lines red, added lines green.
func colorize(text string) string {
	var b strings.Builder
	for i, line := range strings.SplitAfter(text, "\n") {
		if line == "" {
			continue
		}
		body := strings.TrimSuffix(line, "\n")
		color := ""
		switch {
		case i < 2:
			color = ansiBold
		case strings.HasPrefix(body, "@@"):
			color = ansiCyan
		case strings.HasPrefix(body, "-"):
			color = ansiRed
		case strings.HasPrefix(body, "+"):
			color = ansiGreen
		}
		if color == "" {
			b.WriteString(line)
			continue
		}
		b.WriteString(color + body + ansiReset + line[len(body):])
	}
	return b.String()
}

func isSecret(ref release.ObjectRef) bool { return ref.Group == "" && ref.Kind == "Secret" }

// Masks of Secret values: a value present on both sides is shown as
// maskUnchanged on both when it is the same and as masked then maskChanged
// when it differs, so that a changed value still makes a diff line; a value
// on one side only is masked.
const (
	masked        = "***"
	maskUnchanged = "*** (unchanged)"
	maskChanged   = "*** (changed)"
)

// lastApplied is the annotation kubectl apply keeps the whole object in,
// Secret data included.
const lastApplied = "kubectl.kubernetes.io/last-applied-configuration"

// maskSecret returns copies of a Secret's live and desired objects whose
// data and stringData values (and kubectl's last-applied annotation) are
// masked. Either may be nil.
func maskSecret(live, desired map[string]any) (map[string]any, map[string]any) {
	live, desired = maps.Clone(live), maps.Clone(desired)
	for _, field := range []string{"data", "stringData"} {
		l, d := maskValues(asMap(live[field]), asMap(desired[field]), func(string) bool { return true })
		setIfPresent(live, field, l)
		setIfPresent(desired, field, d)
	}
	lm, dm := maps.Clone(asMap(live["metadata"])), maps.Clone(asMap(desired["metadata"]))
	la, da := maskValues(asMap(lm["annotations"]), asMap(dm["annotations"]), func(k string) bool { return k == lastApplied })
	setIfPresent(lm, "annotations", la)
	setIfPresent(dm, "annotations", da)
	setIfPresent(live, "metadata", lm)
	setIfPresent(desired, "metadata", dm)
	return live, desired
}

// maskValues returns copies of l and d whose values under the keys mask
// selects are masked (see masked); nil stays nil.
func maskValues(l, d map[string]any, mask func(key string) bool) (map[string]any, map[string]any) {
	l, d = maps.Clone(l), maps.Clone(d)
	for k, lv := range l {
		if !mask(k) {
			continue
		}
		dv, both := d[k]
		switch {
		case !both:
			l[k] = masked
		case reflect.DeepEqual(lv, dv):
			l[k], d[k] = maskUnchanged, maskUnchanged
		default:
			l[k], d[k] = masked, maskChanged
		}
	}
	for k := range d {
		if _, both := l[k]; !both && mask(k) {
			d[k] = masked
		}
	}
	return l, d
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

// setIfPresent sets m[key] = v when m has v's place: m is not nil and v is
// (an object without the field keeps it absent).
func setIfPresent(m map[string]any, key string, v map[string]any) {
	if m != nil && v != nil {
		m[key] = v
	}
}
