#!/usr/bin/env bash
# One edgeos server (control plane only, embedded SQLite) with nodes
# simulated by kwok v0.8.0 (built from its module), held against
# Kubernetes' scalability SLOs: for each node count, the nodes, 30 pods a
# node through Deployments, then 10 minutes of churn (scales, rollouts,
# ConfigMap and Secret updates at a fixed rate).
#
#   bench/scale.sh            print the figures
#   bench/scale.sh --record   also append them to bench/RESULTS.md
#
# BENCH_SCALE_NODES (100,300,1000) node counts, one fresh server each;
# BENCH_SCALE_PODS (30) pods a node; BENCH_SCALE_CHURN (10m);
# BENCH_SCALE_PROFILES, a directory to keep the CPU profiles in.
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
bench_setup
command -v sqlite3 >/dev/null || { echo "needs sqlite3 (scripts/test-deps.sh installs it)" >&2; exit 1; }
BENCH_TIMEOUT=${BENCH_TIMEOUT:-6h} bench_run BenchmarkScale ./bench/scale/ \
  BENCH_SCALE_NODES="${BENCH_SCALE_NODES:-100,300,1000}" BENCH_SCALE_PODS="${BENCH_SCALE_PODS:-30}" BENCH_SCALE_CHURN="${BENCH_SCALE_CHURN:-10m}" BENCH_SCALE_PROFILES="${BENCH_SCALE_PROFILES:+$(realpath "$BENCH_SCALE_PROFILES")}"
if [[ ${1:-} == --record ]]; then
  bench_record "Scale on embedded SQLite: kwok's simulated nodes against the SLOs" \
    "\`bench/scale.sh --record\` (BENCH_SCALE_NODES=${BENCH_SCALE_NODES:-100,300,1000}, BENCH_SCALE_PODS=${BENCH_SCALE_PODS:-30}, BENCH_SCALE_CHURN=${BENCH_SCALE_CHURN:-10m}); kwok v0.8.0 built from its module; SLOs from sig-scalability's slos.md: mutating calls p99 ≤ 1 s, reads p99 ≤ 1 s (one object), 5 s (namespace), 30 s (cluster), pod start-up p99 ≤ 5 s; latencies from the apiserver's apiserver_request_duration_seconds (bucket estimates, as histogram_quantile)."
fi
