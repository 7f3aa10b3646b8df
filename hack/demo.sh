#!/usr/bin/env bash
# make demo: start the local control plane (etcd, API server, controllers,
# scheduler, a kwok fake node), then install, upgrade, inspect and roll back
# the example chart testdata/charts/demo-app with bin/kubectl-chart, and
# show the ownership webhook (bin/chart-webhook, registered in local mode)
# refusing a kubectl patch of a field the release owns. The control plane
# and the webhook keep running until Ctrl-C, with the KUBECONFIG line
# printed to keep exploring.
#
# Usage: hack/demo.sh <e2e-cluster binary> <k8s assets dir>
set -euo pipefail

cluster_bin=$1
assets=$2
repo=$(cd "$(dirname "$0")/.." && pwd)
log=$(mktemp -t kubectl-chart-demo.XXXXXX)
webhook_log=$(mktemp -t kubectl-chart-demo-webhook.XXXXXX)
certs=$(mktemp -d -t kubectl-chart-demo-certs.XXXXXX)
webhook=

"$cluster_bin" -nodes=1 >"$log" 2>&1 &
cluster=$!
cleanup() {
	if [ -n "$webhook" ]; then kill "$webhook" 2>/dev/null || true; wait "$webhook" 2>/dev/null || true; fi
	kill -INT "$cluster" 2>/dev/null || true
	wait "$cluster" 2>/dev/null || true
	rm -rf "$log" "$webhook_log" "$certs"
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

# free_port prints a loopback TCP port nothing listens on.
free_port() {
	local p
	for _ in $(seq 1 100); do
		p=$((20000 + RANDOM % 20000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	echo "no free port found" >&2
	return 1
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

# The ownership webhook, served from this machine (local mode).
port=$(free_port)
health=$(free_port)
run kubectl chart webhook install --local --port "$port" --cert-dir "$certs"
chart-webhook --kubeconfig "$KUBECONFIG" --cert-dir "$certs" --host 127.0.0.1 --port "$port" \
	--health-probe-bind-address "127.0.0.1:$health" --metrics-bind-address 0 >"$webhook_log" 2>&1 &
webhook=$!
for _ in $(seq 1 60); do
	kubectl chart webhook status 2>/dev/null | grep -q '^HEALTHY: *yes' && break
	kill -0 "$webhook" 2>/dev/null || { cat "$webhook_log"; echo "chart-webhook did not start" >&2; exit 1; }
	sleep 0.5
done
run kubectl chart webhook status
echo
echo "# A change to a field the release owns, from outside the release, is refused:"
run kubectl patch deployment demo-demo-app -n demo -p '{"spec":{"replicas":5}}' || true
echo
echo "# The release's own upgrade goes through:"
run kubectl chart upgrade demo ./testdata/charts/demo-app -n demo --set replicaCount=3 --wait
run kubectl chart status demo -n demo

cat <<MSG

The control plane is still running. In another terminal:

    $kubeconfig_line
    export PATH=$repo/bin:$assets:\$PATH
    kubectl chart status demo -n demo

The ownership webhook runs from this machine (log: $webhook_log);
"kubectl chart webhook uninstall" unregisters it.

Ctrl-C here stops both and removes their files.
MSG
wait "$cluster"
