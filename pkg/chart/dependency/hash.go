package dependency

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"

	"github.com/kubectl-chart/kubectl-chart/pkg/chart"
)

// HashReq is Helm's digest of a lock: "sha256:" and the hex sha256 of the
// JSON of [req, lock]. req are Chart.yaml's dependencies (with @name and
// alias:name repositories replaced by their URLs), lock the locked ones.
func HashReq(req, lock []*chart.Dependency) (string, error) {
	data, err := json.Marshal([2][]*chart.Dependency{req, lock})
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(sum[:]), nil
}

// HashV2Req is the digest Helm 2 wrote into requirements.lock, which Helm
// still accepts for charts of apiVersion v1.
func HashV2Req(req []*chart.Dependency) (string, error) {
	data, err := json.Marshal(map[string][]*chart.Dependency{"dependencies": req})
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(sum[:]), nil
}
