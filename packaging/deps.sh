#!/usr/bin/env bash
# Install what `make release` and `make release-test` need on Debian/Ubuntu:
# C cross compilers and C libraries for arm64 and armhf (SQLite, runc with
# seccomp), lld (armv7 link), and qemu-user for running the foreign builds.
set -euo pipefail
[[ $(id -u) == 0 ]] || { echo "packaging/deps.sh: needs root" >&2; exit 1; }
export DEBIAN_FRONTEND=noninteractive
dpkg --add-architecture arm64
dpkg --add-architecture armhf
apt-get update -qq
apt-get install -y -qq --no-install-recommends \
  gcc libc6-dev pkg-config libseccomp-dev \
  gcc-aarch64-linux-gnu libc6-dev-arm64-cross libseccomp-dev:arm64 \
  gcc-arm-linux-gnueabihf libc6-dev-armhf-cross libseccomp-dev:armhf \
  lld qemu-user-static file xz-utils
