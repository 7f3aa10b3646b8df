# cert-manager's controller and cainjector, for the test that installs manifests/ with a real cert-manager
# (test/certmanager: the Certificate is issued, cainjector fills the webhook configuration's caBundle).
# Built from the Go module proxy into a cache outside the repo, once per set of build inputs.
# Included by the main Makefile (`-include hack/*.mk`); usable alone too:
#   make -f hack/cert-manager.mk cert-manager-binaries
#
# The binaries are small mains of our own (hack/cert-manager/{controller,cainjector}/main.go) over cert-manager's
# controller packages (pkg/controller/...): cert-manager's own cmd/controller and cmd/cainjector are separate modules
# (module github.com/cert-manager/cert-manager/controller-binary, ... with `replace github.com/cert-manager/cert-manager
# => ../../`) that no proxy can serve: proxy.golang.org answers 404 for .../cmd/controller/@v/list and
# @v/v1.21.2.info, and `go install` refuses modules with replace directives anyway. Their version is the nested
# module's (hack/cert-manager/go.mod), which must equal the cert-manager API version of the project's go.mod (the
# build checks).

CERT_MANAGER_HACK_DIR := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))/cert-manager
CERT_MANAGER_VERSION := $(shell awk '$$1 == "github.com/cert-manager/cert-manager" { print $$2 }' $(CERT_MANAGER_HACK_DIR)/go.mod)
CERT_MANAGER_API_VERSION := $(shell awk '$$1 == "github.com/cert-manager/cert-manager" { print $$2 }' $(CERT_MANAGER_HACK_DIR)/../../go.mod)

GO ?= go
# Same rule as Go's os.UserCacheDir on Linux (and hack/k8s.mk).
CERT_MANAGER_CACHE_ROOT ?= $(if $(XDG_CACHE_HOME),$(XDG_CACHE_HOME),$(HOME)/.cache)/kubectl-chart
# The binary folder: exported to tests as KUBECTL_CHART_CERT_MANAGER.
CERT_MANAGER_DIR ?= $(CERT_MANAGER_CACHE_ROOT)/cert-manager-$(CERT_MANAGER_VERSION)
CERT_MANAGER_BINS := $(CERT_MANAGER_DIR)/cert-manager-controller $(CERT_MANAGER_DIR)/cert-manager-cainjector

# A pin named after a hash of the build inputs: the binaries are rebuilt exactly when go.mod, go.sum or a main.go
# changes (or a binary is missing), never because a fresh checkout has newer file times.
CERT_MANAGER_INPUTS := $(sort $(CERT_MANAGER_HACK_DIR)/go.mod $(CERT_MANAGER_HACK_DIR)/go.sum $(wildcard $(CERT_MANAGER_HACK_DIR)/*/main.go))
CERT_MANAGER_PIN := $(CERT_MANAGER_DIR)/.pins/inputs-$(shell cat $(CERT_MANAGER_INPUTS) | sha256sum | cut -c1-16)

CERT_MANAGER_LDFLAGS := -s -w -X github.com/cert-manager/cert-manager/pkg/util.AppVersion=$(CERT_MANAGER_VERSION)

.PHONY: cert-manager-binaries

## cert-manager-binaries: build cert-manager's controller and cainjector into $(CERT_MANAGER_DIR) (once)
cert-manager-binaries: $(CERT_MANAGER_BINS)

$(CERT_MANAGER_PIN):
	@mkdir -p $(@D) && rm -f $(@D)/inputs-* && touch $@

$(CERT_MANAGER_BINS) &: $(CERT_MANAGER_PIN)
	@if [ '$(CERT_MANAGER_VERSION)' != '$(CERT_MANAGER_API_VERSION)' ]; then \
		echo "hack/cert-manager/go.mod builds cert-manager $(CERT_MANAGER_VERSION), go.mod uses its API at $(CERT_MANAGER_API_VERSION): make them equal" >&2; \
		exit 1; \
	fi
	@echo "cert-manager $(CERT_MANAGER_VERSION): building controller and cainjector into $(CERT_MANAGER_DIR) (cold: ~7 min on 2 busy cores; then nothing to do)"
	@# One go build for both: their packages compile once and the two links run side by side.
	cd $(CERT_MANAGER_HACK_DIR) && CGO_ENABLED=0 nice -n 19 $(GO) build -trimpath -ldflags '$(CERT_MANAGER_LDFLAGS)' \
		-o $(CERT_MANAGER_DIR)/ ./controller ./cainjector
	mv -f $(CERT_MANAGER_DIR)/controller $(CERT_MANAGER_DIR)/cert-manager-controller
	mv -f $(CERT_MANAGER_DIR)/cainjector $(CERT_MANAGER_DIR)/cert-manager-cainjector
	@touch $(CERT_MANAGER_BINS)

# `make test` builds them, and go test finds them through $KUBECTL_CHART_CERT_MANAGER (TEST_ENV is the Makefile's
# recursive list of VAR=value words put before go test).
test-tools: cert-manager-binaries
TEST_ENV += KUBECTL_CHART_CERT_MANAGER=$(CERT_MANAGER_DIR)
