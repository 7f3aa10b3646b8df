# ---------------------------------------------------------------------------
# Repository benchmark: search repo and template REPO/CHART over a generated 20,000-entry index served on
# loopback, bin/kubectl-chart against the Helm oracle, each tool with its own HELM_* homes; medians of wall and
# CPU (user+sys) time and the ratios (hack/bench-repo). Also run by make bench.
# Extra flags, e.g. make bench-repo BENCH_REPO_FLAGS='-runs 10 -charts 500'.
# ---------------------------------------------------------------------------
BENCH_REPO_FLAGS ?=

.PHONY: bench-repo
bench-repo: build helm
	$(GO) run ./hack/bench-repo -ours '$(BIN_DIR)/kubectl-chart' -helm '$(HELM_BIN)' $(BENCH_REPO_FLAGS)

bench: bench-repo
