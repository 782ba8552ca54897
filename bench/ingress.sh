#!/usr/bin/env bash
# Measure edgeos's ingress proxy beside nginx and HAProxy (bench/ingress):
# requests per second and median and p99 latency at a fixed concurrency,
# each proxy sending to the same two echo pods of a harness server node,
# and each peer's memory after the load. nginx and HAProxy are Debian's
# packages (installed here if missing, without starting their services).
# The idle memory cost of edgeos's proxy is the footprint bench with and
# without --disable ingress.
#
#   bench/ingress.sh            print the figures
#   bench/ingress.sh --record   also append them to bench/RESULTS.md
#
# BENCH_DURATION (10s) is each proxy's load; BENCH_CLIENTS (32) the
# concurrency; BENCH_PROFILE_OUT, a file for a CPU profile of the edgeos
# process under its load.
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
bench_setup
if ! command -v nginx >/dev/null || ! command -v haproxy >/dev/null; then
  echo "installing nginx and HAProxy (their services are not started)…" >&2
  # policy-rc.d keeps the packages from starting their services on the host
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod 0755 /usr/sbin/policy-rc.d
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx-light haproxy >/dev/null || { rm -f /usr/sbin/policy-rc.d; exit 1; }
  rm -f /usr/sbin/policy-rc.d
fi

# Traefik v3's module does not build here (some of its dependencies are
# refused by the module proxy), so HAProxy stands in for it; a Traefik
# binary given as TRAEFIK_BIN is measured too.
bench_run BenchmarkIngress ./bench/ingress/ TRAEFIK_BIN="${TRAEFIK_BIN:-}"
if [[ ${1:-} == --record ]]; then
  bench_record "Ingress: edgeos's proxy beside nginx and HAProxy" \
    "\`bench/ingress.sh --record\` (BENCH_DURATION=${BENCH_DURATION:-10s}, BENCH_CLIENTS=${BENCH_CLIENTS:-32}); every proxy in the same harness server node, sending to the same two echo pods."
fi
