package webhookinstall

import (
	"testing"

	"github.com/kubectl-chart/kubectl-chart/internal/testcluster"
)

// env is the package's control plane (bare: etcd and kube-apiserver), for
// the tests of install and uninstall against a real API server.
var env *testcluster.Env

func TestMain(m *testing.M) { testcluster.Main(m, &env, testcluster.Options{}) }
