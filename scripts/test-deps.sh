#!/usr/bin/env bash
# Install, on Debian/Ubuntu and only where it is missing, what building and
# running edgeos needs (`scripts/test-deps.sh run`, for `make run`) or that
# and what the tests need too (no argument, for `make test`).
set -euo pipefail

need=()
# build: cgo (SQLite, runc with seccomp), version stamps from git
command -v gcc >/dev/null    || need+=(gcc libc6-dev)
command -v git >/dev/null    || need+=(git)
command -v pkg-config >/dev/null || need+=(pkg-config)
[[ -f /usr/include/seccomp.h ]] || need+=(libseccomp-dev)   # the runc edgeos embeds
# run: kube-proxy, hostPorts and pod egress program iptables
command -v iptables >/dev/null || need+=(iptables)
command -v mount >/dev/null  || need+=(mount)
# test: namespaces, lint, the install test, PostgreSQL, the scale test,
# NetworkPolicy
if [[ ${1:-} != run ]]; then
  command -v ip >/dev/null     || need+=(iproute2)
  command -v curl >/dev/null   || need+=(curl ca-certificates)
  command -v xz >/dev/null     || need+=(xz-utils)   # the install test's compressed download
  command -v shellcheck >/dev/null || need+=(shellcheck)
  command -v systemd-analyze >/dev/null || need+=(systemd)
  command -v setpriv >/dev/null || need+=(util-linux)
  command -v nsenter >/dev/null || need+=(util-linux)
  compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null || need+=(postgresql)
  command -v psql >/dev/null   || need+=(postgresql-client)
  command -v etcd >/dev/null   || need+=(etcd-server)   # the HA test's other datastore
  command -v mariadbd >/dev/null || need+=(mariadb-server)   # the MySQL smoke test
  command -v sqlite3 >/dev/null || need+=(sqlite3)   # the scale test reads the datastore
  command -v nft >/dev/null     || need+=(nftables)  # the NetworkPolicy test reads edgeos's table
fi

if ((${#need[@]})); then
  if [[ $(id -u) != 0 ]]; then
    echo "test-deps: need root to install: ${need[*]}" >&2
    exit 1
  fi
  echo "test-deps: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}"
  # the tests start their own datastores inside their namespaces; the
  # packages' services would leave them running on the host
  for pkg in etcd-server:etcd mariadb-server:mariadb; do
    if [[ " ${need[*]} " == *" ${pkg%%:*} "* ]]; then
      systemctl disable --now "${pkg#*:}" >/dev/null 2>&1 || true
      service "${pkg#*:}" stop >/dev/null 2>&1 || true   # without systemd
    fi
  done
fi

command -v go >/dev/null || { echo "test-deps: Go is not installed (want go $(sed -n 's/^go //p' go.mod) or newer)" >&2; exit 1; }
if [[ ${1:-} != run ]]; then
  [[ $(id -u) == 0 ]] || { echo "test-deps: the integration tests create network namespaces and must run as root" >&2; exit 1; }
fi
