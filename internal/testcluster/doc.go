// Package testcluster runs a real Kubernetes control plane for tests: once per test
// package, from TestMain, with binaries built by `make k8s-binaries` from the Go
// module proxy (see hack/k8s/versions.env for the pinned versions).
//
// Two shapes:
//
//   - bare (the default): etcd and kube-apiserver through controller-runtime's envtest.
//     Starts in a few seconds; nothing runs controllers, so Deployments never get Pods.
//   - full (Options.Full): etcd, kube-apiserver, kube-controller-manager,
//     kube-scheduler and kwok with fake nodes, so workloads really become ready, Jobs
//     complete and namespaces get their default ServiceAccount.
//
// Every process listens on free loopback ports and keeps its state in its own temporary
// folder, so several test packages can run control planes at the same time. Stop (and
// Main, whatever happens) ends every process and removes every folder; a small watcher
// process does the same if the test binary dies without running its defers (a panic in
// a test, a -timeout, SIGKILL).
//
// Typical use:
//
//	var env *testcluster.Env
//
//	func TestMain(m *testing.M) { testcluster.Main(m, &env, testcluster.Options{Full: true}) }
//
//	func TestX(t *testing.T) {
//		ns := env.Namespace(t) // skips the test if KUBECTL_CHART_SKIP_CLUSTER=1
//		cs := kubernetes.NewForConfigOrDie(env.Config())
//		...
//	}
//
// When the binaries are missing, Start fails with a message that says to run
// `make k8s-binaries`; tests are skipped instead only when KUBECTL_CHART_SKIP_CLUSTER=1.
package testcluster
