//go:build linux

package hugeheap

import (
	"bytes"
	"os"
	"strconv"
	"testing"
	"unsafe"
)

// TestHeapAdvised checks that an allocation made after init lies in a
// mapping the kernel lists with the huge-page advice ("hg" in VmFlags).
func TestHeapAdvised(t *testing.T) {
	if os.Getenv("KUBECTL_CHART_HUGEPAGES") == "0" {
		t.Skip("KUBECTL_CHART_HUGEPAGES=0")
	}
	if _, err := os.Stat("/sys/kernel/mm/transparent_hugepage/enabled"); err != nil {
		t.Skipf("this kernel has no transparent huge pages: %v", err)
	}
	if !enabled {
		t.Fatal("init did not mark the heap")
	}
	b := make([]byte, 1<<20)
	addr := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	flags, ok := vmFlags(t, addr)
	if !ok {
		t.Fatalf("no mapping holds %#x", addr)
	}
	if !bytes.Contains(flags, []byte(" hg")) {
		t.Errorf("the mapping of a heap allocation has VmFlags %q: want hg", flags)
	}
}

// vmFlags is the VmFlags line of the smaps entry holding addr.
func vmFlags(t *testing.T, addr uintptr) ([]byte, bool) {
	t.Helper()
	smaps, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		t.Skipf("no /proc/self/smaps: %v", err)
	}
	in := false
	for line := range bytes.SplitSeq(smaps, []byte("\n")) {
		if rng, _, _ := bytes.Cut(line, []byte(" ")); bytes.Contains(rng, []byte("-")) && !bytes.HasSuffix(rng, []byte(":")) {
			lo, hi, _ := bytes.Cut(rng, []byte("-"))
			s, err1 := strconv.ParseUint(string(lo), 16, 64)
			e, err2 := strconv.ParseUint(string(hi), 16, 64)
			in = err1 == nil && err2 == nil && uintptr(s) <= addr && addr < uintptr(e)
			continue
		}
		if in && bytes.HasPrefix(line, []byte("VmFlags:")) {
			return line, true
		}
	}
	return nil, false
}
