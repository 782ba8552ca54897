#!/usr/bin/env bash
# How fast Secrets are written again when encryption is turned on and when
# its key is rotated: an edgeos server (control plane only, embedded SQLite)
# in the test harness's namespaces with BENCH_SECRETS (2000) Secrets of
# 1 KiB. The figure is the one `edgeos secrets-encrypt` prints: the time of
# its pass over every Secret, not the wait for the apiserver to read the
# new configuration.
#
#   bench/secrets.sh            print the table
#   bench/secrets.sh --record   also append it to bench/RESULTS.md
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
bench_setup
bench_run BenchmarkReencrypt ./bench/secrets/
if [[ ${1:-} == --record ]]; then
  bench_record "Secrets encryption: writing every Secret again" \
    "\`bench/secrets.sh --record\` (BENCH_SECRETS=${BENCH_SECRETS:-2000}). k3s is not reachable from this machine (no network but the Go proxy and Debian); its users report about 5 Secrets/s for the same pass."
fi
