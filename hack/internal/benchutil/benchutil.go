package benchutil

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// ResolveBinary turns a bare command name into its PATH location and any
// other path into an absolute one (the benchmarks run commands in other
// folders).
func ResolveBinary(bin string) (string, error) {
	if bin == "" {
		return "", errors.New("no binary given")
	}
	if !strings.ContainsRune(bin, filepath.Separator) {
		return exec.LookPath(bin)
	}
	abs, err := filepath.Abs(bin)
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(abs); err != nil {
		return "", err
	}
	return abs, nil
}

// EnvOr is the environment variable key, or fallback when it is empty.
func EnvOr(key, fallback string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return fallback
}

// DefaultHelm is where `make helm` puts the oracle with the default
// CACHE_DIR.
func DefaultHelm() string {
	home, err := os.UserHomeDir()
	if err != nil {
		return "helm"
	}
	return filepath.Join(home, ".cache", "kubectl-chart", "helm-v4.3.1", "helm")
}

// Median is the median of ds (0 for none); ds is not modified.
func Median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// Ms prints a duration in whole milliseconds.
func Ms(d time.Duration) string {
	return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond))
}

// Ratio prints helm/ours ("-" when ours is not positive).
func Ratio(helm, ours time.Duration) string {
	if ours <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f×", float64(helm)/float64(ours))
}
