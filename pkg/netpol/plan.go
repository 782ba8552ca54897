package netpol

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// View is what Plan reads: the cluster's pods, namespaces and policies as
// the node's informers hold them, and which node this is.
type View struct {
	Node       string
	Pods       []*corev1.Pod
	Namespaces []*corev1.Namespace
	Policies   []*networkingv1.NetworkPolicy
}

// Plan is the ruleset the policies ask of node v.Node, by the rules of
// networking.k8s.io/v1: a pod is isolated in a direction once a policy
// of that type selects it, and then allowed what the union of those
// policies' rules allows. A policy Plan cannot read (a selector the API
// should have refused) is reported and allows nothing: its pods stay
// isolated.
//
// Each policy direction is a chain of its own ("in-"/"eg-" and a hash of
// namespace/name), shared by every pod it selects; each isolated pod has
// a chain that jumps to its policies' chains and drops what none
// accepted. Pods that a rule's selectors pick are a set; ipBlocks are
// prefixes, an ipBlock with except a chain that returns for the exceptions.
// Only IPv4 is planned: the pod network is IPv4.
func Plan(v View) (Ruleset, []error) {
	p := planner{rs: newRuleset(), ns: map[string]labels.Set{}}
	for _, n := range v.Namespaces {
		p.ns[n.Name] = labels.Set(n.Labels)
	}
	for _, pod := range v.Pods {
		if a, ok := podAddr(pod); ok {
			p.pods = append(p.pods, member{pod: pod, addr: a, local: pod.Spec.NodeName == v.Node})
		}
	}
	pols := append([]*networkingv1.NetworkPolicy(nil), v.Policies...)
	sort.Slice(pols, func(i, j int) bool {
		return pols[i].Namespace+"/"+pols[i].Name < pols[j].Namespace+"/"+pols[j].Name
	})
	ingress, egress := map[netip.Addr][]string{}, map[netip.Addr][]string{}
	var problems []error
	for _, pol := range pols {
		sel, err := metav1.LabelSelectorAsSelector(&pol.Spec.PodSelector)
		if err != nil {
			problems = append(problems, fmt.Errorf("NetworkPolicy %s/%s: podSelector: %w", pol.Namespace, pol.Name, err))
			continue
		}
		var targets []member
		for _, m := range p.pods {
			if m.local && m.pod.Namespace == pol.Namespace && sel.Matches(labels.Set(m.pod.Labels)) {
				targets = append(targets, m)
			}
		}
		if len(targets) == 0 {
			// nothing of this node's to decide
			continue
		}
		in, eg := policyTypes(pol)
		for _, d := range []struct {
			on     bool
			prefix string
			rules  []rule
			egress bool
			into   map[netip.Addr][]string
		}{{in, "in", ingressRules(pol), false, ingress}, {eg, "eg", egressRules(pol), true, egress}} {
			if !d.on {
				continue
			}
			ch := chainName(d.prefix, pol)
			rules, err := p.rules(ch, pol, d.rules, targets, d.egress)
			if err != nil {
				// closed, not open: its pods stay isolated, and it
				// allows nothing
				problems = append(problems, err)
				rules = nil
			}
			p.rs.Chains[ch] = rules
			for _, t := range targets {
				d.into[t.addr] = append(d.into[t.addr], ch)
			}
		}
	}
	p.isolate(ingress, "pod-in-", p.rs.Ingress)
	p.isolate(egress, "pod-eg-", p.rs.Egress)
	return p.rs, problems
}

// member is a pod with an address the rules can match.
type member struct {
	pod   *corev1.Pod
	addr  netip.Addr
	local bool
}

type planner struct {
	rs   Ruleset
	ns   map[string]labels.Set
	pods []member
}

// isolate gives each isolated pod its chain: a jump to each of its
// policies' chains, then drop.
func (p *planner) isolate(by map[netip.Addr][]string, prefix string, into map[netip.Addr]string) {
	for addr, chains := range by {
		name := prefix + strings.ReplaceAll(addr.String(), ".", "-")
		rules := make([]Rule, 0, len(chains)+1)
		for _, ch := range chains {
			rules = append(rules, Rule{Verdict: Verdict{Kind: Jump, Chain: ch}})
		}
		p.rs.Chains[name] = append(rules, Rule{Verdict: Verdict{Kind: Drop}})
		into[addr] = name
	}
}

// rule is one ingress or egress rule of a policy: its peers and ports.
type rule struct {
	peers []networkingv1.NetworkPolicyPeer
	ports []networkingv1.NetworkPolicyPort
}

func ingressRules(pol *networkingv1.NetworkPolicy) []rule {
	out := make([]rule, len(pol.Spec.Ingress))
	for i, r := range pol.Spec.Ingress {
		out[i] = rule{peers: r.From, ports: r.Ports}
	}
	return out
}

func egressRules(pol *networkingv1.NetworkPolicy) []rule {
	out := make([]rule, len(pol.Spec.Egress))
	for i, r := range pol.Spec.Egress {
		out[i] = rule{peers: r.To, ports: r.Ports}
	}
	return out
}

// policyTypes is which directions pol isolates: those it lists, or, when
// it lists none, ingress, and egress when it has egress rules.
func policyTypes(pol *networkingv1.NetworkPolicy) (ingress, egress bool) {
	if len(pol.Spec.PolicyTypes) == 0 {
		return true, len(pol.Spec.Egress) > 0
	}
	for _, t := range pol.Spec.PolicyTypes {
		switch t {
		case networkingv1.PolicyTypeIngress:
			ingress = true
		case networkingv1.PolicyTypeEgress:
			egress = true
		}
	}
	return ingress, egress
}

// peer is one way a rule's far end can match: any address, a set of
// pods, or an ipBlock (a prefix less its exceptions).
type peer struct {
	any    bool
	set    string
	pods   map[netip.Addr]struct{}
	prefix netip.Prefix
	except []netip.Prefix
}

// port is one way a rule's destination port can match: a protocol and a
// range (the zero range: every port), or, for a named port, the
// destinations that name that number (dst, a set).
type port struct {
	proto uint8
	ports PortRange
	dst   string
}

// rules are the rules of one policy direction's chain ch. The peers are
// the packets' sources for ingress and their destinations for egress;
// the port is always the destination's.
func (p *planner) rules(ch string, pol *networkingv1.NetworkPolicy, rs []rule, targets []member, egress bool) ([]Rule, error) {
	var out []Rule
	for i, r := range rs {
		peers, err := p.peers(fmt.Sprintf("%s-%d", ch, i), pol.Namespace, r.peers)
		if err != nil {
			return nil, fmt.Errorf("NetworkPolicy %s/%s: %w", pol.Namespace, pol.Name, err)
		}
		// the destinations that may name a port: the policy's own pods
		// for ingress, the pods the peers allow for egress
		dsts := targets
		if egress {
			dsts = nil
			for _, m := range p.pods {
				if matchesAny(peers, m.addr) {
					dsts = append(dsts, m)
				}
			}
		}
		ports := p.ports(fmt.Sprintf("%s-%d", ch, i), r.ports, dsts)
		for k, pr := range peers {
			if len(pr.except) > 0 {
				sub := fmt.Sprintf("%s-%d-b%d", ch, i, k)
				var subRules []Rule
				for _, e := range pr.except {
					subRules = append(subRules, side(Rule{Verdict: Verdict{Kind: Return}}, Addr{Prefix: e}, egress))
				}
				for _, pt := range ports {
					subRules = append(subRules, pt.rule(Addr{}, egress))
				}
				p.rs.Chains[sub] = subRules
				out = append(out, side(Rule{Verdict: Verdict{Kind: Jump, Chain: sub}}, Addr{Prefix: pr.prefix}, egress))
				continue
			}
			var at Addr
			switch {
			case pr.set != "":
				at = Addr{Set: pr.set}
			case !pr.any:
				at = Addr{Prefix: pr.prefix}
			}
			for _, pt := range ports {
				peerAt := at
				// for egress, a named port's set already holds only the
				// destinations the peers allow
				if egress && pt.dst != "" {
					peerAt = Addr{}
				}
				out = append(out, pt.rule(peerAt, egress))
			}
		}
	}
	return dedupe(out), nil
}

// side puts the peer's address on the packet's source (ingress) or
// destination (egress).
func side(r Rule, a Addr, egress bool) Rule {
	if egress {
		r.Dst = a
	} else {
		r.Src = a
	}
	return r
}

// rule is the accepting rule for this port and a peer at address at.
func (pt port) rule(at Addr, egress bool) Rule {
	r := side(Rule{Proto: pt.proto, Ports: pt.ports, Verdict: Verdict{Kind: Accept}}, at, egress)
	if pt.dst != "" {
		r.Dst = Addr{Set: pt.dst}
	}
	return r
}

// dedupe drops repeated rules (a named port's rule, the same for every
// peer of an egress rule).
func dedupe(rs []Rule) []Rule {
	out := rs[:0]
	seen := map[Rule]bool{}
	for _, r := range rs {
		if !seen[r] {
			seen[r] = true
			out = append(out, r)
		}
	}
	return out
}

// peers are the ways a rule's peers match; no peers match every address.
// The pods the selectors pick are one set, named prefix-p.
func (p *planner) peers(prefix, ns string, from []networkingv1.NetworkPolicyPeer) ([]peer, error) {
	if len(from) == 0 {
		return []peer{{any: true}}, nil
	}
	var out []peer
	var pods map[netip.Addr]struct{}
	for _, f := range from {
		if f.IPBlock != nil {
			pr, err := ipBlock(f.IPBlock)
			if err != nil {
				return nil, err
			}
			if pr != nil {
				out = append(out, *pr)
			}
			continue
		}
		match, err := p.selects(ns, f)
		if err != nil {
			return nil, err
		}
		if pods == nil {
			pods = map[netip.Addr]struct{}{}
		}
		for _, m := range p.pods {
			if match(m.pod) {
				pods[m.addr] = struct{}{}
			}
		}
	}
	if pods != nil {
		name := prefix + "-p"
		p.rs.Sets[name] = pods
		out = append(out, peer{set: name, pods: pods})
	}
	return out, nil
}

// selects is the test a pod peer puts to a pod: its podSelector within
// the policy's namespace, or within the namespaces its
// namespaceSelector picks.
func (p *planner) selects(ns string, f networkingv1.NetworkPolicyPeer) (func(*corev1.Pod) bool, error) {
	podSel, nsSel := labels.Everything(), labels.Nothing()
	var err error
	if f.PodSelector != nil {
		if podSel, err = metav1.LabelSelectorAsSelector(f.PodSelector); err != nil {
			return nil, fmt.Errorf("podSelector: %w", err)
		}
	}
	if f.NamespaceSelector != nil {
		if nsSel, err = metav1.LabelSelectorAsSelector(f.NamespaceSelector); err != nil {
			return nil, fmt.Errorf("namespaceSelector: %w", err)
		}
	}
	return func(pod *corev1.Pod) bool {
		if f.NamespaceSelector == nil {
			if pod.Namespace != ns {
				return false
			}
		} else if l, ok := p.ns[pod.Namespace]; !ok || !nsSel.Matches(l) {
			return false
		}
		return podSel.Matches(labels.Set(pod.Labels))
	}, nil
}

// ipBlock is an ipBlock peer, or nil for an IPv6 block, which no packet
// of the pod network can match.
func ipBlock(b *networkingv1.IPBlock) (*peer, error) {
	pr, err := netip.ParsePrefix(b.CIDR)
	if err != nil {
		return nil, fmt.Errorf("ipBlock %q: %w", b.CIDR, err)
	}
	if !pr.Addr().Is4() {
		return nil, nil
	}
	out := &peer{prefix: pr.Masked()}
	for _, e := range b.Except {
		ep, err := netip.ParsePrefix(e)
		if err != nil {
			return nil, fmt.Errorf("ipBlock %q except %q: %w", b.CIDR, e, err)
		}
		if ep.Addr().Is4() {
			out.except = append(out.except, ep.Masked())
		}
	}
	if pr.Bits() == 0 && len(out.except) == 0 {
		return &peer{any: true}, nil
	}
	return out, nil
}

// matchesAny reports whether one of the peers matches address a.
func matchesAny(peers []peer, a netip.Addr) bool {
	for _, pr := range peers {
		switch {
		case pr.any:
			return true
		case pr.pods != nil:
			if _, ok := pr.pods[a]; ok {
				return true
			}
		case pr.prefix.IsValid() && pr.prefix.Contains(a):
			excluded := false
			for _, e := range pr.except {
				if e.Contains(a) {
					excluded = true
				}
			}
			if !excluded {
				return true
			}
		}
	}
	return false
}

// ports are the ways a rule's ports match; no ports match every port of
// every protocol. A named port is looked up in each destination pod's
// containers: the destinations that give it one number are a set.
func (p *planner) ports(prefix string, ports []networkingv1.NetworkPolicyPort, dsts []member) []port {
	if len(ports) == 0 {
		return []port{{}}
	}
	var out []port
	for j, np := range ports {
		proto := protocol(np.Protocol)
		switch {
		case np.Port == nil:
			out = append(out, port{proto: proto})
		case np.Port.Type == intstr.Int:
			last := np.Port.IntVal
			if np.EndPort != nil && *np.EndPort > last {
				last = *np.EndPort
			}
			out = append(out, port{proto: proto, ports: PortRange{uint16(np.Port.IntVal), uint16(last)}})
		default:
			byNumber := map[int32]AddrSet{}
			for _, m := range dsts {
				if n, ok := namedPort(m.pod, np.Port.StrVal, np.Protocol); ok {
					if byNumber[n] == nil {
						byNumber[n] = AddrSet{}
					}
					byNumber[n][m.addr] = struct{}{}
				}
			}
			for _, n := range slices.Sorted(maps.Keys(byNumber)) {
				name := fmt.Sprintf("%s-n%d-%d", prefix, j, n)
				p.rs.Sets[name] = byNumber[n]
				out = append(out, port{proto: proto, ports: PortRange{uint16(n), uint16(n)}, dst: name})
			}
		}
	}
	return out
}

// namedPort is the number pod gives the port name for protocol.
func namedPort(pod *corev1.Pod, name string, proto *corev1.Protocol) (int32, bool) {
	want := corev1.ProtocolTCP
	if proto != nil {
		want = *proto
	}
	for _, c := range pod.Spec.Containers {
		for _, cp := range c.Ports {
			got := cp.Protocol
			if got == "" {
				got = corev1.ProtocolTCP
			}
			if cp.Name == name && got == want {
				return cp.ContainerPort, true
			}
		}
	}
	return 0, false
}

func protocol(p *corev1.Protocol) uint8 {
	if p == nil {
		return protoTCP
	}
	switch *p {
	case corev1.ProtocolUDP:
		return protoUDP
	case corev1.ProtocolSCTP:
		return protoSCTP
	}
	return protoTCP
}

// podAddr is the pod's IPv4 address, for a pod that rules can match: one
// on the pod network (not the host's), not finished (its address may
// already be another pod's).
func podAddr(pod *corev1.Pod) (netip.Addr, bool) {
	if pod.Spec.HostNetwork || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return netip.Addr{}, false
	}
	ips := pod.Status.PodIPs
	if len(ips) == 0 && pod.Status.PodIP != "" {
		ips = []corev1.PodIP{{IP: pod.Status.PodIP}}
	}
	for _, ip := range ips {
		if a, err := netip.ParseAddr(ip.IP); err == nil && a.Is4() {
			return a, true
		}
	}
	return netip.Addr{}, false
}

// chainName names a policy direction's chain, and starts the names of
// its sets and sub-chains: short (a namespace and a name could pass the
// kernel's 256 characters), stable while the policy exists.
func chainName(dir string, pol *networkingv1.NetworkPolicy) string {
	sum := sha256.Sum256([]byte(pol.Namespace + "/" + pol.Name))
	return dir + "-" + hex.EncodeToString(sum[:8])
}
