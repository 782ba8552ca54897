#!/usr/bin/env bash
# What resource metrics (kubectl top, autoscaling) cost the server: its
# process's PSS and idle CPU with edgeos's metrics on and off, and
# metrics-server v0.8.0 as a process of its own beside it: on a server
# node and an agent (bench/footprint, BenchmarkMetrics), then on a
# control-plane-only server with nodes simulated by kwok v0.8.0
# (BenchmarkMetricsKwok).
#
#   bench/metrics.sh            print the figures
#   bench/metrics.sh --record   also append them to bench/RESULTS.md
#
# BENCH_ROUNDS (2) is how many times each edgeos phase of the first runs;
# BENCH_IDLE (2m) and BENCH_SETTLE (30s) as in bench/footprint.sh.
# BENCH_KWOK_NODES (100; 0 skips that run) simulated nodes with
# BENCH_KWOK_PODS (10) pods each; BENCH_TWO_NODES=skip skips the first run.
# metrics-server is built from its module into bin/, kwok by the benchmark
# (tests/scale).
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
bench_setup
mkdir -p bin
(cd /tmp && GOFLAGS=-mod=mod GOBIN="$OLDPWD/bin" go install sigs.k8s.io/metrics-server/cmd/metrics-server@v0.8.0)
nodes=${BENCH_KWOK_NODES:-100}
if [[ ${BENCH_TWO_NODES:-} != skip ]]; then
  bench_run BenchmarkMetrics ./bench/footprint/ BENCH_METRICS_SERVER="$PWD/bin/metrics-server" BENCH_IDLE="${BENCH_IDLE:-2m}"
  if [[ ${1:-} == --record ]]; then
    bench_record "Resource metrics: edgeos's own and metrics-server's cost" \
      "\`bench/metrics.sh --record\` (BENCH_ROUNDS=${BENCH_ROUNDS:-2}, BENCH_IDLE=${BENCH_IDLE:-2m}); metrics-server v0.8.0 built from its module."
  fi
fi
if [[ $nodes != 0 ]]; then
  bench_run BenchmarkMetricsKwok ./bench/footprint/ BENCH_METRICS_SERVER="$PWD/bin/metrics-server" \
    BENCH_KWOK_NODES="$nodes" BENCH_IDLE="${BENCH_IDLE:-2m}"
  if [[ ${1:-} == --record ]]; then
    bench_record "Resource metrics at $nodes simulated nodes: edgeos's own and metrics-server's cost" \
      "\`bench/metrics.sh --record\` (BENCH_KWOK_NODES=$nodes, BENCH_KWOK_PODS=${BENCH_KWOK_PODS:-10}, BENCH_IDLE=${BENCH_IDLE:-2m}); kwok v0.8.0 and metrics-server v0.8.0 built from their modules."
  fi
fi
