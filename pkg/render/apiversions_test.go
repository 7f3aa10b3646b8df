package render

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensionsv1beta1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1beta1"
	"k8s.io/client-go/kubernetes/scheme"
)

// TestDefaultAPIVersionsMatchScheme keeps the literal list in step with
// client-go's scheme (regenerate with `go run ./hack/apiversions`).
func TestDefaultAPIVersionsMatchScheme(t *testing.T) {
	_ = apiextensionsv1beta1.AddToScheme(scheme.Scheme)
	_ = apiextensionsv1.AddToScheme(scheme.Scheme)
	var want VersionSet
	for _, gv := range scheme.Scheme.PrioritizedVersionsAllGroups() {
		want = append(want, gv.String())
	}
	if diff := cmp.Diff(want, defaultAPIVersions); diff != "" {
		t.Errorf("defaultAPIVersions differs from client-go's scheme (-scheme +ours):\n%s", diff)
	}
}
