# staff-operator: the two commands a newcomer needs are `make demo` and `make test` (README.md).

SHELL := /usr/bin/env bash -o pipefail
.SHELLFLAGS := -ec

LOCALBIN := $(CURDIR)/bin
CONTROLLER_GEN_VERSION := v0.23.0
CONTROLLER_GEN := $(LOCALBIN)/controller-gen-$(CONTROLLER_GEN_VERSION)
# Where envtest finds etcd and kube-apiserver: built from source by hack/build-control-plane.sh.
ENVTEST_ASSETS = $(shell hack/build-control-plane.sh --print)
GO_TEST_FLAGS ?= -count=1 -timeout 20m

.PHONY: all
all: build

##@ Development

.PHONY: help
help: ## Show the targets.
	@awk 'BEGIN {FS = ":.*##"} /^[a-zA-Z_-]+:.*?##/ { printf "  %-18s %s\n", $$1, $$2 } /^##@/ { printf "\n%s\n", substr($$0, 5) }' $(MAKEFILE_LIST)

.PHONY: generate
generate: $(CONTROLLER_GEN) ## Generate deepcopy code from the API types.
	$(CONTROLLER_GEN) object:headerFile=hack/boilerplate.go.txt paths=./api/...

.PHONY: manifests
manifests: $(CONTROLLER_GEN) ## Generate CRDs and RBAC from the markers.
	$(CONTROLLER_GEN) rbac:roleName=manager-role crd paths=./... \
		output:crd:artifacts:config=config/crd/bases output:rbac:artifacts:config=config/rbac

.PHONY: fmt
fmt: ## Format the code.
	go fmt ./...

.PHONY: vet
vet: ## Run go vet.
	go vet ./...

.PHONY: verify-generated
verify-generated: ## Fail when the committed generated files differ from what the markers generate.
	hack/verify-generated.sh

.PHONY: build
build: generate fmt vet ## Build the manager binary into bin/.
	go build -o $(LOCALBIN)/manager ./cmd

.PHONY: install-manifest
install-manifest: ## Render config/default into dist/install.yaml, the one file a cluster applies (README: Install on a cluster).
	go run ./hack/installmanifest -o dist/install.yaml

.PHONY: run
run: ## Run the manager against the current kubeconfig with config/local/config.yaml.
	go run ./cmd --config config/local/config.yaml

# The image is built without Docker (hack/image), so it works offline and in CI; the
# Dockerfile builds the same one where Docker is at hand. IMAGE_ARCH is the nodes' GOARCH.
IMAGE_TAG ?= staff-operator:dev
IMAGE_ARCH ?= amd64
IMAGE_LAYOUT ?= $(LOCALBIN)/image
IMAGE_TAR ?= $(LOCALBIN)/staff-operator-image.tar

.PHONY: image
image: ## Build the manager's image: an OCI layout in bin/image and bin/staff-operator-image.tar for docker load or crane push.
	go run ./hack/image -tag $(IMAGE_TAG) -arch $(IMAGE_ARCH) -layout $(IMAGE_LAYOUT) -tar $(IMAGE_TAR)

##@ Test

.PHONY: control-plane
control-plane: ## Build etcd, kube-apiserver and kubectl from source into bin/ (skips what is built).
	hack/build-control-plane.sh

.PHONY: packages
packages: ## Install the Debian packages the tests run for real (slapd, ldap-utils, chromium) when missing.
	hack/install-packages.sh

# The demo is built and then run, not `go run`: Ctrl-C then reaches the demo itself, which
# stops the manager, slapd, the mail catcher and the control plane in order.
.PHONY: demo
demo: control-plane packages ## Run the operator end to end on 127.0.0.1 and guide through it (README: The demo).
	go build -o $(LOCALBIN)/staff-demo ./hack/demo
	KUBEBUILDER_ASSETS="$(ENVTEST_ASSETS)" $(LOCALBIN)/staff-demo

.PHONY: test
test: verify-generated vet control-plane packages ## Run every test against the real parts.
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "not gofmt'ed (run make fmt):"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	KUBEBUILDER_ASSETS="$(ENVTEST_ASSETS)" go test $(GO_TEST_FLAGS) ./...

.PHONY: bench
bench: control-plane packages ## Run the benchmarks against the real parts.
	KUBEBUILDER_ASSETS="$(ENVTEST_ASSETS)" go test -run '^$$' -bench . -benchmem ./...

# Built and then run, like the demo, so that Ctrl-C reaches the bench, which stops what it started.
# The manager runs with the GOMEMLIMIT the Deployment gives it (config/manager/manager.yaml).
BENCH_GOMEMLIMIT ?= 200MiB
.PHONY: bench-scale
bench-scale: control-plane packages ## Measure the manager at scale (N=1000 members, or N=10000) and append the table to bench/results.md.
	go build -o $(LOCALBIN)/staff-benchscale ./hack/benchscale
	KUBEBUILDER_ASSETS="$(ENVTEST_ASSETS)" GOMEMLIMIT=$(BENCH_GOMEMLIMIT) $(LOCALBIN)/staff-benchscale -n $(or $(N),1000)

##@ Tools

$(CONTROLLER_GEN):
	mkdir -p $(LOCALBIN)
	GOBIN=$(LOCALBIN) go install sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_GEN_VERSION)
	mv $(LOCALBIN)/controller-gen $(CONTROLLER_GEN)
