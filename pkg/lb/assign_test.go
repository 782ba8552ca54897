package lb

import (
	"reflect"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func testNode(name, ip string, isReady bool, lbls map[string]string) *corev1.Node {
	st := corev1.ConditionFalse
	if isReady {
		st = corev1.ConditionTrue
	}
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: lbls},
		Status: corev1.NodeStatus{
			Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: st}},
			Addresses:  []corev1.NodeAddress{{Type: corev1.NodeHostName, Address: name}, {Type: corev1.NodeInternalIP, Address: ip}},
		},
	}
}

func lbService(name string, age int, port int32, local bool) *corev1.Service {
	s := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", CreationTimestamp: metav1.NewTime(time.Unix(int64(1000-age), 0))},
		Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, Ports: []corev1.ServicePort{{Port: port, Protocol: corev1.ProtocolTCP}}},
	}
	if local {
		s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
	}
	return s
}

func TestAssign(t *testing.T) {
	nodes := []*corev1.Node{testNode("a", "198.18.0.2", true, nil), testNode("b", "198.18.0.3", true, nil), testNode("c", "198.18.0.4", false, nil)}
	first, second, other := lbService("first", 10, 80, false), lbService("second", 5, 80, false), lbService("other", 1, 8080, false)
	classed := lbService("classed", 20, 80, false)
	class := "example.com/other"
	classed.Spec.LoadBalancerClass = &class
	local := lbService("local", 3, 9090, true)
	nodeB := "b"
	slices := []*discoveryv1.EndpointSlice{{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Labels: map[string]string{discoveryv1.LabelServiceName: "local"}},
		Endpoints:  []discoveryv1.Endpoint{{Addresses: []string{"10.42.1.2"}, NodeName: &nodeB}},
	}}

	p := assign([]*corev1.Service{second, other, first, classed, local}, nodes, slices, nil)
	want := map[string][]string{
		"default/first": {"198.18.0.2", "198.18.0.3"}, // c is not Ready
		"default/other": {"198.18.0.2", "198.18.0.3"},
		"default/local": {"198.18.0.3"},
	}
	if !reflect.DeepEqual(p.ingress, want) {
		t.Errorf("ingress %v\nwant %v", p.ingress, want)
	}
	if why := p.waiting["default/second"]; why != "port 80/TCP on node a is in use by LoadBalancer Service default/first" {
		t.Errorf("second waits because %q", why)
	}
	if _, ok := p.ingress["default/classed"]; ok {
		t.Error("a Service with another loadBalancerClass was given addresses")
	}

	// the first goes: the second gets the port
	p = assign([]*corev1.Service{second, other}, nodes, nil, nil)
	if got := p.ingress["default/second"]; !reflect.DeepEqual(got, []string{"198.18.0.2", "198.18.0.3"}) {
		t.Errorf("second after first left: %v (%s)", got, p.waiting["default/second"])
	}

	// once a node carries the label, only labelled nodes serve
	nodes[1].Labels = map[string]string{EnableLabel: "true"}
	p = assign([]*corev1.Service{other}, nodes, nil, nil)
	if got := p.ingress["default/other"]; !reflect.DeepEqual(got, []string{"198.18.0.3"}) {
		t.Errorf("with the label on b: %v", got)
	}
}

func TestClaimsByAge(t *testing.T) {
	nodes := []*corev1.Node{testNode("a", "198.18.0.2", true, nil), testNode("b", "198.18.0.3", true, nil)}
	claim := Claim{Holder: "the proxy", Since: metav1.NewTime(time.Unix(1000-5, 0)), Nodes: []string{"a"}, Ports: []int32{80, 443}}
	older, newer := lbService("older", 10, 443, false), lbService("newer", 1, 80, false)

	p := assign([]*corev1.Service{older, newer}, nodes, nil, []Claim{claim})
	if got := p.lost["the proxy"]; !reflect.DeepEqual(got, map[string]string{"a": "port 443/TCP on node a is in use by LoadBalancer Service default/older, which is older"}) {
		t.Errorf("the claim lost %v", got)
	}
	// where the claim holds nothing, the newer Service is free to go
	if got := p.ingress["default/newer"]; !reflect.DeepEqual(got, []string{"198.18.0.2", "198.18.0.3"}) {
		t.Errorf("newer: %v (%s)", got, p.waiting["default/newer"])
	}

	// without the older Service the claim holds port 80 on a: the newer
	// Service waits
	p = assign([]*corev1.Service{newer}, nodes, nil, []Claim{claim})
	if why := p.waiting["default/newer"]; why != "port 80/TCP on node a is in use by the proxy" {
		t.Errorf("newer waits because %q", why)
	}
	if len(p.lost) != 0 {
		t.Errorf("lost %v", p.lost)
	}
}
