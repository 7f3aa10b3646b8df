#!/usr/bin/env bash
# Builds the test control plane from the Go module proxy into a cache folder.
#
#   hack/k8s/build.sh sync                 rewrite go.mod pins from versions.env
#   hack/k8s/build.sh kubernetes OUTDIR    etcd, kube-apiserver, kube-controller-manager,
#                                          kube-scheduler, kubectl (this module)
#   hack/k8s/build.sh kwok OUTDIR          kwok and its default stages (go install, own module)
#
# Called by hack/k8s.mk; every version comes from hack/k8s/versions.env.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# Versions: from versions.env, unless set in the environment (hack/k8s.mk passes make's
# values, so `make k8s-binaries KWOK_VERSION=...` builds what it says).
while IFS='=' read -r key value; do
	case "$key" in '' | \#*) continue ;; esac
	if [[ -z "${!key:-}" ]]; then export "$key=$value"; fi
done <"$here/versions.env"

export CGO_ENABLED=0 GOWORK=off GOTOOLCHAIN=${GOTOOLCHAIN:-local}

# Staging modules that k8s.io/kubernetes requires at v0.0.0. sample-cli-plugin and
# sample-controller are left out: the proxy does not serve them and nothing here needs them.
staging="api apiextensions-apiserver apimachinery apiserver cli-runtime client-go
cloud-provider cluster-bootstrap code-generator component-base component-helpers
controller-manager cri-api cri-client cri-streaming csi-translation-lib
dynamic-resource-allocation endpointslice externaljwt kms kube-aggregator
kube-controller-manager kube-proxy kube-scheduler kubectl kubelet metrics mount-utils
pod-security-admission sample-apiserver streaming"

log() { printf 'hack/k8s: %s\n' "$*" >&2; }

sync_mod() {
	cd "$here"
	local before after
	before=$(cat go.mod)
	local args=(-require="k8s.io/kubernetes@${KUBERNETES_VERSION}"
		-require="go.etcd.io/etcd/server/v3@${ETCD_VERSION}")
	for m in $staging; do
		args+=(-replace="k8s.io/${m}=k8s.io/${m}@${KUBERNETES_STAGING_VERSION}")
	done
	go mod edit "${args[@]}"
	after=$(cat go.mod)
	if [[ "$before" != "$after" || ! -s go.sum ]]; then
		log "versions changed: go mod tidy"
		go mod tidy
	fi
}

build_kubernetes() {
	local out=$1
	sync_mod
	cd "$here"
	local v=${KUBERNETES_VERSION#v}
	local major=${v%%.*} rest=${v#*.}
	local minor=${rest%%.*}
	local ldflags="-s -w"
	for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
		ldflags+=" -X $p.gitVersion=${KUBERNETES_VERSION} -X $p.gitMajor=${major}"
		ldflags+=" -X $p.gitMinor=${minor} -X $p.gitTreeState=clean"
	done
	local tmp
	tmp=$(mktemp -d "${out}/.build-XXXXXX")
	trap 'rm -rf "${tmp:-}"; trap - RETURN' RETURN
	log "building kubernetes ${KUBERNETES_VERSION} and etcd ${ETCD_VERSION} into ${out}"
	GOFLAGS="${GOFLAGS:-} -mod=mod" go build -trimpath -ldflags "$ldflags" -o "$tmp/" \
		go.etcd.io/etcd/server/v3 \
		k8s.io/kubernetes/cmd/kube-apiserver \
		k8s.io/kubernetes/cmd/kube-controller-manager \
		k8s.io/kubernetes/cmd/kube-scheduler \
		k8s.io/kubernetes/cmd/kubectl
	mv -f "$tmp/server" "$out/etcd"
	for b in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
		mv -f "$tmp/$b" "$out/$b"
	done
	touch "$out/etcd" "$out/kube-apiserver" "$out/kube-controller-manager" \
		"$out/kube-scheduler" "$out/kubectl"
}

# kwok has no replace directives, so go install builds it in its own module: kept out
# of this one, where it would move grpc/otel and force a rebuild of everything.
build_kwok() {
	local out=$1
	local tmp
	tmp=$(mktemp -d "${out}/.build-XXXXXX")
	trap 'rm -rf "${tmp:-}"; trap - RETURN' RETURN
	log "building kwok ${KWOK_VERSION} into ${out}"
	(cd "$tmp" && GOFLAGS=-buildvcs=false GOBIN="$tmp" go install -trimpath \
		-ldflags "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=${KWOK_VERSION}" \
		"sigs.k8s.io/kwok/cmd/kwok@${KWOK_VERSION}")
	# The kwok binary has no built-in stages: kwokctl injects these from the module's
	# kustomize files. Keep them beside the binary; internal/testcluster reads them.
	local dir
	dir=$(cd "$tmp" && GOFLAGS=-buildvcs=false go mod download -json "sigs.k8s.io/kwok@${KWOK_VERSION}" |
		sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
	local stages="$tmp/kwok-stages.yaml"
	: >"$stages"
	# The defaults kwokctl uses: fast node and pod stages, node heartbeat with a lease.
	for f in node/fast/node-initialize node/heartbeat-with-lease/node-heartbeat-with-lease \
		pod/fast/pod-ready pod/fast/pod-complete pod/fast/pod-delete; do
		local src="$dir/kustomize/stage/$f.yaml"
		[[ -f "$src" ]] || { log "kwok ${KWOK_VERSION}: stage file $src not found"; exit 1; }
		{ echo "---"; cat "$src"; } >>"$stages"
	done
	mv -f "$stages" "$out/kwok-stages.yaml"
	mv -f "$tmp/kwok" "$out/kwok"
	touch "$out/kwok" "$out/kwok-stages.yaml"
}

main() {
	case "${1:-}" in
	sync) sync_mod ;;
	kubernetes) mkdir -p "$2" && build_kubernetes "$(cd "$2" && pwd)" ;;
	kwok) mkdir -p "$2" && build_kwok "$(cd "$2" && pwd)" ;;
	*)
		echo "usage: $0 sync | kubernetes OUTDIR | kwok OUTDIR" >&2
		exit 2
		;;
	esac
}

# One line, parsed whole before it runs: editing this file during a build is safe.
main "$@"; exit
