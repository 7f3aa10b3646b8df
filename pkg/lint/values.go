package lint

import (
	"errors"
	"fmt"

	"sigs.k8s.io/yaml"

	"github.com/kubectl-chart/kubectl-chart/pkg/render"
	"github.com/kubectl-chart/kubectl-chart/pkg/values"
)

const valuesFileName = "values.yaml"

// values checks values.yaml as Helm's rules.ValuesWithOverrides: it must
// parse, and the user's values coalesced over it must meet the chart's own
// values.schema.json (subcharts' schemas are checked by the render).
func (l *linter) values() {
	if _, err := l.src.stat(valuesFileName); err != nil {
		l.check(SeverityInfo, valuesFileName, errors.New("file does not exist"))
		return
	}
	l.check(SeverityError, valuesFileName, l.validateValuesFile())
}

func (l *linter) validateValuesFile() error {
	data, err := l.src.readFile(valuesFileName)
	vals := map[string]any{}
	if err == nil {
		// Helm reads one document here, as sigs.k8s.io/yaml does.
		err = yaml.Unmarshal(data, &vals)
	}
	if err != nil {
		return fmt.Errorf("unable to parse YAML: %w", err)
	}
	if vals == nil {
		vals = map[string]any{}
	}

	noWarn := func(string, ...any) {}
	coalesced := render.CoalesceTables(make(map[string]any, len(l.opts.Values)), values.DeepCopy(l.opts.Values), noWarn)
	coalesced = render.CoalesceTables(coalesced, vals, noWarn)

	schema, err := l.src.readFile("values.schema.json")
	if len(schema) == 0 {
		return nil
	}
	if err != nil {
		return err
	}
	if l.opts.SkipSchemaValidation {
		return nil
	}
	return render.ValidateAgainstSingleSchema(coalesced, schema)
}
