package lint

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"strings"

	"k8s.io/apimachinery/pkg/util/yaml"
)

const crdsDir = "crds/"

// crds checks the files of crds/ (the chart's and its subcharts'), which
// are applied as they are: YAML, not templates, and only
// CustomResourceDefinitions, as Helm's rules.Crds.
func (l *linter) crds() {
	isDir, err := l.src.stat("crds")
	if errors.Is(err, fs.ErrNotExist) {
		return // crds/ is optional.
	}
	if !l.check(SeverityError, crdsDir, err) {
		return
	}
	if !isDir {
		l.check(SeverityError, crdsDir, errors.New("not a directory"))
		return
	}
	ch, err := l.src.load()
	if !l.check(SeverityError, crdsDir, err) {
		return
	}
	for _, crd := range ch.CRDObjects() {
		decoder := yaml.NewYAMLOrJSONDecoder(bytes.NewReader(crd.File.Data), 4096)
		for {
			var obj *k8sYamlStruct
			err := decoder.Decode(&obj)
			if errors.Is(err, io.EOF) {
				break
			}
			if !l.check(SeverityError, crd.Name, validateYamlContent(err)) {
				return
			}
			if obj != nil {
				l.check(SeverityError, crd.Name, validateCrdAPIVersion(obj))
				l.check(SeverityError, crd.Name, validateCrdKind(obj))
			}
		}
	}
}

func validateCrdAPIVersion(obj *k8sYamlStruct) error {
	if !strings.HasPrefix(obj.APIVersion, "apiextensions.k8s.io") {
		return errors.New("apiVersion is not in 'apiextensions.k8s.io'")
	}
	return nil
}

func validateCrdKind(obj *k8sYamlStruct) error {
	if obj.Kind != "CustomResourceDefinition" {
		return errors.New("object kind is not 'CustomResourceDefinition'")
	}
	return nil
}
