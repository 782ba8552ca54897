#!/usr/bin/env bash
# The footprint table (issue 7): an edgeos server (also a node) and an
# agent, then vanilla Kubernetes on one node, each in the test harness's
# namespaces with 5 idle pods: start → node Ready, pod start p50/p99, PSS,
# RSS and anonymous memory of the node's own processes, idle CPU and bytes
# written over an idle window, the datastore's WAL over it, where edgeos's
# idle CPU goes (a CPU profile), and API latency for ConfigMap creates and
# lists; ratios edgeos / vanilla. Where tracefs can be mounted, the idle
# writes are also given by file (the kernel's writeback_dirty_folio
# tracepoint). See bench/footprint/ for what is measured how.
#
#   bench/footprint.sh            print the table
#   bench/footprint.sh --record   also append it to bench/RESULTS.md
#
# BENCH_IDLE (5m) is the idle window, after BENCH_SETTLE (30s); after it,
# each edgeos node's process is CPU-profiled for BENCH_PROFILE (1m; 0
# skips it), summed by the package that runs the code (BENCH_PROFILE_DIR
# keeps each profile there as <node>.pprof). BENCH_PODS (30)
# pods are started one after another; BENCH_CONFIGMAPS (1000) ConfigMaps
# are created and listed 100 times. BENCH_VANILLA=skip leaves vanilla out.
# BENCH_EDGEOS_ARGS adds flags to the edgeos server (to measure a
# setting), BENCH_AGENT_ARGS to the agent; BENCH_AGENT=skip leaves the
# agent out. The agent runs from a copy of the binary: on a machine of its
# own it shares no pages with a server.
#
# Vanilla is built here from the modules edgeos depends on (bench/vanilla:
# etcd and the upstream components in one binary, run through links),
# with the containerd, shim and runc edgeos embeds and the reference CNI
# plugins, into bin/vanilla.
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
bench_setup
vanilla=
if [[ ${BENCH_VANILLA:-} != skip ]]; then
  vanilla=$PWD/bin/vanilla
  mkdir -p "$vanilla/cni"
  go build -o "$vanilla/vanilla" ./bench/vanilla
  for c in etcd kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy; do
    ln -sf vanilla "$vanilla/$c"
  done
  for p in pkg/containerd/programs/containerd pkg/containerd/programs/shim pkg/runc/runc; do
    [[ -f $p.bin.gz ]] || { echo "no $p.bin.gz: run make build" >&2; exit 1; }
  done
  gunzip -c pkg/containerd/programs/containerd.bin.gz > "$vanilla/containerd"
  gunzip -c pkg/containerd/programs/shim.bin.gz > "$vanilla/containerd-shim-runc-v2"
  gunzip -c pkg/runc/runc.bin.gz > "$vanilla/runc"
  chmod 0755 "$vanilla/containerd" "$vanilla/containerd-shim-runc-v2" "$vanilla/runc"
  go build -o "$vanilla/cni/" github.com/containernetworking/plugins/plugins/main/bridge \
    github.com/containernetworking/plugins/plugins/ipam/host-local \
    github.com/containernetworking/plugins/plugins/main/loopback \
    github.com/containernetworking/plugins/plugins/meta/portmap
fi
bench_run BenchmarkFootprint ./bench/footprint/ BENCH_VANILLA="$vanilla"
if [[ ${1:-} == --record ]]; then
  bench_record "Footprint: edgeos and vanilla Kubernetes side by side" \
    "\`bench/footprint.sh --record\` (BENCH_IDLE=${BENCH_IDLE:-5m}, BENCH_PROFILE=${BENCH_PROFILE:-1m}, BENCH_PODS=${BENCH_PODS:-30}, BENCH_CONFIGMAPS=${BENCH_CONFIGMAPS:-1000}); edgeos on embedded SQLite, vanilla on etcd $(go list -m -f '{{.Version}}' go.etcd.io/etcd/server/v3), Kubernetes $(go list -m -f '{{.Version}}' k8s.io/kubernetes) for both."
fi
