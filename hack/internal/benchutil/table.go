package benchutil

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// Column is one column of a Table.
type Column struct {
	// Header is the column's heading, on the line under the group labels.
	Header string
	// Right aligns the column's cells to the right (numbers); else to the left.
	Right bool
}

// Group labels Span consecutive columns; a Table's groups cover its columns
// from the left, in order.
type Group struct {
	Label string
	Span  int
}

// Table is a text table for a terminal: a line of group labels, each at the
// start of the columns it spans, a line of column headers, then the rows,
// with two spaces between columns. Widths count runes.
type Table struct {
	Groups  []Group
	Columns []Column
	Rows    [][]string
}

// Write writes the table to w; lines carry no trailing spaces.
func (t Table) Write(w io.Writer) error {
	widths := t.widths()
	var b strings.Builder
	if len(t.Groups) > 0 {
		col := 0
		var cells []string
		for _, g := range t.Groups {
			cells = append(cells, pad(g.Label, spanWidth(widths[col:col+g.Span]), false))
			col += g.Span
		}
		writeLine(&b, cells)
	}
	headers := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		headers[i] = pad(c.Header, widths[i], c.Right)
	}
	writeLine(&b, headers)
	for _, row := range t.Rows {
		cells := make([]string, len(row))
		for i, cell := range row {
			cells[i] = pad(cell, widths[i], t.Columns[i].Right)
		}
		writeLine(&b, cells)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// widths is the width of each column: its widest header or cell, widened at
// the end of a group whose label is wider than its columns.
func (t Table) widths() []int {
	widths := make([]int, len(t.Columns))
	for i, c := range t.Columns {
		widths[i] = utf8.RuneCountInString(c.Header)
	}
	for _, row := range t.Rows {
		if len(row) != len(t.Columns) {
			panic(fmt.Sprintf("benchutil.Table: a row of %d cells for %d columns", len(row), len(t.Columns)))
		}
		for i, cell := range row {
			widths[i] = max(widths[i], utf8.RuneCountInString(cell))
		}
	}
	col := 0
	for _, g := range t.Groups {
		if g.Span < 1 || col+g.Span > len(widths) {
			panic(fmt.Sprintf("benchutil.Table: group %q spans columns %d to %d of %d", g.Label, col, col+g.Span-1, len(widths)))
		}
		if extra := utf8.RuneCountInString(g.Label) - spanWidth(widths[col:col+g.Span]); extra > 0 {
			widths[col+g.Span-1] += extra
		}
		col += g.Span
	}
	return widths
}

// spanWidth is the width of adjacent columns of widths together, with the
// spaces between them.
func spanWidth(widths []int) int {
	width := 2 * (len(widths) - 1)
	for _, w := range widths {
		width += w
	}
	return width
}

// pad pads s with spaces to width runes, on the left when right is set.
func pad(s string, width int, right bool) string {
	fill := strings.Repeat(" ", max(0, width-utf8.RuneCountInString(s)))
	if right {
		return fill + s
	}
	return s + fill
}

// writeLine writes cells two spaces apart, without trailing spaces.
func writeLine(b *strings.Builder, cells []string) {
	b.WriteString(strings.TrimRight(strings.Join(cells, "  "), " "))
	b.WriteByte('\n')
}
