#!/usr/bin/env bash
# What the embedded datastore writes to disk at a restart and when it gives
# free pages back: edgeos (no VACUUM at start, one once a quarter of the file
# and 8 MiB are free) against kine's default (VACUUM at every start), on the
# same SQLite file; and per node Lease renewal on an idle node whose
# datastore is compacted, edgeos (no WAL checkpoint after a compaction)
# against kine's default (one after each). In-process (kine and an etcd
# client); no root needed.
#
#   bench/datastore.sh            print the table
#   bench/datastore.sh --record   also append it to bench/RESULTS.md
set -euo pipefail
cd "$(dirname "$0")/.."
TABLE=$(mktemp)
trap 'rm -f "$TABLE"' EXIT
# the test binary's temporary files must be on a disk: tmpfs counts no writes
export TMPDIR=${BENCH_TMPDIR:-/var/tmp}
BENCH_TABLE="$TABLE" go test -run '^$' -bench 'BenchmarkDatastoreWrites|BenchmarkIdleRenewals' -benchtime 1x ./bench/datastore/
cat "$TABLE"
if [[ ${1:-} == --record ]]; then
  {
    echo
    echo "## Datastore writes: restart, VACUUM, idle Lease renewals — $(date -u +%Y-%m-%d)"
    echo
    echo "Machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(uname -r), $(df -T "$TMPDIR" | awk 'NR==2 {print $2}') under $TMPDIR."
    echo "Command: \`bench/datastore.sh --record\`; bytes are write_bytes of /proc/self/io."
    echo
    cat "$TABLE"
  } >> bench/RESULTS.md
fi
