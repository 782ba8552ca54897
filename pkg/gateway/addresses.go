package gateway

import (
	"fmt"
	"net/netip"

	"github.com/edgeos/edgeos/pkg/ingress"
	"github.com/edgeos/edgeos/pkg/vip"
	corev1 "k8s.io/api/core/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// addressPlan gives the Gateways (oldest first) their own addresses from
// the pool: the one a Gateway asks for, else the one its status names,
// else a free one (vip.Plan). A Gateway asking for what edgeos cannot
// give (another type, several addresses) is refused here, by its key.
func addressPlan(pool vip.Pool, gws []*gatewayv1.Gateway) (map[string]vip.Given, map[string]string) {
	var claims []vip.Claim
	refused := map[string]string{}
	for _, gw := range gws {
		k := key(&gw.ObjectMeta)
		c := vip.Claim{Key: k}
		switch asked := gw.Spec.Addresses; {
		case len(asked) > 1:
			refused[k] = "edgeos gives a Gateway one address; spec.addresses asks for several"
			continue
		case len(asked) == 1 && asked[0].Type != nil && *asked[0].Type != gatewayv1.IPAddressType:
			refused[k] = fmt.Sprintf("addresses of type %s are not given by edgeos (IPAddress are)", *asked[0].Type)
			continue
		case len(asked) == 1 && asked[0].Value != "":
			a, err := netip.ParseAddr(asked[0].Value)
			if err != nil {
				refused[k] = fmt.Sprintf("%q is not an IP address", asked[0].Value)
				continue
			}
			c.Asked = a
		}
		for _, have := range gw.Status.Addresses {
			if a, err := netip.ParseAddr(have.Value); err == nil && pool.Contains(a) {
				c.Had = a
				break
			}
		}
		claims = append(claims, c)
	}
	return vip.Plan(pool, claims), refused
}

// servingNames are the names of the nodes that may hold an address: the
// Ready ones whose proxy listens.
func servingNames(nodes []*corev1.Node) []string {
	var out []string
	for _, n := range ingress.ServingNodes(nodes) {
		out = append(out, n.Name)
	}
	return out
}
