// Package netpol enforces NetworkPolicy (networking.k8s.io/v1) for the
// pods of this node from the edgeos process. The rules live in an
// nftables table of edgeos's own (inet edgeos-netpol), which neither
// kube-proxy's nor anyone else's iptables rules share; each pass writes
// only the difference between what the policies ask for (Plan) and what
// the kernel holds, in one transaction.
package netpol

import "net/netip"

// Ruleset is what the policies ask of one node's kernel, in nftables'
// terms.
type Ruleset struct {
	// Ingress and Egress map the address of a pod of this node to the
	// chain that decides its incoming or outgoing connections; a pod no
	// policy isolates in a direction is not in that map.
	Ingress, Egress map[netip.Addr]string
	// Chains are the regular chains, by name.
	Chains map[string][]Rule
	// Sets are the named sets of pod addresses the rules match, by name.
	Sets map[string]AddrSet
}

// AddrSet is a set of IPv4 addresses.
type AddrSet map[netip.Addr]struct{}

// Addr matches a packet's source or destination address: in the named
// set, or in the prefix; the zero Addr matches any address.
type Addr struct {
	Set    string
	Prefix netip.Prefix
}

// Any reports whether a matches every address.
func (a Addr) Any() bool { return a.Set == "" && !a.Prefix.IsValid() }

// VerdictKind is what a rule does with a packet it matches.
type VerdictKind int

const (
	Accept VerdictKind = iota
	Drop
	Return
	Jump
)

// Verdict is a rule's action; Chain is Jump's target.
type Verdict struct {
	Kind  VerdictKind
	Chain string
}

// PortRange is a range of transport ports, both ends included; the zero
// range matches any port.
type PortRange struct{ First, Last uint16 }

// Rule matches a packet by its addresses, its transport protocol (0: any)
// and its destination port.
type Rule struct {
	Src, Dst Addr
	Proto    uint8
	Ports    PortRange
	Verdict  Verdict
}

// Protocol numbers of the transports a NetworkPolicy names.
const (
	protoTCP  = 6
	protoUDP  = 17
	protoSCTP = 132
)

func newRuleset() Ruleset {
	return Ruleset{
		Ingress: map[netip.Addr]string{},
		Egress:  map[netip.Addr]string{},
		Chains:  map[string][]Rule{},
		Sets:    map[string]AddrSet{},
	}
}
