package scaffold

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/kubectl-chart/kubectl-chart/pkg/chart"
	"github.com/kubectl-chart/kubectl-chart/pkg/chart/loader"
	"github.com/kubectl-chart/kubectl-chart/pkg/chart/packager"
)

// Placeholder is the text of a starter's templates and values.yaml (and of
// the default chart's templates) that is replaced by the new chart's name.
const Placeholder = "<CHARTNAME>"

// MaxNameLength is the longest chart name Create accepts, Helm's
// maxChartNameLength: below the limits of file systems and of Kubernetes
// fields.
const MaxNameLength = 250

// nameFormat is what Create accepts as a chart name, Helm's chartName
// expression: stricter than it needs to be, it keeps out newlines, $,
// quotes, +, parentheses and %, known to cause trouble.
var nameFormat = regexp.MustCompile("^[a-zA-Z0-9._-]+$")

// Result is what Create did.
type Result struct {
	// Dir is the new chart's folder, an absolute path.
	Dir string
	// Overwritten are the files that existed and were replaced, in the
	// order they were written (`helm create` warns about each).
	Overwritten []string
}

// scaffoldFile is one file of the default chart, named relative to it.
type scaffoldFile struct {
	name    string
	content []byte
}

// defaultFiles are the files of Helm's default chart named name, in the
// order Helm writes them.
func defaultFiles(name string) []scaffoldFile {
	return []scaffoldFile{
		{"Chart.yaml", fmt.Appendf(nil, defaultChartfile, name)},
		{"values.yaml", fmt.Appendf(nil, defaultValues, name)},
		{".helmignore", []byte(defaultIgnore)},
		{filepath.Join("templates", "ingress.yaml"), transform(defaultIngress, name)},
		{filepath.Join("templates", "httproute.yaml"), transform(defaultHTTPRoute, name)},
		{filepath.Join("templates", "deployment.yaml"), transform(defaultDeployment, name)},
		{filepath.Join("templates", "service.yaml"), transform(defaultService, name)},
		{filepath.Join("templates", "serviceaccount.yaml"), transform(defaultServiceAccount, name)},
		{filepath.Join("templates", "hpa.yaml"), transform(defaultHorizontalPodAutoscaler, name)},
		{filepath.Join("templates", "NOTES.txt"), transform(defaultNotes, name)},
		{filepath.Join("templates", "_helpers.tpl"), transform(defaultHelpers, name)},
		{filepath.Join("templates", "tests", "test-connection.yaml"), transform(defaultTestConnection, name)},
	}
}

// Create writes Helm's default chart named name into the folder dir/name,
// as `helm create` does: dir must exist; the chart's folder may exist, and
// files of the chart already in it are overwritten (listed in the result),
// other files are left alone. The result, as far as it got, is returned
// with an error too.
func Create(ctx context.Context, name, dir string) (*Result, error) {
	if err := ValidateName(name); err != nil {
		return nil, err
	}
	path, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if fi, err := os.Stat(path); err != nil {
		return nil, err
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("no such directory %s", path)
	}
	cdir := filepath.Join(path, name)
	if fi, err := os.Stat(cdir); err == nil && !fi.IsDir() {
		return nil, fmt.Errorf("file %s already exists and is not a directory", cdir)
	}

	res := &Result{Dir: cdir}
	for _, f := range defaultFiles(name) {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		p := filepath.Join(cdir, f.name)
		if _, err := os.Stat(p); err == nil {
			res.Overwritten = append(res.Overwritten, p)
		}
		if err := writeFile(p, f.content); err != nil {
			return res, err
		}
	}
	// charts/ holds no file of the default chart: made on its own.
	if err := os.MkdirAll(filepath.Join(cdir, "charts"), 0o755); err != nil {
		return res, err
	}
	return res, nil
}

// ValidateName checks a new chart's name as `helm create` does.
func ValidateName(name string) error {
	if name == "" || len(name) > MaxNameLength {
		return fmt.Errorf("chart name must be between 1 and %d characters", MaxNameLength)
	}
	if !nameFormat.MatchString(name) {
		return fmt.Errorf("chart name must match the regular expression %q", nameFormat.String())
	}
	return nil
}

// StarterPath is where `helm create --starter` looks for starter: an
// absolute path as it is, anything else under startersDir (Helm's
// $HELM_DATA_HOME/starters).
func StarterPath(startersDir, starter string) string {
	if filepath.IsAbs(starter) {
		return starter
	}
	return filepath.Join(startersDir, starter)
}

// starterMetadata is the Chart.yaml `helm create --starter` gives the new
// chart, whatever the starter's says.
func starterMetadata(name string) *chart.Metadata {
	return &chart.Metadata{
		Name:        name,
		Description: "A Helm chart for Kubernetes",
		Type:        chart.TypeApplication,
		Version:     "0.1.0",
		AppVersion:  "0.1.0",
		APIVersion:  chart.APIVersionV2,
	}
}

// CreateFrom writes a chart named name into dir/name from the starter
// chart at starter (a folder or an archive), as `helm create --starter`
// does: Chart.yaml is a new one; <CHARTNAME> is replaced by name in the
// templates and values.yaml; values.schema.json and the other files are
// copied; subcharts are written as archives under charts/. dir is made
// when missing; unlike Create, the name is not checked and files are
// overwritten without notice, as in Helm.
func CreateFrom(ctx context.Context, name, dir, starter string) error {
	src, err := loadStarter(starter)
	if err != nil {
		return fmt.Errorf("could not load %s: %w", starter, err)
	}
	src.Metadata = starterMetadata(name)

	templates := make([]*chart.File, 0, len(src.Templates))
	for _, t := range src.Templates {
		templates = append(templates, &chart.File{Name: t.Name, ModTime: t.ModTime, Data: transform(string(t.Data), name)})
	}
	src.Templates = templates

	// Helm checks that the values, the name put in, still parse; the file
	// written is values.yaml itself, comments and all.
	b, err := yaml.Marshal(src.Values)
	if err != nil {
		return fmt.Errorf("reading values file: %w", err)
	}
	var m map[string]any
	if err := yaml.Unmarshal(transform(string(b), name), &m); err != nil {
		return fmt.Errorf("transforming values file: %w", err)
	}
	src.Values = m
	for _, f := range src.Raw {
		if f.Name == "values.yaml" {
			f.Data = transform(string(f.Data), name)
		}
	}
	return saveDir(ctx, src, dir)
}

// loadStarter loads a starter as Helm's chart v2 loader.Load does: a
// folder, or else an archive. (loader.Load reads Chart.yaml's apiVersion
// first, which changes the message for a folder that is no chart.)
func loadStarter(path string) (*chart.Chart, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if fi.IsDir() {
		return loader.LoadDir(path)
	}
	return loader.LoadFile(path)
}

// saveDir writes c into dest/<name> as Helm's SaveDir does: Chart.yaml from
// the metadata, values.yaml as in the chart, values.schema.json, templates
// and files, and each subchart as an archive under charts/.
func saveDir(ctx context.Context, c *chart.Chart, dest string) error {
	name := c.Name()
	if filepath.Base(name) != name {
		return fmt.Errorf("%q is not a valid chart name", name)
	}
	outdir := filepath.Join(dest, name)
	if fi, err := os.Stat(outdir); err == nil && !fi.IsDir() {
		return fmt.Errorf("file %s already exists and is not a directory", outdir)
	}
	if err := os.MkdirAll(outdir, 0o755); err != nil {
		return err
	}

	cdata, err := yaml.Marshal(c.Metadata)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(outdir, "Chart.yaml"), cdata, 0o644); err != nil {
		return err
	}
	for _, f := range c.Raw {
		if f.Name == "values.yaml" {
			if err := writeFile(filepath.Join(outdir, "values.yaml"), f.Data); err != nil {
				return err
			}
		}
	}
	if c.Schema != nil {
		if err := writeFile(filepath.Join(outdir, "values.schema.json"), c.Schema); err != nil {
			return err
		}
	}
	for _, files := range [][]*chart.File{c.Templates, c.Files} {
		for _, f := range files {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := writeFile(filepath.Join(outdir, f.Name), f.Data); err != nil {
				return err
			}
		}
	}
	base := filepath.Join(outdir, "charts")
	for _, dep := range c.Dependencies() {
		if err := ctx.Err(); err != nil {
			return err
		}
		if _, err := packager.Save(dep, base); err != nil {
			return fmt.Errorf("saving %s: %w", dep.ChartFullPath(), err)
		}
	}
	return nil
}

// transform replaces the placeholder in src by name.
func transform(src, name string) []byte {
	return []byte(strings.ReplaceAll(src, Placeholder, name))
}

// writeFile writes a chart file as Helm does: its folders 0755, the file
// 0644 (before the umask).
func writeFile(name string, content []byte) error {
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		return err
	}
	return os.WriteFile(name, content, 0o644)
}
