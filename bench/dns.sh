#!/usr/bin/env bash
# Measure edgeos's cluster DNS beside CoreDNS (bench/dns): queries per
# second, median and p99 latency, and memory, both answering the same
# questions about the same cluster. CoreDNS is built from its Go module in
# bench/coredns, a module of its own, as a benchmark peer only.
#
#   bench/dns.sh            print the figures
#   bench/dns.sh --record   also append them to bench/RESULTS.md
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
bench_setup
work=$(mktemp -d)
trap 'rm -rf "$work" "$TABLE"' EXIT

echo "building CoreDNS from bench/coredns (its own module)…" >&2
(cd bench/coredns && go build -o "$work/coredns" .)
bench_run BenchmarkDNS ./bench/dns/ COREDNS_BIN="$work/coredns"
if [[ ${1:-} == --record ]]; then
  bench_record "Cluster DNS: edgeos beside CoreDNS" \
    "\`bench/dns.sh --record\`; both servers as processes of their own in a harness server node, watching its API with the admin kubeconfig, forwarding to the harness's fake upstream; the load tool (bench/dns/dnsload) runs in the same node."
fi
