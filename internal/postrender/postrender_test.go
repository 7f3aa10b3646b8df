package postrender

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kubectl-chart/kubectl-chart/pkg/render"
)

// writeFile writes content at dir/name, making the folders.
func writeFile(t *testing.T, dir, name, content string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	return p
}

// pluginYAML is a postrenderer/v1 subprocess plugin running command.
func pluginYAML(name, command string, args ...string) string {
	var b strings.Builder
	b.WriteString("apiVersion: v1\nname: " + name + "\ntype: postrenderer/v1\nruntime: subprocess\nversion: 0.1.0\n")
	b.WriteString("runtimeConfig:\n  platformCommand:\n    - command: " + command + "\n")
	if len(args) > 0 {
		b.WriteString("      args: [" + strings.Join(args, ", ") + "]\n")
	}
	return b.String()
}

func TestParseMetadata(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		want    *plugin
		wantErr string
	}{
		{
			name: "postrenderer",
			yaml: pluginYAML("kz", "$HELM_PLUGIN_DIR/run.sh", `"-a"`) + "config: {}\nsourceURL: https://example.com\n",
			want: &plugin{Name: "kz", Type: "postrenderer/v1", Runtime: "subprocess",
				PlatformCommand: []platformCommand{{Command: "$HELM_PLUGIN_DIR/run.sh", Args: []string{"-a"}}}},
		},
		{
			name: "runtime config keys Helm does not know are ignored",
			yaml: pluginYAML("kz", "run.sh") + "    - command: other\n      os: plan9\n  somethingElse: 1\n",
			want: &plugin{Name: "kz", Type: "postrenderer/v1", Runtime: "subprocess",
				PlatformCommand: []platformCommand{{Command: "run.sh"}, {Command: "other", OperatingSystem: "plan9"}}},
		},
		{
			name: "legacy plugin: a cli plugin for Helm 4",
			yaml: "name: diff\nversion: 3.9.0\ncommand: $HELM_PLUGIN_DIR/bin/diff\n",
			want: &plugin{Name: "diff", Type: "cli/v1", Runtime: "subprocess"},
		},
		{
			name: "extism runtime loads (and is refused when run)",
			yaml: "apiVersion: v1\nname: wasm\ntype: postrenderer/v1\nruntime: extism/v1\nversion: 1.0.0\nruntimeConfig: {}\n",
			want: &plugin{Name: "wasm", Type: "postrenderer/v1", Runtime: "extism/v1"},
		},
		{name: "unknown field", yaml: pluginYAML("kz", "run.sh") + "command: run.sh\n", wantErr: "field command not found"},
		{name: "config field", yaml: pluginYAML("kz", "run.sh") + "config:\n  usage: x\n", wantErr: "failed to convert MetadataV1 to Metadata: yaml: unmarshal errors"},
		{name: "bad name", yaml: pluginYAML("k z", "run.sh"), wantErr: "invalid plugin `name`"},
		{name: "no version", yaml: strings.Replace(pluginYAML("kz", "run.sh"), "version: 0.1.0\n", "", 1), wantErr: "plugin `version` is required"},
		{name: "bad version", yaml: strings.Replace(pluginYAML("kz", "run.sh"), "0.1.0", "v1", 1), wantErr: "invalid plugin `version` \"v1\": must be valid semver"},
		{name: "no type", yaml: strings.Replace(pluginYAML("kz", "run.sh"), "type: postrenderer/v1\n", "", 1), wantErr: "`type` missing"},
		{name: "unknown type", yaml: strings.Replace(pluginYAML("kz", "run.sh"), "postrenderer/v1", "renderer/v9", 1), wantErr: `unknown plugin type "renderer/v9"`},
		{name: "unknown runtime", yaml: strings.Replace(pluginYAML("kz", "run.sh"), "runtime: subprocess", "runtime: docker", 1), wantErr: `unsupported plugin runtime type: "docker"`},
		{name: "unknown apiVersion", yaml: strings.Replace(pluginYAML("kz", "run.sh"), "apiVersion: v1", "apiVersion: v2", 1), wantErr: `invalid plugin apiVersion: "v2"`},
		{name: "legacy with both commands", yaml: "name: x\ncommand: a\nplatformCommand:\n  - command: b\n", wantErr: "both platformCommand and command are set"},
		{name: "not YAML", yaml: "name: [", wantErr: "failed to peek plugin.yaml API version"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseMetadata([]byte(tc.yaml))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want it to contain %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestPlatformCommandFor(t *testing.T) {
	cmds := []platformCommand{
		{Command: "any"},
		{OperatingSystem: "linux", Command: "linux"},
		{OperatingSystem: "linux", Architecture: "arm64", Command: "linux-arm64 x", Args: []string{"a"}},
		{OperatingSystem: "darwin", Command: "darwin"},
		{Architecture: "amd64", Command: "arch-only"},
	}
	tests := []struct {
		goos, goarch string
		wantCmd      []string
		wantArgs     []string
	}{
		{goos: "linux", goarch: "arm64", wantCmd: []string{"linux-arm64", "x"}, wantArgs: []string{"a"}},
		{goos: "linux", goarch: "amd64", wantCmd: []string{"linux"}},
		{goos: "darwin", goarch: "arm64", wantCmd: []string{"darwin"}},
		{goos: "windows", goarch: "amd64", wantCmd: []string{"any"}},
	}
	for _, tc := range tests {
		t.Run(tc.goos+"/"+tc.goarch, func(t *testing.T) {
			cmd, args := platformCommandFor(cmds, tc.goos, tc.goarch)
			if diff := cmp.Diff(tc.wantCmd, cmd); diff != "" {
				t.Errorf("command (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantArgs, args); diff != "" {
				t.Errorf("args (-want +got):\n%s", diff)
			}
		})
	}
}

// TestFind runs Find over a plugin path and a PATH made for each case.
func TestFind(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("the post-renderers here are shell scripts")
	}
	dirs := t.TempDir()
	one := filepath.Join(dirs, "one")
	two := filepath.Join(dirs, "two")
	dup := filepath.Join(dirs, "dup")
	writeFile(t, one, "kz/plugin.yaml", pluginYAML("kz", "cat"), 0o644)
	writeFile(t, one, "broken/plugin.yaml", "apiVersion: v1\nname: broken\n", 0o644)
	writeFile(t, one, "cli/plugin.yaml", "name: shell\nversion: 1.0.0\ncommand: sh\n", 0o644)
	writeFile(t, one, "wasm/plugin.yaml", "apiVersion: v1\nname: wasm\ntype: postrenderer/v1\nruntime: extism/v1\nversion: 1.0.0\n", 0o644)
	writeFile(t, two, "kz/plugin.yaml", pluginYAML("kz", "false"), 0o644)
	writeFile(t, two, "other/plugin.yaml", pluginYAML("other", "cat"), 0o644)
	writeFile(t, dup, "a/plugin.yaml", pluginYAML("same", "cat"), 0o644)
	writeFile(t, dup, "b/plugin.yaml", pluginYAML("same", "cat"), 0o644)
	bin := t.TempDir()
	script := writeFile(t, bin, "shell", "#!/bin/sh\ncat\n", 0o755)
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	path := one + string(os.PathListSeparator) + two
	brokenWarning := "failed to load plugin " + filepath.Join(one, "broken", "plugin.yaml") + ` (ignoring): failed to load plugin "` + filepath.Join(one, "broken") + "\": plugin `version` is required"

	tests := []struct {
		name         string
		opts         Options
		wantPlugin   string // the plugin's folder
		wantPath     string // the executable
		wantScope    render.PostRenderScope
		wantWarnings []string
		wantErr      string
	}{
		{name: "plugin: the first folder's", opts: Options{Name: "kz", PluginPath: path}, wantPlugin: filepath.Join(one, "kz"), wantWarnings: []string{brokenWarning}},
		{name: "plugin of the second folder", opts: Options{Name: "other", PluginPath: path}, wantPlugin: filepath.Join(two, "other"), wantWarnings: []string{brokenWarning}},
		{name: "a cli plugin is not a post-renderer: the executable in PATH", opts: Options{Name: "shell", PluginPath: path}, wantPath: script, wantScope: render.PostRenderManifest, wantWarnings: []string{brokenWarning}},
		{name: "a path is never a plugin", opts: Options{Name: script, PluginPath: dup}, wantPath: script, wantScope: render.PostRenderManifest},
		{name: "no plugin path", opts: Options{Name: "shell"}, wantPath: script, wantScope: render.PostRenderManifest},
		{name: "neither", opts: Options{Name: "nope", PluginPath: two},
			wantErr: "plugin: {Name:nope Type:postrenderer/v1} not found in " + two + `, and unable to find binary at nope: exec: "nope": executable file not found in $PATH`},
		{name: "neither, no plugin path", opts: Options{Name: "nope"},
			wantErr: `plugin: {Name:nope Type:postrenderer/v1} not found, and unable to find binary at nope: exec: "nope": executable file not found in $PATH`},
		{name: "missing path", opts: Options{Name: "./nope.sh", PluginPath: two},
			wantErr: `unable to find binary at ./nope.sh: exec: "./nope.sh": stat ./nope.sh: no such file or directory`},
		{name: "two plugins claim a name", opts: Options{Name: "kz", PluginPath: dup},
			wantErr: `two plugins claim the name "same" at "` + filepath.Join(dup, "a") + `" and "` + filepath.Join(dup, "b") + `"`},
		{name: "WebAssembly plugin", opts: Options{Name: "wasm", PluginPath: one}, wantWarnings: []string{brokenWarning},
			wantErr: `post-renderer plugin "wasm" (` + filepath.Join(one, "wasm") + "): runtime extism/v1 is not supported: kubectl chart runs subprocess plugins"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Find(tc.opts)
			if r == nil {
				t.Fatalf("Find returned no renderer (error %v)", err)
			}
			if diff := cmp.Diff(tc.wantWarnings, r.Warnings); diff != "" {
				t.Errorf("warnings (-want +got):\n%s", diff)
			}
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("error = %v\nwant %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			gotPlugin := ""
			if r.plugin != nil {
				gotPlugin = r.plugin.Dir
			}
			if gotPlugin != tc.wantPlugin || r.path != tc.wantPath || r.Scope() != tc.wantScope {
				t.Errorf("found plugin %q, path %q, scope %v; want %q, %q, %v", gotPlugin, r.path, r.Scope(), tc.wantPlugin, tc.wantPath, tc.wantScope)
			}
		})
	}
}

// TestPostRender runs plugins and executables: what they are given (stdin,
// arguments, environment) and their errors.
func TestPostRender(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("the post-renderers here are shell scripts")
	}
	plugins := t.TempDir()
	// echo prints its arguments, HELM_PLUGIN_NAME, then stdin.
	echo := "#!/bin/sh\nprintf '%s|' \"$@\"\necho \"$HELM_PLUGIN_NAME\"\ncat\n"
	writeFile(t, plugins, "echo/run.sh", echo, 0o755)
	writeFile(t, plugins, "echo/plugin.yaml", pluginYAML("echo", "$HELM_PLUGIN_DIR/run.sh ${FIRST}", `"$SECOND"`, `"two words"`), 0o644)
	writeFile(t, plugins, "fail/plugin.yaml", pluginYAML("fail", "sh", `"-c"`, `"cat >/dev/null; echo boom >&2; exit 3"`), 0o644)
	writeFile(t, plugins, "empty/plugin.yaml", pluginYAML("empty", "sh", `"-c"`, `"cat >/dev/null; echo"`), 0o644)
	writeFile(t, plugins, "nocommand/plugin.yaml", "apiVersion: v1\nname: nocommand\ntype: postrenderer/v1\nruntime: subprocess\nversion: 0.1.0\n", 0o644)
	writeFile(t, plugins, "missing/plugin.yaml", pluginYAML("missing", "$HELM_PLUGIN_DIR/nothing.sh"), 0o644)
	bin := t.TempDir()
	echoExec := writeFile(t, bin, "echo.sh", echo, 0o755)
	failExec := writeFile(t, bin, "fail.sh", "#!/bin/sh\necho boom >&2\nexit 3\n", 0o755)
	emptyExec := writeFile(t, bin, "empty.sh", "#!/bin/sh\ncat >/dev/null\n", 0o755)
	t.Setenv("FIRST", "first")
	t.Setenv("SECOND", "second value")
	t.Setenv("HELM_PLUGIN_NAME", "from the environment")

	tests := []struct {
		name    string
		opts    Options
		stdin   string
		want    string
		wantErr string
	}{
		{
			name:  "plugin: command and arguments expanded, extra arguments after, as they are",
			opts:  Options{Name: "echo", Args: []string{"$FIRST", "x y"}},
			stdin: "kind: A\n",
			want:  "first|second value|two words|$FIRST|x y|echo\nkind: A\n",
		},
		{
			name:  "executable: the arguments only, and the environment as it is",
			opts:  Options{Name: echoExec, Args: []string{"$FIRST", "x y"}},
			stdin: "kind: A\n",
			want:  "$FIRST|x y|from the environment\nkind: A\n",
		},
		{
			name:    "plugin exits 3",
			opts:    Options{Name: "fail"},
			stdin:   "kind: A\n",
			wantErr: "failed to invoke post-renderer plugin \"fail\": plugin \"fail\" exited with error (exit status 3); error output:\nboom",
		},
		{name: "plugin prints nothing", opts: Options{Name: "empty"}, stdin: "kind: A\n", wantErr: `post-renderer "empty" produced empty output`},
		{name: "plugin prints nothing for nothing", opts: Options{Name: "empty"}, wantErr: `post-renderer "empty" produced empty output`},
		{name: "plugin without a command", opts: Options{Name: "nocommand"}, stdin: "kind: A\n", wantErr: `failed to invoke post-renderer plugin "nocommand": failed to prepare plugin command: no plugin command is applicable`},
		{name: "plugin command missing", opts: Options{Name: "missing"}, stdin: "kind: A\n", wantErr: `failed to invoke post-renderer plugin "missing": fork/exec ` + filepath.Join(plugins, "missing", "nothing.sh") + ": no such file or directory"},
		{
			name:    "executable exits 3",
			opts:    Options{Name: failExec},
			stdin:   "kind: A\n",
			wantErr: "error while running command " + failExec + ". error output:\nboom\n: exit status 3",
		},
		{name: "executable prints nothing", opts: Options{Name: emptyExec}, stdin: "kind: A\n", wantErr: `post-renderer "` + emptyExec + `" produced empty output`},
		{name: "executable prints nothing for nothing: Helm 3 takes it", opts: Options{Name: emptyExec}, want: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.PluginPath = plugins
			r, err := Find(tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			got, err := r.PostRender(t.Context(), []byte(tc.stdin))
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("error = %v\nwant %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, string(got)); diff != "" {
				t.Errorf("output (-want +got):\n%s", diff)
			}
		})
	}
}
