// Package netpolload is the NetworkPolicy load the benchmarks share (pkg/netpol's
// rule sync and bench/netpol's enforcement): pods in 10 namespaces and 100
// policies of four kinds over them — ingress from a podSelector, ingress
// from a namespaceSelector to the named port "http", egress to an ipBlock
// less a /24, default deny.
package netpolload

import (
	"fmt"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// Namespaces is how many namespaces the load spreads over.
const Namespaces = 10

// Policies is how many policies the load has.
const Policies = 100

// Namespace is the name of namespace i.
func Namespace(i int) string { return fmt.Sprintf("ns%d", i%Namespaces) }

// NamespaceLabels are namespace i's labels.
func NamespaceLabels(i int) map[string]string {
	return map[string]string{"team": fmt.Sprintf("t%d", i%3)}
}

// Pod is pod i's name and namespace.
func Pod(i int) (namespace, name string) { return Namespace(i), fmt.Sprintf("p%d", i) }

// PodLabels are pod i's labels: 20 apps, 3 roles.
func PodLabels(i int) map[string]string {
	return map[string]string{"app": fmt.Sprintf("app%d", i%20), "role": []string{"web", "client", "db"}[i%3]}
}

// Policy is policy i, in Namespace(i).
func Policy(i int) *networkingv1.NetworkPolicy {
	sel := func(k, v string) *metav1.LabelSelector {
		return &metav1.LabelSelector{MatchLabels: map[string]string{k: v}}
	}
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
	return &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: Namespace(i), Name: fmt.Sprintf("pol%d", i)}, Spec: spec}
}
