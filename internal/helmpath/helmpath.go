// Package helmpath finds Helm's configuration, cache and data folders exactly
// as Helm v3 and v4 do (helm.sh/helm/v4/pkg/helmpath and its lazypath), so
// that repositories added with `helm repo add`, indexes fetched by `helm repo
// update` and registry logins made by `helm registry login` are the ones
// kubectl chart uses, and the other way round.
//
// The order, for each of the three roots: HELM_CONFIG_HOME / HELM_CACHE_HOME /
// HELM_DATA_HOME; then $XDG_CONFIG_HOME/helm, $XDG_CACHE_HOME/helm,
// $XDG_DATA_HOME/helm; then the platform's default (on Linux ~/.config/helm,
// ~/.cache/helm, ~/.local/share/helm). The individual files can be moved with
// HELM_REPOSITORY_CONFIG, HELM_REPOSITORY_CACHE, HELM_REGISTRY_CONFIG and
// HELM_PLUGINS, as in Helm.
package helmpath

import (
	"os"
	"path/filepath"
	"runtime"
)

// Env is how the paths read the environment; os.Getenv in production, a map in
// tests.
type Env func(key string) string

// Paths resolves Helm's locations from one environment.
type Paths struct {
	env  Env
	home string
}

// New resolves paths from the process environment.
func New() Paths { return FromEnv(os.Getenv) }

// FromEnv resolves paths from env (HOME from env too, then os.UserHomeDir).
func FromEnv(env Env) Paths {
	home := env("HOME")
	if home == "" {
		home, _ = os.UserHomeDir()
	}
	return Paths{env: env, home: home}
}

func (p Paths) root(helmVar, xdgVar string, platform func() string) string {
	if v := p.env(helmVar); v != "" {
		return v
	}
	if v := p.env(xdgVar); v != "" {
		return filepath.Join(v, "helm")
	}
	return platform()
}

// ConfigHome is Helm's configuration folder.
func (p Paths) ConfigHome() string {
	return p.root("HELM_CONFIG_HOME", "XDG_CONFIG_HOME", func() string {
		switch runtime.GOOS {
		case "darwin":
			return filepath.Join(p.home, "Library", "Preferences", "helm")
		case "windows":
			return filepath.Join(p.env("APPDATA"), "helm")
		}
		return filepath.Join(p.home, ".config", "helm")
	})
}

// CacheHome is Helm's cache folder.
func (p Paths) CacheHome() string {
	return p.root("HELM_CACHE_HOME", "XDG_CACHE_HOME", func() string {
		switch runtime.GOOS {
		case "darwin":
			return filepath.Join(p.home, "Library", "Caches", "helm")
		case "windows":
			return filepath.Join(p.env("TEMP"), "helm")
		}
		return filepath.Join(p.home, ".cache", "helm")
	})
}

// DataHome is Helm's data folder (plugins, starters).
func (p Paths) DataHome() string {
	return p.root("HELM_DATA_HOME", "XDG_DATA_HOME", func() string {
		switch runtime.GOOS {
		case "darwin":
			return filepath.Join(p.home, "Library", "helm")
		case "windows":
			return filepath.Join(p.env("APPDATA"), "helm")
		}
		return filepath.Join(p.home, ".local", "share", "helm")
	})
}

func (p Paths) override(v, def string) string {
	if s := p.env(v); s != "" {
		return s
	}
	return def
}

// RepositoryConfig is repositories.yaml, the list of added chart repositories.
func (p Paths) RepositoryConfig() string {
	return p.override("HELM_REPOSITORY_CONFIG", filepath.Join(p.ConfigHome(), "repositories.yaml"))
}

// RepositoryCache is the folder of downloaded repository indexes
// (<name>-index.yaml, <name>-charts.txt) and, in Helm, pulled archives.
func (p Paths) RepositoryCache() string {
	return p.override("HELM_REPOSITORY_CACHE", filepath.Join(p.CacheHome(), "repository"))
}

// RegistryConfig is the docker-style config.json of `registry login`.
func (p Paths) RegistryConfig() string {
	return p.override("HELM_REGISTRY_CONFIG", filepath.Join(p.ConfigHome(), "registry", "config.json"))
}

// Plugins is the folder of Helm plugins.
func (p Paths) Plugins() string {
	return p.override("HELM_PLUGINS", filepath.Join(p.DataHome(), "plugins"))
}

// ContentCache is kubectl chart's own content-addressed cache: pulled chart
// archives by digest and indexes in a form that loads fast. It lives under
// Helm's cache folder, in a subfolder Helm never touches.
func (p Paths) ContentCache() string {
	return p.override("KUBECTL_CHART_CACHE", filepath.Join(p.CacheHome(), "kubectl-chart"))
}
