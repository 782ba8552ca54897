#!/usr/bin/env bash
# Measure edgeos's cluster DNS beside CoreDNS (bench/dns): queries per
# second, median and p99 latency, and memory, both answering the same
# questions about the same cluster. CoreDNS is built from its Go module in
# bench/coredns, a module of its own, as a benchmark peer only.
#
#   bench/dns.sh            print the figures
#   bench/dns.sh --record   also append them to bench/RESULTS.md
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${EDGEOS_BIN:-$PWD/bin/edgeos}
[[ -x $BIN ]] || { echo "no $BIN: run make build" >&2; exit 1; }
[[ $(id -u) == 0 ]] || { echo "needs root (network namespaces)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "building CoreDNS from bench/coredns (its own module)…" >&2
(cd bench/coredns && go build -o "$work/coredns" .)
EDGEOS_BIN=$BIN COREDNS_BIN=$work/coredns BENCH_TABLE=$work/table \
  go test -run '^$' -bench BenchmarkDNS -benchtime 1x -timeout 30m ./bench/dns/
cat "$work/table"
if [[ ${1:-} == --record ]]; then
  {
    echo
    echo "## Cluster DNS: edgeos beside CoreDNS — $(date -u +%Y-%m-%d)"
    echo
    echo "Machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(uname -r), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)."
    echo "Command: \`bench/dns.sh --record\`; both servers as processes of their own in a harness server node, watching its API with the admin kubeconfig, forwarding to the harness's fake upstream; the load tool (bench/dns/dnsload) runs in the same node."
    echo
    cat "$work/table"
  } >> bench/RESULTS.md
fi
