package main

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"
)

// summary collects the figures measured against targets, and the requests that failed.
type summary struct {
	rows   []summaryRow
	failed int
	// maxLoad is the highest 1-minute load average seen while timing.
	maxLoad float64
}

// sawLoad notes the load average now.
func (s *summary) sawLoad() { s.maxLoad = max(s.maxLoad, load1()) }

type summaryRow struct {
	what, value, target string
	ok                  bool
	// info: a figure without a target.
	info bool
}

func (s *summary) add(what, value, target string, ok bool) {
	s.rows = append(s.rows, summaryRow{what: what, value: value, target: target, ok: ok})
}

// info adds a figure reported for information, without a target.
func (s *summary) info(what, value string) {
	s.rows = append(s.rows, summaryRow{what: what, value: value, target: "(info)", info: true})
}

func (s *summary) print(w io.Writer) {
	fmt.Fprintln(w, "TARGETS (issue 5, acceptance item 4; issue 16)")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, r := range s.rows {
		m := mark(r.ok)
		if r.info {
			m = ""
		}
		fmt.Fprintf(tw, "   %s\t%s\t%s\t%s\n", r.what, r.value, r.target, m)
	}
	tw.Flush()
}

func mark(ok bool) string {
	if ok {
		return "✓"
	}
	return "✗"
}

// us formats a short duration in microseconds (milliseconds from 10 ms).
func us(d time.Duration) string {
	if d >= 10*time.Millisecond {
		return ms(d)
	}
	return fmt.Sprintf("%.0fµs", float64(d)/float64(time.Microsecond))
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond)) }

func signedMs(d time.Duration) string {
	return fmt.Sprintf("%+.2fms", float64(d)/float64(time.Millisecond))
}
