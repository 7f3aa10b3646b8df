//go:build unix

package benchutil

import (
	"os"
	"runtime"
	"syscall"
)

// maxRSS is the peak resident set size of the finished process ps in bytes
// (wait4's ru_maxrss).
func maxRSS(ps *os.ProcessState) int64 {
	ru, ok := ps.SysUsage().(*syscall.Rusage)
	if !ok || ru == nil {
		return 0
	}
	return maxrssBytes(ru)
}

// SelfMaxRSS is the peak resident set size of this process in bytes, 0 when
// unknown. On Linux a child started while this process was at its peak
// reads at least this much in Stats.MaxRSS.
func SelfMaxRSS() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return maxrssBytes(&ru)
}

// maxrssBytes is ru_maxrss in bytes: it is in KiB except on Apple systems.
func maxrssBytes(ru *syscall.Rusage) int64 {
	if runtime.GOOS == "darwin" || runtime.GOOS == "ios" {
		return int64(ru.Maxrss)
	}
	return int64(ru.Maxrss) * 1024
}
