#!/usr/bin/env bash
# Runs the Gateway API conformance suite (TestGatewayConformance) against
# the built binary and keeps its report in tests/conformance/: the report
# the issue of the Gateway API asks to keep in the repository. `make test`
# runs the same test without writing the report.
set -euo pipefail
cd "$(dirname "$0")/.."
report=tests/conformance/gateway-http-report.yaml
tmp=$(mktemp "$report.XXXXXX")
trap 'rm -f "$tmp"' EXIT
EDGEOS_BIN=${EDGEOS_BIN:-$PWD/bin/edgeos} GATEWAY_CONFORMANCE_REPORT=$PWD/$tmp \
  go test -count=1 -timeout 40m -run 'TestGatewayConformance$' -v ./tests/integration/
chmod 644 "$tmp"
mv "$tmp" "$report"
echo "wrote $report"
