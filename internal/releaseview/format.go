package releaseview

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Format is an output format of -o/--output, as Helm's: table (the
// default), json or yaml. It is a pflag.Value.
type Format string

// Output formats.
const (
	FormatTable Format = "table"
	FormatJSON  Format = "json"
	FormatYAML  Format = "yaml"
)

// Formats are the formats -o accepts, in the order help lists them.
var Formats = []Format{FormatTable, FormatJSON, FormatYAML}

// ErrInvalidFormat is Helm's error for an unknown -o value.
var ErrInvalidFormat = errors.New("invalid format type")

// FormatUsage is the help text of -o/--output.
func FormatUsage() string {
	names := make([]string, len(Formats))
	for i, f := range Formats {
		names[i] = string(f)
	}
	return fmt.Sprintf("prints the output in the specified format. Allowed values: %s", strings.Join(names, ", "))
}

// String implements pflag.Value.
func (f *Format) String() string { return string(*f) }

// Type implements pflag.Value.
func (f *Format) Type() string { return "format" }

// Set implements pflag.Value: it accepts table, json and yaml.
func (f *Format) Set(s string) error {
	for _, v := range Formats {
		if s == string(v) {
			*f = v
			return nil
		}
	}
	return ErrInvalidFormat
}

// Table lays rows out as Helm's tables (github.com/gosuri/uitable) do:
// every cell padded with spaces to the width of its column, cells joined
// with a tab, a cell of several lines spread over as many lines, and a
// newline after the last row. The first row is usually the header.
func Table(rows [][]string) string {
	if len(rows) == 0 {
		return "\n"
	}
	var widths []int
	for _, row := range rows {
		for i, cell := range row {
			if i >= len(widths) {
				widths = append(widths, 0)
			}
			for _, line := range strings.Split(cell, "\n") {
				widths[i] = max(widths[i], utf8.RuneCountInString(line))
			}
		}
	}
	var b strings.Builder
	for r, row := range rows {
		if r > 0 {
			b.WriteByte('\n')
		}
		lines := make([][]string, len(row))
		height := 1
		for i, cell := range row {
			lines[i] = strings.Split(cell, "\n")
			height = max(height, len(lines[i]))
		}
		for l := range height {
			if l > 0 {
				b.WriteByte('\n')
			}
			for i := range row {
				if i > 0 {
					b.WriteByte('\t')
				}
				s := ""
				if l < len(lines[i]) {
					s = lines[i][l]
				}
				b.WriteString(s)
				b.WriteString(strings.Repeat(" ", widths[i]-utf8.RuneCountInString(s)))
			}
		}
	}
	b.WriteByte('\n')
	return b.String()
}
