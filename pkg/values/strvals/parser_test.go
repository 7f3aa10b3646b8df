package strvals

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The cases of Helm's pkg/strvals/parser_test.go, with exact types.
func TestParse(t *testing.T) {
	tests := []struct {
		in      string
		want    map[string]any
		wantErr string // Helm's message; "" for no error
	}{
		{in: "name1=null,f=false,t=true", want: map[string]any{"name1": nil, "f": false, "t": true}},
		{in: "name1=value1", want: map[string]any{"name1": "value1"}},
		{in: "name1=value1,name2=value2", want: map[string]any{"name1": "value1", "name2": "value2"}},
		{in: "name1=value1,name2=value2,", want: map[string]any{"name1": "value1", "name2": "value2"}},
		{in: "name1=value1,,,,name2=value2,", wantErr: `key "" has no value (cannot end with ,)`},
		{in: "name1=,name2=value2", want: map[string]any{"name1": "", "name2": "value2"}},
		{in: "leading_zeros=00009", want: map[string]any{"leading_zeros": "00009"}},
		{in: "zero_int=0", want: map[string]any{"zero_int": int64(0)}},
		{in: "long_int=1234567890", want: map[string]any{"long_int": int64(1234567890)}},
		{in: "boolean=true", want: map[string]any{"boolean": true}},
		{in: "is_null=null", want: map[string]any{"is_null": nil}},
		{in: "name1,name2=", wantErr: `key "name1" has no value (cannot end with ,)`},
		{in: "name1,name2=value2", wantErr: `key "name1" has no value (cannot end with ,)`},
		{in: "name1,name2=value2\\", wantErr: `key "name1" has no value (cannot end with ,)`},
		{in: "name1,name2", wantErr: `key "name1" has no value (cannot end with ,)`},
		{in: "name1=one\\,two,name2=three\\,four", want: map[string]any{"name1": "one,two", "name2": "three,four"}},
		{in: "name1=one\\=two,name2=three\\=four", want: map[string]any{"name1": "one=two", "name2": "three=four"}},
		{in: "name1=one two three,name2=three two one", want: map[string]any{"name1": "one two three", "name2": "three two one"}},
		{in: "outer.inner=value", want: map[string]any{"outer": map[string]any{"inner": "value"}}},
		{in: "outer.middle.inner=value", want: map[string]any{"outer": map[string]any{"middle": map[string]any{"inner": "value"}}}},
		{in: "outer.inner1=value,outer.inner2=value2", want: map[string]any{"outer": map[string]any{"inner1": "value", "inner2": "value2"}}},
		{
			in: "outer.inner1=value,outer.middle.inner=value",
			want: map[string]any{"outer": map[string]any{
				"inner1": "value",
				"middle": map[string]any{"inner": "value"},
			}},
		},
		{in: "name1.name2", wantErr: `key "name2" has no value`},
		{in: "name1.name2,name1.name3", wantErr: `key "name2" has no value (cannot end with ,)`},
		{in: "name1.name2=", want: map[string]any{"name1": map[string]any{"name2": ""}}},
		{in: "name1.=name2", wantErr: `key map "name1" has no value`},
		{in: "name1.,name2", wantErr: `key "" has no value (cannot end with ,)`},
		{in: "name1={value1,value2}", want: map[string]any{"name1": []any{"value1", "value2"}}},
		{
			in: "name1={value1,value2},name2={value1,value2}",
			want: map[string]any{
				"name1": []any{"value1", "value2"},
				"name2": []any{"value1", "value2"},
			},
		},
		{in: "name1={1021,902}", want: map[string]any{"name1": []any{int64(1021), int64(902)}}},
		{in: "name1.name2={value1,value2}", want: map[string]any{"name1": map[string]any{"name2": []any{"value1", "value2"}}}},
		{in: "name1={1021,902", wantErr: `list must terminate with '}'`},
		// Lists.
		{in: "list[0]=foo", want: map[string]any{"list": []any{"foo"}}},
		{in: "list[0].foo=bar", want: map[string]any{"list": []any{map[string]any{"foo": "bar"}}}},
		{in: "list[0].foo=bar,list[0].hello=world", want: map[string]any{"list": []any{map[string]any{"foo": "bar", "hello": "world"}}}},
		{in: "list[0].foo=bar,list[-30].hello=world", wantErr: "negative -30 index not allowed"},
		{in: "list[0]=foo,list[1]=bar", want: map[string]any{"list": []any{"foo", "bar"}}},
		{in: "list[0]=foo,list[1]=bar,", want: map[string]any{"list": []any{"foo", "bar"}}},
		{in: "list[0]=foo,list[3]=bar", want: map[string]any{"list": []any{"foo", nil, nil, "bar"}}},
		{in: "list[0]=foo,list[-20]=bar", wantErr: "negative -20 index not allowed"},
		{in: "illegal[0]name.foo=bar", wantErr: "unexpected data at end of array index: ['n' 'a' 'm' 'e']"},
		{in: "noval[0]", want: map[string]any{"noval": []any{}}},
		{in: "noval[0]=", want: map[string]any{"noval": []any{""}}},
		{in: "nested[0][0]=1", want: map[string]any{"nested": []any{[]any{int64(1)}}}},
		{in: "nested[1][1]=1", want: map[string]any{"nested": []any{nil, []any{nil, int64(1)}}}},
		{
			in: "name1.name2[0].foo=bar,name1.name2[1].foo=bar",
			want: map[string]any{"name1": map[string]any{
				"name2": []any{map[string]any{"foo": "bar"}, map[string]any{"foo": "bar"}},
			}},
		},
		{
			in: "name1.name2[1].foo=bar,name1.name2[0].foo=bar",
			want: map[string]any{"name1": map[string]any{
				"name2": []any{map[string]any{"foo": "bar"}, map[string]any{"foo": "bar"}},
			}},
		},
		{in: "name1.name2[1].foo=bar", want: map[string]any{"name1": map[string]any{"name2": []any{nil, map[string]any{"foo": "bar"}}}}},
		{in: "]={}].", wantErr: "unable to parse key: interface conversion: interface {} is []interface {}, not map[string]interface {}"},
		// Beyond Helm's own tests: type inference.
		{in: "a=TRUE,b=False,c=NULL,d=-5,e=+7,f=1.5,g=0x10,h=9223372036854775808,i=-0", want: map[string]any{
			"a": true, "b": false, "c": nil, "d": int64(-5), "e": int64(7), "f": "1.5", "g": "0x10",
			"h": "9223372036854775808", "i": int64(0),
		}},
		{in: `a\.b=c`, want: map[string]any{"a.b": "c"}},
		{in: `a=x\\y`, want: map[string]any{"a": `x\y`}},
		{in: "a={}", want: map[string]any{"a": []any{""}}},
		{in: "a={x}y", wantErr: `key "y" has no value`},
		{in: "a={x},b=1", want: map[string]any{"a": []any{"x"}, "b": int64(1)}},
		{in: "a=", want: map[string]any{"a": ""}},
		{in: "=x", want: map[string]any{}},
		{in: ".a=1", want: map[string]any{}},
		{in: "a[0", want: map[string]any{}},
		{in: "a[x]=1", wantErr: `error parsing index: strconv.Atoi: parsing "x": invalid syntax`},
		{in: "a[65536]=1", want: map[string]any{"a": append(make([]any, MaxIndex), int64(1))}},
		{in: "a[65537]=1", wantErr: "index of 65537 is greater than maximum supported index of 65536"},
		{in: "a[99999999999999999999]=1", wantErr: `error parsing index: strconv.Atoi: parsing "99999999999999999999": value out of range`},
		{in: "a=1,a[0]=2", wantErr: "unable to parse key: interface conversion: interface {} is int64, not []interface {}"},
		{in: "a=1,a.b=2", wantErr: "unable to parse key: interface conversion: interface {} is int64, not map[string]interface {}"},
		{in: "a=null,a[0]=2", wantErr: "unable to parse key: interface conversion: interface {} is nil, not []interface {}"},
		{in: "a[0]=x,a[0][0]=y", wantErr: "unable to parse key: interface conversion: interface {} is string, not []interface {}"},
		{in: "a[0]=x,a[0].b=y", want: map[string]any{"a": []any{map[string]any{"b": "y"}}}},
		{in: "a.b[0].c.d=1", want: map[string]any{"a": map[string]any{"b": []any{map[string]any{"c": map[string]any{"d": int64(1)}}}}}},
		{in: "é.ü=ß", want: map[string]any{"é": map[string]any{"ü": "ß"}}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Parse(tt.in)
			if tt.wantErr != "" {
				checkErr(t, err, tt.in, tt.wantErr)
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.in, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Parse(%q) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

// checkErr checks that err is a *ParseError for in carrying Helm's message.
func checkErr(t *testing.T, err error, in, msg string) {
	t.Helper()
	var pe *ParseError
	if !errors.As(err, &pe) {
		t.Fatalf("error %v (%T), want a *ParseError", err, err)
	}
	if pe.Input != in || pe.Msg != msg {
		t.Errorf("got Input %q Msg %q, want Input %q Msg %q", pe.Input, pe.Msg, in, msg)
	}
	if pe.Pos < 1 || pe.Pos > len([]rune(in))+1 {
		t.Errorf("Pos %d out of range for %q", pe.Pos, in)
	}
}

func TestParseErrorPosition(t *testing.T) {
	tests := []struct {
		name string
		in   string
		fn   func(string, map[string]any) error
		want string
	}{
		{"no value before comma", "a,b=c", ParseInto, `key "a" has no value (cannot end with ,) at position 3 in "a,b=c"`},
		{"no value at end", "a=1,b", ParseInto, `key "b" has no value at position 6 in "a=1,b"`},
		{"unterminated list", "x=1,a={1,2", ParseInto, `list must terminate with '}' at position 11 in "x=1,a={1,2"`},
		{"bad index", "a[x]=1", ParseInto, `error parsing index: strconv.Atoi: parsing "x": invalid syntax at position 5 in "a[x]=1"`},
		{"counts characters", "é,b", ParseInto, `key "é" has no value (cannot end with ,) at position 3 in "é,b"`},
		{"json syntax", `a=1,b={"x":]`, ParseJSON, `invalid character ']' looking for beginning of value at position 13 in "a=1,b={\"x\":]"`},
		{"json truncated", `b={"x":`, ParseJSON, `unexpected EOF at position 8 in "b={\"x\":"`},
		{"literal", "a.b", ParseLiteralInto, `key "b" has no value at position 4 in "a.b"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.fn(tt.in, map[string]any{})
			if err == nil {
				t.Fatalf("no error for %q", tt.in)
			}
			if diff := cmp.Diff(tt.want, err.Error()); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseString(t *testing.T) {
	tests := []struct {
		in   string
		want map[string]any
	}{
		{"long_int_string=1234567890", map[string]any{"long_int_string": "1234567890"}},
		{"boolean=true", map[string]any{"boolean": "true"}},
		{"is_null=null", map[string]any{"is_null": "null"}},
		{"zero=0", map[string]any{"zero": "0"}},
		{"list={1,true}", map[string]any{"list": []any{"1", "true"}}},
		{"a[1]=2", map[string]any{"a": []any{nil, "2"}}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseString(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseInto(t *testing.T) {
	tests := []struct {
		name   string
		inputs []string
		parse  func(string, map[string]any) error
		dest   map[string]any
		want   map[string]any
	}{
		{
			name:   "overwrite and add",
			inputs: []string{"outer.inner1=value1,outer.inner3=value3,outer.inner4=4"},
			parse:  ParseInto,
			dest:   map[string]any{"outer": map[string]any{"inner1": "overwrite", "inner2": "value2"}},
			want: map[string]any{"outer": map[string]any{
				"inner1": "value1", "inner2": "value2", "inner3": "value3", "inner4": int64(4),
			}},
		},
		{
			name:   "same nested list item",
			inputs: []string{"listOuter[0][0].type=listValue", "listOuter[0][0].status=alive"},
			parse:  ParseInto,
			dest:   map[string]any{},
			want: map[string]any{"listOuter": []any{[]any{
				map[string]any{"type": "listValue", "status": "alive"},
			}}},
		},
		{
			name:   "two nested list items",
			inputs: []string{"listOuter[0][0].type=listValue", "listOuter[1][0].status=alive"},
			parse:  ParseInto,
			dest:   map[string]any{},
			want: map[string]any{"listOuter": []any{
				[]any{map[string]any{"type": "listValue"}},
				[]any{map[string]any{"status": "alive"}},
			}},
		},
		{
			name:   "into existing nested lists",
			inputs: []string{"listOuter[0][1][0].type=listValue", "listOuter[0][0][1].status=alive"},
			parse:  ParseInto,
			dest:   map[string]any{"listOuter": []any{[]any{[]any{map[string]any{"exited": "old"}}}}},
			want: map[string]any{"listOuter": []any{[]any{
				[]any{map[string]any{"exited": "old"}, map[string]any{"status": "alive"}},
				[]any{map[string]any{"type": "listValue"}},
			}}},
		},
		{
			name:   "string",
			inputs: []string{"outer.inner1=1,outer.inner3=3"},
			parse:  ParseIntoString,
			dest:   map[string]any{"outer": map[string]any{"inner1": "overwrite", "inner2": "value2"}},
			want:   map[string]any{"outer": map[string]any{"inner1": "1", "inner2": "value2", "inner3": "3"}},
		},
		{
			name:   "null replaces a table",
			inputs: []string{"a=null"},
			parse:  ParseInto,
			dest:   map[string]any{"a": map[string]any{"b": 1}},
			want:   map[string]any{"a": nil},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, in := range tt.inputs {
				if err := tt.parse(in, tt.dest); err != nil {
					t.Fatalf("%q: %v", in, err)
				}
			}
			if diff := cmp.Diff(tt.want, tt.dest); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseJSON(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		dest    map[string]any
		want    map[string]any
		wantErr string
	}{
		{
			name: "scalars",
			in:   `outer.inner1="1",outer.inner3=3,outer.inner4=true,outer.inner5="true"`,
			dest: map[string]any{"outer": map[string]any{"inner1": "overwrite", "inner2": "value2"}},
			want: map[string]any{"outer": map[string]any{
				"inner1": "1", "inner2": "value2", "inner3": float64(3), "inner4": true, "inner5": "true",
			}},
		},
		{
			name: "objects and arrays",
			in:   `outer.inner1={"a":"1","b":2,"c":[1,2,3]},outer.inner3=["new value 1","new value 2"],outer.inner4={"aa":"1","bb":2,"cc":[1,2,3]},outer.inner5=[{"A":"1","B":2,"C":[1,2,3]}]`,
			dest: map[string]any{"outer": map[string]any{
				"inner1": map[string]any{"x": "overwrite"},
				"inner2": "value2",
				"inner3": []any{"overwrite"},
			}},
			want: map[string]any{"outer": map[string]any{
				"inner1": map[string]any{"a": "1", "b": float64(2), "c": []any{float64(1), float64(2), float64(3)}},
				"inner2": "value2",
				"inner3": []any{"new value 1", "new value 2"},
				"inner4": map[string]any{"aa": "1", "bb": float64(2), "cc": []any{float64(1), float64(2), float64(3)}},
				"inner5": []any{map[string]any{"A": "1", "B": float64(2), "C": []any{float64(1), float64(2), float64(3)}}},
			}},
		},
		{
			name: "null and empty",
			in:   `outer.inner1=,outer.inner3={"aa":"1","bb":2,"cc":[1,2,3]},outer.inner3.cc[1]=null`,
			dest: map[string]any{"outer": map[string]any{"inner1": map[string]any{"x": "overwrite"}, "inner2": "value2"}},
			want: map[string]any{"outer": map[string]any{
				"inner1": nil,
				"inner2": "value2",
				"inner3": map[string]any{"aa": "1", "bb": float64(2), "cc": []any{float64(1), nil, float64(3)}},
			}},
		},
		{
			name: "blanks around values",
			in:   `a= 1 , b = "x",c=  `,
			dest: map[string]any{},
			want: map[string]any{"a": float64(1), " b ": "x", "c": nil},
		},
		{
			name:    "syntax error",
			in:      `outer.inner5={"A":"1","B":2,"C":[1,2,3]}]`,
			dest:    map[string]any{},
			wantErr: `key "]" has no value`,
		},
		{
			// Helm's own "syntax error" case fails on its nil map.
			name:    "nil map",
			in:      `outer.inner1={"a":"1"}`,
			dest:    nil,
			wantErr: "unable to parse key: assignment to entry in nil map",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ParseJSON(tt.in, tt.dest)
			if tt.wantErr != "" {
				checkErr(t, err, tt.in, tt.wantErr)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, tt.dest); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseIntoFile(t *testing.T) {
	reader := func(rs []rune) (any, error) {
		switch string(rs) {
		case "path1":
			return "value1", nil
		case "path2":
			return "value2", nil
		}
		return nil, fmt.Errorf("open %s: no such file or directory", string(rs))
	}
	tests := []struct {
		in      string
		want    map[string]any
		wantErr string
	}{
		{in: "name1=path1", want: map[string]any{"name1": "value1"}},
		{in: "name1=path1,a.b[1]=path2", want: map[string]any{"name1": "value1", "a": map[string]any{"b": []any{nil, "value2"}}}},
		{in: "l={path1,path2}", want: map[string]any{"l": []any{"value1", "value2"}}},
		{in: "name1=nope", wantErr: "open nope: no such file or directory"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got := map[string]any{}
			err := ParseIntoFile(tt.in, got, reader)
			if tt.wantErr != "" {
				checkErr(t, err, tt.in, tt.wantErr)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	if err := ParseIntoFile("a=b", map[string]any{}, nil); err == nil {
		t.Error("no error for a nil reader")
	}
}

// nestedName is name1.name2...name<n>.
func nestedName(n int) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = fmt.Sprintf("name%d", i+1)
	}
	return strings.Join(parts, ".")
}

func TestBounds(t *testing.T) {
	nameErr := fmt.Sprintf("value name nested level is greater than maximum supported nested level of %d", MaxNestedNameLevel)
	depthErr := fmt.Sprintf("value nesting level is greater than maximum supported nesting level of %d", MaxDepth)
	parsers := map[string]func(string, map[string]any) error{"set": ParseInto, "literal": ParseLiteralInto}
	tests := []struct {
		name    string
		in      string
		wantErr string
	}{
		{"names at the limit", nestedName(MaxNestedNameLevel+1) + "=v", ""},
		{"names too deep", nestedName(MaxNestedNameLevel+2) + "=v", nameErr},
		{"lists at the limit", "a" + strings.Repeat("[0]", MaxDepth-1) + "=v", ""},
		{"lists too deep", "a" + strings.Repeat("[0]", MaxDepth) + "=v", depthErr},
		{"lists and names too deep", strings.Repeat("a[0].", MaxDepth) + "a=v", depthErr},
		{"far too deep", "a" + strings.Repeat("[0]", 1_000_000) + "=v", depthErr},
	}
	for pname, parse := range parsers {
		for _, tt := range tests {
			t.Run(pname+"/"+tt.name, func(t *testing.T) {
				err := parse(tt.in, map[string]any{})
				if tt.wantErr == "" {
					if err != nil {
						t.Fatal(err)
					}
					return
				}
				checkErr(t, err, tt.in, tt.wantErr)
			})
		}
	}
}
