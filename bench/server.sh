#!/usr/bin/env bash
# Measure `edgeos server` on embedded SQLite: time from start to /readyz = ok,
# and memory after 60 s idle of edgeos and the containerd it runs (summed;
# PSS is what they really cost together). Runs the server in a network
# namespace and a private mount namespace of its own (no route off the
# machine, its own /run) with a fresh data dir, ROUNDS times.
#
#   bench/server.sh            print the figures
#   bench/server.sh --record   also append them to bench/RESULTS.md
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${EDGEOS_BIN:-$PWD/bin/edgeos}
ROUNDS=${ROUNDS:-3}
IDLE=${IDLE:-60}
command -v curl >/dev/null || { echo "needs curl (scripts/test-deps.sh installs it)" >&2; exit 1; }
[[ -x $BIN ]] || { echo "no $BIN: run make build" >&2; exit 1; }
[[ $(id -u) == 0 ]] || { echo "needs root (network namespaces)" >&2; exit 1; }

ns=eosbench$$
cg=/$ns   # the kubelet's cgroup root, so it never touches the host's
work=$(mktemp -d)
pid=
cleanup() {
  if [[ -n $pid ]]; then
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null || true; done
  for h in /sys/fs/cgroup/*/ /sys/fs/cgroup/; do
    [[ -d $h$cg ]] || continue
    find "$h$cg" -name cgroup.procs -exec cat {} + 2>/dev/null | while read -r p; do kill -9 "$p" 2>/dev/null || true; done
    sleep 0.2
    find "$h$cg" -depth -type d -exec rmdir {} \; 2>/dev/null || true
  done
  ip netns delete "$ns" 2>/dev/null || true
  ip link delete "${ns}h" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
for h in /sys/fs/cgroup/*/ /sys/fs/cgroup/; do [[ -f ${h}cgroup.procs ]] && mkdir -p "$h$cg"; done
ip netns add "$ns"
ip -n "$ns" link set lo up
ip link add "${ns}h" type veth peer name eth0 netns "$ns"
ip addr add 198.19.254.1/24 dev "${ns}h"
ip link set "${ns}h" up
ip -n "$ns" addr add 198.19.254.2/24 dev eth0
ip -n "$ns" link set eth0 up

kb() { awk -v k="$1:" '$1==k {print $2}' "$2"; }
mb() { awk -v v="$1" 'BEGIN {printf "%.0f", v/1024}'; }

rows=()
for round in $(seq "$ROUNDS"); do
  data=$work/data$round
  start=$(date +%s.%N)
  # shellcheck disable=SC2016 # "$0" "$@" are the inner shell's
  nsenter --net=/run/netns/"$ns" -- unshare --mount --propagation private -- sh -c \
    'mount -t tmpfs tmpfs /run && mount -t tmpfs tmpfs /var/log && exec "$0" "$@"' \
    "$BIN" server --data-dir "$data" --write-kubeconfig "$work/kc$round.yaml" --kubelet-arg "cgroup-root=$cg" >"$work/log$round" 2>&1 &
  pid=$!
  tls=$data/server/tls
  until [[ -f $tls/client-admin.key ]] && [[ $(ip netns exec "$ns" curl -s --max-time 2 --cacert "$tls/server-ca.crt" \
      --cert "$tls/client-admin.crt" --key "$tls/client-admin.key" https://127.0.0.1:6443/readyz 2>/dev/null) == ok ]]; do
    kill -0 "$pid" 2>/dev/null || { echo "server exited:" >&2; tail -20 "$work/log$round" >&2; exit 1; }
    sleep 0.1
  done
  ready=$(date +%s.%N)
  sleep "$IDLE"
  rss=0; anon=0; file=0; pss=0; ctrd=0
  for p in $pid $(pgrep -P "$pid"); do
    st=/proc/$p/status
    rss=$((rss + $(kb VmRSS "$st"))); anon=$((anon + $(kb RssAnon "$st"))); file=$((file + $(kb RssFile "$st")))
    pss=$((pss + $(kb Pss "/proc/$p/smaps_rollup")))
    [[ $p != "$pid" ]] && ctrd=$((ctrd + $(kb Pss "/proc/$p/smaps_rollup")))
  done
  db=$(du -sk "$data/server/db" | cut -f1)
  kill -TERM "$pid"; wait "$pid" || true; pid=
  rows+=("| $round | $(awk -v a="$start" -v b="$ready" 'BEGIN {printf "%.2f", b-a}') | $(mb "$pss") | $(mb "$ctrd") | $(mb "$rss") | $(mb "$anon") | $(mb "$file") | $db |")
done

table=$(printf '%s\n' "| round | start → /readyz (s) | PSS after ${IDLE}s idle (MB) | of which containerd | RSS (MB) | anon (MB) | file (MB) | db dir (kB) |" \
  "|---|---|---|---|---|---|---|---|" "${rows[@]}")
echo "$table"
if [[ ${1:-} == --record ]]; then
  {
    echo
    echo "## edgeos server, idle, embedded SQLite — $(date -u +%Y-%m-%d)"
    echo
    echo "Machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(uname -r), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)."
    echo "Binary: $("$BIN" --version), $(du -m "$BIN" | cut -f1) MB unstripped."
    echo "Command: \`ROUNDS=$ROUNDS IDLE=$IDLE bench/server.sh --record\`; edgeos plus its containerd (kubelet, pod network plugin in-process), node Ready, no pods."
    echo
    echo "$table"
  } >> bench/RESULTS.md
fi
