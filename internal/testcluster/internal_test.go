package testcluster

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestNamespacePrefix(t *testing.T) {
	tests := []struct {
		name, test, want string
	}{
		{"plain", "TestInstall", "testinstall-"},
		{"subtest", "TestInstall/with_hooks", "testinstall-with-hooks-"},
		{"punctuation at the ends", "/Test.Foo_/", "test-foo-"},
		{"long", "TestAVeryLongNameThatGoesOnAndOnPastTheLimitOfNamespaceNames/sub", "testaverylongnamethatgoesonandonpastthelimitofname-"},
		{"nothing usable", "___", "test-"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := namespacePrefix(tt.test)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("namespacePrefix(%q) (-want +got):\n%s", tt.test, diff)
			}
			if len(got)+5 > 63 {
				t.Errorf("namespacePrefix(%q) = %q: too long for a namespace name with 5 generated characters", tt.test, got)
			}
		})
	}
}

func TestReadEnvFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "versions.env")
	data := "# comment\n\nKUBERNETES_VERSION=v1.36.3\n ETCD_VERSION = v3.6.8 \n"
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := readEnvFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"KUBERNETES_VERSION": "v1.36.3", "ETCD_VERSION": "v3.6.8"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("readEnvFile (-want +got):\n%s", diff)
	}
	if err := os.WriteFile(path, []byte("oops\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := readEnvFile(path); err == nil {
		t.Error("readEnvFile accepted a line without =")
	}
}

// The pinned versions file is where AssetsDir and hack/k8s.mk both look.
func TestVersionsFileIsReadable(t *testing.T) {
	v, err := Versions()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"KUBERNETES_VERSION", "KUBERNETES_STAGING_VERSION", "ETCD_VERSION", "KWOK_VERSION"} {
		if v[k] == "" {
			t.Errorf("%s: %s is not set", versionsFile, k)
		}
	}
}
