#!/usr/bin/env bash
# How long a pod takes to start when its image (about 50 MB) comes from a
# registry versus from a peer node's embedded registry mirror, on a harness
# cluster of three nodes (bench/mirror, BenchmarkImagePull).
#
#   bench/mirror.sh            print the figures
#   bench/mirror.sh --record   also append them to bench/RESULTS.md
#
# BENCH_ROUNDS (3) is how many images of each kind are pulled; BENCH_LINK_MBIT
# (20) is the rate of the thin link the registry is also reached over.
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
bench_setup
bench_run BenchmarkImagePull ./bench/mirror/
if [[ ${1:-} == --record ]]; then
  bench_record "Embedded registry mirror: a pod's image from a peer or from a registry" \
    "\`bench/mirror.sh --record\` (BENCH_ROUNDS=${BENCH_ROUNDS:-3}); a harness server and two agents, --embedded-registry."
fi
