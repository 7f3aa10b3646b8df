package strvals

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"
)

// MaxIndex is the largest list index a line may set, as in Helm (64 Ki).
const MaxIndex = 65536

// MaxNestedNameLevel is how deeply a dotted name may nest, as in Helm:
// "a.b.c" nests 2 levels. Dots that follow a list index ("a[0].b") do not
// count, as in Helm; MaxDepth bounds those.
const MaxNestedNameLevel = 30

// MaxDepth bounds how deeply names and list indexes may nest together
// ("a[0][0]...", "a[0].a[0]..."). Helm has no such bound and can exhaust the
// stack; no chart needs a tenth of it.
const MaxDepth = 10000

// errNotList says that a value does not start with "{".
var errNotList = errors.New("not a list")

// Parse parses a --set line into a new map. On error the map holds what was
// set before the error.
func Parse(s string) (map[string]any, error) {
	vals := map[string]any{}
	err := ParseInto(s, vals)
	return vals, err
}

// ParseString parses a --set-string line into a new map: every value is a
// string.
func ParseString(s string) (map[string]any, error) {
	vals := map[string]any{}
	err := ParseIntoString(s, vals)
	return vals, err
}

// ParseInto parses a --set line into dest, overwriting the keys it sets.
func ParseInto(s string, dest map[string]any) error {
	return newParser(s, dest, typedReader).parse()
}

// ParseIntoString parses a --set-string line into dest: every value is a
// string.
func ParseIntoString(s string, dest map[string]any) error {
	return newParser(s, dest, stringReader).parse()
}

// ParseJSON parses a --set-json line (key1=jsonval1,key2=jsonval2) into dest.
// Values are JSON documents (numbers become float64); an empty value is null.
func ParseJSON(s string, dest map[string]any) error {
	t := newParser(s, dest, nil)
	t.isJSON = true
	return t.parse()
}

// ParseIntoFile parses a --set-file line into dest: reader turns each value
// (a path) into the value to set, typically the file's content.
func ParseIntoFile(s string, dest map[string]any, reader func(rs []rune) (any, error)) error {
	if reader == nil {
		return errors.New("strvals: ParseIntoFile needs a reader")
	}
	return newParser(s, dest, reader).parse()
}

func typedReader(rs []rune) (any, error)  { return typedVal(rs, false), nil }
func stringReader(rs []rune) (any, error) { return typedVal(rs, true), nil }

// parser parses the --set, --set-string, --set-file and --set-json lines; it
// follows Helm's parser step by step, so that values, quirks and messages are
// the same.
type parser struct {
	sc     scanner
	data   map[string]any
	reader func([]rune) (any, error) // turns a value into what is set
	isJSON bool                      // values are JSON documents
	depth  depth
}

func newParser(s string, data map[string]any, reader func([]rune) (any, error)) *parser {
	return &parser{sc: scanner{input: s}, data: data, reader: reader}
}

func (t *parser) parse() error {
	for {
		err := t.key(t.data, 0)
		if err == nil {
			continue
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		return t.sc.error(err)
	}
}

func (t *parser) key(data map[string]any, nestedNameLevel int) (err error) {
	if err := t.depth.enter(); err != nil {
		return err
	}
	defer t.depth.leave()
	defer recoverKey(&err)

	k, last, err := runesUntil(&t.sc, "=[,.")
	switch {
	case err != nil:
		if len(k) == 0 {
			return err
		}
		return fmt.Errorf("key %q has no value", string(k))
	case last == '[':
		// A list index: a[1]...
		i, err := t.keyIndex()
		if err != nil {
			return fmt.Errorf("error parsing index: %w", err)
		}
		kk := string(k)
		list := []any{}
		if v, ok := data[kk]; ok {
			l, ok := v.([]any)
			if !ok {
				return conversionPanic(v, "[]interface {}")
			}
			list = l
		}
		list, err = t.listItem(list, i, nestedNameLevel)
		if isPanic(err) {
			return err
		}
		if perr := set(data, kk, list); perr != nil {
			return perr
		}
		return err
	case last == '=':
		if t.isJSON {
			if t.emptyVal() {
				return set(data, string(k), nil)
			}
			v, n, err := t.jsonVal()
			if err != nil {
				return err
			}
			if perr := set(data, string(k), v); perr != nil {
				return perr
			}
			t.sc.skip(n)
			t.emptyVal()
			return nil
		}
		vl, e := t.valList()
		switch {
		case e == nil:
			return set(data, string(k), vl)
		case errors.Is(e, io.EOF):
			if perr := set(data, string(k), ""); perr != nil {
				return perr
			}
			return e
		case errors.Is(e, errNotList):
			rs := t.val()
			v, e := t.reader(rs)
			if perr := set(data, string(k), v); perr != nil {
				return perr
			}
			return e
		default:
			return e
		}
	case last == ',':
		// No value given: Helm sets "" and fails.
		if perr := set(data, string(k), ""); perr != nil {
			return perr
		}
		return fmt.Errorf("key %q has no value (cannot end with ,)", string(k))
	default: // '.'
		nestedNameLevel++
		if nestedNameLevel > MaxNestedNameLevel {
			return fmt.Errorf("value name nested level is greater than maximum supported nested level of %d", MaxNestedNameLevel)
		}
		inner := map[string]any{}
		if v, ok := data[string(k)]; ok {
			m, ok := v.(map[string]any)
			if !ok {
				return conversionPanic(v, "map[string]interface {}")
			}
			inner = m
		}
		e := t.key(inner, nestedNameLevel)
		if e == nil && len(inner) == 0 {
			return fmt.Errorf("key map %q has no value", string(k))
		}
		if len(inner) != 0 {
			if perr := set(data, string(k), inner); perr != nil {
				return perr
			}
		}
		return e
	}
}

func (t *parser) keyIndex() (int, error) {
	v, _, err := runesUntil(&t.sc, "]")
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(string(v))
}

// listItem sets what follows "list[i]" in list.
func (t *parser) listItem(list []any, i, nestedNameLevel int) ([]any, error) {
	if err := t.depth.enter(); err != nil {
		return list, err
	}
	defer t.depth.leave()

	if i < 0 {
		return list, fmt.Errorf("negative %d index not allowed", i)
	}
	k, last, err := runesUntil(&t.sc, "[.=")
	switch {
	case len(k) > 0:
		// Helm formats the runes with %q: ['a' 'b'].
		return list, fmt.Errorf("unexpected data at end of array index: %q", k)
	case err != nil:
		return list, err
	case last == '=':
		if t.isJSON {
			if t.emptyVal() {
				return setIndex(list, i, nil)
			}
			v, n, err := t.jsonVal()
			if err != nil {
				return list, err
			}
			if list, err = setIndex(list, i, v); err != nil {
				return list, err
			}
			t.sc.skip(n)
			t.emptyVal()
			return list, nil
		}
		vl, e := t.valList()
		switch {
		case e == nil:
			return setIndex(list, i, vl)
		case errors.Is(e, io.EOF):
			return setIndex(list, i, "")
		case errors.Is(e, errNotList):
			rs := t.val()
			v, e := t.reader(rs)
			if e != nil {
				return list, e
			}
			return setIndex(list, i, v)
		default:
			return list, e
		}
	case last == '[':
		// A nested list: list[i][j]...
		nextI, err := t.keyIndex()
		if err != nil {
			return list, fmt.Errorf("error parsing index: %w", err)
		}
		var crtList []any
		if len(list) > i && list[i] != nil {
			l, ok := list[i].([]any)
			if !ok {
				return list, conversionPanic(list[i], "[]interface {}")
			}
			crtList = l
		}
		list2, err := t.listItem(crtList, nextI, nestedNameLevel)
		if err != nil {
			return list, err
		}
		return setIndex(list, i, list2)
	default: // '.'
		inner := map[string]any{}
		if len(list) > i {
			var ok bool
			inner, ok = list[i].(map[string]any)
			if !ok {
				// Indices out of order: Helm replaces the item.
				inner = map[string]any{}
				list[i] = inner
			}
		}
		if e := t.key(inner, nestedNameLevel); e != nil {
			return list, e
		}
		return setIndex(list, i, inner)
	}
}

// emptyVal tells whether the value ahead is empty: it consumes spaces up to
// a comma (consumed too) or the end of the line, and stops before anything
// else.
func (t *parser) emptyVal() bool {
	for {
		r, err := t.sc.readRune()
		if err != nil || r == ',' {
			return true
		}
		if !unicode.IsSpace(r) {
			t.sc.unreadRune()
			return false
		}
	}
}

// jsonVal decodes the JSON document ahead without consuming it, as Helm does
// with a json.Decoder on the rest of the line; it returns the document's
// length in bytes, which the caller skips once the value is set.
func (t *parser) jsonVal() (any, int, error) {
	dec := json.NewDecoder(strings.NewReader(t.sc.rest()))
	var v any
	if err := dec.Decode(&v); err != nil {
		var se *json.SyntaxError
		switch {
		case errors.As(err, &se):
			return nil, 0, &offsetError{off: t.sc.off + int(se.Offset), err: err}
		case errors.Is(err, io.ErrUnexpectedEOF):
			return nil, 0, &offsetError{off: len(t.sc.input), err: err}
		}
		return nil, 0, err
	}
	return v, int(dec.InputOffset()), nil
}

// val reads a value up to the next unescaped comma.
func (t *parser) val() []rune {
	v, _, _ := runesUntil(&t.sc, ",")
	return v
}

// valList reads a {a,b,c} list; errNotList if the value is not one.
func (t *parser) valList() ([]any, error) {
	r, err := t.sc.readRune()
	if err != nil {
		return []any{}, err
	}
	if r != '{' {
		t.sc.unreadRune()
		return []any{}, errNotList
	}
	list := []any{}
	for {
		rs, last, err := runesUntil(&t.sc, ",}")
		switch {
		case err != nil:
			if errors.Is(err, io.EOF) {
				err = errors.New("list must terminate with '}'")
			}
			return list, err
		case last == '}':
			// A comma after the list ends the value too.
			if r, err := t.sc.readRune(); err == nil && r != ',' {
				t.sc.unreadRune()
			}
			v, e := t.reader(rs)
			list = append(list, v)
			return list, e
		default: // ','
			v, e := t.reader(rs)
			if e != nil {
				return list, e
			}
			list = append(list, v)
		}
	}
}

// typedVal types a value as Helm does; st keeps it a string.
func typedVal(v []rune, st bool) any {
	val := string(v)
	if st {
		return val
	}
	switch {
	case strings.EqualFold(val, "true"):
		return true
	case strings.EqualFold(val, "false"):
		return false
	case strings.EqualFold(val, "null"):
		return nil
	case val == "0":
		return int64(0)
	}
	// Numbers with a leading zero stay strings.
	if val != "" && val[0] != '0' {
		if iv, err := strconv.ParseInt(val, 10, 64); err == nil {
			return iv
		}
	}
	return val
}

// set sets data[key], except for an empty key, which Helm skips.
func set(data map[string]any, key string, val any) error {
	if key == "" {
		return nil
	}
	if data == nil {
		return &panicError{msg: "assignment to entry in nil map"}
	}
	data[key] = val
	return nil
}

// setIndex sets list[index], growing the list with nils as needed.
func setIndex(list []any, index int, val any) ([]any, error) {
	if index < 0 {
		return list, fmt.Errorf("negative %d index not allowed", index)
	}
	if index > MaxIndex {
		return list, fmt.Errorf("index of %d is greater than maximum supported index of %d", index, MaxIndex)
	}
	if len(list) <= index {
		newlist := make([]any, index+1)
		copy(newlist, list)
		list = newlist
	}
	list[index] = val
	return list, nil
}

// panicError stands for a runtime panic in Helm's parser (a value of the
// wrong type on the path, a nil map), which Helm recovers in the nearest key
// call as "unable to parse key: <panic>". Like the panic, it skips everything
// up to that call, which turns it into an ordinary error (recoverKey).
type panicError struct{ msg string }

func (e *panicError) Error() string { return e.msg }

func conversionPanic(got any, want string) *panicError {
	g := "nil"
	if got != nil {
		g = fmt.Sprintf("%T", got)
	}
	return &panicError{msg: fmt.Sprintf("interface conversion: interface {} is %s, not %s", g, want)}
}

func isPanic(err error) bool {
	var p *panicError
	return errors.As(err, &p)
}

// recoverKey is the deferred recover of Helm's key functions.
func recoverKey(err *error) {
	var p *panicError
	if errors.As(*err, &p) {
		*err = fmt.Errorf("unable to parse key: %s", p.msg)
	}
}

// depth counts nested key and listItem calls to enforce MaxDepth.
type depth int

func (d *depth) enter() error {
	if *d >= MaxDepth {
		return fmt.Errorf("value nesting level is greater than maximum supported nesting level of %d", MaxDepth)
	}
	*d++
	return nil
}

func (d *depth) leave() { *d-- }
