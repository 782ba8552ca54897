#!/usr/bin/env bash
# Test the release binaries in dist/ on this machine, the foreign ones under
# qemu-user (Debian's qemu-user-static): --version, check-config, and a
# server (control plane only, embedded SQLite) that answers /readyz. The
# server runs in a network namespace of its own with no route off the
# machine, and a private /run.
#
#   packaging/release-test.sh [ARCH…]     (default: every dist/edgeos-linux-*)
set -euo pipefail
cd "$(dirname "$0")/.."
[[ $(id -u) == 0 ]] || { echo "release-test: needs root (network namespaces)" >&2; exit 1; }
arches=("$@")
if ((${#arches[@]} == 0)); then
  for f in dist/edgeos-linux-*; do
    [[ $f == *.sha256 ]] || arches+=("${f#dist/edgeos-linux-}")
  done
fi
((${#arches[@]})) || { echo "release-test: no dist/edgeos-linux-*: run make release" >&2; exit 1; }

host=$(uname -m)
# run is the command prefix that runs an ARCH binary here: nothing, or qemu
set_runner() {
  run=()
  case $1 in
    amd64) [[ $host == x86_64 ]] && return ;;
    arm64) [[ $host == aarch64 ]] && return ;;
    armv7) [[ $host == armv7l ]] && return ;;
  esac
  local q
  case $1 in amd64) q=qemu-x86_64-static ;; arm64) q=qemu-aarch64-static ;; armv7) q=qemu-arm-static ;; esac
  command -v "$q" >/dev/null || { echo "release-test: $1 needs $q (apt-get install qemu-user-static)" >&2; exit 1; }
  run=("$q")
}

ns=eosrel$$
work=$(mktemp -d)
pid=
cleanup() {
  if [[ -n $pid ]]; then kill -9 "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null || true; done
  ip netns delete "$ns" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
ip netns add "$ns"
ip -n "$ns" link set lo up
# an address for the API to advertise (it refuses loopback): a veth pair
# whose both ends stay in the namespace, so nothing leaves it
ip -n "$ns" link add r0 type veth peer name r1
ip -n "$ns" addr add 198.19.253.2/24 dev r0
ip -n "$ns" link set r0 up
ip -n "$ns" link set r1 up

for arch in "${arches[@]}"; do
  bin=$PWD/dist/edgeos-linux-$arch
  [[ -x $bin ]] || { echo "release-test: no $bin" >&2; exit 1; }
  set_runner "$arch"
  echo "== $arch ${run[*]:+(under ${run[*]})}"
  (cd dist && sha256sum -c "edgeos-linux-$arch.sha256")
  file "$bin" | grep -q 'statically linked' || { echo "release-test: $bin is not static: $(file "$bin")" >&2; exit 1; }
  "${run[@]}" "$bin" --version
  "${run[@]}" "$bin" check-config > "$work/check-$arch.txt" || { cat "$work/check-$arch.txt"; echo "release-test: check-config failed for $arch" >&2; exit 1; }
  echo "check-config: ok"

  data=$work/data-$arch
  start=$(date +%s)
  # shellcheck disable=SC2016 # "$0" "$@" are the inner shell's
  nsenter --net=/run/netns/"$ns" -- unshare --mount --propagation private -- sh -c \
    'mount -t tmpfs tmpfs /run && exec "$0" "$@"' \
    "${run[@]}" "$bin" server --disable-agent --data-dir "$data" --write-kubeconfig "$work/kc-$arch" --node-ip 198.19.253.2 >"$work/log-$arch" 2>&1 &
  pid=$!
  tls=$data/server/tls
  until [[ -f $tls/client-admin.key ]] && [[ $(ip netns exec "$ns" curl -s --max-time 5 --cacert "$tls/server-ca.crt" \
      --cert "$tls/client-admin.crt" --key "$tls/client-admin.key" https://127.0.0.1:6443/readyz 2>/dev/null) == ok ]]; do
    kill -0 "$pid" 2>/dev/null || { tail -30 "$work/log-$arch" >&2; echo "release-test: the $arch server exited" >&2; exit 1; }
    if (($(date +%s) - start > 900)); then tail -30 "$work/log-$arch" >&2; echo "release-test: the $arch server did not answer /readyz in 15 minutes" >&2; exit 1; fi
    sleep 2
  done
  echo "server: /readyz ok after $(($(date +%s) - start)) s"
  kill -TERM "$pid"
  wait "$pid" || true
  pid=
done
echo "release-test: passed for ${arches[*]}"
