package gateway

import (
	"cmp"
	"crypto/tls"
	"net/netip"
	"slices"
	"strings"

	"github.com/edgeos/edgeos/pkg/ingress"
	"github.com/edgeos/edgeos/pkg/vip"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// Inputs is everything the Gateway API's routing and status are made of.
type Inputs struct {
	Classes    []*gatewayv1.GatewayClass
	Gateways   []*gatewayv1.Gateway
	Routes     []*gatewayv1.HTTPRoute
	Grants     []*gatewayv1.ReferenceGrant
	Namespaces []*corev1.Namespace
	Services   []*corev1.Service
	Slices     []*discoveryv1.EndpointSlice
	// Certs are the usable TLS certificates by Secret key (namespace/name).
	Certs map[string]*tls.Certificate
	// IngressPorts serve Ingresses: a listener on one of them with the
	// other protocol conflicts with them.
	IngressPorts ingress.Ports
	// Pool gives each Gateway an address of its own (--gateway-addresses);
	// empty: Gateways share the nodes' addresses.
	Pool vip.Pool
}

// Result is what Build makes of Inputs.
type Result struct {
	// Listeners are what the proxies serve.
	Listeners []ingress.Listener
	// Gateways are the status of edgeos's Gateways by key
	// (namespace/name), without addresses, which the server sets.
	Gateways map[string]*gatewayv1.GatewayStatus
	// Addresses are the Gateways' own addresses, by key: those given one
	// from the pool.
	Addresses map[string]netip.Addr
	// SharedPorts are the ports Gateways listen on at the nodes'
	// addresses, each with the oldest of them, by port; Ports are those
	// of each such Gateway, by key.
	SharedPorts []ingress.GatewayPort
	Ports       map[string][]int32
	// Routes are the parent statuses of each HTTPRoute attached to one
	// of edgeos's Gateways, by the route's key: those parents only.
	Routes map[string][]gatewayv1.RouteParentStatus
	// Secrets are the keys of the Secrets the listeners serve
	// certificates from.
	Secrets []string
}

// Build makes the listeners the proxies serve and the status of every
// Gateway and HTTPRoute of edgeos's GatewayClasses. Gateways are taken
// oldest first: where two ask for one port with different protocols, the
// older one has it.
func Build(in Inputs) Result {
	b := &builder{
		in:       in,
		gateways: map[string]*gatewayState{},
		services: map[string]*corev1.Service{},
		slices:   map[string][]*discoveryv1.EndpointSlice{},
		nsLabels: map[string]map[string]string{},
		res: Result{Gateways: map[string]*gatewayv1.GatewayStatus{}, Routes: map[string][]gatewayv1.RouteParentStatus{},
			Addresses: map[string]netip.Addr{}, Ports: map[string][]int32{}},
	}
	for _, s := range in.Services {
		b.services[s.Namespace+"/"+s.Name] = s
	}
	for _, s := range in.Slices {
		if name := s.Labels[discoveryv1.LabelServiceName]; name != "" {
			b.slices[s.Namespace+"/"+name] = append(b.slices[s.Namespace+"/"+name], s)
		}
	}
	for _, ns := range in.Namespaces {
		b.nsLabels[ns.Name] = ns.Labels
	}
	classes := map[string]bool{}
	for _, c := range in.Classes {
		if ours(c) {
			classes[c.Name] = true
		}
	}
	var gws []*gatewayv1.Gateway
	for _, gw := range in.Gateways {
		if classes[string(gw.Spec.GatewayClassName)] {
			gws = append(gws, gw)
		}
	}
	b.ports = map[ingress.Local]gatewayv1.ProtocolType{}
	if p := in.IngressPorts; p.HTTP > 0 {
		b.ports[ingress.Local{Port: p.HTTP}] = gatewayv1.HTTPProtocolType
	}
	if p := in.IngressPorts; p.HTTPS > 0 {
		b.ports[ingress.Local{Port: p.HTTPS}] = gatewayv1.HTTPSProtocolType
	}
	byAge := oldest(gws)
	if !in.Pool.Empty() {
		b.given, b.refused = addressPlan(in.Pool, byAge)
	}
	for _, gw := range byAge {
		b.gateway(gw)
	}
	routes := slices.Clone(in.Routes)
	slices.SortFunc(routes, func(a, c *gatewayv1.HTTPRoute) int { return compareAge(&a.ObjectMeta, &c.ObjectMeta) })
	for _, r := range routes {
		b.route(r)
	}
	for _, gw := range gws {
		b.finish(b.gateways[key(&gw.ObjectMeta)])
	}
	b.sharedPorts(byAge)
	slices.Sort(b.res.Secrets)
	b.res.Secrets = slices.Compact(b.res.Secrets)
	return b.res
}

// sharedPorts records the ports of the listeners served at the nodes'
// addresses, by Gateway, and each port's oldest Gateway.
func (b *builder) sharedPorts(gws []*gatewayv1.Gateway) {
	seen := map[int32]bool{}
	for _, gw := range gws {
		k := key(&gw.ObjectMeta)
		st := b.gateways[k]
		if st.address != "" || st.unassigned != nil || st.accepted.Status != metav1.ConditionTrue {
			continue
		}
		for _, l := range st.listeners {
			port := int32(l.spec.Port)
			if !l.programmed() || slices.Contains(b.res.Ports[k], port) {
				continue
			}
			b.res.Ports[k] = append(b.res.Ports[k], port)
			if !seen[port] {
				seen[port] = true
				b.res.SharedPorts = append(b.res.SharedPorts, ingress.GatewayPort{Port: port, Gateway: k, Since: gw.CreationTimestamp})
			}
		}
	}
	slices.SortFunc(b.res.SharedPorts, func(a, c ingress.GatewayPort) int { return cmp.Compare(a.Port, c.Port) })
}

type builder struct {
	in       Inputs
	gateways map[string]*gatewayState
	services map[string]*corev1.Service
	slices   map[string][]*discoveryv1.EndpointSlice
	nsLabels map[string]map[string]string
	// ports: the protocol each port serves at an address (Addr "": the
	// nodes'), as the Ingresses or the older Gateways took it
	ports map[ingress.Local]gatewayv1.ProtocolType
	// given and refused: the Gateways' own addresses, with a pool
	given   map[string]vip.Given
	refused map[string]string
	res     Result
}

// gatewayState is a Gateway as Build sees it.
type gatewayState struct {
	gw       *gatewayv1.Gateway
	accepted metav1.Condition
	// address is its own ("" : the nodes'); unassigned says why a
	// Gateway that is to have one has none
	address    string
	unassigned *problem
	listeners  []*listenerState
}

// listenerState is one listener of a Gateway: its checks and the rules of
// the routes attached to it.
type listenerState struct {
	spec     *gatewayv1.Listener
	hostname string
	kinds    []gatewayv1.RouteGroupKind
	// problems: the reasons and messages of each condition not fine
	accepted, resolved, conflicted *problem
	cert                           *tls.Certificate
	attached                       int32
	rules                          []ingress.HostRule
}

type problem struct{ reason, message string }

// usable: routes may attach (the listener is accepted, not conflicted).
func (l *listenerState) usable() bool { return l.accepted == nil && l.conflicted == nil }

// programmed: the proxies serve it.
func (l *listenerState) programmed() bool { return l.usable() && l.resolved == nil }

func key(m *metav1.ObjectMeta) string { return m.Namespace + "/" + m.Name }

func compareAge(a, b *metav1.ObjectMeta) int {
	return cmp.Or(a.CreationTimestamp.Compare(b.CreationTimestamp.Time), strings.Compare(key(a), key(b)))
}

func oldest(gws []*gatewayv1.Gateway) []*gatewayv1.Gateway {
	out := slices.Clone(gws)
	slices.SortFunc(out, func(a, b *gatewayv1.Gateway) int { return compareAge(&a.ObjectMeta, &b.ObjectMeta) })
	return out
}
