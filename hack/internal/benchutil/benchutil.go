package benchutil

import (
	"bytes"
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

// Run runs cmd with its output captured and returns its stdout, wall time
// and CPU time (user + sys of the process). A failure names the command and
// the first lines of its stderr.
func Run(cmd *exec.Cmd) (stdout []byte, wall, cpu time.Duration, err error) {
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	start := time.Now()
	err = cmd.Run()
	wall = time.Since(start)
	if cmd.ProcessState != nil {
		cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	}
	if err != nil {
		msg := strings.TrimSpace(errOut.String())
		if lines := strings.Split(msg, "\n"); len(lines) > 5 {
			msg = strings.Join(lines[:5], "\n") + "\n…"
		}
		if msg != "" {
			msg = ":\n" + msg
		}
		return out.Bytes(), wall, cpu, fmt.Errorf("%s %s: %w%s", cmd.Path, strings.Join(cmd.Args[1:], " "), err, msg)
	}
	return out.Bytes(), wall, cpu, nil
}
