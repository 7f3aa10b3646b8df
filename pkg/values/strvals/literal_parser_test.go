package strvals

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The cases of Helm's pkg/strvals/literal_parser_test.go, with exact types.
func TestParseLiteralInto(t *testing.T) {
	tests := []struct {
		in      string
		want    map[string]any
		wantErr string
	}{
		{in: "name", wantErr: `key "name" has no value`},
		{in: "name=", want: map[string]any{"name": ""}},
		{in: "name=value", want: map[string]any{"name": "value"}},
		{in: "long_int_string=1234567890", want: map[string]any{"long_int_string": "1234567890"}},
		{in: "boolean=true", want: map[string]any{"boolean": "true"}},
		{in: "is_null=null", want: map[string]any{"is_null": "null"}},
		{in: "zero=0", want: map[string]any{"zero": "0"}},
		{in: "name1=null,name2=value2", want: map[string]any{"name1": "null,name2=value2"}},
		{in: "name1=value,,,tail", want: map[string]any{"name1": "value,,,tail"}},
		{in: "leading_zeros=00009", want: map[string]any{"leading_zeros": "00009"}},
		{in: "name=one two three", want: map[string]any{"name": "one two three"}},
		{in: "outer.inner=value", want: map[string]any{"outer": map[string]any{"inner": "value"}}},
		{in: "outer.middle.inner=value", want: map[string]any{"outer": map[string]any{"middle": map[string]any{"inner": "value"}}}},
		{in: "name1.name2", wantErr: `key "name2" has no value`},
		{in: "name1.name2=", want: map[string]any{"name1": map[string]any{"name2": ""}}},
		{in: "name1.=name2", wantErr: `key map "name1" has no value`},
		{in: "name1.,name2", wantErr: `key ",name2" has no value`},
		{in: "name1={value1,value2}", want: map[string]any{"name1": "{value1,value2}"}},
		// Lists.
		{in: "list[0]=foo", want: map[string]any{"list": []any{"foo"}}},
		{in: "list[0].foo=bar", want: map[string]any{"list": []any{map[string]any{"foo": "bar"}}}},
		{in: "list[-30].hello=world", wantErr: "negative -30 index not allowed"},
		{in: "list[3]=bar", want: map[string]any{"list": []any{nil, nil, nil, "bar"}}},
		{in: "illegal[0]name.foo=bar", wantErr: "unexpected data at end of array index: ['n' 'a' 'm' 'e']"},
		{in: "noval[0]", want: map[string]any{"noval": []any{}}},
		{in: "noval[0]=", want: map[string]any{"noval": []any{""}}},
		{in: "nested[0][0]=1", want: map[string]any{"nested": []any{[]any{"1"}}}},
		{in: "nested[1][1]=1", want: map[string]any{"nested": []any{nil, []any{nil, "1"}}}},
		{in: "name1.name2[0].foo=bar", want: map[string]any{"name1": map[string]any{"name2": []any{map[string]any{"foo": "bar"}}}}},
		{in: "name1.name2[1].foo=bar", want: map[string]any{"name1": map[string]any{"name2": []any{nil, map[string]any{"foo": "bar"}}}}},
		{in: "]={}].", want: map[string]any{"]": "{}]."}},
		// Helm's issue cases: , = $ ( ) { } . \ \\
		{in: "name=val,val", want: map[string]any{"name": "val,val"}},
		{in: "name=val.val", want: map[string]any{"name": "val.val"}},
		{in: "name=val=val", want: map[string]any{"name": "val=val"}},
		{in: "name=val$val", want: map[string]any{"name": "val$val"}},
		{in: "name=(value", want: map[string]any{"name": "(value"}},
		{in: "name=value)", want: map[string]any{"name": "value)"}},
		{in: "name=(value)", want: map[string]any{"name": "(value)"}},
		{in: "name={value", want: map[string]any{"name": "{value"}},
		{in: "name=value}", want: map[string]any{"name": "value}"}},
		{in: "name={value}", want: map[string]any{"name": "{value}"}},
		{in: "name={value1,value2}", want: map[string]any{"name": "{value1,value2}"}},
		{in: `name=val\val`, want: map[string]any{"name": `val\val`}},
		{in: `name=val\\val`, want: map[string]any{"name": `val\\val`}},
		{in: `name=val\\\val`, want: map[string]any{"name": `val\\\val`}},
		{in: `name={val,.?*v\0a!l)some`, want: map[string]any{"name": `{val,.?*v\0a!l)some`}},
		{in: `name=em%GT)tqUDqz,i-\h+Mbqs-!:.m\\rE=mkbM#rR}@{-k@`, want: map[string]any{"name": `em%GT)tqUDqz,i-\h+Mbqs-!:.m\\rE=mkbM#rR}@{-k@`}},
		// Beyond Helm's own tests.
		{in: `a\.b=c`, want: map[string]any{`a\`: map[string]any{"b": "c"}}},
		{in: "a=\xff", want: map[string]any{"a": "\uFFFD"}},
		{in: "a[0]=x,a[0][0]=y", want: map[string]any{"a": []any{"x,a[0][0]=y"}}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got := map[string]any{}
			err := ParseLiteralInto(tt.in, got)
			if tt.wantErr != "" {
				checkErr(t, err, tt.in, tt.wantErr)
				return
			}
			if err != nil {
				t.Fatalf("ParseLiteralInto(%q): %v", tt.in, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseLiteralInto(%q) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestParseLiteralIntoExisting(t *testing.T) {
	tests := []struct {
		name   string
		inputs []string
		dest   map[string]any
		want   map[string]any
	}{
		{
			name:   "the value is the rest of the line",
			inputs: []string{"outer.inner1=value1,outer.inner3=value3,outer.inner4=4"},
			dest:   map[string]any{"outer": map[string]any{"inner1": "overwrite", "inner2": "value2"}},
			want: map[string]any{"outer": map[string]any{
				"inner1": "value1,outer.inner3=value3,outer.inner4=4", "inner2": "value2",
			}},
		},
		{
			name:   "same nested list item",
			inputs: []string{"listOuter[0][0].type=listValue", "listOuter[0][0].status=alive"},
			dest:   map[string]any{},
			want: map[string]any{"listOuter": []any{[]any{
				map[string]any{"type": "listValue", "status": "alive"},
			}}},
		},
		{
			name:   "two nested list items",
			inputs: []string{"listOuter[0][0].type=listValue", "listOuter[1][0].status=alive"},
			dest:   map[string]any{},
			want: map[string]any{"listOuter": []any{
				[]any{map[string]any{"type": "listValue"}},
				[]any{map[string]any{"status": "alive"}},
			}},
		},
		{
			name:   "into existing nested lists",
			inputs: []string{"listOuter[0][1][0].type=listValue", "listOuter[0][0][1].status=alive"},
			dest:   map[string]any{"listOuter": []any{[]any{[]any{map[string]any{"exited": "old"}}}}},
			want: map[string]any{"listOuter": []any{[]any{
				[]any{map[string]any{"exited": "old"}, map[string]any{"status": "alive"}},
				[]any{map[string]any{"type": "listValue"}},
			}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, in := range tt.inputs {
				if err := ParseLiteralInto(in, tt.dest); err != nil {
					t.Fatalf("%q: %v", in, err)
				}
			}
			if diff := cmp.Diff(tt.want, tt.dest); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
