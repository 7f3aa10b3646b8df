# The test control plane: etcd, kube-apiserver, kube-controller-manager, kube-scheduler,
# kubectl and kwok, built from the Go module proxy into a cache outside the repo.
# Included by the main Makefile (`-include hack/*.mk`); usable alone too:
#   make -f hack/k8s.mk k8s-binaries
#
# Versions live in hack/k8s/versions.env only. The cache folder is keyed by the
# Kubernetes version; a pin file per version set makes make rebuild exactly when a
# version changes (or a binary is missing), and never otherwise.

K8S_HACK_DIR := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))/k8s
include $(K8S_HACK_DIR)/versions.env

# Same rule as Go's os.UserCacheDir on Linux, which internal/testcluster uses for its default.
K8S_CACHE_ROOT ?= $(if $(XDG_CACHE_HOME),$(XDG_CACHE_HOME),$(HOME)/.cache)/kubectl-chart
# The binary folder: export it to tests as KUBECTL_CHART_K8S_ASSETS (and KUBEBUILDER_ASSETS).
K8S_ASSETS ?= $(K8S_CACHE_ROOT)/k8s-$(KUBERNETES_VERSION)

# Environment for `go test` (and anything else that starts a control plane).
K8S_TEST_ENV := KUBECTL_CHART_K8S_ASSETS=$(K8S_ASSETS) KUBEBUILDER_ASSETS=$(K8S_ASSETS) \
	KUBEBUILDER_CONTROLPLANE_START_TIMEOUT=60s

K8S_KUBE_BINS := $(addprefix $(K8S_ASSETS)/,etcd kube-apiserver kube-controller-manager kube-scheduler kubectl)
K8S_KWOK_BINS := $(addprefix $(K8S_ASSETS)/,kwok kwok-stages.yaml)
K8S_KUBE_PIN := $(K8S_ASSETS)/.pins/kubernetes-$(KUBERNETES_VERSION)-staging-$(KUBERNETES_STAGING_VERSION)-etcd-$(ETCD_VERSION)
K8S_KWOK_PIN := $(K8S_ASSETS)/.pins/kwok-$(KWOK_VERSION)

.PHONY: k8s-binaries e2e-cluster

## k8s-binaries: build the test control plane into $(K8S_ASSETS) (once per version set)
k8s-binaries: $(K8S_KUBE_BINS) $(K8S_KWOK_BINS)

# A pin is (re)created only when its name (the versions) is new; the binaries then
# look out of date and are rebuilt. Other pins of the same kind are removed so that
# going back to an earlier version rebuilds too.
$(K8S_KUBE_PIN):
	@mkdir -p $(@D) && rm -f $(@D)/kubernetes-* && touch $@
$(K8S_KWOK_PIN):
	@mkdir -p $(@D) && rm -f $(@D)/kwok-* && touch $@

K8S_BUILD := KUBERNETES_VERSION=$(KUBERNETES_VERSION) KUBERNETES_STAGING_VERSION=$(KUBERNETES_STAGING_VERSION) \
	ETCD_VERSION=$(ETCD_VERSION) KWOK_VERSION=$(KWOK_VERSION) nice -n 19 $(K8S_HACK_DIR)/build.sh

$(K8S_KUBE_BINS) &: $(K8S_KUBE_PIN)
	$(K8S_BUILD) kubernetes $(K8S_ASSETS)

$(K8S_KWOK_BINS) &: $(K8S_KWOK_PIN)
	$(K8S_BUILD) kwok $(K8S_ASSETS)

## e2e-cluster: run the full control plane with fake nodes until Ctrl-C (prints the KUBECONFIG line)
# Built, then exec'd (not `go run`, which would leave it running on SIGTERM), so
# Ctrl-C and SIGTERM to make both reach it and it cleans up.
E2E_CLUSTER_FLAGS ?= -nodes=1
E2E_CLUSTER_BIN := $(K8S_CACHE_ROOT)/e2e-cluster/e2e-cluster
e2e-cluster: k8s-binaries
	go build -o $(E2E_CLUSTER_BIN) ./hack/e2e-cluster
	exec env $(K8S_TEST_ENV) $(E2E_CLUSTER_BIN) $(E2E_CLUSTER_FLAGS)
