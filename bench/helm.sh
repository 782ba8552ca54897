#!/usr/bin/env bash
# Measure how long the server takes from a HelmChart file dropped into its
# auto-deploy directory to the release deployed and its pod ready
# (bench/helm). The idle memory cost of the Helm SDK is the footprint bench
# with and without --disable-helm-controller.
#
#   bench/helm.sh            print the figures
#   bench/helm.sh --record   also append them to bench/RESULTS.md
#
# BENCH_ROUNDS (3) is how many releases are installed, one after another.
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
bench_setup
bench_run BenchmarkHelmChart ./bench/helm/
if [[ ${1:-} == --record ]]; then
  bench_record "HelmChart: file dropped to release deployed" \
    "\`bench/helm.sh --record\` (BENCH_ROUNDS=${BENCH_ROUNDS:-3}); a harness server node."
fi
