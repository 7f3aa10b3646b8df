package strvals

import (
	"errors"
	"fmt"
	"io"
	"strconv"
)

// ParseLiteralInto parses a --set-literal line into dest. The value is the
// rest of the line, taken as it is: commas, dots, braces and backslashes
// included. Only the name is parsed (no escapes there either).
func ParseLiteralInto(s string, dest map[string]any) error {
	t := &literalParser{sc: scanner{input: s}, data: dest}
	return t.parse()
}

// literalParser follows Helm's literal parser step by step.
type literalParser struct {
	sc    scanner
	data  map[string]any
	depth depth
}

func (t *literalParser) parse() error {
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

func (t *literalParser) key(data map[string]any, nestedNameLevel int) (err error) {
	if err := t.depth.enter(); err != nil {
		return err
	}
	defer t.depth.leave()
	defer recoverKey(&err)

	key, last, err := runesUntilLiteral(&t.sc, "=[.")
	switch {
	case err != nil:
		if len(key) == 0 {
			return err
		}
		return fmt.Errorf("key %q has no value", string(key))
	case last == '=':
		return set(data, string(key), string(t.val()))
	case last == '.':
		nestedNameLevel++
		if nestedNameLevel > MaxNestedNameLevel {
			return fmt.Errorf("value name nested level is greater than maximum supported nested level of %d", MaxNestedNameLevel)
		}
		inner := map[string]any{}
		if v, ok := data[string(key)]; ok {
			m, ok := v.(map[string]any)
			if !ok {
				return conversionPanic(v, "map[string]interface {}")
			}
			inner = m
		}
		err := t.key(inner, nestedNameLevel)
		if err == nil && len(inner) == 0 {
			return fmt.Errorf("key map %q has no value", string(key))
		}
		if len(inner) != 0 {
			if perr := set(data, string(key), inner); perr != nil {
				return perr
			}
		}
		return err
	default: // '['
		i, err := t.keyIndex()
		if err != nil {
			return fmt.Errorf("error parsing index: %w", err)
		}
		kk := string(key)
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
	}
}

func (t *literalParser) keyIndex() (int, error) {
	v, _, err := runesUntilLiteral(&t.sc, "]")
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(string(v))
}

// listItem sets what follows "list[i]" in list.
func (t *literalParser) listItem(list []any, i, nestedNameLevel int) ([]any, error) {
	if err := t.depth.enter(); err != nil {
		return list, err
	}
	defer t.depth.leave()

	if i < 0 {
		return list, fmt.Errorf("negative %d index not allowed", i)
	}
	key, last, err := runesUntilLiteral(&t.sc, "[.=")
	switch {
	case len(key) > 0:
		// Helm formats the runes with %q: ['a' 'b'].
		return list, fmt.Errorf("unexpected data at end of array index: %q", key)
	case err != nil:
		return list, err
	case last == '=':
		return setIndex(list, i, string(t.val()))
	case last == '.':
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
		if err := t.key(inner, nestedNameLevel); err != nil {
			return list, err
		}
		return setIndex(list, i, inner)
	default: // '['
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
	}
}

// val reads the rest of the line, rune by rune as Helm does (an invalid
// UTF-8 byte becomes U+FFFD).
func (t *literalParser) val() []rune {
	v, _, _ := runesUntilLiteral(&t.sc, "")
	return v
}
