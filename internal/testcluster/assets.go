package testcluster

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Environment variables the harness reads.
const (
	// EnvAssets names the folder holding the control-plane binaries (set by make from
	// K8S_ASSETS). Without it the folder is computed from hack/k8s/versions.env the
	// same way hack/k8s.mk computes it.
	EnvAssets = "KUBECTL_CHART_K8S_ASSETS"
	// EnvSkip, when "1" or "true", makes Main skip the tests that need a cluster
	// instead of failing when there is none.
	EnvSkip = "KUBECTL_CHART_SKIP_CLUSTER"
	// EnvStartTimeout is envtest's variable; the harness honours it for both shapes
	// when it asks for more than the default.
	EnvStartTimeout = "KUBEBUILDER_CONTROLPLANE_START_TIMEOUT"
)

// versionsFile is where the pinned versions live, relative to the repository root.
const versionsFile = "hack/k8s/versions.env"

// Binaries the full control plane needs; the bare one needs the first two.
var (
	bareBinaries = []string{"etcd", "kube-apiserver", "kubectl"}
	fullBinaries = []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl", "kwok", kwokStagesFile}
)

// kwokStagesFile holds kwok's default stages, extracted from the kwok module by
// hack/k8s/build.sh next to the kwok binary.
const kwokStagesFile = "kwok-stages.yaml"

// ErrNoBinaries is wrapped by the error Start returns when the binary folder is
// missing or incomplete.
var ErrNoBinaries = errors.New("control-plane binaries not built")

// Versions returns the pinned versions from hack/k8s/versions.env (KUBERNETES_VERSION,
// ETCD_VERSION, KWOK_VERSION, ...), found by walking up from the working directory.
func Versions() (map[string]string, error) {
	path, err := findUp(versionsFile)
	if err != nil {
		return nil, err
	}
	return readEnvFile(path)
}

// AssetsDir returns the folder with the control-plane binaries: $KUBECTL_CHART_K8S_ASSETS,
// else <user cache dir>/kubectl-chart/k8s-<KUBERNETES_VERSION>, as hack/k8s.mk has it.
func AssetsDir() (string, error) {
	if dir := os.Getenv(EnvAssets); dir != "" {
		return dir, nil
	}
	versions, err := Versions()
	if err != nil {
		return "", fmt.Errorf("%s is not set and %w", EnvAssets, err)
	}
	v := versions["KUBERNETES_VERSION"]
	if v == "" {
		return "", fmt.Errorf("%s: KUBERNETES_VERSION is not set", versionsFile)
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("locate the binary cache: %w", err)
	}
	return filepath.Join(cache, "kubectl-chart", "k8s-"+v), nil
}

// checkBinaries says which of names are missing from dir, with the command that builds them.
func checkBinaries(dir string, names []string) error {
	var missing []string
	for _, n := range names {
		if fi, err := os.Stat(filepath.Join(dir, n)); err != nil || fi.IsDir() {
			missing = append(missing, n)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s missing from %s: run `make k8s-binaries` (or set %s=1 to skip the tests that need a cluster)",
		ErrNoBinaries, strings.Join(missing, ", "), dir, EnvSkip)
}

// findUp looks for rel in the working directory and each of its parents.
func findUp(rel string) (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		p := filepath.Join(dir, rel)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("%s not found in the working directory or its parents", rel)
		}
		dir = parent
	}
}

// readEnvFile reads KEY=VALUE lines; blank lines and # comments are skipped.
func readEnvFile(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("%s:%d: want KEY=VALUE, got %q", path, n, line)
		}
		out[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return out, sc.Err()
}
