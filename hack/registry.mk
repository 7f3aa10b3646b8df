# The CNCF distribution registry (github.com/distribution/distribution/v3), for the tests of
# pkg/registry and the push/registry commands (internal/testregistry starts it on a loopback port).
# Built from the Go module proxy into a cache outside the repo, once per set of build inputs.
# Included by the main Makefile (`-include hack/*.mk`); usable alone too:
#   make -f hack/registry.mk registry-binary
#
# The build module is hack/registry (go.mod and main.go, distribution's cmd/registry with only the filesystem and
# inmemory storage drivers: 581 packages instead of 1,000 without the three clouds' SDKs): nested, so that the
# registry's dependencies stay out of the project's module.

REGISTRY_HACK_DIR := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))/registry
REGISTRY_MODULE   := github.com/distribution/distribution/v3
REGISTRY_VERSION  := $(shell awk '$$1 == "$(REGISTRY_MODULE)" { print $$2 } $$1 == "require" && $$2 == "$(REGISTRY_MODULE)" { print $$3 }' $(REGISTRY_HACK_DIR)/go.mod)

GO ?= go
# Same rule as Go's os.UserCacheDir on Linux (and hack/k8s.mk).
REGISTRY_CACHE_ROOT ?= $(if $(XDG_CACHE_HOME),$(XDG_CACHE_HOME),$(HOME)/.cache)/kubectl-chart
REGISTRY_DIR ?= $(REGISTRY_CACHE_ROOT)/registry-$(REGISTRY_VERSION)
# The binary: exported to tests as KUBECTL_CHART_REGISTRY.
REGISTRY_BIN := $(REGISTRY_DIR)/registry

# A pin named after a hash of the build inputs: the binary is rebuilt exactly when go.mod or go.sum changes (or the
# binary is missing), never because a fresh checkout has newer file times.
REGISTRY_INPUTS := $(REGISTRY_HACK_DIR)/go.mod $(REGISTRY_HACK_DIR)/go.sum $(REGISTRY_HACK_DIR)/main.go
REGISTRY_PIN := $(REGISTRY_DIR)/.pins/inputs-$(shell cat $(REGISTRY_INPUTS) | sha256sum | cut -c1-16)

REGISTRY_LDFLAGS := -s -w -X $(REGISTRY_MODULE)/version.version=$(REGISTRY_VERSION)

.PHONY: registry-binary

## registry-binary: build the distribution registry into $(REGISTRY_DIR) (once)
registry-binary: $(REGISTRY_BIN)

$(REGISTRY_PIN):
	@mkdir -p $(@D) && rm -f $(@D)/inputs-* && touch $@

$(REGISTRY_BIN): $(REGISTRY_PIN)
	@echo "distribution $(REGISTRY_VERSION): building the registry (hack/registry/main.go: filesystem storage, no cloud drivers) into $(REGISTRY_DIR) (once)"
	cd $(REGISTRY_HACK_DIR) && CGO_ENABLED=0 nice -n 19 $(GO) build -trimpath -ldflags '$(REGISTRY_LDFLAGS)' \
		-o $(REGISTRY_BIN) .
	@touch $(REGISTRY_BIN)

# `make test` builds it, and go test finds it through $KUBECTL_CHART_REGISTRY (TEST_ENV is the Makefile's recursive
# list of VAR=value words put before go test).
test-tools: registry-binary
TEST_ENV += KUBECTL_CHART_REGISTRY=$(REGISTRY_BIN)
