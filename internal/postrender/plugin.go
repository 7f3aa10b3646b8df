package postrender

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"

	"github.com/Masterminds/semver/v3"
	"go.yaml.in/yaml/v3"
)

// Helm 4's plugin file, plugin type and runtimes.
const (
	pluginFileName     = "plugin.yaml"
	postRendererType   = "postrenderer/v1"
	runtimeSubprocess  = "subprocess"
	runtimeExtism      = "extism/v1"
	pluginAPIVersionV1 = "v1"
)

// validPluginName is Helm's rule for plugin names; a name outside it (a
// path) cannot be a plugin.
var validPluginName = regexp.MustCompile("^[A-Za-z0-9_-]+$")

// pluginTypes are the plugin types Helm 4 knows; a plugin of another type
// fails to load.
var pluginTypes = map[string]bool{"test/v1": true, "cli/v1": true, "getter/v1": true, postRendererType: true}

// plugin is a loaded plugin: what Helm 4 keeps of its plugin.yaml.
type plugin struct {
	Name    string
	Type    string
	Runtime string
	// Dir is the plugin's folder (HELM_PLUGIN_DIR), as found under the
	// plugin path.
	Dir string
	// PlatformCommand is runtimeConfig.platformCommand of a subprocess
	// plugin.
	PlatformCommand []platformCommand
}

// platformCommand is one command of a subprocess plugin, for an OS and
// architecture or for any.
type platformCommand struct {
	OperatingSystem string   `yaml:"os"`
	Architecture    string   `yaml:"arch"`
	Command         string   `yaml:"command"`
	Args            []string `yaml:"args"`
}

// metadataV1 is plugin.yaml with apiVersion v1 (Helm's MetadataV1), read
// with unknown fields refused.
type metadataV1 struct {
	APIVersion    string         `yaml:"apiVersion"`
	Name          string         `yaml:"name"`
	Type          string         `yaml:"type"`
	Runtime       string         `yaml:"runtime"`
	Version       string         `yaml:"version"`
	SourceURL     string         `yaml:"sourceURL,omitempty"`
	Config        map[string]any `yaml:"config"`
	RuntimeConfig map[string]any `yaml:"runtimeConfig"`
}

// metadataLegacy is the part of a Helm 3 plugin.yaml (no apiVersion) that
// decides whether Helm 4 loads it. Helm 4 loads such a plugin as a cli/v1
// or getter/v1 plugin, never a post-renderer, but it still claims its name.
type metadataLegacy struct {
	Name            string            `yaml:"name"`
	Version         string            `yaml:"version"`
	Command         string            `yaml:"command"`
	PlatformCommand []platformCommand `yaml:"platformCommand"`
	Hooks           map[string]any    `yaml:"hooks"`
	PlatformHooks   map[string]any    `yaml:"platformHooks"`
}

// findPlugin finds the post-renderer plugin called name in the plugin
// folders, the first in folder order, as Helm 4's plugin.FindPlugin does:
// nil when there is none. A plugin.yaml that fails to load is skipped,
// with a warning; two plugins of one folder with the same name are an
// error.
func findPlugin(dirs []string, name string) (*plugin, []string, error) {
	var warnings []string
	for _, dir := range dirs {
		plugins, warns, err := loadAll(dir)
		warnings = append(warnings, warns...)
		if err != nil {
			return nil, warnings, err
		}
		for _, p := range plugins {
			if p.Name == name && p.Type == postRendererType {
				return p, warnings, nil
			}
		}
	}
	return nil, warnings, nil
}

// loadAll loads every <dir>/*/plugin.yaml, as Helm 4's LoadAllDir does.
func loadAll(dir string) ([]*plugin, []string, error) {
	pattern := filepath.Join(dir, "*", pluginFileName)
	matches, err := filepath.Glob(pattern)
	if err != nil {
		return nil, nil, fmt.Errorf("failed to search for plugins in %q: %w", pattern, err)
	}
	var plugins []*plugin
	var warnings []string
	for _, file := range matches {
		p, err := loadPlugin(filepath.Dir(file))
		if err != nil {
			warnings = append(warnings, fmt.Sprintf("failed to load plugin %s (ignoring): %v", file, err))
			continue
		}
		plugins = append(plugins, p)
	}
	seen := map[string]string{}
	for _, p := range plugins {
		if other, ok := seen[p.Name]; ok {
			return nil, warnings, fmt.Errorf("two plugins claim the name %q at %q and %q", p.Name, other, p.Dir)
		}
		seen[p.Name] = p.Dir
	}
	return plugins, warnings, nil
}

// loadPlugin reads one plugin folder with Helm 4's checks and its words.
func loadPlugin(dir string) (*plugin, error) {
	file := filepath.Join(dir, pluginFileName)
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("failed to read plugin at %q: %w", file, err)
	}
	p, err := parseMetadata(data)
	if err != nil {
		return nil, fmt.Errorf("failed to load plugin %q: %w", dir, err)
	}
	p.Dir = dir
	return p, nil
}

func parseMetadata(data []byte) (*plugin, error) {
	var peek struct {
		APIVersion string `yaml:"apiVersion"`
	}
	if err := yaml.NewDecoder(bytes.NewReader(data)).Decode(&peek); err != nil {
		return nil, fmt.Errorf("failed to peek %s API version: %w", pluginFileName, err)
	}
	switch peek.APIVersion {
	case "":
		return parseLegacy(data)
	case pluginAPIVersionV1:
		return parseV1(data)
	}
	return nil, fmt.Errorf("invalid plugin apiVersion: %q", peek.APIVersion)
}

func parseLegacy(data []byte) (*plugin, error) {
	var m metadataLegacy
	if err := yaml.NewDecoder(bytes.NewReader(data)).Decode(&m); err != nil {
		return nil, err
	}
	switch {
	case !validPluginName.MatchString(m.Name):
		return nil, fmt.Errorf("invalid plugin name %q: must contain only a-z, A-Z, 0-9, _ and -", m.Name)
	case m.Version != "" && !isStrictSemver(m.Version):
		return nil, fmt.Errorf("invalid plugin version %q: must be valid semver", m.Version)
	case len(m.PlatformCommand) > 0 && m.Command != "":
		return nil, errors.New("both platformCommand and command are set")
	case len(m.PlatformHooks) > 0 && len(m.Hooks) > 0:
		return nil, errors.New("both platformHooks and hooks are set")
	}
	return &plugin{Name: m.Name, Type: "cli/v1", Runtime: runtimeSubprocess}, nil
}

func parseV1(data []byte) (*plugin, error) {
	var m metadataV1
	d := yaml.NewDecoder(bytes.NewReader(data))
	d.KnownFields(true)
	if err := d.Decode(&m); err != nil {
		return nil, err
	}
	switch {
	case !validPluginName.MatchString(m.Name):
		return nil, errors.New("invalid plugin `name`")
	case m.Version == "":
		return nil, errors.New("plugin `version` is required")
	case !isStrictSemver(m.Version):
		return nil, fmt.Errorf("invalid plugin `version` %q: must be valid semver", m.Version)
	case m.Type == "":
		return nil, errors.New("`type` missing")
	case m.Runtime == "":
		return nil, errors.New("`runtime` missing")
	}
	if !pluginTypes[m.Type] {
		return nil, fmt.Errorf("failed to convert MetadataV1 to Metadata: unknown plugin type %q", m.Type)
	}
	// A post-renderer's config has no fields (Helm's ConfigPostRendererV1);
	// the other types' configs are not ours to check.
	if m.Type == postRendererType {
		if err := decodeStrict(m.Config, &struct{}{}); err != nil {
			return nil, fmt.Errorf("failed to convert MetadataV1 to Metadata: %w", err)
		}
	}
	p := &plugin{Name: m.Name, Type: m.Type, Runtime: m.Runtime}
	switch m.Runtime {
	case runtimeSubprocess:
		var rc struct {
			PlatformCommand []platformCommand `yaml:"platformCommand"`
		}
		if err := remarshal(m.RuntimeConfig, &rc); err != nil {
			return nil, fmt.Errorf("failed to convert MetadataV1 to Metadata: failed to unmarshal runtimeConfig for %s runtime: %w", m.Runtime, err)
		}
		p.PlatformCommand = rc.PlatformCommand
	case runtimeExtism:
	default:
		return nil, fmt.Errorf("failed to convert MetadataV1 to Metadata: unsupported plugin runtime type: %q", m.Runtime)
	}
	return p, nil
}

func isStrictSemver(v string) bool {
	_, err := semver.StrictNewVersion(v)
	return err == nil
}

// remarshal decodes a map into v through YAML, as Helm reads a runtime
// config.
func remarshal(in map[string]any, v any) error {
	data, err := yaml.Marshal(in)
	if err != nil {
		return err
	}
	return yaml.Unmarshal(data, v)
}

// decodeStrict decodes a map into v through YAML, unknown fields refused,
// as Helm reads a plugin type's config.
func decodeStrict(in map[string]any, v any) error {
	data, err := yaml.Marshal(in)
	if err != nil {
		return err
	}
	d := yaml.NewDecoder(bytes.NewReader(data))
	d.KnownFields(true)
	return d.Decode(v)
}

// command picks the plugin's command for this platform and builds its
// argument list as Helm 4's PrepareCommands does: the command split on
// spaces, it and its arguments expanded from env, then extra (not
// expanded).
func (p *plugin) command(extra []string, env map[string]string) (string, []string, error) {
	parts, args := platformCommandFor(p.PlatformCommand, runtime.GOOS, runtime.GOARCH)
	if len(parts) == 0 || parts[0] == "" {
		return "", nil, errors.New("no plugin command is applicable")
	}
	expand := func(s string) string { return os.Expand(s, func(k string) string { return env[k] }) }
	main := expand(parts[0])
	argv := []string{}
	for _, a := range parts[1:] {
		argv = append(argv, expand(a))
	}
	for _, a := range args {
		argv = append(argv, expand(a))
	}
	return main, append(argv, extra...), nil
}

// platformCommandFor is Helm 4's getPlatformCommand: an exact OS and
// architecture match wins; otherwise the first command for the OS (any
// architecture), otherwise the first command for any OS.
func platformCommandFor(cmds []platformCommand, goos, goarch string) ([]string, []string) {
	var command, args []string
	found, foundOS := false, false
	eq := strings.EqualFold
	for _, c := range cmds {
		if eq(c.OperatingSystem, goos) && eq(c.Architecture, goarch) {
			return strings.Split(c.Command, " "), c.Args
		}
		if (c.OperatingSystem != "" && !eq(c.OperatingSystem, goos)) || c.Architecture != "" {
			continue
		}
		if !foundOS && c.OperatingSystem != "" && eq(c.OperatingSystem, goos) {
			command, args = strings.Split(c.Command, " "), c.Args
			found, foundOS = true, true
		} else if !found {
			command, args = strings.Split(c.Command, " "), c.Args
			found = true
		}
	}
	return command, args
}
