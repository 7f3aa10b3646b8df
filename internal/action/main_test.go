package action

import (
	"testing"

	"github.com/kubectl-chart/kubectl-chart/internal/testcluster"
)

// env is a full control plane (controllers, scheduler, a kwok node), so
// that --wait sees Deployments become Available and hook Jobs complete.
var env *testcluster.Env

func TestMain(m *testing.M) {
	testcluster.Main(m, &env, testcluster.Options{Full: true, Nodes: 1})
}
