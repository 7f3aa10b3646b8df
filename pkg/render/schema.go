package render

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/kubectl-chart/kubectl-chart/pkg/chart"
)

// SchemaError says that values do not meet a chart's values.schema.json (or
// a subchart's). Its message names each chart and each failing path.
type SchemaError struct{ Detail string }

func (e *SchemaError) Error() string {
	return "values don't meet the specifications of the schema(s) in the following chart(s):\n" + e.Detail
}

// ValidateAgainstSchema checks coalesced values against the schema of the
// chart and, recursively, those of its subcharts with their part of the
// values.
func ValidateAgainstSchema(ch *chart.Chart, vals map[string]any) error {
	var sb strings.Builder
	validateSchemas(ch, vals, &sb)
	if sb.Len() > 0 {
		return &SchemaError{Detail: sb.String()}
	}
	return nil
}

func validateSchemas(ch *chart.Chart, vals map[string]any, sb *strings.Builder) {
	if ch.Schema != nil {
		if err := ValidateAgainstSingleSchema(vals, ch.Schema); err != nil {
			fmt.Fprintf(sb, "%s:\n", ch.Name())
			sb.WriteString(err.Error())
		}
	}
	for _, sub := range ch.Dependencies() {
		raw, ok := vals[sub.Name()]
		if !ok || raw == nil {
			continue
		}
		subVals, ok := raw.(map[string]any)
		if !ok {
			fmt.Fprintf(sb, "%s:\ninvalid type for values: expected object (map), got %T\n", sub.Name(), raw)
			continue
		}
		validateSchemas(sub, subVals, sb)
	}
}

// offlineLoader refuses remote references: rendering never reaches the
// network. urn: references resolve to a permissive schema, as in Helm.
type offlineLoader struct{}

func (offlineLoader) Load(url string) (any, error) {
	if strings.HasPrefix(url, "urn:") {
		return true, nil
	}
	return nil, fmt.Errorf("schema reference %s: remote and file references are not loaded", url)
}

// ValidateAgainstSingleSchema checks values against one JSON schema.
func ValidateAgainstSingleSchema(vals map[string]any, schemaJSON []byte) (reterr error) {
	defer func() {
		if r := recover(); r != nil {
			reterr = fmt.Errorf("unable to validate schema: %v", r)
		}
	}()
	schema, err := jsonschema.UnmarshalJSON(bytes.NewReader(schemaJSON))
	if err != nil {
		return err
	}
	compiler := jsonschema.NewCompiler()
	compiler.UseLoader(jsonschema.SchemeURLLoader{
		"file":  offlineLoader{},
		"http":  offlineLoader{},
		"https": offlineLoader{},
		"urn":   offlineLoader{},
	})
	if err := compiler.AddResource("file:///values.schema.json", schema); err != nil {
		return err
	}
	validator, err := compiler.Compile("file:///values.schema.json")
	if err != nil {
		return err
	}
	if vals == nil {
		vals = map[string]any{}
	}
	if err := validator.Validate(vals); err != nil {
		var ve *jsonschema.ValidationError
		msg := err.Error()
		if errors.As(err, &ve) {
			msg = strings.TrimPrefix(msg, "jsonschema validation failed with 'file:///values.schema.json#'\n")
		}
		return errors.New(msg + "\n")
	}
	return nil
}
