package benchutil

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestTableWrite(t *testing.T) {
	table := Table{
		Groups:  []Group{{Span: 1}, {Label: "WALL ms", Span: 2}, {Label: "A LONG LABEL", Span: 1}},
		Columns: []Column{{Header: "CHART"}, {Header: "ours", Right: true}, {Header: "×", Right: true}, {Header: "same"}},
		Rows: [][]string{
			{"a/b", "12", "1.50×", "yes"},
			{"TOTAL", "1234", "0.80×", ""},
		},
	}
	want := strings.Join([]string{
		"       WALL ms      A LONG LABEL",
		"CHART  ours      ×  same",
		"a/b      12  1.50×  yes",
		"TOTAL  1234  0.80×",
		"",
	}, "\n")
	var b strings.Builder
	if err := table.Write(&b); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("Write (-want +got):\n%s", diff)
	}
}
