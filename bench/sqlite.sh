#!/usr/bin/env bash
# Compare kine's two SQLite drivers: mattn/go-sqlite3 (cgo) and
# modernc.org/sqlite (pure Go). Prints one block per driver; run 3 rounds.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
CGO_ENABLED=1 go build -o "$out/kine-mattn" ./bench/sqlite
CGO_ENABLED=0 go build -o "$out/kine-modernc" ./bench/sqlite
for f in "$out"/kine-*; do
  printf 'binary %-12s %d MB\n' "$(basename "$f")" "$(($(stat -c %s "$f") / 1048576))"
done
for round in 1 2 3; do
  for driver in mattn modernc; do
    echo "== round $round: $driver"
    "$out/kine-$driver" "$@"
  done
done
