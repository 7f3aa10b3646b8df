//go:build !unix

package benchutil

import "os"

// maxRSS is 0: this system does not report a process's peak resident set
// size through os.ProcessState.
func maxRSS(*os.ProcessState) int64 { return 0 }

// SelfMaxRSS is 0: this system's peak resident set size is not read here.
func SelfMaxRSS() int64 { return 0 }
