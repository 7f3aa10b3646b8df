package render

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	k8sversion "k8s.io/apimachinery/pkg/util/version"
)

// HelmCompatVersion is the Helm release whose rendering this engine follows;
// templates see it as .Capabilities.HelmVersion.Version.
const HelmCompatVersion = "v4.3.1"

// DefaultKubeVersion is what .Capabilities.KubeVersion holds when no cluster
// and no --kube-version say otherwise (Helm v4.3.1's default).
const DefaultKubeVersion = "v1.37.0"

// Capabilities is .Capabilities in templates. Field and method names are
// Helm's, since charts call them.
type Capabilities struct {
	KubeVersion KubeVersion
	APIVersions VersionSet
	HelmVersion BuildInfo
}

// BuildInfo is .Capabilities.HelmVersion.
type BuildInfo struct {
	Version           string `json:"version,omitempty"`
	GitCommit         string `json:"git_commit,omitempty"`
	GitTreeState      string `json:"git_tree_state,omitempty"`
	GoVersion         string `json:"go_version,omitempty"`
	KubeClientVersion string `json:"kube_client_version"`
}

// KubeVersion is .Capabilities.KubeVersion.
type KubeVersion struct {
	Version           string // full version, e.g. v1.33.4-gke.1245000
	normalizedVersion string // for constraint checks, e.g. v1.33.4
	Major             string
	Minor             string
}

// String is the version used for kubeVersion constraints.
func (kv *KubeVersion) String() string {
	if kv.normalizedVersion != "" {
		return kv.normalizedVersion
	}
	return kv.Version
}

// GitVersion is the full version, as the API server reports it.
func (kv *KubeVersion) GitVersion() string { return kv.Version }

// ParseKubeVersion parses "1.30", "v1.30.2", "v1.33.4-gke.1245000".
func ParseKubeVersion(version string) (*KubeVersion, error) {
	sv, err := k8sversion.ParseGeneric(version)
	if err != nil {
		return nil, err
	}
	gitVersion := version
	if !strings.HasPrefix(version, "v") {
		gitVersion = "v" + version
	}
	return &KubeVersion{
		Version:           gitVersion,
		normalizedVersion: "v" + sv.String(),
		Major:             strconv.FormatUint(uint64(sv.Major()), 10),
		Minor:             strconv.FormatUint(uint64(sv.Minor()), 10),
	}, nil
}

// VersionSet is .Capabilities.APIVersions.
type VersionSet []string

// Has tells whether an API version ("apps/v1") or resource
// ("apps/v1/Deployment") is known.
func (v VersionSet) Has(apiVersion string) bool { return slices.Contains(v, apiVersion) }

// DefaultCapabilities are the capabilities of client-only rendering: Helm's
// default Kubernetes version and API versions.
func DefaultCapabilities() *Capabilities {
	kv, err := ParseKubeVersion(DefaultKubeVersion)
	if err != nil {
		panic(fmt.Sprintf("default kube version: %v", err))
	}
	return &Capabilities{
		KubeVersion: *kv,
		APIVersions: slices.Clone(defaultAPIVersions),
		HelmVersion: BuildInfo{Version: HelmCompatVersion, KubeClientVersion: "v1.37"},
	}
}
