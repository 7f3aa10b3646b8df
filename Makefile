# Build and test plumbing for kubectl-chart. GNU make.
#
#   make build   bin/kubectl-chart (and bin/chart-webhook once cmd/webhook has a main package)
#   make test    go test ./... then short fuzz runs of TEST_FUZZ_TARGETS
#   make fuzz    only the fuzz runs, of every target (FUZZ_TARGETS)
#   make helm    the Helm oracle, built once from the Go module proxy into $(CACHE_DIR) (make helm3: Helm 3, the same way)
#   make promtool   Prometheus's promtool and hack/promql-metrics, built once into $(CACHE_DIR), for the tests of manifests/monitoring
#   make bench   render speed of bin/kubectl-chart against the Helm oracle (hack/bench)
#   make bench-release   install/upgrade speed and record size of a 500-object release, ours against Helm (also run by make bench)
#   make bench-drift     kubectl chart drift -A against kubectl diff of 100 releases of 50 objects (also run by make bench)
#   make bench-webhook   chart-webhook latency (in process and through the API server) and memory (also run by make bench)
#   make dist VERSION=vX.Y.Z   release archives, sums and the krew manifest (hack/dist.mk)
#   make test-dist   test/krew over the archives of every platform (make test: this platform only)
#   make lint    gofmt -l (must list nothing) and go vet ./...
#   make demo    local control plane + install/upgrade/status/history/rollback of an example chart
#   make k8s-binaries   the test control plane (etcd, kube-apiserver, controllers, kubectl, kwok), see hack/k8s.mk
#   make e2e-cluster    run that control plane with fake nodes for a person, until Ctrl-C
#   make clean   remove bin/ (the cache in $(CACHE_DIR) stays)

# ---------------------------------------------------------------------------
# Pinned versions: every version this file uses is set here and only here. (The test control plane's
# versions are pinned in hack/k8s/versions.env, which hack/k8s.mk and its build script read.)
# ---------------------------------------------------------------------------
HELM_VERSION := v4.3.1
HELM_MODULE  := helm.sh/helm/v4
# Helm 3, the oracle of import-helm and export-helm with the releases Helm 3 writes (client-side apply).
HELM3_VERSION := v3.22.0
HELM3_MODULE  := helm.sh/helm/v3
# promtool (check/test rules of manifests/monitoring) and hack/promql-metrics (its PromQL parser), built from the
# nested module hack/promql-metrics, whose go.mod must require this version (the build checks).
PROMTOOL_VERSION := v0.316.0
PROMTOOL_MODULE  := github.com/prometheus/prometheus

# ---------------------------------------------------------------------------
# Knobs.
# ---------------------------------------------------------------------------
GO           ?= go
MODULE       := github.com/kubectl-chart/kubectl-chart
# Tools built from the module proxy live outside the repository, shared by every clone.
CACHE_DIR    ?= $(if $(HOME),$(HOME)/.cache/kubectl-chart,$(CURDIR)/.cache)
BIN_DIR      := $(CURDIR)/bin
# Per package: the slowest are test/krew (a release build) and internal/cmd (every command against a real cluster).
TEST_TIMEOUT ?= 30m
# A count, not a duration: with -fuzztime=10s, Go 1.26's fuzz coordinator sometimes fails a clean run with "context
# deadline exceeded" at the deadline (golang/go#75804, fixed in Go 1.27). 60000 runs take ~5-20 s per target here
# (the instrumented build of each target's package costs more than that on a cold cache); make fuzz FUZZTIME=2000000x
# for a longer run.
FUZZTIME     ?= 60000x
# Fuzz targets run by `make fuzz`, as <package dir>:<FuzzName>. A target whose package or function does not
# exist yet is skipped (with a message), so packages can land before their fuzz tests. They run without a control
# plane (KUBECTL_CHART_SKIP_CLUSTER=1): internal/webhook's TestMain would otherwise start one in every fuzz worker.
FUZZ_TARGETS ?= pkg/values/strvals:FuzzParseInto pkg/chart/loader:FuzzLoadArchive pkg/ownership:FuzzDecideObject internal/webhook:FuzzHandle pkg/render:FuzzParseHead
# The ones `make test` fuzzes too. go test -fuzz instruments every package of the target's test binary, standard
# library included, so each target costs a build of its whole graph on a cold machine (CI always is): measured,
# internal/webhook's (controller-runtime, client-go) 143 s and pkg/render's about 90 s, more than the 45-minute budget
# of a cold make test leaves. Their seed corpora still run in every make test, as unit tests (internal/webhook's 402
# inputs with a populated head cache; pkg/render's head cases, beside TestScanHeadMutations' 20,000 random documents).
TEST_FUZZ_TARGETS ?= pkg/values/strvals:FuzzParseInto pkg/chart/loader:FuzzLoadArchive pkg/ownership:FuzzDecideObject
# Minimizing a new input may take up to 60 s by default, with no executions meanwhile (seen: 30 s idle in strvals).
FUZZMINIMIZETIME ?= 5s

VERSION      ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo v0.0.0-unknown)
COMMIT       ?= $(shell git rev-parse HEAD 2>/dev/null)
LDFLAGS      := -X $(MODULE)/internal/version.Version=$(VERSION) -X $(MODULE)/internal/version.Commit=$(COMMIT)
BUILD_FLAGS  := -trimpath -ldflags '$(LDFLAGS)'

HELM_DIR     := $(CACHE_DIR)/helm-$(HELM_VERSION)
HELM_BIN     := $(HELM_DIR)/helm
HELM3_DIR    := $(CACHE_DIR)/helm-$(HELM3_VERSION)
HELM3_BIN    := $(HELM3_DIR)/helm
PROMTOOL_DIR := $(CACHE_DIR)/promtool-$(PROMTOOL_VERSION)
PROMTOOL_BIN := $(PROMTOOL_DIR)/promtool
PROMQL_METRICS_BIN := $(PROMTOOL_DIR)/promql-metrics

# Tests compile as make build and hack/dist do (no cgo, -trimpath), so that the packages they share are compiled
# once: otherwise a cold make test compiles the plugin's whole dependency graph twice, for the tests and for
# test/krew's release build. Exported to the go builds tests run themselves (test/crash, internal/webhook, …).
GO_BUILD_ENV := CGO_ENABLED=0 GOFLAGS="$(strip $(GOFLAGS) -trimpath)"

# Extra environment for go test, as VAR=value words. Fragments add to it (hack/k8s.mk's K8S_TEST_ENV points tests
# at the control-plane binaries); a recursive variable, so it sees what the fragments included below define.
TEST_ENV      = $(GO_BUILD_ENV) $(K8S_TEST_ENV)

# The real-world chart corpus (../shared/charts), passed to tests when it exists. An absolute path, or empty.
KUBECTL_CHART_CORPUS ?= $(realpath $(CURDIR)/../shared/charts)

# bin/chart-webhook is built only once cmd/webhook holds a main package.
WEBHOOK_MAIN := $(if $(filter-out %_test.go,$(wildcard cmd/webhook/*.go)),$(shell grep -l '^package main' $(filter-out %_test.go,$(wildcard cmd/webhook/*.go)) 2>/dev/null))
BINARIES     := $(BIN_DIR)/kubectl-chart $(if $(WEBHOOK_MAIN),$(BIN_DIR)/chart-webhook)

.DEFAULT_GOAL := build
.PHONY: build test unit fuzz helm helm3 promtool bench lint clean demo FORCE

# ---------------------------------------------------------------------------
# Build. Always handed to go build, whose cache knows better than make what is stale.
# ---------------------------------------------------------------------------
build: $(BINARIES)

$(BIN_DIR)/kubectl-chart: FORCE
	CGO_ENABLED=0 $(GO) build $(BUILD_FLAGS) -o $@ ./cmd/kubectl-chart

$(BIN_DIR)/chart-webhook: FORCE
	CGO_ENABLED=0 $(GO) build $(BUILD_FLAGS) -o $@ ./cmd/webhook

# ---------------------------------------------------------------------------
# Tests. HELM is set to the oracle, which make test builds once (make helm), unless HELM is set already;
# tests compare with it when it is there (Helm's output, interop of repositories, registries, provenance and
# dependencies) and skip those comparisons with a message when it is not.
# ---------------------------------------------------------------------------
test:
	@if [ -x '$(K8S_ASSETS)/kube-apiserver' ]; then \
		$(MAKE) --no-print-directory -j$(TOOLS_JOBS) test-tools; \
	else \
		$(MAKE) --no-print-directory -j$(TOOLS_JOBS) test-tools test-compile; \
	fi
	@$(MAKE) --no-print-directory unit
	@$(MAKE) --no-print-directory fuzz FUZZ_TARGETS='$(TEST_FUZZ_TARGETS)'

# The binaries the tests run, each built once from the Go module proxy into $(CACHE_DIR) (fragments in hack/*.mk add
# theirs). make test builds them TOOLS_JOBS at a time: a cold build is mostly single-threaded stretches (module
# downloads, the linker on 50-100 MB binaries) that another build's compiles fill; on a warm cache it does nothing.
TOOLS_JOBS ?= 3
.PHONY: test-tools
test-tools: k8s-binaries helm helm3 promtool

# Compiles every package and every test package without linking or running anything (go list -export builds the
# export data go test then finds in the build cache), beside the tool builds: their module downloads and
# single-threaded links leave a core idle that these compiles fill, and unit then only links. Linking here too (the
# earlier go test -exec true) linked every test binary twice on a cold machine, as go test does not cache links. A
# compile error is reported by unit, with the test's own output. Only on a cold machine (no control plane built yet).
.PHONY: test-compile
test-compile:
	@echo "test-compile: go list -test -export -deps ./... (compile only)"
	@$(GO_BUILD_ENV) $(GO) list -test -export -deps ./... >/dev/null 2>&1 || true

# Integration tests start a real control plane (internal/testcluster) from binaries that hack/k8s.mk builds
# from the Go module proxy once per version set (cold: ~18 min; then nothing to do).
unit: test-tools
unit: export KUBECTL_CHART_K8S_ASSETS = $(K8S_ASSETS)
unit: export KUBEBUILDER_ASSETS = $(K8S_ASSETS)
unit: export KUBEBUILDER_CONTROLPLANE_START_TIMEOUT = 60s
unit:
	@set -e; \
	if [ -n "$(KUBECTL_CHART_CORPUS)" ]; then export KUBECTL_CHART_CORPUS='$(KUBECTL_CHART_CORPUS)'; fi; \
	if [ -z "$${HELM:-}" ] && [ -x '$(HELM_BIN)' ]; then export HELM='$(HELM_BIN)'; fi; \
	if [ -z "$${HELM3:-}" ] && [ -x '$(HELM3_BIN)' ]; then export HELM3='$(HELM3_BIN)'; fi; \
	if [ -z "$${PROMTOOL:-}" ] && [ -x '$(PROMTOOL_BIN)' ]; then export PROMTOOL='$(PROMTOOL_BIN)'; fi; \
	if [ -z "$${PROMQL_METRICS:-}" ] && [ -x '$(PROMQL_METRICS_BIN)' ]; then export PROMQL_METRICS='$(PROMQL_METRICS_BIN)'; fi; \
	echo "KUBECTL_CHART_CORPUS=$${KUBECTL_CHART_CORPUS:-<unset>} HELM=$${HELM:-<unset>} HELM3=$${HELM3:-<unset>} PROMTOOL=$${PROMTOOL:-<unset>} PROMQL_METRICS=$${PROMQL_METRICS:-<unset>}"; \
	echo '$(strip $(TEST_ENV) $(GO) test -count=1 -timeout=$(TEST_TIMEOUT) -skip "^TestConformance$$" ./...)'; \
	$(TEST_ENV) $(GO) test -count=1 -timeout=$(TEST_TIMEOUT) -skip '^TestConformance$$' ./...; \
	echo '$(GO) test -count=1 -run "^TestConformance$$" ./pkg/render (Helm v4.3.1 goldens of ../shared/charts)'; \
	$(GO_BUILD_ENV) $(GO) test -count=1 -v -run '^TestConformance$$' ./pkg/render > .conformance.log 2>&1 || { grep -E -- '--- FAIL|conformance_test.go|^conformance:' .conformance.log | head -100; rm -f .conformance.log; exit 1; }; \
	grep -E '^(conformance:|--- SKIP|ok|PASS)' .conformance.log | grep -v -- '--- PASS' | head -5; rm -f .conformance.log

fuzz:
	@set -e; \
	for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; fn=$${t##*:}; \
		if ! ls "$$pkg"/*.go >/dev/null 2>&1; then echo "fuzz: skip $$t: package ./$$pkg does not exist yet"; continue; fi; \
		if ! grep -qs "^func $$fn(" "$$pkg"/*_test.go; then echo "fuzz: skip $$t: $$fn is not defined yet"; continue; fi; \
		echo "KUBECTL_CHART_SKIP_CLUSTER=1 $(GO) test ./$$pkg -run='^\$$' -fuzz='^$$fn\$$' -fuzztime=$(FUZZTIME) -fuzzminimizetime=$(FUZZMINIMIZETIME)"; \
		KUBECTL_CHART_SKIP_CLUSTER=1 $(GO) test ./$$pkg -run='^$$' -fuzz="^$$fn\$$" -fuzztime=$(FUZZTIME) -fuzzminimizetime=$(FUZZMINIMIZETIME); \
	done

# ---------------------------------------------------------------------------
# The Helm oracle: a file target, built only when missing.
# ---------------------------------------------------------------------------
helm: $(HELM_BIN)

$(HELM_BIN):
	@mkdir -p '$(HELM_DIR)'
	CGO_ENABLED=0 GOBIN='$(HELM_DIR)' $(GO) install -trimpath -ldflags "-s -w -X $(HELM_MODULE)/internal/version.version=$(HELM_VERSION)" $(HELM_MODULE)/cmd/helm@$(HELM_VERSION)

# Helm 3 claims Kubernetes v1.20 unless told the version it was built against (Helm 4 reads it from its build info).
helm3: $(HELM3_BIN)

$(HELM3_BIN):
	@mkdir -p '$(HELM3_DIR)'
	CGO_ENABLED=0 GOBIN='$(HELM3_DIR)' $(GO) install -trimpath -ldflags "-s -w -X $(HELM3_MODULE)/internal/version.version=$(HELM3_VERSION) -X $(HELM3_MODULE)/pkg/chartutil.k8sVersionMajor=1 -X $(HELM3_MODULE)/pkg/chartutil.k8sVersionMinor=37" $(HELM3_MODULE)/cmd/helm@$(HELM3_VERSION)

# ---------------------------------------------------------------------------
# promtool and promql-metrics: built together from the nested module hack/promql-metrics (so that the project's
# module does not depend on Prometheus), into a folder named after the version, and again only when the module's
# go.mod, go.sum or main.go change (a pin named after their hash, as hack/*.mk do). Trimmed to what the tests use:
# remove_all_sd drops Prometheus's optional service discoveries (cloud SDKs; promtool keeps file, http and kubernetes,
# which it imports itself): 1117 packages instead of 1364, half the compile work. Cold (fresh GOCACHE, module cache
# kept), measured on the 2 shared cores: 442 s of CPU (user+sys) instead of 864 s, wall 410 s (855 s beside the
# untagged build) against 1351-1429 s untagged under the same load; -s -w: 54 MB instead of 88 MB.
# ---------------------------------------------------------------------------
PROMTOOL_HACK_DIR := hack/promql-metrics
PROMTOOL_TAGS     := remove_all_sd
PROMTOOL_INPUTS   := $(PROMTOOL_HACK_DIR)/go.mod $(PROMTOOL_HACK_DIR)/go.sum $(PROMTOOL_HACK_DIR)/main.go
PROMTOOL_PIN      := $(PROMTOOL_DIR)/.pins/inputs-$(shell cat $(PROMTOOL_INPUTS) 2>/dev/null | sha256sum | cut -c1-16)
PROMTOOL_GOMOD_VERSION := $(shell awk '$$1 == "$(PROMTOOL_MODULE)" { print $$2 }' $(PROMTOOL_HACK_DIR)/go.mod)
PROMTOOL_LDFLAGS  := -s -w -X github.com/prometheus/common/version.Version=$(PROMTOOL_VERSION:v%=%)

promtool: $(PROMTOOL_BIN) $(PROMQL_METRICS_BIN)

$(PROMTOOL_PIN):
	@mkdir -p $(@D) && rm -f $(@D)/inputs-* && touch $@

$(PROMTOOL_BIN) $(PROMQL_METRICS_BIN) &: $(PROMTOOL_PIN)
	@if [ '$(PROMTOOL_GOMOD_VERSION)' != '$(PROMTOOL_VERSION)' ]; then \
		echo "$(PROMTOOL_HACK_DIR)/go.mod requires $(PROMTOOL_MODULE) $(PROMTOOL_GOMOD_VERSION), the Makefile pins $(PROMTOOL_VERSION): make them equal (cd $(PROMTOOL_HACK_DIR) && go get $(PROMTOOL_MODULE)@$(PROMTOOL_VERSION) && go mod tidy)" >&2; \
		exit 1; \
	fi
	@echo "promtool $(PROMTOOL_VERSION): building promtool and promql-metrics into $(PROMTOOL_DIR) (once)"
	cd $(PROMTOOL_HACK_DIR) && CGO_ENABLED=0 nice -n 19 $(GO) build -trimpath -tags '$(PROMTOOL_TAGS)' -ldflags '$(PROMTOOL_LDFLAGS)' \
		-o '$(PROMTOOL_DIR)/' $(PROMTOOL_MODULE)/cmd/promtool .
	@touch $(PROMTOOL_BIN) $(PROMQL_METRICS_BIN)

# ---------------------------------------------------------------------------
# Render benchmark: whole processes, ours against Helm, over real charts: median wall and CPU (user+sys) time of each,
# of ours with GOMAXPROCS=1, peak RSS, equal output, and the load average before and after (hack/bench).
# ---------------------------------------------------------------------------
# Extra flags for hack/bench, e.g. make bench BENCH_FLAGS='-runs 10 -charts bitnami/postgresql'.
BENCH_FLAGS  ?=

bench: build helm
	$(GO) run ./hack/bench -ours '$(BIN_DIR)/kubectl-chart' -helm '$(HELM_BIN)' \
		$(if $(KUBECTL_CHART_CORPUS),-corpus '$(KUBECTL_CHART_CORPUS)') $(BENCH_FLAGS)
	@$(MAKE) --no-print-directory bench-release
	@$(MAKE) --no-print-directory bench-drift

# Release benchmark: install, changed upgrade and no-op upgrade of a generated 500-object chart with bin/kubectl-chart
# and the Helm oracle on the test control plane, and the bytes of one revision record (hack/bench-release).
# Extra flags, e.g. make bench-release BENCH_RELEASE_FLAGS='-runs 5 -full'.
BENCH_RELEASE_FLAGS ?=

.PHONY: bench-release
bench-release: build helm k8s-binaries
	KUBECTL_CHART_K8S_ASSETS='$(K8S_ASSETS)' $(GO) run ./hack/bench-release -ours '$(BIN_DIR)/kubectl-chart' \
		-helm '$(HELM_BIN)' $(BENCH_RELEASE_FLAGS)

# Drift benchmark: kubectl chart drift -A against kubectl diff --server-side of the same manifests, 100 releases of
# 50 objects on the test control plane (hack/bench-drift). Extra flags, e.g. BENCH_DRIFT_FLAGS='-runs 5'.
BENCH_DRIFT_FLAGS ?=

.PHONY: bench-drift
bench-drift: build k8s-binaries
	KUBECTL_CHART_K8S_ASSETS='$(K8S_ASSETS)' $(GO) run ./hack/bench-drift -ours '$(BIN_DIR)/kubectl-chart' $(BENCH_DRIFT_FLAGS)

# ---------------------------------------------------------------------------
# The demo: local control plane, then install/upgrade/status/history/rollback of testdata/charts/demo-app.
# ---------------------------------------------------------------------------
DEMO_CLUSTER_BIN := $(CACHE_DIR)/demo/e2e-cluster

demo: build k8s-binaries
	$(GO) build -o '$(DEMO_CLUSTER_BIN)' ./hack/e2e-cluster
	KUBECTL_CHART_K8S_ASSETS='$(K8S_ASSETS)' hack/demo.sh '$(DEMO_CLUSTER_BIN)' '$(K8S_ASSETS)'

# ---------------------------------------------------------------------------
# Lint.
# ---------------------------------------------------------------------------
lint:
	@files=$$(find . -name '*.go' -not -path './.git/*' -not -path './bin/*' -not -path './.cache/*' \
		-not -path '*/testdata/*' -not -path '*/vendor/*' | xargs -r gofmt -l); \
	if [ -n "$$files" ]; then echo "gofmt -l: these files need gofmt -w:"; echo "$$files"; exit 1; fi
	$(GO) vet ./...

clean:
	rm -rf '$(BIN_DIR)'

FORCE:

# ---------------------------------------------------------------------------
# Makefile fragments from other parts of the project (e.g. hack/k8s.mk: the Kubernetes control plane for
# integration tests). They may use the pinned versions and knobs above. Keep this line last.
# ---------------------------------------------------------------------------
-include hack/*.mk
