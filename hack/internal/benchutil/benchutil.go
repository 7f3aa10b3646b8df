package benchutil

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
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

// Median is the median of ds (0 for none), durations or byte counts; ds is
// not modified.
func Median[T ~int64](ds []T) T {
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

// Stats is what one run of a process took.
type Stats struct {
	// Wall is the time from start to exit.
	Wall time.Duration
	// CPU is the process's user plus system CPU time, all its threads.
	CPU time.Duration
	// MaxRSS is the process's peak resident set size in bytes, 0 where the system does not report it. On Linux it
	// is at least the resident set of the parent when it started the process: Go starts a child with
	// clone(CLONE_VM|CLONE_VFORK), and exec records the high-water mark of the address space it leaves, the
	// parent's. A benchmark that reads it keeps its own memory well below its children's (see SelfMaxRSS).
	MaxRSS int64
}

// Run runs cmd with its output captured and returns its stdout, wall time
// and CPU time (user + sys of the process). A failure names the command and
// the first lines of its stderr.
func Run(cmd *exec.Cmd) (stdout []byte, wall, cpu time.Duration, err error) {
	stdout, s, err := RunStats(cmd)
	return stdout, s.Wall, s.CPU, err
}

// RunStats runs cmd and returns its stdout and what the run took: wall time,
// CPU time and peak RSS. Stdout is captured unless cmd.Stdout is set, which
// then receives it (and RunStats returns none). A failure names the command
// and the first lines of its stderr.
func RunStats(cmd *exec.Cmd) (stdout []byte, s Stats, err error) {
	var out, errOut bytes.Buffer
	if cmd.Stdout == nil {
		cmd.Stdout = &out
	}
	cmd.Stderr = &errOut
	start := time.Now()
	err = cmd.Run()
	s.Wall = time.Since(start)
	if cmd.ProcessState != nil {
		s.CPU = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
		s.MaxRSS = maxRSS(cmd.ProcessState)
	}
	if err != nil {
		msg := strings.TrimSpace(errOut.String())
		if lines := strings.Split(msg, "\n"); len(lines) > 5 {
			msg = strings.Join(lines[:5], "\n") + "\n…"
		}
		if msg != "" {
			msg = ":\n" + msg
		}
		return out.Bytes(), s, fmt.Errorf("%s %s: %w%s", cmd.Path, strings.Join(cmd.Args[1:], " "), err, msg)
	}
	return out.Bytes(), s, nil
}

// LoadAverage is the machine's 1, 5 and 15 minute load averages, from
// /proc/loadavg (Linux).
func LoadAverage() ([3]float64, error) {
	var avg [3]float64
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return avg, err
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return avg, fmt.Errorf("/proc/loadavg: unexpected %q", strings.TrimSpace(string(b)))
	}
	for i := range avg {
		if avg[i], err = strconv.ParseFloat(f[i], 64); err != nil {
			return avg, fmt.Errorf("/proc/loadavg: %w", err)
		}
	}
	return avg, nil
}
