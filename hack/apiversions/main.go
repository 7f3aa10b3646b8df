// Command apiversions prints the default .Capabilities.APIVersions of Helm
// v4's client-only rendering: every group/version of client-go's scheme plus
// apiextensions v1 and v1beta1, in the scheme's priority order. Its output is
// the body of pkg/render/apiversions.go; a test in pkg/render checks it.
package main

import (
	"fmt"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensionsv1beta1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1beta1"
	"k8s.io/client-go/kubernetes/scheme"
)

func main() {
	for _, v := range Versions() {
		fmt.Printf("\t%q,\n", v)
	}
}

// Versions lists the group versions.
func Versions() []string {
	_ = apiextensionsv1beta1.AddToScheme(scheme.Scheme)
	_ = apiextensionsv1.AddToScheme(scheme.Scheme)
	var out []string
	for _, gv := range scheme.Scheme.PrioritizedVersionsAllGroups() {
		out = append(out, gv.String())
	}
	return out
}
