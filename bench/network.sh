#!/usr/bin/env bash
# Measure the VXLAN overlay in the test harness (bench/network): TCP
# throughput and round-trip time pod → pod across two nodes, against the
# same transfer node → node without the overlay.
#
#   bench/network.sh            print the figures
#   bench/network.sh --record   also append them to bench/RESULTS.md
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
bench_setup
bench_run BenchmarkOverlay ./bench/network/
if [[ ${1:-} == --record ]]; then
  bench_record "VXLAN overlay: pod to pod across nodes vs node to node" \
    "\`bench/network.sh --record\`; a server and an agent in the harness's namespaces, joined by a veth-and-bridge link (MTU 1500, so pods get 1450); both ends on one host, so the figures show the overlay's CPU cost, not a wire's."
fi
