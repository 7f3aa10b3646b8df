package helmpath

import (
	"runtime"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestPaths(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the defaults below are Linux's")
	}
	type got struct{ Config, Cache, Data, Repos, RepoCache, Registry, Plugins, Content string }
	read := func(p Paths) got {
		return got{p.ConfigHome(), p.CacheHome(), p.DataHome(), p.RepositoryConfig(), p.RepositoryCache(),
			p.RegistryConfig(), p.Plugins(), p.ContentCache()}
	}
	tests := []struct {
		name string
		env  map[string]string
		want got
	}{{
		name: "defaults under HOME",
		env:  map[string]string{"HOME": "/h"},
		want: got{"/h/.config/helm", "/h/.cache/helm", "/h/.local/share/helm", "/h/.config/helm/repositories.yaml",
			"/h/.cache/helm/repository", "/h/.config/helm/registry/config.json", "/h/.local/share/helm/plugins",
			"/h/.cache/helm/kubectl-chart"},
	}, {
		name: "XDG folders",
		env:  map[string]string{"HOME": "/h", "XDG_CONFIG_HOME": "/x/c", "XDG_CACHE_HOME": "/x/k", "XDG_DATA_HOME": "/x/d"},
		want: got{"/x/c/helm", "/x/k/helm", "/x/d/helm", "/x/c/helm/repositories.yaml", "/x/k/helm/repository",
			"/x/c/helm/registry/config.json", "/x/d/helm/plugins", "/x/k/helm/kubectl-chart"},
	}, {
		name: "HELM_* win over XDG, files move alone",
		env: map[string]string{"HOME": "/h", "XDG_CONFIG_HOME": "/x/c", "HELM_CONFIG_HOME": "/hc", "HELM_CACHE_HOME": "/hk",
			"HELM_DATA_HOME": "/hd", "HELM_REPOSITORY_CONFIG": "/r.yaml", "HELM_REPOSITORY_CACHE": "/rc",
			"HELM_REGISTRY_CONFIG": "/reg.json", "HELM_PLUGINS": "/p", "KUBECTL_CHART_CACHE": "/kc"},
		want: got{"/hc", "/hk", "/hd", "/r.yaml", "/rc", "/reg.json", "/p", "/kc"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := FromEnv(func(k string) string { return tt.env[k] })
			if diff := cmp.Diff(tt.want, read(p)); diff != "" {
				t.Errorf("paths (-want +got):\n%s", diff)
			}
		})
	}
}
