package main

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/Masterminds/semver/v3"
	"sigs.k8s.io/yaml"
)

// stageChart returns a chart folder that both tools can render. The corpus
// copy of some charts lacks the packaged subcharts of charts/ (the .tgz
// files were not shipped), so both Helm and we refuse them. Such a chart is
// copied to a temporary folder, its missing dependencies are filled from the
// corpus's own copy of that chart at a matching version, and those that
// cannot be found are removed from Chart.yaml. note says what was done; an
// unchanged chart is returned as it is.
func stageChart(corpus, dir string) (staged, note string, cleanup func(), err error) {
	cleanup = func() {}
	raw, err := os.ReadFile(filepath.Join(dir, "Chart.yaml"))
	if err != nil {
		return "", "", cleanup, err
	}
	var meta map[string]any
	if err := yaml.Unmarshal(raw, &meta); err != nil {
		return "", "", cleanup, fmt.Errorf("%s: %w", dir, err)
	}
	deps, _ := meta["dependencies"].([]any)
	var missing []map[string]any
	for _, d := range deps {
		dm, _ := d.(map[string]any)
		name, _ := dm["name"].(string)
		if name == "" || present(dir, name) {
			continue
		}
		missing = append(missing, dm)
	}
	if len(missing) == 0 {
		return dir, "", cleanup, nil
	}

	tmp, err := os.MkdirTemp("", "bench-chart-")
	if err != nil {
		return "", "", cleanup, err
	}
	cleanup = func() { os.RemoveAll(tmp) }
	staged = filepath.Join(tmp, filepath.Base(dir))
	if err := copyTree(dir, staged); err != nil {
		return "", "", cleanup, err
	}
	var filled, dropped []string
	var kept []any
	for _, d := range deps {
		dm, _ := d.(map[string]any)
		name, _ := dm["name"].(string)
		isMissing := false
		for _, m := range missing {
			if m["name"] == name {
				isMissing = true
			}
		}
		if !isMissing {
			kept = append(kept, d)
			continue
		}
		version, _ := dm["version"].(string)
		if src := findChart(corpus, name, version); src != "" {
			if err := copyTree(src, filepath.Join(staged, "charts", name)); err != nil {
				return "", "", cleanup, err
			}
			filled = append(filled, name)
			kept = append(kept, d)
			continue
		}
		dropped = append(dropped, name)
	}
	meta["dependencies"] = kept
	out, err := yaml.Marshal(meta)
	if err != nil {
		return "", "", cleanup, err
	}
	if err := os.WriteFile(filepath.Join(staged, "Chart.yaml"), out, 0o644); err != nil {
		return "", "", cleanup, err
	}
	note = fmt.Sprintf("the corpus lacks its subcharts: filled %s from the corpus, left out %s",
		strings.Join(filled, ", "), strings.Join(dropped, ", "))
	return staged, note, cleanup, nil
}

// present tells whether charts/ holds a subchart folder or archive for name.
func present(dir, name string) bool {
	if fi, err := os.Stat(filepath.Join(dir, "charts", name)); err == nil && fi.IsDir() {
		return true
	}
	m, _ := filepath.Glob(filepath.Join(dir, "charts", name+"-*.tgz"))
	return len(m) > 0
}

// findChart finds a corpus chart folder named name whose version satisfies
// the constraint.
func findChart(corpus, name, constraint string) string {
	matches, _ := filepath.Glob(filepath.Join(corpus, "*", name, "Chart.yaml"))
	for _, m := range matches {
		raw, err := os.ReadFile(m)
		if err != nil {
			continue
		}
		var meta struct {
			Version string `json:"version"`
		}
		if yaml.Unmarshal(raw, &meta) != nil {
			continue
		}
		c, err := semver.NewConstraint(constraint)
		if err != nil {
			continue
		}
		if v, err := semver.NewVersion(meta.Version); err == nil && c.Check(v) {
			return filepath.Dir(m)
		}
	}
	return ""
}

func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
}
