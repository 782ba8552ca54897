package netpol

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/edgeos/edgeos/pkg/netpol/netpolload"
	corev1 "k8s.io/api/core/v1"
)

// large is 300 pods in 10 namespaces over 3 nodes (100 on this one) and
// the 100 policies of netpolload.
func large() View {
	v := View{Node: "n0"}
	for ns := range netpolload.Namespaces {
		v.Namespaces = append(v.Namespaces, namespace(netpolload.Namespace(ns), netpolload.NamespaceLabels(ns)))
	}
	http := corev1.ContainerPort{Name: "http", ContainerPort: 8080}
	for i := range 300 {
		ns, name := netpolload.Pod(i)
		// nodes by tens, so that every role has pods on this node
		v.Pods = append(v.Pods, pod(ns, name, fmt.Sprintf("n%d", (i/10)%3), fmt.Sprintf("10.42.%d.%d", i/100, 10+i%100), netpolload.PodLabels(i), http))
	}
	for i := range netpolload.Policies {
		v.Policies = append(v.Policies, netpolload.Policy(i))
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
