#!/usr/bin/env bash
# make demo: start the local control plane (etcd, API server, controllers,
# scheduler, a kwok fake node), then install, upgrade, inspect and roll back
# the example chart testdata/charts/demo-app with bin/kubectl-chart. The
# control plane keeps running until Ctrl-C, with the KUBECONFIG line printed
# to keep exploring.
#
# Usage: hack/demo.sh <e2e-cluster binary> <k8s assets dir>
set -euo pipefail

cluster_bin=$1
assets=$2
repo=$(cd "$(dirname "$0")/.." && pwd)
log=$(mktemp -t kubectl-chart-demo.XXXXXX)

"$cluster_bin" -nodes=1 >"$log" 2>&1 &
cluster=$!
cleanup() {
	kill -INT "$cluster" 2>/dev/null || true
	wait "$cluster" 2>/dev/null || true
	rm -f "$log"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for _ in $(seq 1 120); do
	grep -q '^export KUBECONFIG=' "$log" && break
	kill -0 "$cluster" 2>/dev/null || { cat "$log"; echo "the control plane did not start" >&2; exit 1; }
	sleep 0.5
done
kubeconfig_line=$(grep '^export KUBECONFIG=' "$log")
eval "$kubeconfig_line"
export PATH="$repo/bin:$assets:$PATH"

run() {
	echo
	echo "\$ $*"
	"$@"
}

cd "$repo"
run kubectl chart version
run kubectl chart install demo ./testdata/charts/demo-app -n demo --create-namespace --wait
run kubectl chart upgrade demo ./testdata/charts/demo-app -n demo --set message=bye,replicaCount=3,extraSecret.enabled=true --wait
run kubectl get deploy,svc,cm,secret,widgets -n demo -l kubectl-chart.io/release=demo
if kubectl chart status --help >/dev/null 2>&1; then run kubectl chart status demo -n demo; fi
if kubectl chart history --help >/dev/null 2>&1; then run kubectl chart history demo -n demo; fi
run kubectl chart rollback demo 1 -n demo --wait
if kubectl chart history --help >/dev/null 2>&1; then run kubectl chart history demo -n demo; fi

cat <<MSG

The control plane is still running. In another terminal:

    $kubeconfig_line
    export PATH=$repo/bin:$assets:\$PATH
    kubectl chart status demo -n demo

Ctrl-C here stops it and removes its files.
MSG
wait "$cluster"
