#!/bin/sh
# build-krew.sh VERSION DIR: build kubectl-krew and validate-krew-manifest of
# sigs.k8s.io/krew VERSION from the Go module proxy into DIR.
#
# `go install sigs.k8s.io/krew/cmd/krew@VERSION` does not work through the proxy
# (it answers 403 for that path and for the version list), so the commands are
# built from a throwaway module that requires sigs.k8s.io/krew. Exit status 3
# means the proxy could not be reached (test/krew skips then).
set -eu
version=$1
dir=$2
go=${GO:-go}

work=$(mktemp -d "${TMPDIR:-/tmp}/build-krew.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"
printf 'module krewbuild\n\ngo 1.22\n\nrequire sigs.k8s.io/krew %s\n' "$version" > go.mod
if ! GOFLAGS=-mod=mod "$go" get "sigs.k8s.io/krew/cmd/krew@$version" "sigs.k8s.io/krew/cmd/validate-krew-manifest@$version" >"$work/get.log" 2>&1; then
	cat "$work/get.log" >&2
	# Only a network failure (not, say, a missing version) counts as unreachable.
	if grep -Eq 'dial tcp|no such host|connection refused|i/o timeout|proxyconnect|TLS handshake timeout|network is unreachable|module lookup disabled' "$work/get.log"; then
		echo "build-krew.sh: the Go module proxy is unreachable" >&2
		exit 3
	fi
	exit 1
fi
mkdir -p out
CGO_ENABLED=0 "$go" build -trimpath -ldflags "-s -w -X sigs.k8s.io/krew/internal/version.gitTag=$version" \
	-o out/kubectl-krew sigs.k8s.io/krew/cmd/krew
CGO_ENABLED=0 "$go" build -trimpath -ldflags "-s -w" -o out/validate-krew-manifest sigs.k8s.io/krew/cmd/validate-krew-manifest
mkdir -p "$dir"
# Into place one file at a time with mv within DIR: a reader sees whole binaries.
for f in kubectl-krew validate-krew-manifest; do
	cp out/$f "$dir/.$f.tmp"
	mv -f "$dir/.$f.tmp" "$dir/$f"
done
echo "built $dir/kubectl-krew and $dir/validate-krew-manifest (krew $version)"
