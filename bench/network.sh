#!/usr/bin/env bash
# Measure the VXLAN overlay in the test harness (bench/network): TCP
# throughput and round-trip time pod → pod across two nodes, against the
# same transfer node → node without the overlay.
#
#   bench/network.sh            print the figures
#   bench/network.sh --record   also append them to bench/RESULTS.md
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${EDGEOS_BIN:-$PWD/bin/edgeos}
[[ -x $BIN ]] || { echo "no $BIN: run make build" >&2; exit 1; }
[[ $(id -u) == 0 ]] || { echo "needs root (network namespaces)" >&2; exit 1; }
table=$(mktemp)
trap 'rm -f "$table"' EXIT

EDGEOS_BIN=$BIN BENCH_TABLE=$table go test -run '^$' -bench BenchmarkOverlay -benchtime 1x -timeout 30m ./bench/network/
cat "$table"
if [[ ${1:-} == --record ]]; then
  {
    echo
    echo "## VXLAN overlay: pod to pod across nodes vs node to node — $(date -u +%Y-%m-%d)"
    echo
    echo "Machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(uname -r), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)."
    echo "Binary: $("$BIN" --version | head -1)."
    echo "Command: \`bench/network.sh --record\`; a server and an agent in the harness's namespaces, joined by a veth-and-bridge link (MTU 1500, so pods get 1450); both ends on one host, so the figures show the overlay's CPU cost, not a wire's."
    echo
    cat "$table"
  } >> bench/RESULTS.md
fi
