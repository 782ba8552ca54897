#!/usr/bin/env bash
# Measure edgeos nodes in the test harness (bench/node): start → node Ready
# for a server and for an agent that joins it, pod create → Running over
# BENCH_PODS pods (30) started one after another, and the memory (PSS, RSS,
# anonymous) of edgeos + containerd + shims on each node after BENCH_IDLE
# (60s) with 5 idle pods.
#
#   bench/node.sh            print the figures
#   bench/node.sh --record   also append them to bench/RESULTS.md
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
bench_setup
bench_run BenchmarkNode ./bench/node/
if [[ ${1:-} == --record ]]; then
  bench_record "edgeos nodes: start, pod start, memory with idle pods" \
    "\`bench/node.sh --record\` (BENCH_IDLE=${BENCH_IDLE:-60s}, BENCH_PODS=${BENCH_PODS:-30}); server and agent each in the harness's namespaces, on embedded SQLite."
fi
