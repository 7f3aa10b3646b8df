// Package postrender finds and runs the program that --post-renderer names,
// as Helm does, without importing Helm.
//
// A name is first looked up among Helm 4's post-renderer plugins: the
// folders of Helm's plugin path ($HELM_PLUGINS, or plugins/ in Helm's data
// folder; see internal/helmpath), each holding <plugin>/plugin.yaml with
// apiVersion v1, type postrenderer/v1 and the subprocess runtime. Such a
// plugin runs as Helm 4 runs it: its platform command (expanded with the
// environment, HELM_PLUGIN_NAME and HELM_PLUGIN_DIR), its own arguments,
// then --post-renderer-args; the manifests on stdin, the result on stdout.
// It is given every template, hooks included (render.PostRenderTemplates).
//
// Otherwise the name is an executable, a path or a name found in PATH, run
// as Helm 3 runs it, with --post-renderer-args as its arguments; it is given
// the release manifest only (render.PostRenderManifest).
//
// The Renderer implements render.PostRenderer; the render package decides
// which documents it is given and splits its output back.
package postrender
