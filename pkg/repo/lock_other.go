//go:build !unix

package repo

import (
	"context"
	"os"
	"time"
)

// lockFile is a no-op where flock(2) is not available.
func lockFile(context.Context, string, time.Duration) (func(), error) { return func() {}, nil }

func fileID(os.FileInfo) uint64 { return 0 }
