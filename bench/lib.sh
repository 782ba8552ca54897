# shellcheck shell=bash
# Shared by the bench scripts that run a Go benchmark in the test harness:
# checks, the benchmark run, and the RESULTS.md record. Sourced, not run.

# bench_setup: BIN is the edgeos binary; root is needed for namespaces.
bench_setup() {
  cd "$(dirname "$0")/.." || exit 1
  BIN=${EDGEOS_BIN:-$PWD/bin/edgeos}
  [[ -x $BIN ]] || { echo "no $BIN: run make build" >&2; exit 1; }
  [[ $(id -u) == 0 ]] || { echo "needs root (network namespaces)" >&2; exit 1; }
  TABLE=$(mktemp)
  trap 'rm -f "$TABLE"' EXIT
}

# bench_run BENCHMARK PACKAGE [ENV=VALUE…]: runs one benchmark once; it
# writes its markdown table to $TABLE, which is printed.
bench_run() {
  local name=$1 pkg=$2
  shift 2
  env EDGEOS_BIN="$BIN" BENCH_TABLE="$TABLE" "$@" go test -run '^$' -bench "$name" -benchtime 1x -timeout "${BENCH_TIMEOUT:-90m}" "$pkg"
  cat "$TABLE"
}

# bench_record TITLE COMMAND-NOTE: appends the table to bench/RESULTS.md
# with the machine, the date and how it was made.
bench_record() {
  {
    echo
    echo "## $1 — $(date -u +%Y-%m-%d)"
    echo
    echo "Machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(uname -r), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)."
    echo "Binary: $("$BIN" --version | head -1), $(du -m "$BIN" | cut -f1) MB."
    echo "Command: $2"
    echo
    cat "$TABLE"
  } >> bench/RESULTS.md
}
