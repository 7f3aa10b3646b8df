// Package benchutil holds what the benchmark commands under hack/ share:
// finding the binaries they compare, medians and how they print times and
// ratios.
package benchutil
