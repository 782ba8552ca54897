package netpol

import (
	"fmt"
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// large is 300 pods in 10 namespaces over 3 nodes (100 on this one) and
// 100 policies of four kinds: by podSelector, by namespaceSelector to a
// named port, egress to an ipBlock with an exception, default deny.
func large() View {
	v := View{Node: "n0"}
	for ns := range 10 {
		v.Namespaces = append(v.Namespaces, namespace(fmt.Sprintf("ns%d", ns), map[string]string{"team": fmt.Sprintf("t%d", ns%3)}))
	}
	http := corev1.ContainerPort{Name: "http", ContainerPort: 8080}
	for i := range 300 {
		ns := fmt.Sprintf("ns%d", i%10)
		lbls := map[string]string{"app": fmt.Sprintf("app%d", i%20), "role": []string{"web", "client", "db"}[i%3]}
		// nodes by tens, so that every role has pods on this node
		v.Pods = append(v.Pods, pod(ns, fmt.Sprintf("p%d", i), fmt.Sprintf("n%d", (i/10)%3), fmt.Sprintf("10.42.%d.%d", i/100, 10+i%100), lbls, http))
	}
	for i := range 100 {
		ns := fmt.Sprintf("ns%d", i%10)
		var spec networkingv1.NetworkPolicySpec
		switch i % 4 {
		case 0:
			spec = networkingv1.NetworkPolicySpec{
				PodSelector: *sel("app", fmt.Sprintf("app%d", i%20)),
				Ingress:     []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{PodSelector: sel("role", "client")}}}},
			}
		case 1:
			spec = networkingv1.NetworkPolicySpec{
				PodSelector: *sel("role", "web"),
				Ingress: []networkingv1.NetworkPolicyIngressRule{{
					From:  []networkingv1.NetworkPolicyPeer{{NamespaceSelector: sel("team", fmt.Sprintf("t%d", i%3))}},
					Ports: []networkingv1.NetworkPolicyPort{{Port: ptr.To(intstr.FromString("http"))}},
				}},
			}
		case 2:
			spec = networkingv1.NetworkPolicySpec{
				PodSelector: *sel("role", "db"),
				PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress},
				Egress: []networkingv1.NetworkPolicyEgressRule{{To: []networkingv1.NetworkPolicyPeer{
					{IPBlock: &networkingv1.IPBlock{CIDR: "10.42.0.0/16", Except: []string{fmt.Sprintf("10.42.%d.0/24", i%3)}}},
				}}},
			}
		default:
			spec = networkingv1.NetworkPolicySpec{PodSelector: *sel("app", fmt.Sprintf("app%d", i%20))}
		}
		v.Policies = append(v.Policies, policy(ns, fmt.Sprintf("pol%d", i), spec))
	}
	return v
}

// BenchmarkSync: Plan over 300 pods and 100 policies; writing the table
// anew; writing the difference a new pod makes, and a changed policy.
// Each write's time is the transaction's, as the kernel takes it.
func BenchmarkSync(b *testing.B) {
	v := large()
	rs, problems := Plan(v)
	if len(problems) > 0 {
		b.Fatal(problems)
	}
	rules := 0
	for _, c := range rs.Chains {
		rules += len(c)
	}
	b.Logf("300 pods, 100 policies: %d chains, %d rules, %d sets, %d pods isolated for ingress, %d for egress", len(rs.Chains), rules, len(rs.Sets), len(rs.Ingress), len(rs.Egress))
	b.Run("plan", func(b *testing.B) {
		for b.Loop() {
			Plan(v)
		}
	})
	withPod := large()
	withPod.Pods = append(withPod.Pods, pod("ns1", "new", "n0", "10.42.0.250", map[string]string{"app": "app1", "role": "web"}))
	newPod, _ := Plan(withPod)
	if reflect.DeepEqual(newPod, rs) {
		b.Fatal("the new pod changes no rule")
	}
	// a namespaceSelector policy that selects pods of this node picks
	// another team
	changed := large()
	for i, pol := range changed.Policies {
		if _, ok := rs.Chains[chainName("in", pol)]; ok && i%4 == 1 {
			pol.Spec.Ingress[0].From[0].NamespaceSelector = sel("team", "t9")
			break
		}
	}
	newPolicy, _ := Plan(changed)
	if reflect.DeepEqual(newPolicy, rs) {
		b.Fatal("the changed policy changes no rule")
	}
	for _, c := range []struct {
		name     string
		from, to Ruleset
	}{{"write-anew", Ruleset{}, rs}, {"write-new-pod", rs, newPod}, {"write-changed-policy", rs, newPolicy}} {
		b.Run(c.name, func(b *testing.B) {
			inNetNS(b, func() {
				for b.Loop() {
					b.StopTimer()
					k := &kernel{}
					err := Remove()
					if c.from.Chains != nil {
						err = k.apply(c.from)
					}
					b.StartTimer()
					if err == nil {
						err = k.apply(c.to)
					}
					if err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
