package chartcache

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const helloDigest = "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"

func TestPutLookup(t *testing.T) {
	c := New(t.TempDir())
	d, p, err := c.PutBytes([]byte("hello"), "")
	if err != nil {
		t.Fatal(err)
	}
	if d != helloDigest {
		t.Errorf("digest %s", d)
	}
	if got, ok := c.Lookup(d); !ok || got != p {
		t.Errorf("lookup %q %v, want %q", got, ok, p)
	}
	if b, _ := os.ReadFile(p); string(b) != "hello" {
		t.Errorf("content %q", b)
	}
}

func TestPutMismatchLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	c := New(dir)
	_, _, err := c.PutBytes([]byte("hello"), "sha256:"+strings.Repeat("0", 64))
	var mm *DigestMismatchError
	if !errors.As(err, &mm) || mm.Got != helloDigest {
		t.Fatalf("got %v, want a digest mismatch", err)
	}
	assertEmpty(t, dir)
}

func TestPutTooLargeLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	c := New(dir)
	if _, _, err := c.Put(strings.NewReader("hello"), "", 4); err == nil {
		t.Fatal("5 bytes stored under a 4-byte limit")
	}
	assertEmpty(t, dir)
}

func TestRefs(t *testing.T) {
	c := New(t.TempDir())
	if _, _, ok := c.Ref("k"); ok {
		t.Fatal("unknown ref found")
	}
	if err := c.SetRef("k", helloDigest); err != nil {
		t.Fatal(err)
	}
	if _, _, ok := c.Ref("k"); ok {
		t.Fatal("ref to a blob that is not cached found")
	}
	c.PutBytes([]byte("hello"), "")
	if d, _, ok := c.Ref("k"); !ok || d != helloDigest {
		t.Fatalf("ref: %s %v", d, ok)
	}
}

func assertEmpty(t *testing.T, dir string) {
	t.Helper()
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			t.Errorf("left behind: %s", p)
		}
		return nil
	})
}
