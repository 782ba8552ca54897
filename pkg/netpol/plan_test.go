package netpol

import (
	"net/netip"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// packet is a new connection's first packet.
type packet struct {
	src, dst string
	proto    uint8
	port     uint16
}

// allows is what the kernel does with p under rs, as the table's two
// forward chains decide: the source's egress chain, then the
// destination's ingress chain; a pod in neither map is not isolated.
func allows(t *testing.T, rs Ruleset, p packet) bool {
	t.Helper()
	src, dst := netip.MustParseAddr(p.src), netip.MustParseAddr(p.dst)
	for _, ch := range []string{rs.Egress[src], rs.Ingress[dst]} {
		if ch == "" {
			continue
		}
		if v, ok := run(t, rs, ch, src, dst, p, 0); !ok || v != Accept {
			return false
		}
	}
	return true
}

// run follows a chain: (verdict, true) once a rule decides; (0, false)
// when the chain ends or returns.
func run(t *testing.T, rs Ruleset, name string, src, dst netip.Addr, p packet, depth int) (VerdictKind, bool) {
	t.Helper()
	rules, ok := rs.Chains[name]
	if !ok {
		t.Fatalf("a jump to chain %q, which the ruleset lacks", name)
	}
	if depth > 8 {
		t.Fatalf("chains nest deeper than 8 at %q", name)
	}
	for _, r := range rules {
		if !matches(t, rs, r.Src, src) || !matches(t, rs, r.Dst, dst) {
			continue
		}
		if r.Proto != 0 && r.Proto != p.proto {
			continue
		}
		if r.Ports != (PortRange{}) && (p.port < r.Ports.First || p.port > r.Ports.Last) {
			continue
		}
		switch r.Verdict.Kind {
		case Return:
			return 0, false
		case Jump:
			if v, ok := run(t, rs, r.Verdict.Chain, src, dst, p, depth+1); ok {
				return v, true
			}
		default:
			return r.Verdict.Kind, true
		}
	}
	return 0, false
}

func matches(t *testing.T, rs Ruleset, a Addr, ip netip.Addr) bool {
	t.Helper()
	switch {
	case a.Set != "":
		set, ok := rs.Sets[a.Set]
		if !ok {
			t.Fatalf("a rule matches set %q, which the ruleset lacks", a.Set)
		}
		_, in := set[ip]
		return in
	case a.Prefix.IsValid():
		return a.Prefix.Contains(ip)
	}
	return true
}

func pod(ns, name, node, ip string, lbls map[string]string, ports ...corev1.ContainerPort) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: lbls},
		Spec:       corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "c", Ports: ports}}},
		Status:     corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip, PodIPs: []corev1.PodIP{{IP: ip}}},
	}
}

func namespace(name string, lbls map[string]string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: lbls}}
}

func policy(ns, name string, spec networkingv1.NetworkPolicySpec) *networkingv1.NetworkPolicy {
	return &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: spec}
}

func sel(kv ...string) *metav1.LabelSelector {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return &metav1.LabelSelector{MatchLabels: m}
}

func tcp(port intstr.IntOrString) networkingv1.NetworkPolicyPort {
	return networkingv1.NetworkPolicyPort{Port: &port}
}

// cluster: namespaces a (team=x) and b (team=y); on this node a/server
// (app=server, port "http" 8080), a/client (role=client), b/client
// (role=client); on another node a/far (role=client) and b/far.
func cluster(pols ...*networkingv1.NetworkPolicy) View {
	http := corev1.ContainerPort{Name: "http", ContainerPort: 8080}
	dns := corev1.ContainerPort{Name: "dns", ContainerPort: 53, Protocol: corev1.ProtocolUDP}
	return View{
		Node:       "n1",
		Namespaces: []*corev1.Namespace{namespace("a", map[string]string{"team": "x"}), namespace("b", map[string]string{"team": "y"})},
		Pods: []*corev1.Pod{
			pod("a", "server", "n1", "10.42.0.10", map[string]string{"app": "server"}, http),
			pod("a", "client", "n1", "10.42.0.11", map[string]string{"role": "client"}),
			pod("b", "client", "n1", "10.42.0.12", map[string]string{"role": "client"}),
			pod("a", "far", "n2", "10.42.1.10", map[string]string{"role": "client"}, dns),
			pod("b", "far", "n2", "10.42.1.11", map[string]string{"app": "server"}, http),
		},
		Policies: pols,
	}
}

const (
	server  = "10.42.0.10"
	aClient = "10.42.0.11"
	bClient = "10.42.0.12"
	aFar    = "10.42.1.10"
	bFar    = "10.42.1.11"
	outside = "192.0.2.7"
)

func TestPlan(t *testing.T) {
	tests := []struct {
		name   string
		pols   []*networkingv1.NetworkPolicy
		allow  []packet
		refuse []packet
	}{{
		name:  "no policy isolates nothing",
		allow: []packet{{aClient, server, protoTCP, 80}, {server, outside, protoUDP, 53}},
	}, {
		name: "an empty policy denies all ingress in its namespace, nothing else",
		pols: []*networkingv1.NetworkPolicy{policy("a", "deny", networkingv1.NetworkPolicySpec{})},
		allow: []packet{
			{server, bClient, protoTCP, 80}, {aClient, outside, protoTCP, 443}, // egress untouched
			{aClient, bClient, protoTCP, 80}, // b not isolated
		},
		refuse: []packet{{aClient, server, protoTCP, 80}, {bClient, aClient, protoUDP, 53}, {aFar, server, protoTCP, 8080}},
	}, {
		name: "podSelector: clients of the policy's namespace only",
		pols: []*networkingv1.NetworkPolicy{policy("a", "clients", networkingv1.NetworkPolicySpec{
			PodSelector: *sel("app", "server"),
			Ingress:     []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{PodSelector: sel("role", "client")}}}},
		})},
		allow:  []packet{{aClient, server, protoTCP, 80}, {aFar, server, protoUDP, 9}, {server, aClient, protoTCP, 1}},
		refuse: []packet{{bClient, server, protoTCP, 80}, {outside, server, protoTCP, 80}},
	}, {
		name: "namespaceSelector: every pod of the namespaces it picks",
		pols: []*networkingv1.NetworkPolicy{policy("a", "team-y", networkingv1.NetworkPolicySpec{
			PodSelector: *sel("app", "server"),
			Ingress:     []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: sel("team", "y")}}}},
		})},
		allow:  []packet{{bClient, server, protoTCP, 80}, {bFar, server, protoTCP, 80}},
		refuse: []packet{{aClient, server, protoTCP, 80}, {aFar, server, protoTCP, 80}},
	}, {
		name: "both selectors in one peer: those pods of those namespaces",
		pols: []*networkingv1.NetworkPolicy{policy("a", "both", networkingv1.NetworkPolicySpec{
			PodSelector: *sel("app", "server"),
			Ingress: []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{
				NamespaceSelector: &metav1.LabelSelector{}, PodSelector: sel("role", "client"),
			}}}},
		})},
		allow:  []packet{{bClient, server, protoTCP, 80}, {aClient, server, protoTCP, 80}, {aFar, server, protoTCP, 80}},
		refuse: []packet{{bFar, server, protoTCP, 80}},
	}, {
		name: "a named port is the destination's number, for its protocol",
		pols: []*networkingv1.NetworkPolicy{policy("a", "http", networkingv1.NetworkPolicySpec{
			PodSelector: *sel("app", "server"),
			Ingress:     []networkingv1.NetworkPolicyIngressRule{{Ports: []networkingv1.NetworkPolicyPort{tcp(intstr.FromString("http"))}}},
		})},
		allow:  []packet{{bClient, server, protoTCP, 8080}, {outside, server, protoTCP, 8080}},
		refuse: []packet{{bClient, server, protoTCP, 80}, {bClient, server, protoUDP, 8080}},
	}, {
		name: "a named port another protocol's container port bears opens nothing",
		pols: []*networkingv1.NetworkPolicy{policy("a", "http-udp", networkingv1.NetworkPolicySpec{
			PodSelector: *sel("app", "server"),
			Ingress: []networkingv1.NetworkPolicyIngressRule{{Ports: []networkingv1.NetworkPolicyPort{
				{Protocol: ptr.To(corev1.ProtocolUDP), Port: ptr.To(intstr.FromString("http"))},
			}}},
		})},
		refuse: []packet{{bClient, server, protoUDP, 8080}, {bClient, server, protoTCP, 8080}},
	}, {
		name: "a port range and a protocol without a port",
		pols: []*networkingv1.NetworkPolicy{policy("a", "range", networkingv1.NetworkPolicySpec{
			PodSelector: *sel("app", "server"),
			Ingress: []networkingv1.NetworkPolicyIngressRule{{Ports: []networkingv1.NetworkPolicyPort{
				{Port: ptr.To(intstr.FromInt32(9000)), EndPort: ptr.To(int32(9010))},
				{Protocol: ptr.To(corev1.ProtocolSCTP)},
			}}},
		})},
		allow:  []packet{{aClient, server, protoTCP, 9000}, {aClient, server, protoTCP, 9010}, {aClient, server, protoSCTP, 1}},
		refuse: []packet{{aClient, server, protoTCP, 8999}, {aClient, server, protoTCP, 9011}, {aClient, server, protoUDP, 9005}},
	}, {
		name: "egress: deny but an ipBlock less its exception, and a named port of pods",
		pols: []*networkingv1.NetworkPolicy{policy("a", "egress", networkingv1.NetworkPolicySpec{
			PodSelector: *sel("role", "client"),
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress},
			Egress: []networkingv1.NetworkPolicyEgressRule{
				{To: []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "192.0.2.0/24", Except: []string{"192.0.2.128/25"}}}}},
				{Ports: []networkingv1.NetworkPolicyPort{{Protocol: ptr.To(corev1.ProtocolUDP), Port: ptr.To(intstr.FromString("dns"))}}},
			},
		})},
		allow: []packet{
			{aClient, outside, protoTCP, 443}, {aClient, aFar, protoUDP, 53},
			{bClient, server, protoTCP, 80}, {server, outside, protoTCP, 1}, // not selected
			{outside, aClient, protoTCP, 80}, // ingress not isolated
		},
		refuse: []packet{{aClient, "192.0.2.200", protoTCP, 443}, {aClient, server, protoTCP, 8080}, {aClient, aFar, protoTCP, 53}, {aClient, bFar, protoUDP, 53}},
	}, {
		name: "no policyTypes: egress rules isolate ingress as well",
		pols: []*networkingv1.NetworkPolicy{policy("a", "egress-only-rules", networkingv1.NetworkPolicySpec{
			PodSelector: *sel("app", "server"),
			Egress:      []networkingv1.NetworkPolicyEgressRule{{To: []networkingv1.NetworkPolicyPeer{{PodSelector: sel("role", "client")}}}},
		})},
		allow:  []packet{{server, aClient, protoTCP, 80}},
		refuse: []packet{{server, bClient, protoTCP, 80}, {aClient, server, protoTCP, 80}},
	}, {
		name: "two policies add up; an IPv6 ipBlock allows no IPv4 packet",
		pols: []*networkingv1.NetworkPolicy{
			policy("a", "v6", networkingv1.NetworkPolicySpec{
				PodSelector: *sel("app", "server"),
				Ingress:     []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "::/0"}}}}},
			}),
			policy("a", "b-clients", networkingv1.NetworkPolicySpec{
				PodSelector: *sel("app", "server"),
				Ingress:     []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: sel("team", "y")}}}},
			}),
		},
		allow:  []packet{{bClient, server, protoTCP, 80}},
		refuse: []packet{{aClient, server, protoTCP, 80}, {outside, server, protoTCP, 80}},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs, problems := Plan(cluster(tt.pols...))
			if len(problems) > 0 {
				t.Fatalf("problems: %v", problems)
			}
			for _, p := range tt.allow {
				if !allows(t, rs, p) {
					t.Errorf("%s → %s %d/%d refused, want allowed", p.src, p.dst, p.proto, p.port)
				}
			}
			for _, p := range tt.refuse {
				if allows(t, rs, p) {
					t.Errorf("%s → %s %d/%d allowed, want refused", p.src, p.dst, p.proto, p.port)
				}
			}
		})
	}
}

// TestPlanOnlyThisNode: pods of other nodes get no chains here; host
// network and finished pods are never matched.
func TestPlanOnlyThisNode(t *testing.T) {
	v := cluster(policy("b", "deny", networkingv1.NetworkPolicySpec{}), policy("a", "all-clients", networkingv1.NetworkPolicySpec{
		PodSelector: *sel("app", "server"),
		Ingress:     []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{}}}}},
	}))
	host := pod("a", "host", "n1", "10.0.0.1", nil)
	host.Spec.HostNetwork = true
	done := pod("b", "done", "n1", "10.42.0.99", nil)
	done.Status.Phase = corev1.PodSucceeded
	v.Pods = append(v.Pods, host, done)
	rs, _ := Plan(v)
	if _, ok := rs.Ingress[netip.MustParseAddr(bFar)]; ok {
		t.Errorf("a pod of another node has an ingress chain here")
	}
	if _, ok := rs.Ingress[netip.MustParseAddr(bClient)]; !ok {
		t.Errorf("b/client, on this node, is not isolated by b's empty policy")
	}
	for _, a := range []string{"10.0.0.1", "10.42.0.99"} {
		if _, ok := rs.Ingress[netip.MustParseAddr(a)]; ok {
			t.Errorf("%s (host network or finished) has a chain", a)
		}
		for name, set := range rs.Sets {
			if _, ok := set[netip.MustParseAddr(a)]; ok {
				t.Errorf("%s (host network or finished) is in set %s", a, name)
			}
		}
	}
	if !allows(t, rs, packet{bFar, server, protoTCP, 80}) {
		t.Errorf("a pod of any namespace, by an empty namespaceSelector, refused")
	}
}

// TestPlanUnreadablePolicy: a policy whose ipBlock cannot be read is
// reported, and its pods stay isolated with nothing allowed by it.
func TestPlanUnreadablePolicy(t *testing.T) {
	rs, problems := Plan(cluster(policy("a", "bad", networkingv1.NetworkPolicySpec{
		PodSelector: *sel("app", "server"),
		Ingress:     []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "not-a-cidr"}}}}},
	})))
	if len(problems) != 1 || !strings.Contains(problems[0].Error(), "a/bad") {
		t.Errorf("problems %v, want one naming a/bad", problems)
	}
	if allows(t, rs, packet{aClient, server, protoTCP, 80}) {
		t.Errorf("a pod selected by an unreadable policy is open")
	}
}
