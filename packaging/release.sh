#!/usr/bin/env bash
# Build the release binaries: dist/edgeos-linux-{amd64,arm64,armv7}, each
# one static file with the pause image, containerd's runc shim and runc of
# its architecture, stripped, with
# a .sha256 beside it, an xz-compressed copy (.xz, with its .xz.sha256) for
# downloads over thin links, and all sums in dist/SHA256SUMS.
#
#   LDFLAGS="…" packaging/release.sh        (make release passes the version stamps)
#   ARCHES="arm64" packaging/release.sh     (some only)
#
# Cross compilers (cgo: SQLite, runc): Debian's gcc-aarch64-linux-gnu and
# gcc-arm-linux-gnueabihf with libc6-dev-arm64-cross and libc6-dev-armhf-cross,
# and runc's libseccomp for each architecture (dpkg --add-architecture arm64
# armhf; apt-get install libseccomp-dev:arm64 libseccomp-dev:armhf), and
# lld for armv7 (see below).
set -euo pipefail
cd "$(dirname "$0")/.."
ARCHES=${ARCHES:-amd64 arm64 armv7}
LDFLAGS=${LDFLAGS:-}
work=$(mktemp -d)
# the host's generated files (pause image, shim) are put back, so that
# `make build` embeds the right ones
generated=(pkg/pause/pause.tar pkg/containerd/programs/containerd.bin.gz pkg/containerd/programs/shim.bin.gz pkg/containerd/programs/cni.bin.gz pkg/runc/runc.bin.gz)
for f in "${generated[@]}"; do
  if [[ -f $f ]]; then cp -p "$f" "$work/$(basename "$f").host"; fi
done
restore() {
  for f in "${generated[@]}"; do
    if [[ -f $work/$(basename "$f").host ]]; then cp -p "$work/$(basename "$f").host" "$f"; else rm -f "$f"; fi
  done
  rm -rf "$work"
}
trap restore EXIT

go build -o "$work/gen" ./pkg/pause/gen
mkdir -p dist
for arch in $ARCHES; do
  goarm=
  extld=-static
  case $arch in
    amd64) goarch=amd64 cc=${CC_AMD64:-gcc} triple=x86_64-linux-gnu ;;
    arm64) goarch=arm64 cc=${CC_ARM64:-aarch64-linux-gnu-gcc} triple=aarch64-linux-gnu ;;
    armv7)
      goarch=arm goarm=7 cc=${CC_ARMV7:-arm-linux-gnueabihf-gcc} triple=arm-linux-gnueabihf
      # GNU ld writes wrong addends into the R_ARM_IRELATIVE relocations of
      # static glibc once .text passes the 16 MB Thumb branch range, and the
      # binary dies before main; lld gets them right
      command -v ld.lld >/dev/null || { echo "release: armv7 needs lld (apt-get install lld)" >&2; exit 1; }
      extld="-static -fuse-ld=lld -B$(dirname "$(command -v ld.lld)")/"
      ;;
    *) echo "release: unknown architecture $arch (amd64, arm64, armv7)" >&2; exit 1 ;;
  esac
  command -v "$cc" >/dev/null || { echo "release: $arch needs the C cross compiler $cc (see the top of $0)" >&2; exit 1; }
  [[ -f /usr/lib/$triple/libseccomp.a ]] || { echo "release: $arch needs libseccomp-dev for $triple (see the top of $0)" >&2; exit 1; }
  echo "release: $arch"
  GOARCH=$goarch GOARM=$goarm "$work/gen" -o pkg/pause/pause.tar -name edgeos.local/pause:1
  GOARCH=$goarch GOARM=$goarm go generate ./pkg/containerd/programs
  CC=$cc PKG_CONFIG_LIBDIR=/usr/lib/$triple/pkgconfig GOARCH=$goarch GOARM=$goarm go generate ./pkg/runc
  CGO_ENABLED=1 CC=$cc GOOS=linux GOARCH=$goarch GOARM=$goarm \
    go build -trimpath -tags "netgo osusergo sqlite_omit_load_extension kustomize_disable_go_plugin_support" \
    -ldflags "$LDFLAGS -s -w -linkmode external -extldflags '$extld'" \
    -o "dist/edgeos-linux-$arch" ./cmd/edgeos
  (cd dist && sha256sum "edgeos-linux-$arch" > "edgeos-linux-$arch.sha256")
  # for thin links: install.sh fetches this one when it is there
  xz -T0 -9 -c "dist/edgeos-linux-$arch" > "dist/edgeos-linux-$arch.xz"
  (cd dist && sha256sum "edgeos-linux-$arch.xz" > "edgeos-linux-$arch.xz.sha256")
done
(cd dist && cat edgeos-linux-*.sha256 > SHA256SUMS)
ls -l dist/
