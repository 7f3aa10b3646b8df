package values

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"strings"

	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// GlobalKey is the values key shared by a chart and all its subcharts.
const GlobalKey = "global"

// Values is a tree of chart values. Tables are map[string]any.
type Values map[string]any

// ErrNoTable says that a path element is missing or not a table.
type ErrNoTable struct{ Key string }

func (e ErrNoTable) Error() string { return fmt.Sprintf("%q is not a table", e.Key) }

// ErrNoValue says that a path names no value.
type ErrNoValue struct{ Key string }

func (e ErrNoValue) Error() string { return fmt.Sprintf("%q is not a value", e.Key) }

// Table returns the table at a dotted path ("a.b.c").
func (v Values) Table(name string) (Values, error) {
	table := v
	var err error
	for _, n := range strings.Split(name, ".") {
		if table, err = tableLookup(table, n); err != nil {
			break
		}
	}
	return table, err
}

func tableLookup(v Values, simple string) (Values, error) {
	v2, ok := v[simple]
	if !ok {
		return v, ErrNoTable{simple}
	}
	switch vv := v2.(type) {
	case map[string]any:
		return vv, nil
	case Values:
		return vv, nil
	}
	return Values{}, ErrNoTable{simple}
}

// PathValue returns the non-table value at a dotted path.
func (v Values) PathValue(path string) (any, error) {
	if path == "" {
		return nil, errors.New("YAML path cannot be empty")
	}
	parts := strings.Split(path, ".")
	if len(parts) == 1 {
		if x, ok := v[parts[0]]; ok && !IsTable(x) {
			return x, nil
		}
		return nil, ErrNoValue{parts[0]}
	}
	key := parts[len(parts)-1]
	t, err := v.Table(strings.Join(parts[:len(parts)-1], "."))
	if err != nil {
		return nil, ErrNoValue{key}
	}
	if x, ok := t[key]; ok && !IsTable(x) {
		return x, nil
	}
	return nil, ErrNoValue{key}
}

// IsTable tells whether x is a values table.
func IsTable(x any) bool {
	_, ok := x.(map[string]any)
	return ok
}

// YAML renders the values as Helm prints them (sorted keys).
func (v Values) YAML() (string, error) {
	b, err := yaml.Marshal(v)
	return string(b), err
}

// Load parses a values file. Like Helm v4, every YAML document of the file is
// read and the documents are merged, later ones winning.
func Load(data []byte) (map[string]any, error) {
	if len(data) > 0 && data[len(data)-1] != '\n' {
		data = append(data[:len(data):len(data)], '\n')
	}
	out := map[string]any{}
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for {
		raw, err := reader.Read()
		if err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, fmt.Errorf("error reading yaml document: %w", err)
		}
		doc := map[string]any{}
		if err := yaml.Unmarshal(raw, &doc); err != nil {
			return nil, fmt.Errorf("cannot unmarshal yaml document: %w", err)
		}
		out = MergeMaps(out, doc)
	}
	return out, nil
}

// MergeMaps merges b onto a, recursing into tables, and returns a new map.
func MergeMaps(a, b map[string]any) map[string]any {
	out := make(map[string]any, len(a))
	maps.Copy(out, a)
	for k, v := range b {
		if vm, ok := v.(map[string]any); ok {
			if bv, ok := out[k]; ok {
				if bvm, ok := bv.(map[string]any); ok {
					out[k] = MergeMaps(bvm, vm)
					continue
				}
			}
		}
		out[k] = v
	}
	return out
}

// DeepCopy copies a values tree: tables and lists are copied, scalars shared.
func DeepCopy(v map[string]any) map[string]any {
	if v == nil {
		return nil
	}
	out := make(map[string]any, len(v))
	for k, x := range v {
		out[k] = deepCopyValue(x)
	}
	return out
}

func deepCopyValue(x any) any {
	switch t := x.(type) {
	case map[string]any:
		return DeepCopy(t)
	case Values:
		return DeepCopy(t)
	case []any:
		if t == nil {
			return t
		}
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = deepCopyValue(e)
		}
		return out
	default:
		return x
	}
}
