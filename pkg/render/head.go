package render

import (
	"math"
	"strconv"
	"strings"

	yamlv2 "go.yaml.in/yaml/v2"
	"sigs.k8s.io/yaml"
)

// parseHead reads a document's apiVersion, kind, metadata.name and
// metadata.annotations with the result and errors of Helm's
// yaml.Unmarshal(doc, &SimpleHead{}) (sigs.k8s.io/yaml: YAML 1.1 parse,
// conversion to JSON, JSON decode).
//
// Helm converts the whole document to JSON and back to read four fields;
// for big documents (CRDs) that is most of the render. Documents in the
// plain block style are read by scanHead without a parse; for the others
// the same YAML parser runs once, the fields are read from its result, and the document
// is walked for what would fail the JSON conversion. Anything unusual
// (type mismatches, keys differing from the field names only by case,
// values JSON cannot encode) goes through Helm's exact path, which also
// gives the exact error.
func parseHead(doc string, h *SimpleHead) error {
	if scanHead(doc, h) {
		return nil
	}
	*h = SimpleHead{}
	raw := []byte(doc)
	var obj any
	if err := yamlv2.Unmarshal(raw, &obj); err == nil && jsonable(obj) && extractHead(obj, h) {
		return nil
	}
	*h = SimpleHead{}
	return yaml.Unmarshal(raw, h)
}

// jsonable tells whether sigs.k8s.io/yaml converts v to JSON without error.
func jsonable(v any) bool {
	switch t := v.(type) {
	case map[any]any:
		for k, x := range t {
			switch kk := k.(type) {
			case string, int, int64, bool:
			case float64:
				if math.IsInf(kk, 0) || math.IsNaN(kk) {
					return false
				}
			default:
				return false
			}
			if !jsonable(x) {
				return false
			}
		}
	case []any:
		for _, x := range t {
			if !jsonable(x) {
				return false
			}
		}
	case float64:
		return !math.IsInf(t, 0) && !math.IsNaN(t)
	case nil, string, int, int64, uint64, bool:
	default:
		return false
	}
	return true
}

// extractHead fills h from a parsed document, or returns false when the
// document needs the exact (slow) path.
func extractHead(obj any, h *SimpleHead) bool {
	if obj == nil {
		return true
	}
	top, ok := obj.(map[any]any)
	if !ok {
		return false
	}
	for k, v := range top {
		key, ok := k.(string)
		if !ok {
			if !foldsTo(keyString(k), "apiVersion", "kind", "metadata") {
				continue
			}
			return false
		}
		switch key {
		case "apiVersion":
			if h.Version, ok = headString(v); !ok {
				return false
			}
		case "kind":
			if h.Kind, ok = headString(v); !ok {
				return false
			}
		case "metadata":
			if !extractMetadata(v, h) {
				return false
			}
		default:
			if foldsTo(key, "apiVersion", "kind", "metadata") {
				return false
			}
		}
	}
	return true
}

func extractMetadata(v any, h *SimpleHead) bool {
	if v == nil {
		return true
	}
	md, ok := v.(map[any]any)
	if !ok {
		return false
	}
	h.Metadata = &HeadMetadata{}
	for k, x := range md {
		key, ok := k.(string)
		if !ok {
			if foldsTo(keyString(k), "name", "annotations") {
				return false
			}
			continue
		}
		switch key {
		case "name":
			if h.Metadata.Name, ok = headString(x); !ok {
				return false
			}
		case "annotations":
			if x == nil {
				continue
			}
			anns, ok := x.(map[any]any)
			if !ok {
				return false
			}
			h.Metadata.Annotations = make(map[string]string, len(anns))
			for ak, av := range anns {
				s, ok := headString(av)
				if !ok {
					return false
				}
				h.Metadata.Annotations[keyString(ak)] = s
			}
		default:
			if foldsTo(key, "name", "annotations") {
				return false
			}
		}
	}
	return true
}

// headString is what JSON decoding into a string field yields: strings as
// they are, integers as their text (sigs.k8s.io/yaml converts them), null
// as "". Anything else is for the exact path.
func headString(v any) (string, bool) {
	switch t := v.(type) {
	case nil:
		return "", true
	case string:
		return t, true
	case int:
		return strconv.Itoa(t), true
	case int64:
		return strconv.FormatInt(t, 10), true
	case uint64:
		return strconv.FormatUint(t, 10), true
	}
	return "", false
}

// keyString converts a map key as sigs.k8s.io/yaml does.
func keyString(k any) string {
	switch t := k.(type) {
	case string:
		return t
	case int:
		return strconv.Itoa(t)
	case int64:
		return strconv.FormatInt(t, 10)
	case bool:
		return strconv.FormatBool(t)
	case float64:
		s := strconv.FormatFloat(t, 'g', -1, 32)
		switch s {
		case "+Inf":
			s = ".inf"
		case "-Inf":
			s = "-.inf"
		case "NaN":
			s = ".nan"
		}
		return s
	}
	return ""
}

func foldsTo(key string, names ...string) bool {
	for _, n := range names {
		if strings.EqualFold(key, n) {
			return true
		}
	}
	return false
}
