package gateway

import (
	"context"
	_ "embed"

	"github.com/edgeos/edgeos/pkg/crd"
	"k8s.io/client-go/dynamic"
)

// crdsYAML are the module's standard-channel CRDs of Resources, written by
// scripts/gateway-crds.sh.
//
//go:embed crds.yaml
var crdsYAML []byte

// Resources are the Gateway API resources edgeos serves, whose CRDs it
// installs. The others of the standard channel (GRPCRoute, TLSRoute,
// BackendTLSPolicy, ListenerSet, ...) are left out: a kind no controller
// serves would take the API server's memory and accept objects that do
// nothing.
var Resources = []string{"gatewayclasses", "gateways", "httproutes", "referencegrants"}

// EnsureCRDs installs or updates the CRDs under manager, and waits until
// the API serves them.
func EnsureCRDs(ctx context.Context, dc dynamic.Interface, manager string) error {
	return crd.Ensure(ctx, dc, manager, crdsYAML)
}
