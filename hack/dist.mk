# Release archives and the krew manifest. Included by the main Makefile
# (`-include hack/*.mk`).
#
#   make dist VERSION=v0.1.0   dist/: an archive per platform (LICENSE, kubectl-chart,
#                              kubectl_complete-chart), their sha256 sums and chart.yaml,
#                              the krew manifest (also written to krew/chart.yaml); see hack/dist
#   make krew-binary           kubectl-krew and validate-krew-manifest, built once from the Go
#                              module proxy into $(KREW_DIR), for test/krew
#
# The archives are reproducible: entries are dated SOURCE_DATE_EPOCH when it is set, else
# the commit time of HEAD.

DIST_HACK_DIR := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))/dist
include $(DIST_HACK_DIR)/versions.env

DIST_DIR       ?= $(CURDIR)/dist
# Extra flags for hack/dist, e.g. DIST_FLAGS='-platforms linux/amd64' (no manifest then).
DIST_FLAGS     ?=
KREW_CACHE_ROOT ?= $(if $(XDG_CACHE_HOME),$(XDG_CACHE_HOME),$(HOME)/.cache)/kubectl-chart
KREW_DIR       ?= $(KREW_CACHE_ROOT)/krew-$(KREW_VERSION)
KREW_BINS      := $(KREW_DIR)/kubectl-krew $(KREW_DIR)/validate-krew-manifest

.PHONY: dist krew-binary

## dist: release archives, sums and krew manifest for VERSION (a vX.Y.Z tag) into dist/
dist:
	$(GO) run ./hack/dist -version '$(VERSION)' -out '$(DIST_DIR)' -manifest krew/chart.yaml $(DIST_FLAGS)

## krew-binary: the real krew, to install dist/ with in test/krew
krew-binary: $(KREW_BINS)

# Exit status 3: the module proxy is unreachable; test/krew then skips with a message.
$(KREW_BINS) &:
	GO='$(GO)' $(DIST_HACK_DIR)/build-krew.sh $(KREW_VERSION) '$(KREW_DIR)' || [ $$? -eq 3 ]

# test/krew installs the archives with krew; it builds krew itself when this was not run.
test-tools: krew-binary
unit: export KUBECTL_CHART_KREW_DIR = $(KREW_DIR)

# test/krew with the archives of every platform of a release (make test builds this platform's only: one
# platform proves the archive, the manifest and krew's install; the other four are a cross-compile each).
.PHONY: test-dist
## test-dist: test/krew over every platform's archive (five cross-compiles)
test-dist: krew-binary k8s-binaries
	KUBECTL_CHART_DIST_ALL=1 KUBECTL_CHART_KREW_DIR='$(KREW_DIR)' KUBECTL_CHART_K8S_ASSETS='$(K8S_ASSETS)' \
		KUBEBUILDER_ASSETS='$(K8S_ASSETS)' $(GO) test -count=1 -timeout=$(TEST_TIMEOUT) ./test/krew
