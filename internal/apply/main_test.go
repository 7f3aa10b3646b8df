package apply

import (
	"testing"

	"github.com/kubectl-chart/kubectl-chart/internal/testcluster"
)

// env is the control plane of this package's integration tests: API server,
// controller manager, scheduler and one kwok node, so that Deployments become
// Available and Jobs Complete.
var env *testcluster.Env

func TestMain(m *testing.M) {
	testcluster.Main(m, &env, testcluster.Options{Full: true, Nodes: 1})
}
