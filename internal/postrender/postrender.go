package postrender

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/kubectl-chart/kubectl-chart/pkg/render"
)

// Options say which post-renderer to find.
type Options struct {
	// Name is --post-renderer: a Helm 4 plugin's name, or an executable (a
	// path, or a name looked up in PATH).
	Name string
	// Args are --post-renderer-args, given after the plugin's own
	// arguments.
	Args []string
	// PluginPath is Helm's plugin path: folders joined with the list
	// separator, as $HELM_PLUGINS holds them (helmpath.Paths.Plugins).
	PluginPath string
}

// Renderer runs a post-renderer: a Helm 4 plugin or a Helm 3 executable.
// It implements render.PostRenderer.
type Renderer struct {
	name string
	args []string
	// plugin is the Helm 4 plugin; nil for an executable.
	plugin *plugin
	// path is the executable's absolute path.
	path string
	// Warnings are the plugin.yaml files that failed to load, skipped as
	// Helm 4 skips them (with a warning).
	Warnings []string
}

var _ render.PostRenderer = (*Renderer)(nil)

// Find finds the post-renderer o.Name names: a Helm 4 post-renderer plugin
// of that name in the plugin path first, then an executable.
func Find(o Options) (*Renderer, error) {
	if o.Name == "" {
		return nil, errors.New("no post-renderer named")
	}
	r := &Renderer{name: o.Name, args: slices.Clone(o.Args)}
	var notPlugin error
	if validPluginName.MatchString(o.Name) {
		p, warnings, err := findPlugin(filepath.SplitList(o.PluginPath), o.Name)
		r.Warnings = warnings
		if err != nil {
			return r, err
		}
		if p != nil {
			if p.Runtime != runtimeSubprocess {
				return r, fmt.Errorf("post-renderer plugin %q (%s): runtime %s is not supported: kubectl chart runs %s plugins", p.Name, p.Dir, p.Runtime, runtimeSubprocess)
			}
			r.plugin = p
			return r, nil
		}
		notPlugin = fmt.Errorf("plugin: {Name:%s Type:%s} not found", o.Name, postRendererType)
		if o.PluginPath != "" {
			notPlugin = fmt.Errorf("%w in %s", notPlugin, o.PluginPath)
		}
	}
	found, err := exec.LookPath(o.Name)
	if err == nil {
		r.path, err = filepath.Abs(found)
	}
	if err != nil {
		err = fmt.Errorf("unable to find binary at %s: %w", o.Name, err)
		if notPlugin != nil {
			return r, fmt.Errorf("%w, and %w", notPlugin, err)
		}
		return r, err
	}
	return r, nil
}

// Scope is Helm 4's for a plugin (every template), Helm 3's for an
// executable (the manifest).
func (r *Renderer) Scope() render.PostRenderScope {
	if r.plugin != nil {
		return render.PostRenderTemplates
	}
	return render.PostRenderManifest
}

// PostRender runs the post-renderer with manifests on stdin and returns
// its stdout. A non-zero exit is an error with its stderr; so is nothing
// on stdout for a manifest that was not empty (Helm 4 refuses empty output
// from a plugin; Helm 3 would apply an empty manifest, which deletes every
// object of the release on upgrade).
func (r *Renderer) PostRender(ctx context.Context, manifests []byte) ([]byte, error) {
	if r.plugin != nil {
		return r.runPlugin(ctx, manifests)
	}
	return r.runExec(ctx, manifests)
}

// runPlugin runs a subprocess plugin as Helm 4's runPostrenderer does.
func (r *Renderer) runPlugin(ctx context.Context, manifests []byte) ([]byte, error) {
	p := r.plugin
	env := parseEnv(os.Environ())
	env["HELM_PLUGIN_NAME"] = p.Name
	env["HELM_PLUGIN_DIR"] = p.Dir
	main, argv, err := p.command(r.args, env)
	if err != nil {
		return nil, fmt.Errorf("failed to invoke post-renderer plugin %q: failed to prepare plugin command: %w", p.Name, err)
	}
	cmd := exec.CommandContext(ctx, main, argv...)
	cmd.Env = formatEnv(env)
	out, stderr, err := run(cmd, manifests)
	if err != nil {
		if exitErr, ok := errors.AsType[*exec.ExitError](err); ok {
			return nil, fmt.Errorf("failed to invoke post-renderer plugin %q: plugin %q exited with error (%v); error output:\n%s", p.Name, p.Name, exitErr, bytes.TrimRight(stderr, "\n"))
		}
		return nil, fmt.Errorf("failed to invoke post-renderer plugin %q: %w", p.Name, err)
	}
	if len(bytes.TrimSpace(out)) == 0 {
		return nil, fmt.Errorf("post-renderer %q produced empty output", p.Name)
	}
	return out, nil
}

// runExec runs an executable as Helm 3's postrender.execRender does, with
// the environment of kubectl chart.
func (r *Renderer) runExec(ctx context.Context, manifests []byte) ([]byte, error) {
	cmd := exec.CommandContext(ctx, r.path, r.args...)
	out, stderr, err := run(cmd, manifests)
	if err != nil {
		return nil, fmt.Errorf("error while running command %s. error output:\n%s: %w", r.path, stderr, err)
	}
	if len(bytes.TrimSpace(manifests)) > 0 && len(bytes.TrimSpace(out)) == 0 {
		return nil, fmt.Errorf("post-renderer %q produced empty output", r.name)
	}
	return out, nil
}

// run runs cmd with stdin and returns its stdout and stderr.
func run(cmd *exec.Cmd, stdin []byte) (stdout, stderr []byte, err error) {
	var out, errOut bytes.Buffer
	cmd.Stdin = bytes.NewReader(stdin)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	return out.Bytes(), errOut.Bytes(), err
}

// parseEnv reads KEY=value pairs, a later one winning, as Helm's ParseEnv.
func parseEnv(env []string) map[string]string {
	m := make(map[string]string, len(env))
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		if k != "" {
			m[k] = v
		}
	}
	return m
}

// formatEnv writes env back as KEY=value pairs, in key order.
func formatEnv(env map[string]string) []string {
	out := make([]string, 0, len(env))
	for _, k := range slices.Sorted(maps.Keys(env)) {
		out = append(out, k+"="+env[k])
	}
	return out
}
