// Package lb is edgeos's service load balancer: a controller on the server
// that gives Services of type LoadBalancer the addresses of eligible nodes.
// kube-proxy's rules for a Service's load-balancer addresses then carry
// the traffic: no pods, no images.
//
// Eligible nodes are the Ready ones, or, once any node carries the label
// EnableLabel=true, the Ready ones that carry it. A Service with
// externalTrafficPolicy Local gets only the eligible nodes that hold one of
// its ready endpoints. A node's port serves one Service: a Service asking
// for a port (and protocol) that an older Service holds on one of its nodes
// waits, with an Event, until the port is free. Other users of node ports
// (the ingress proxy) take part as Claims, by the same rule: the older one
// keeps the port.
package lb

import (
	"fmt"
	"net"
	"sort"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// EnableLabel restricts load balancing to the nodes that carry it with the
// value "true", once any node does.
const EnableLabel = "svccontroller.edgeos.io/enablelb"

// plan is what every LoadBalancer Service should have.
type plan struct {
	// ingress by Service key (namespace/name); absent: waiting.
	ingress map[string][]string
	// waiting by Service key: why.
	waiting map[string]string
	// lost by Claim holder: the nodes where an older Service holds one of
	// its ports, and which.
	lost map[string]map[string]string
}

// Claim is a user of TCP ports on nodes other than a LoadBalancer Service.
type Claim struct {
	// Holder names it in messages ("the ingress proxy (Ingress a/b)").
	Holder string
	// Since is when it started to need the ports.
	Since metav1.Time
	Nodes []string
	Ports []int32
}

// Lost are the nodes where an older LoadBalancer Service holds one of the
// claim's ports, with a message naming it, by node.
func Lost(services []*corev1.Service, nodes []*corev1.Node, slices []*discoveryv1.EndpointSlice, c Claim) map[string]string {
	return assign(services, nodes, slices, []Claim{c}).lost[c.Holder]
}

// managed reports whether the Service is ours to balance.
func managed(s *corev1.Service) bool {
	return s.Spec.Type == corev1.ServiceTypeLoadBalancer && s.Spec.LoadBalancerClass == nil
}

func key(s *corev1.Service) string { return s.Namespace + "/" + s.Name }

// claimant is a Service or a Claim, in the order of age.
type claimant struct {
	since   metav1.Time
	name    string
	service *corev1.Service
	claim   *Claim
}

// assign plans the addresses of every managed Service and the nodes each
// claim loses, oldest first.
func assign(services []*corev1.Service, nodes []*corev1.Node, slices []*discoveryv1.EndpointSlice, claims []Claim) plan {
	p := plan{ingress: map[string][]string{}, waiting: map[string]string{}, lost: map[string]map[string]string{}}
	var all []claimant
	for _, s := range services {
		if managed(s) {
			all = append(all, claimant{since: s.CreationTimestamp, name: key(s), service: s})
		}
	}
	for i := range claims {
		all = append(all, claimant{since: claims[i].Since, name: claims[i].Holder, claim: &claims[i]})
	}
	sort.Slice(all, func(i, j int) bool {
		a, b := all[i], all[j]
		if !a.since.Equal(&b.since) {
			return a.since.Before(&b.since)
		}
		return a.name < b.name
	})
	eligible := eligibleNodes(nodes)
	local := localEndpointNodes(slices)
	// port holders: node/port/protocol → who, as messages name it
	held := map[string]string{}
	for _, c := range all {
		if c.claim != nil {
			hold(p, held, *c.claim)
			continue
		}
		s := c.service
		candidates := eligible
		if s.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal {
			candidates = nil
			for _, n := range eligible {
				if local[key(s)][n.Name] {
					candidates = append(candidates, n)
				}
			}
		}
		if len(candidates) == 0 {
			p.waiting[key(s)] = "no eligible node is Ready"
			if len(eligible) > 0 {
				p.waiting[key(s)] = "no eligible node holds a ready endpoint (externalTrafficPolicy Local)"
			}
			continue
		}
		conflict := ""
		for _, n := range candidates {
			for _, port := range s.Spec.Ports {
				if holder, ok := held[portKey(n.Name, port)]; ok && conflict == "" {
					conflict = fmt.Sprintf("port %d/%s on node %s is in use by %s", port.Port, protocol(port), n.Name, holder)
				}
			}
		}
		if conflict != "" {
			p.waiting[key(s)] = conflict
			continue
		}
		var ips []string
		for _, n := range candidates {
			for _, port := range s.Spec.Ports {
				held[portKey(n.Name, port)] = "LoadBalancer Service " + key(s)
			}
			if ip := NodeAddress(n); ip != "" {
				ips = append(ips, ip)
			}
		}
		sort.Strings(ips)
		p.ingress[key(s)] = ips
	}
	return p
}

// hold gives a claim its ports on its nodes where no older Service holds
// one of them.
func hold(p plan, held map[string]string, c Claim) {
	for _, n := range c.Nodes {
		var lost string
		for _, port := range c.Ports {
			if holder, ok := held[portKey(n, corev1.ServicePort{Port: port})]; ok && lost == "" {
				lost = fmt.Sprintf("port %d/TCP on node %s is in use by %s, which is older", port, n, holder)
			}
		}
		if lost != "" {
			if p.lost[c.Holder] == nil {
				p.lost[c.Holder] = map[string]string{}
			}
			p.lost[c.Holder][n] = lost
			continue
		}
		for _, port := range c.Ports {
			held[portKey(n, corev1.ServicePort{Port: port})] = c.Holder
		}
	}
}

func protocol(p corev1.ServicePort) corev1.Protocol {
	if p.Protocol == "" {
		return corev1.ProtocolTCP
	}
	return p.Protocol
}

func portKey(node string, p corev1.ServicePort) string {
	return node + "/" + strconv.Itoa(int(p.Port)) + "/" + string(protocol(p))
}

func eligibleNodes(nodes []*corev1.Node) []*corev1.Node {
	labelled := false
	for _, n := range nodes {
		labelled = labelled || n.Labels[EnableLabel] == "true"
	}
	var out []*corev1.Node
	for _, n := range nodes {
		if !Ready(n) || (labelled && n.Labels[EnableLabel] != "true") {
			continue
		}
		out = append(out, n)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Ready reports whether the node's Ready condition is true.
func Ready(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// NodeAddress is the address clients reach a node at: its ExternalIP if it
// has one, else its InternalIP.
func NodeAddress(n *corev1.Node) string {
	var internal string
	for _, a := range n.Status.Addresses {
		if net.ParseIP(a.Address) == nil {
			continue
		}
		switch a.Type {
		case corev1.NodeExternalIP:
			return a.Address
		case corev1.NodeInternalIP:
			if internal == "" {
				internal = a.Address
			}
		}
	}
	return internal
}

// localEndpointNodes maps each Service key to the nodes holding one of its
// ready endpoints.
func localEndpointNodes(slices []*discoveryv1.EndpointSlice) map[string]map[string]bool {
	out := map[string]map[string]bool{}
	for _, s := range slices {
		svc := s.Labels[discoveryv1.LabelServiceName]
		if svc == "" {
			continue
		}
		k := s.Namespace + "/" + svc
		for _, ep := range s.Endpoints {
			if ep.NodeName == nil || (ep.Conditions.Ready != nil && !*ep.Conditions.Ready) {
				continue
			}
			if out[k] == nil {
				out[k] = map[string]bool{}
			}
			out[k][*ep.NodeName] = true
		}
	}
	return out
}
