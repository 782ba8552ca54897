package gateway

import (
	"strings"
	"testing"

	"github.com/edgeos/edgeos/pkg/ingress"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

func servingNode(name, ip string) *corev1.Node {
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{ingress.ProxyLabel: "true"}},
		Status: corev1.NodeStatus{
			Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}},
			Addresses:  []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: ip}},
		},
	}
}

// A LoadBalancer Service older than the Gateways on a port keeps it: the
// Gateways using the port are not on the nodes where it holds the port;
// a newer one does not.
func TestPortsLost(t *testing.T) {
	in := base()
	in.Gateways = []*gatewayv1.Gateway{
		gatewayOf("default", "web", 5, listener("http", 80, gatewayv1.HTTPProtocolType, ""), listener("alt", 8080, gatewayv1.HTTPProtocolType, "")),
		gatewayOf("default", "plain", 5, listener("http", 80, gatewayv1.HTTPProtocolType, "")),
	}
	lbAt := func(name string, age int, port int32) *corev1.Service {
		return &corev1.Service{ObjectMeta: objectMeta("default", name, age),
			Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, Ports: []corev1.ServicePort{{Port: port, Protocol: corev1.ProtocolTCP}}}}
	}
	in.Services = append(in.Services, lbAt("older", 50, 8080), lbAt("newer", 1, 80))
	nodes := []*corev1.Node{servingNode("n1", "10.1.0.1"), servingNode("n2", "10.1.0.2")}
	res := Build(in)
	serving := servingNames(nodes)
	byPort := portsLost(in, nodes, serving, res.SharedPorts)
	lost := lostOn(byPort, res.Ports["default/web"])
	if len(lost) != 2 || !strings.Contains(lost["n1"], "default/older") {
		t.Errorf("web lost %v, want n1 and n2 to Service default/older", lost)
	}
	if got := proxyAddresses(nodes, lost); len(got) != 0 {
		t.Errorf("web's addresses %v, want none", got)
	}
	if lost := lostOn(byPort, res.Ports["default/plain"]); len(lost) != 0 {
		t.Errorf("plain lost %v to a newer Service", lost)
	}
	st := gatewayStatus(in.Gateways[0], res.Gateways["default/web"], nil, "no node's proxy serves it: "+lost["n1"])
	if c := meta.FindStatusCondition(st.Conditions, "Programmed"); c == nil || c.Status != metav1.ConditionFalse || !strings.Contains(c.Message, "default/older") {
		t.Errorf("web's Programmed: %+v", c)
	}
}
