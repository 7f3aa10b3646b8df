package packager

import (
	"archive/tar"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/kubectl-chart/kubectl-chart/pkg/chart"
	"github.com/kubectl-chart/kubectl-chart/pkg/chart/loader"
)

// headerBytes is the gzip extra field Helm writes into every chart archive
// (an RFC 1952 subfield); kept so that archives are byte-compatible.
var headerBytes = []byte("rr\x28\x00aHR0cHM6Ly95b3V0dS5iZS96OVV6MWljandyTQo=")

// PackageDir packages the chart directory dir (its .helmignore honoured) into
// outDir, as `helm package dir -d outDir` does, and returns the archive's
// path. Every dependency of Chart.yaml must be present under charts/.
func PackageDir(dir, outDir string) (string, error) {
	ch, err := loader.LoadDir(dir)
	if err != nil {
		return "", err
	}
	if err := checkDependencies(ch); err != nil {
		return "", err
	}
	name, err := Save(ch, outDir)
	if err != nil {
		return "", fmt.Errorf("failed to save: %w", err)
	}
	return name, nil
}

// checkDependencies is Helm's CheckDependencies: the dependencies named in
// Chart.yaml (or requirements.yaml) must be among the loaded subcharts.
func checkDependencies(ch *chart.Chart) error {
	var missing []string
outer:
	for _, r := range ch.Metadata.Dependencies {
		for _, d := range ch.Dependencies() {
			if d.Name() == r.Name {
				continue outer
			}
		}
		missing = append(missing, r.Name)
	}
	if len(missing) > 0 {
		return fmt.Errorf("found in Chart.yaml, but missing in charts/ directory: %s", strings.Join(missing, ", "))
	}
	return nil
}

// Save writes ch as <name>-<version>.tgz into outDir, creating outDir when
// missing, and returns the archive's path. A failed write leaves no file.
func Save(ch *chart.Chart, outDir string) (string, error) {
	if err := ch.Validate(); err != nil {
		return "", fmt.Errorf("chart validation: %w", err)
	}

	filename := filepath.Join(outDir, fmt.Sprintf("%s-%s.tgz", ch.Name(), ch.Metadata.Version))
	dir := filepath.Dir(filename)
	if stat, err := os.Stat(dir); err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("stat %s: %w", dir, err)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return "", err
		}
	} else if !stat.IsDir() {
		return "", fmt.Errorf("is not a directory: %s", dir)
	}

	f, err := os.Create(filename)
	if err != nil {
		return "", err
	}
	zipper := gzip.NewWriter(f)
	zipper.Extra = headerBytes
	zipper.Comment = "Helm"
	tw := tar.NewWriter(zipper)

	err = writeTarContents(tw, ch, "")
	err = errors.Join(err, tw.Close(), zipper.Close(), f.Close())
	if err != nil {
		os.Remove(filename) //nolint:errcheck // The write error is what matters.
		return "", err
	}
	return filename, nil
}

func writeTarContents(out *tar.Writer, c *chart.Chart, prefix string) error {
	if err := validateName(c.Name()); err != nil {
		return err
	}
	base := path.Join(prefix, c.Name())

	// Chart.yaml from the metadata; a v1 chart keeps its dependencies in
	// requirements.yaml, which is one of its files.
	md := *c.Metadata
	if md.APIVersion == chart.APIVersionV1 {
		md.Dependencies = nil
	}
	cdata, err := yaml.Marshal(&md)
	if err != nil {
		return err
	}
	if err := writeToTar(out, path.Join(base, "Chart.yaml"), cdata, rawModTime(c, "Chart.yaml")); err != nil {
		return err
	}

	if md.APIVersion == chart.APIVersionV2 && c.Lock != nil {
		ldata, err := yaml.Marshal(c.Lock)
		if err != nil {
			return err
		}
		if err := writeToTar(out, path.Join(base, "Chart.lock"), ldata, c.Lock.Generated); err != nil {
			return err
		}
	}

	// values.yaml as written, comments and all.
	for _, f := range c.Raw {
		if f.Name == "values.yaml" {
			if err := writeToTar(out, path.Join(base, "values.yaml"), f.Data, f.ModTime); err != nil {
				return err
			}
		}
	}

	if c.Schema != nil {
		if !json.Valid(c.Schema) {
			return errors.New("invalid JSON in values.schema.json")
		}
		if err := writeToTar(out, path.Join(base, "values.schema.json"), c.Schema, rawModTime(c, "values.schema.json")); err != nil {
			return err
		}
	}

	for _, files := range [][]*chart.File{c.Templates, c.Files} {
		for _, f := range files {
			if err := writeToTar(out, path.Join(base, f.Name), f.Data, f.ModTime); err != nil {
				return err
			}
		}
	}

	for _, dep := range c.Dependencies() {
		if err := writeTarContents(out, dep, path.Join(base, "charts")); err != nil {
			return err
		}
	}
	return nil
}

// rawModTime is the modification time of the chart's file name, which Helm
// keeps apart for Chart.yaml and values.schema.json.
func rawModTime(c *chart.Chart, name string) time.Time {
	for _, f := range c.Raw {
		if f.Name == name {
			return f.ModTime
		}
	}
	return time.Time{}
}

func writeToTar(out *tar.Writer, name string, body []byte, modTime time.Time) error {
	if modTime.IsZero() {
		modTime = time.Now()
	}
	h := &tar.Header{
		Name:    name,
		Mode:    0o644,
		Size:    int64(len(body)),
		ModTime: modTime,
	}
	if err := out.WriteHeader(h); err != nil {
		return err
	}
	_, err := out.Write(body)
	return err
}

// validateName refuses names that would change where files go.
func validateName(name string) error {
	if filepath.Base(name) != name {
		return fmt.Errorf("%q is not a valid chart name", name)
	}
	return nil
}

// StampModTimes sets the time of every file of ch and its subcharts, and the
// lock's generated time, to t (UTC, whole seconds), as Helm's StampModTimes:
// with SOURCE_DATE_EPOCH, archives are reproducible.
func StampModTimes(ch *chart.Chart, t time.Time) {
	t = t.UTC().Truncate(time.Second)
	if ch.Lock != nil {
		ch.Lock.Generated = t
	}
	for _, files := range [][]*chart.File{ch.Raw, ch.Templates, ch.Files} {
		for _, f := range files {
			if f != nil {
				f.ModTime = t
			}
		}
	}
	for _, d := range ch.Dependencies() {
		StampModTimes(d, t)
	}
}
