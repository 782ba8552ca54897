#!/usr/bin/env bash
# NetworkPolicy rule sync: pkg/netpol's BenchmarkSync, 300 pods (100 on
# the node) and 100 policies of four kinds: the plan, writing the table
# anew, and writing the difference a new pod and a changed policy make, in
# a network namespace of its own (root).
#
#   bench/netpol.sh       BENCH_NETPOL_COUNT (20) runs of each
set -euo pipefail
cd "$(dirname "$0")/.."
[[ $(id -u) == 0 ]] || { echo "needs root (a network namespace for nftables)" >&2; exit 1; }
go test -run '^$' -bench BenchmarkSync -benchtime "${BENCH_NETPOL_COUNT:-20}x" -v ./pkg/netpol/
