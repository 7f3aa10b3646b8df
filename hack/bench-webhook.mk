# ---------------------------------------------------------------------------
# Webhook benchmark (issue 5, acceptance item 4; issue 16): chart-webhook's handler latency and CPU per request in
# process per decision; the latency it adds to updates through the API server (bin/chart-webhook as a process,
# URL clientConfig, with and without it in alternating phases at a fixed rate), for a new annotation (which its
# matchConditions skip) and an unowned data key (which reaches it), with the share of updates that reach it and
# its CPU per call, and again with the API server and etcd pinned to one CPU and the webhook to another when
# taskset and two CPUs allow; and its memory with 1,000 releases and 20,000 owned objects, on the test control
# plane (hack/bench-webhook). Also run by make bench.
# Extra flags, e.g. make bench-webhook BENCH_WEBHOOK_FLAGS='-rate 100 -duration 10s -releases 200 -objects 4000'.
# ---------------------------------------------------------------------------
BENCH_WEBHOOK_FLAGS ?=

.PHONY: bench-webhook
bench-webhook: build k8s-binaries
	KUBECTL_CHART_K8S_ASSETS='$(K8S_ASSETS)' $(GO) run ./hack/bench-webhook -webhook '$(BIN_DIR)/chart-webhook' \
		-manifests '$(CURDIR)/manifests' $(BENCH_WEBHOOK_FLAGS)

bench: bench-webhook
