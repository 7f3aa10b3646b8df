package cmd

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/rest"

	"github.com/kubectl-chart/kubectl-chart/internal/helmpath"
)

// Helm's global flags, so that a command line written for Helm runs as it
// is (docs/helm-parity.md lists each and what it does here).

// helmKubeFlagAliases are Helm's names of kubectl's connection flags: the
// same flags (genericclioptions.ConfigFlags) under the names Helm users
// type. Only the kubectl names show in --help.
var helmKubeFlagAliases = map[string]string{
	"kube-apiserver":                "server",
	"kube-as-group":                 "as-group",
	"kube-as-user":                  "as",
	"kube-ca-file":                  "certificate-authority",
	"kube-context":                  "context",
	"kube-insecure-skip-tls-verify": "insecure-skip-tls-verify",
	"kube-tls-server-name":          "tls-server-name",
	"kube-token":                    "token",
}

// helmFlagNames normalizes Helm's flag names to ours (cobra's global
// normalization: every command, every flag).
func helmFlagNames(_ *pflag.FlagSet, name string) pflag.NormalizedName {
	if to, ok := helmKubeFlagAliases[name]; ok {
		name = to
	}
	return pflag.NormalizedName(name)
}

// helmGlobalFlags are Helm's global flags that are not kubectl's.
type helmGlobalFlags struct {
	debug                        bool
	burstLimit                   int
	qps                          float32
	color                        string
	repositoryConfig             string
	repositoryCache              string
	registryConfig, contentCache string
}

// addHelmGlobalFlags adds Helm's global flags to the root command: kubectl's
// flags under Helm's names (helmFlagNames), --debug, --burst-limit and
// --qps (the clients' rate limits), --color/--colour, and Helm's paths
// (--repository-config, --repository-cache, --registry-config,
// --content-cache), which set the environment variables helmpath reads, so
// that every command uses them.
func addHelmGlobalFlags(cmd *cobra.Command, kube *genericclioptions.ConfigFlags) {
	g := &helmGlobalFlags{}
	cmd.SetGlobalNormalizationFunc(helmFlagNames)
	fs := cmd.PersistentFlags()
	paths := helmpath.New()
	fs.BoolVar(&g.debug, "debug", false, "enable verbose output: logs of what the command does (as -v=4); template prints the rendered output of a chart whose output is not valid YAML")
	fs.IntVar(&g.burstLimit, "burst-limit", 100, "client-side default throttling limit")
	fs.Float32Var(&g.qps, "qps", 0, "queries per second used when communicating with the Kubernetes API, not including bursting")
	fs.StringVar(&g.color, "color", "auto", "use colored output (never, auto, always): accepted for Helm's command lines; kubectl chart prints no colours")
	fs.StringVar(&g.color, "colour", "auto", "use colored output (never, auto, always)")
	_ = fs.MarkHidden("colour")
	fs.StringVar(&g.repositoryConfig, "repository-config", paths.RepositoryConfig(), "path to the file containing repository names and URLs")
	fs.StringVar(&g.repositoryCache, "repository-cache", paths.RepositoryCache(), "path to the directory containing cached repository indexes")
	fs.StringVar(&g.registryConfig, "registry-config", paths.RegistryConfig(), "path to the registry config file")
	fs.StringVar(&g.contentCache, "content-cache", paths.ContentCache(), "path to the directory containing cached content (e.g. charts)")

	// Rate limits: only when given. Without them the release clients run
	// unthrottled (newClients: --concurrency paces the applies) and the
	// others with client-go's defaults.
	kube.WithWrapConfigFn(func(c *rest.Config) *rest.Config {
		if fs.Changed("burst-limit") {
			c.Burst = g.burstLimit
		}
		if fs.Changed("qps") {
			c.QPS = g.qps
		}
		return c
	})

	next := cmd.PersistentPreRunE
	cmd.PersistentPreRunE = func(c *cobra.Command, args []string) error {
		if err := g.apply(c); err != nil {
			return err
		}
		if next != nil {
			return next(c, args)
		}
		return nil
	}
}

// helmPathFlags are the global flags that move Helm's paths, each with the
// environment variable helmpath reads for it.
var helmPathFlags = map[string]string{
	"repository-config": "HELM_REPOSITORY_CONFIG",
	"repository-cache":  "HELM_REPOSITORY_CACHE",
	"registry-config":   "HELM_REGISTRY_CONFIG",
	"content-cache":     "KUBECTL_CHART_CACHE",
}

// apply checks the flags and carries them out before the command runs.
func (g *helmGlobalFlags) apply(c *cobra.Command) error {
	switch g.color {
	case "never", "auto", "always":
	default:
		return fmt.Errorf("invalid color mode %q: must be one of never, auto, always", g.color)
	}
	flags := c.Flags()
	for name, env := range helmPathFlags {
		if f := flags.Lookup(name); f != nil && f.Changed {
			if err := os.Setenv(env, f.Value.String()); err != nil {
				return err
			}
		}
	}
	if f := flags.Lookup("v"); g.debug && f != nil && !f.Changed {
		return f.Value.Set("4") // klog's verbosity (addLogFlags)
	}
	return nil
}

// debugEnabled says whether --debug was given.
func debugEnabled(cmd *cobra.Command) bool {
	f := cmd.Flags().Lookup("debug")
	return f != nil && f.Value.String() == "true"
}

// debugLogger is the logger of --debug: Helm's "level=DEBUG msg=… key=value"
// lines (log/slog's text format without the time) on w; nil without
// --debug.
func debugLogger(cmd *cobra.Command, w io.Writer) *slog.Logger {
	if !debugEnabled(cmd) {
		return nil
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{
		Level: slog.LevelDebug,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))
}

// refusedFlag marks a flag accepted only to refuse a value kubectl chart
// does not support, with the reason; docs/helm-parity.md counts it as not
// implemented.
const refusedFlag = "kubectl-chart.io/refused"

// refusingBool is a bool flag that refuses one value with a reason.
type refusingBool struct {
	value   bool
	refused bool
	reason  string
}

func (b *refusingBool) String() string { return strconv.FormatBool(b.value) }
func (b *refusingBool) Type() string   { return "bool" }
func (b *refusingBool) Set(s string) error {
	v, err := strconv.ParseBool(s)
	if err != nil {
		return err
	}
	if v == b.refused {
		return errors.New(b.reason)
	}
	b.value = v
	return nil
}

// addRefusingBool adds Helm's bool flag name, whose value refused kubectl
// chart does not support (reason says why). A flag whose every use is
// refused is annotated refusedFlag by the caller.
func addRefusingBool(cmd *cobra.Command, name string, def, refused bool, usage, reason string) *pflag.Flag {
	v := &refusingBool{value: def, refused: refused, reason: reason}
	f := cmd.Flags().VarPF(v, name, "", usage)
	f.NoOptDefVal = "true"
	return f
}

// serverSideMode is upgrade's and rollback's --server-side: "true", "false"
// or "auto" in Helm; "false" is refused.
type serverSideMode string

func (m *serverSideMode) String() string { return string(*m) }
func (m *serverSideMode) Type() string   { return "string" }
func (m *serverSideMode) Set(s string) error {
	switch s {
	case "true", "auto":
		*m = serverSideMode(s)
		return nil
	case "false":
		return errors.New(serverSideOnly)
	}
	return fmt.Errorf("invalid server-side value %q: must be \"true\", \"false\" or \"auto\"", s)
}

const serverSideOnly = "kubectl chart always applies server-side: --server-side=false is not supported"

// addServerSideFlags adds Helm 4's --server-side (always server-side here:
// install's bool, or upgrade's and rollback's true|false|auto when mode)
// and --force-replace (refused).
func addServerSideFlags(cmd *cobra.Command, mode bool) {
	const usage = "object updates run in the server instead of the client (always: kubectl chart applies with server-side apply only)"
	if mode {
		m := serverSideMode("auto")
		cmd.Flags().Var(&m, "server-side", usage+`; "true" or "auto"`)
	} else {
		// Its default, true, is what kubectl chart does: implemented.
		addRefusingBool(cmd, "server-side", true, false, usage, serverSideOnly)
	}
	const forceReplace = "--force-replace is not supported: kubectl chart applies with server-side apply; --force-conflicts takes the fields other managers own"
	f := addRefusingBool(cmd, "force-replace", false, true,
		"force resource updates by replacement: not supported (server-side apply; --force-conflicts takes fields other managers own)", forceReplace)
	f.Annotations = map[string][]string{refusedFlag: {forceReplace}}
}

// templateDryRun is template's --dry-run: Helm's values but "server",
// with which helm template renders against the cluster.
type templateDryRun string

func (d *templateDryRun) String() string { return string(*d) }
func (d *templateDryRun) Type() string   { return "string" }
func (d *templateDryRun) Set(s string) error {
	switch s {
	case "none", "unset", "client", "true", "false":
		*d = templateDryRun(s)
		return nil
	case "server":
		return errors.New(`kubectl chart template renders without a cluster (lookup returns nothing): use "kubectl chart install --dry-run=server" or "kubectl chart diff" to render against one`)
	}
	return fmt.Errorf(`invalid dry-run value (%q). Must be "none", "server", or "client"`, s)
}

// addTemplateNoOpFlags adds the install flags that helm template accepts and
// that change nothing in its output, so that a helm template command line
// runs as it is. Hidden: they do nothing.
func addTemplateNoOpFlags(cmd *cobra.Command) {
	fs := cmd.Flags()
	const usage = "accepted as helm template accepts it: no effect on the rendered output"
	bools := []string{"create-namespace", "disable-openapi-validation", "force-conflicts", "replace",
		"rollback-on-failure", "server-side", "take-ownership", "wait-for-jobs", "force-replace"}
	for _, name := range bools {
		fs.Bool(name, false, usage)
	}
	fs.String("description", "", usage)
	dryRun := templateDryRun("none")
	fs.Var(&dryRun, "dry-run", usage+` ("server" is refused: template never talks to the cluster)`)
	fs.Lookup("dry-run").NoOptDefVal = "unset"
	fs.String("wait", "hookOnly", usage)
	fs.Lookup("wait").NoOptDefVal = "watcher"
	fs.StringToStringP("labels", "l", nil, usage)
	for _, name := range append(bools, "description", "dry-run", "wait", "labels") {
		_ = fs.MarkHidden(name)
	}
}
