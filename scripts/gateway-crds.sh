#!/usr/bin/env bash
# Writes pkg/gateway/crds.yaml: the Gateway API's standard-channel CRDs of
# the kinds edgeos serves, from the sigs.k8s.io/gateway-api module go.mod
# names. Run it after changing that module's version (`make gateway-crds`);
# pkg/gateway's tests fail while the file and the module differ.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=$(go list -m -f '{{.Dir}}' sigs.k8s.io/gateway-api)
out=pkg/gateway/crds.yaml
tmp=$(mktemp "$out.XXXXXX")
trap 'rm -f "$tmp"' EXIT
# the same list as pkg/gateway's Resources, whose test compares the two
for resource in gatewayclasses gateways httproutes referencegrants; do
  echo ---
  cat "$dir/config/crd/standard/gateway.networking.k8s.io_$resource.yaml"
done > "$tmp"
chmod 644 "$tmp"
mv "$tmp" "$out"
echo "wrote $out from $(go list -m sigs.k8s.io/gateway-api)"
