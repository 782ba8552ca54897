# edgeos — see README.md. `make run` starts a single-node cluster,
# `make test` installs what the tests need and runs every test.

GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
# Versions of what edgeos embeds, from go.mod, stamped where upstream reads them.
K8S_VERSION        := $(shell $(GO) list -m -f '{{.Version}}' k8s.io/kubernetes)
CONTAINERD_VERSION := $(shell $(GO) list -m -f '{{.Version}}' github.com/containerd/containerd/v2)
HELM_VERSION       := $(shell $(GO) list -m -f '{{.Version}}' helm.sh/helm/v4)
K8S_MINOR          := $(word 2,$(subst ., ,$(K8S_VERSION)))
LDFLAGS  := -X github.com/edgeos/edgeos/pkg/version.Version=$(VERSION) \
	-X k8s.io/component-base/version.gitVersion=$(K8S_VERSION) \
	-X k8s.io/component-base/version.gitMajor=1 \
	-X k8s.io/component-base/version.gitMinor=$(K8S_MINOR) \
	-X k8s.io/component-base/version.gitTreeState=clean \
	-X k8s.io/client-go/pkg/version.gitVersion=$(K8S_VERSION) \
	-X k8s.io/client-go/pkg/version.gitMajor=1 \
	-X k8s.io/client-go/pkg/version.gitMinor=$(K8S_MINOR) \
	-X github.com/containerd/containerd/v2/version.Version=$(CONTAINERD_VERSION) \
	-X helm.sh/helm/v4/internal/version.version=$(HELM_VERSION)
BIN      := bin/edgeos
# kubectl's kustomize imports Go's plugin package unless told not to, and a
# binary that imports it exports every symbol (38 MB of dynamic symbol
# tables) and keeps methods the linker would otherwise drop.
TAGS     := kustomize_disable_go_plugin_support
# Extra flags for `make run`, e.g. make run ARGS="--debug".
ARGS     ?=
# Packages whose unit tests must stay small: nothing here imports k8s.io/kubernetes.
UNIT_PKGS := ./pkg/... ./bench/cpuprofile ./tests/scale

# The pause image edgeos embeds, built from cmd/pause for the target arch.
PAUSE    := pkg/pause/pause.tar
# containerd, its runc shim and the CNI plugin, small programs of their own, embedded compressed.
PROGRAMS := pkg/containerd/programs/containerd.bin.gz pkg/containerd/programs/shim.bin.gz pkg/containerd/programs/cni.bin.gz
# runc, static with seccomp, from the version pinned in packaging/runc.
RUNC     := pkg/runc/runc.bin.gz
GENERATED := $(PAUSE) $(PROGRAMS) $(RUNC)

.PHONY: build run run-deps test deps unit fuzz fuzz-short integration e2e-netpol vet lint bench release release-test clean

build: $(GENERATED)
	$(GO) build -tags "$(TAGS)" -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/edgeos

$(PAUSE): cmd/pause/main.go pkg/pause/gen/main.go $(wildcard pkg/ociimage/*.go)
	$(GO) generate ./pkg/pause

$(PROGRAMS) &: go.mod cmd/containerd/main.go cmd/shim/main.go cmd/cni/main.go $(wildcard pkg/pageout/*.go pkg/cni/plugin/*.go)
	$(GO) generate ./pkg/containerd/programs

$(RUNC): packaging/runc/go.mod
	$(GO) generate ./pkg/runc

run: run-deps build
	./$(BIN) server $(ARGS)

test: deps build vet lint unit fuzz-short integration

deps:
	./scripts/test-deps.sh

run-deps:
	./scripts/test-deps.sh run

vet: $(GENERATED)
	$(GO) vet ./...
	cd tests/e2e && $(GO) vet ./...

# Shell scripts pass shellcheck; Go sources are gofmt'ed.
lint:
	shellcheck -x scripts/*.sh bench/*.sh packaging/*.sh
	@test -z "$$(gofmt -l cmd pkg tests bench)" || { gofmt -l cmd pkg tests bench; echo "gofmt needed"; exit 1; }

unit: $(GENERATED)
	$(GO) test -count=1 $(UNIT_PKGS)
	cd tests/alerts && $(GO) vet ./... && $(GO) test -count=1 ./...

# Go fuzz targets of what reads hostile input, each for FUZZTIME: a short
# run in `make test`, a longer one by `make fuzz FUZZTIME=10m`.
FUZZ     := ./pkg/dns:FuzzReply ./pkg/configfile:FuzzParse ./pkg/token:FuzzParse \
            ./pkg/images:FuzzImportArchive ./pkg/bootstrap:FuzzCertificateRequest \
            ./pkg/manifests:FuzzParse ./pkg/registries:FuzzParse \
            ./pkg/logforward:FuzzSpoolSegment ./pkg/clusterkeys:FuzzOpen
FUZZTIME ?= 1m
fuzz: $(GENERATED)
	GO=$(GO) FUZZTIME=$(FUZZTIME) scripts/fuzz.sh $(FUZZ)

fuzz-short:
	$(MAKE) fuzz FUZZTIME=10s

integration: build
	EDGEOS_BIN=$(CURDIR)/$(BIN) $(GO) test -count=1 -timeout 40m -v ./tests/integration/

# The upstream NetworkPolicy e2e specs (k8s.io/kubernetes's
# test/e2e/network/netpol, tests/e2e) on a server and an agent; the spec
# list and the JUnit report are kept in tests/e2e/reports. Not part of
# `make test`, which it would take past its time budget.
e2e-netpol: build
	cd tests/e2e && EDGEOS_BIN=$(CURDIR)/$(BIN) $(GO) test -count=1 -timeout 120m -v -run TestNetworkPolicySpecs . \
		-args -netpol-report-dir=$(CURDIR)/tests/e2e/reports

# dist/edgeos-linux-{amd64,arm64,armv7}: static, stripped, with sums.
release:
	LDFLAGS='$(LDFLAGS)' ./packaging/release.sh

# The release binaries under qemu-user: --version, check-config, a server
# that answers /readyz. Not part of `make test` (see README).
release-test:
	./packaging/release-test.sh

bench: build
	./bench/server.sh

clean:
	rm -rf bin dist $(GENERATED)
