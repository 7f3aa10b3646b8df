package dependency

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"

	"github.com/kubectl-chart/kubectl-chart/pkg/chart"
	"github.com/kubectl-chart/kubectl-chart/pkg/chart/loader"
	"github.com/kubectl-chart/kubectl-chart/pkg/registry"
)

// resolve locks each dependency to the newest version that satisfies its
// constraint, as Helm's resolver does: the cached index of its repository,
// the tags of an OCI repository (or the version itself when it is one), the
// version of a file:// folder; a dependency without repository keeps its
// constraint.
func (m *Manager) resolve(ctx context.Context, chartPath string, reqs []*chart.Dependency, repoNames map[string]string) (*chart.Lock, error) {
	locked := make([]*chart.Dependency, len(reqs))
	var missing []string
	r := m.resolver()
	for i, d := range reqs {
		constraint, err := semver.NewConstraint(d.Version)
		if err != nil {
			return nil, fmt.Errorf("dependency %q has an invalid version/constraint format: %w", d.Name, err)
		}
		notFound := func() {
			missing = append(missing, fmt.Sprintf("%q (repository %q, version %q)", d.Name, d.Repository, d.Version))
		}
		if d.Repository == "" {
			if _, err := localPath(filepath.Join("charts", d.Name), chartPath); err != nil {
				return nil, err
			}
			locked[i] = &chart.Dependency{Name: d.Name, Version: d.Version}
			continue
		}
		if strings.HasPrefix(d.Repository, "file://") {
			dir, err := localPath(d.Repository, chartPath)
			if err != nil {
				return nil, err
			}
			ch, err := loader.LoadDir(dir)
			if err != nil {
				return nil, err
			}
			v, err := semver.NewVersion(ch.Metadata.Version)
			if err != nil {
				// Helm leaves the entry out of the lock (nil).
				continue
			}
			if !constraint.Check(v) {
				notFound()
				continue
			}
			locked[i] = &chart.Dependency{Name: d.Name, Repository: d.Repository, Version: ch.Metadata.Version}
			continue
		}
		repoName := repoNames[d.Name]
		if repoName == "" {
			locked[i] = &chart.Dependency{Name: d.Name, Repository: d.Repository, Version: d.Version}
			continue
		}
		locked[i] = &chart.Dependency{Name: d.Name, Repository: d.Repository}
		var candidates []string
		// Helm never reports an OCI dependency as unsatisfied: with no
		// matching tag it locks an empty version.
		found := registry.IsOCI(d.Repository)
		if found {
			if _, err := semver.NewVersion(d.Version); err == nil {
				candidates = []string{d.Version}
			} else {
				ref := strings.TrimSuffix(d.Repository, "/") + "/" + d.Name
				tags, err := registry.Tags(ctx, ref, m.Registry)
				if err != nil {
					return nil, fmt.Errorf("could not retrieve list of tags for repository %s: %w", d.Repository, err)
				}
				candidates = tags
			}
		} else {
			x, err := r.Indexes().Load(r.IndexPath(repoName))
			if err != nil {
				return nil, fmt.Errorf("no cached repository for %s found. (try 'kubectl chart repo update'): %w", repoName, err)
			}
			c := x.Chart(d.Name)
			if c == nil {
				return nil, fmt.Errorf("%s chart not found in repo %s", d.Name, d.Repository)
			}
			for _, v := range c.Versions {
				if len(v.URLs) > 0 {
					candidates = append(candidates, v.Version)
				}
			}
		}
		// Newest first: the first version that satisfies the constraint.
		for _, s := range candidates {
			v, err := semver.NewVersion(s)
			if err != nil {
				continue
			}
			if constraint.Check(v) {
				found = true
				locked[i].Version = v.Original()
				break
			}
		}
		if !found {
			notFound()
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("can't get a valid version for %d subchart(s): %s. Make sure a matching chart version exists in the repo, or change the version constraint in Chart.yaml", len(missing), strings.Join(missing, ", "))
	}
	digest, err := HashReq(reqs, locked)
	if err != nil {
		return nil, err
	}
	now := time.Now
	if m.Now != nil {
		now = m.Now
	}
	return &chart.Lock{Generated: now(), Digest: digest, Dependencies: locked}, nil
}
