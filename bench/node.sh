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
cd "$(dirname "$0")/.."
BIN=${EDGEOS_BIN:-$PWD/bin/edgeos}
[[ -x $BIN ]] || { echo "no $BIN: run make build" >&2; exit 1; }
[[ $(id -u) == 0 ]] || { echo "needs root (network namespaces)" >&2; exit 1; }
table=$(mktemp)
trap 'rm -f "$table"' EXIT

EDGEOS_BIN=$BIN BENCH_TABLE=$table go test -run '^$' -bench BenchmarkNode -benchtime 1x -timeout 30m ./bench/node/
cat "$table"
if [[ ${1:-} == --record ]]; then
  {
    echo
    echo "## edgeos nodes: start, pod start, memory with idle pods — $(date -u +%Y-%m-%d)"
    echo
    echo "Machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(uname -r), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)."
    echo "Binary: $("$BIN" --version | head -1), $(du -m "$BIN" | cut -f1) MB unstripped."
    echo "Command: \`bench/node.sh --record\` (BENCH_IDLE=${BENCH_IDLE:-60s}, BENCH_PODS=${BENCH_PODS:-30}); server and agent each in the harness's namespaces, on embedded SQLite."
    echo
    cat "$table"
  } >> bench/RESULTS.md
fi
