#!/usr/bin/env bash
# Runs each Go fuzz target given as package:Func for $FUZZTIME (`make fuzz`).
# Go 1.26's fuzz coordinator can fail a target with a bare "context
# deadline exceeded" as -fuzztime ends, with nothing found (golang/go#75804,
# fixed in Go 1.27): such a run, with no failing input written, is run once
# more. Any other failure, or a second one, fails.
set -euo pipefail
go=${GO:-go}
for t in "$@"; do
  pkg=${t%%:*} fn=${t#*:}
  for try in 1 2; do
    echo "fuzz $t for $FUZZTIME"
    log=$(mktemp)
    if "$go" test -run '^$' -fuzz "^${fn}\$" -fuzztime "$FUZZTIME" "$pkg" 2>&1 | tee "$log"; then
      rm -f "$log"
      break
    fi
    if [[ $try == 1 ]] && grep -q 'context deadline exceeded' "$log" && ! grep -q 'Failing input written to' "$log"; then
      rm -f "$log"
      echo "fuzz $t: the coordinator's deadline race (golang/go#75804), no failing input: once more"
      continue
    fi
    rm -f "$log"
    exit 1
  done
done
