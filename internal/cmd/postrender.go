package cmd

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/kubectl-chart/kubectl-chart/internal/helmpath"
	"github.com/kubectl-chart/kubectl-chart/internal/postrender"
	"github.com/kubectl-chart/kubectl-chart/pkg/render"
)

// postRenderFlags are --post-renderer and --post-renderer-args of template,
// install and upgrade.
type postRenderFlags struct {
	Name string
	Args []string
	// renderer is what Name found (complete); nil without --post-renderer.
	renderer render.PostRenderer
}

func (f *postRenderFlags) addFlags(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringVar(&f.Name, "post-renderer", "", "a post-renderer: the name of a Helm 4 postrenderer plugin (used if it exists), else the path to an executable or its name in $PATH (run as Helm 3 runs it)")
	fs.StringArrayVar(&f.Args, "post-renderer-args", nil, "an argument to the post-renderer (can specify multiple)")
}

// complete finds the post-renderer, printing the warnings of plugins that
// failed to load to errOut.
func (f *postRenderFlags) complete(errOut io.Writer) error {
	f.renderer = nil
	if f.Name == "" {
		return nil
	}
	r, err := postrender.Find(postrender.Options{Name: f.Name, Args: f.Args, PluginPath: helmpath.New().Plugins()})
	if r != nil {
		for _, w := range r.Warnings {
			fmt.Fprintf(errOut, "level=WARN msg=%q\n", w)
		}
	}
	if err != nil {
		return fmt.Errorf("invalid argument %q for \"--post-renderer\" flag: %w", f.Name, err)
	}
	f.renderer = r
	return nil
}
