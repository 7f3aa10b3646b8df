// Package benchutil holds what the benchmark commands under hack/ share:
// finding the binaries they compare, running a timed process (wall and CPU
// time, peak RSS), the machine's load average, medians, how they print times
// and ratios, and a text table with grouped columns.
package benchutil
