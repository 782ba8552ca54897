#!/usr/bin/env bash
# Sizes of the release binaries in dist/: raw, and compressed as a download
# would be (gzip -9, xz -9).
#
#   packaging/sizes.sh            print the table
#   packaging/sizes.sh --record   also append it to bench/RESULTS.md
set -euo pipefail
cd "$(dirname "$0")/.."
shopt -s nullglob
files=(dist/edgeos-linux-amd64 dist/edgeos-linux-arm64 dist/edgeos-linux-armv7)
mb() { awk -v b="$1" 'BEGIN {printf "%.1f", b/1048576}'; }
table="| file | raw (MB) | gzip -9 (MB) | xz -9 (MB) |
|---|---|---|---|"
for f in "${files[@]}"; do
  [[ -f $f ]] || { echo "sizes: no $f: run make release" >&2; exit 1; }
  table+="
| $(basename "$f") | $(mb "$(stat -c %s "$f")") | $(mb "$(gzip -9c "$f" | wc -c)") | $(mb "$(xz -9c -T0 "$f" | wc -c)") |"
done
echo "$table"
if [[ ${1:-} == --record ]]; then
  {
    echo
    echo "## Release binaries — $(date -u +%Y-%m-%d)"
    echo
    echo "Command: \`make release && packaging/sizes.sh --record\` ($("dist/edgeos-linux-amd64" --version | head -1)); static, stripped, each with containerd, its runc shim, runc, the pause image and the CNI plugin inside."
    echo
    echo "$table"
  } >> bench/RESULTS.md
fi
