#!/usr/bin/env bash
# NetworkPolicy enforcement, two benchmarks:
# - rule sync: pkg/netpol's BenchmarkSync, 300 pods (100 on the node) and
#   100 policies of four kinds: the plan, writing the table anew, and
#   writing the difference a new pod and a changed policy make, in a network
#   namespace of its own; BENCH_NETPOL_COUNT (20) runs of each.
# - end to end: bench/netpol's BenchmarkEnforcement on a server and an
#   agent in the harness: policy created (deleted) through the API until a
#   pod's new connections are dropped (pass again); BENCH_ROUNDS (20) on
#   the empty cluster, as many with 100 policies over BENCH_NETPOL_PODS
#   (300) pods in place, and the CPU those take; then the same with
#   edgeos's enforcement off and kube-router's
#   controller on both nodes (built from its module; it needs Debian's
#   ipset, installed here when missing; BENCH_KUBE_ROUTER=skip leaves it out).
#
#   bench/netpol.sh            print the figures
#   bench/netpol.sh --record   also append the end-to-end table to bench/RESULTS.md
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
bench_setup
if [[ ${BENCH_KUBE_ROUTER:-} != skip ]] && ! command -v ipset >/dev/null; then
  echo "installing ipset for kube-router…" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ipset >/dev/null
fi
go test -run '^$' -bench BenchmarkSync -benchtime "${BENCH_NETPOL_COUNT:-20}x" -v ./pkg/netpol/
bench_run BenchmarkEnforcement ./bench/netpol/
if [[ ${1:-} == --record ]]; then
  bench_record "NetworkPolicy: from the API to enforcement" \
    "\`bench/netpol.sh --record\`; a server and an agent in the harness's namespaces, the watcher pod on the server, its target on the agent; then kube-router (\`--run-firewall --run-router=false --run-service-proxy=false\`) on both nodes of a second such cluster, started with \`--disable network-policy\`."
fi
