package strvals

import (
	"errors"
	"testing"
	"unicode/utf8"
)

var fuzzSeeds = []string{
	"a=1", "a,b=c", "a.b[0].c=1,a.b[1]=x", "]={}].", "a=1,a[0]=2", "a=1,a.b=2", "a[0]=1,a[0][1]=2",
	"a={x,y},b={1,2", `a=\,\.x`, "a=null,a[0]=1", "a[0]", "a[0", "a[-1]=2", "a[65537]=1",
	`x={"a":1},y=[1,2] ,z=`, `a={"x":`, "a[1].b=1,a[0].c=2", "list[0]name=x", "a.=b", "a.,b",
	"a[0][0][0][0]=1", "a[0].a[0].a[0]=1", "é.ü=\xff",
}

// checkFuzzResult checks what every parser promises for any input.
func checkFuzzResult(t *testing.T, in string, err error) {
	if err == nil {
		return
	}
	var pe *ParseError
	if !errors.As(err, &pe) {
		t.Fatalf("%q: error %v is a %T, not a *ParseError", in, err, err)
	}
	if pe.Input != in || pe.Pos < 1 || pe.Pos > utf8.RuneCountInString(in)+1 {
		t.Fatalf("%q: bad ParseError %+v", in, pe)
	}
}

// FuzzParseInto checks that the --set, --set-string, --set-json and
// --set-file parsers never panic, on an empty map and on one holding values
// of every kind (including nil maps, which Helm's parser panics on).
func FuzzParseInto(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	reader := func(rs []rune) (any, error) {
		if string(rs) == "bad" {
			return nil, errors.New("bad file")
		}
		return string(rs), nil
	}
	parsers := []func(string, map[string]any) error{
		ParseInto,
		ParseIntoString,
		ParseJSON,
		func(s string, dest map[string]any) error { return ParseIntoFile(s, dest, reader) },
	}
	f.Fuzz(func(t *testing.T, in string) {
		for _, parse := range parsers {
			checkFuzzResult(t, in, parse(in, map[string]any{}))
			checkFuzzResult(t, in, parse(in, fuzzDest()))
			checkFuzzResult(t, in, parse(in, nil))
		}
	})
}

// FuzzParseLiteralInto checks that the --set-literal parser never panics.
func FuzzParseLiteralInto(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		checkFuzzResult(t, in, ParseLiteralInto(in, map[string]any{}))
		checkFuzzResult(t, in, ParseLiteralInto(in, fuzzDest()))
		checkFuzzResult(t, in, ParseLiteralInto(in, nil))
	})
}

func fuzzDest() map[string]any {
	return map[string]any{
		"a": map[string]any{"b": []any{nil, "s", map[string]any(nil), []any(nil)}},
		"x": map[string]any(nil),
		"l": []any{[]any{int64(1)}, "q", nil},
		"n": nil,
		"s": "str",
	}
}
