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
func ValidateAgainstSingleSchema(vals map[string]any, schemaJSON []byte) error {
	return validateSingleSchema(vals, schemaJSON, true)
}

// validateSingleSchema is ValidateAgainstSingleSchema; fastDefs says
// whether a draft-04/06/07 schema's $defs may be compiled as definitions
// (see defsAsDefinitions).
func validateSingleSchema(vals map[string]any, schemaJSON []byte, fastDefs bool) (reterr error) {
	defer func() {
		if r := recover(); r != nil {
			reterr = fmt.Errorf("unable to validate schema: %v", r)
		}
	}()
	validator, err := compileSchema(schemaJSON, fastDefs)
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

// compileSchema compiles a values schema as Helm does. With fastDefs, a
// schema that defsAsDefinitions can rewrite is compiled rewritten first;
// if that fails, the schema as written is compiled for the error.
func compileSchema(schemaJSON []byte, fastDefs bool) (*jsonschema.Schema, error) {
	compile := func() (*jsonschema.Schema, error) {
		schema, err := jsonschema.UnmarshalJSON(bytes.NewReader(schemaJSON))
		if err != nil {
			return nil, err
		}
		compiler := jsonschema.NewCompiler()
		compiler.UseLoader(jsonschema.SchemeURLLoader{
			"file":  offlineLoader{},
			"http":  offlineLoader{},
			"https": offlineLoader{},
			"urn":   offlineLoader{},
		})
		if fastDefs && !defsAsDefinitions(schema, schemaJSON) {
			fastDefs = false
		}
		if err := compiler.AddResource("file:///values.schema.json", schema); err != nil {
			return nil, err
		}
		return compiler.Compile("file:///values.schema.json")
	}
	validator, err := compile()
	if err != nil && fastDefs {
		fastDefs = false
		validator, err = compile()
	}
	return validator, err
}

// Draft URLs in which "$defs" is not a keyword.
var draftsWithoutDefs = map[string]bool{
	"http://json-schema.org/draft-04/schema#": true, "http://json-schema.org/draft-04/schema": true,
	"https://json-schema.org/draft-04/schema#": true, "https://json-schema.org/draft-04/schema": true,
	"http://json-schema.org/draft-06/schema#": true, "http://json-schema.org/draft-06/schema": true,
	"https://json-schema.org/draft-06/schema#": true, "https://json-schema.org/draft-06/schema": true,
	"http://json-schema.org/draft-07/schema#": true, "http://json-schema.org/draft-07/schema": true,
	"https://json-schema.org/draft-07/schema#": true, "https://json-schema.org/draft-07/schema": true,
}

// defsAsDefinitions moves a draft-04/06/07 schema's top-level "$defs" to
// "definitions" and points its "#/$defs/…" references there, when that
// changes nothing but speed, and tells whether it did.
//
// Those drafts do not know "$defs", so the compiler (jsonschema/v6)
// resolves each reference into it on its own, copying its table of every
// subschema seen so far each time: quadratic. cert-manager's schema (278
// references) took 45 ms of compilation that way, in Helm too. Under
// "definitions", a keyword of those drafts, the subschemas are collected
// once. The same subschemas are reached from the same places, with the
// same base URI (the rewrite is skipped when any "$id", or "id" in draft
// 04, could set another), and validation errors name instance locations
// only, so they read the same. The differences are in compilation: the
// compiler checks every definition against the meta-schema, and names
// schema locations in its errors; compileSchema therefore compiles the
// schema as written whenever the rewritten one fails.
func defsAsDefinitions(schema any, raw []byte) bool {
	root, ok := schema.(map[string]any)
	if !ok {
		return false
	}
	defs, ok := root["$defs"].(map[string]any)
	draft, _ := root["$schema"].(string)
	if _, has := root["definitions"]; !ok || has || !draftsWithoutDefs[draft] {
		return false
	}
	if bytes.Contains(raw, []byte(`"$id"`)) || strings.Contains(draft, "draft-04") && bytes.Contains(raw, []byte(`"id"`)) {
		return false
	}
	const from, to = "#/$defs/", "#/definitions/"
	rewritable := true
	walkSubschemas(root, func(sch map[string]any) {
		if ref, ok := sch["$ref"].(string); ok && !strings.HasPrefix(ref, from) &&
			(strings.Contains(ref, "$defs") || strings.Contains(ref, "%24defs")) {
			rewritable = false
		}
	})
	if !rewritable {
		return false
	}
	walkSubschemas(root, func(sch map[string]any) {
		if ref, ok := sch["$ref"].(string); ok && strings.HasPrefix(ref, from) {
			sch["$ref"] = to + ref[len(from):]
		}
	})
	delete(root, "$defs")
	root["definitions"] = defs
	return true
}

// walkSubschemas calls fn on sch and on every subschema under it through
// the keywords of drafts 04 to 07 (and the top-level "$defs"), never
// through values that are data (default, const, enum, examples).
func walkSubschemas(sch map[string]any, fn func(map[string]any)) {
	fn(sch)
	visit := func(v any) {
		if m, ok := v.(map[string]any); ok {
			walkSubschemas(m, fn)
		}
	}
	for _, kw := range [...]string{"additionalProperties", "additionalItems", "items", "contains", "propertyNames", "not", "if", "then", "else"} {
		visit(sch[kw])
	}
	for _, kw := range [...]string{"items", "allOf", "anyOf", "oneOf"} {
		if list, ok := sch[kw].([]any); ok {
			for _, v := range list {
				visit(v)
			}
		}
	}
	for _, kw := range [...]string{"properties", "patternProperties", "definitions", "dependencies", "$defs"} {
		if m, ok := sch[kw].(map[string]any); ok {
			for _, v := range m {
				visit(v)
			}
		}
	}
}
