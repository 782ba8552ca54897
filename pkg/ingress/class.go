package ingress

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/edgeos/edgeos/pkg/lb"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	listerscorev1 "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
)

const (
	// ClassName is the IngressClass edgeos serves.
	ClassName = "edgeos"
	// ControllerName is the class's controller.
	ControllerName = "edgeos.io/ingress"
	// HTTPPortAnnotation and HTTPSPortAnnotation on the class carry the
	// server's --ingress-http-port and --ingress-https-port to the nodes.
	HTTPPortAnnotation  = "ingress.edgeos.io/http-port"
	HTTPSPortAnnotation = "ingress.edgeos.io/https-port"
	// GatewayAnnotation is "true" on the class while the server serves
	// the Gateway API (its CRDs are installed): the nodes' proxies then
	// follow its routes too.
	GatewayAnnotation = "ingress.edgeos.io/gateway-api"
	// GatewayAddressesAnnotation is the pool of the Gateways' addresses of
	// their own (the server's --gateway-addresses), absent without one.
	GatewayAddressesAnnotation = "ingress.edgeos.io/gateway-addresses"
	// GatewayPortsAnnotation lists the ports Gateways listen on at the
	// nodes' addresses (JSON, []GatewayPort), written by the server's
	// Gateway controller for servicelb's plan.
	GatewayPortsAnnotation = "ingress.edgeos.io/gateway-ports"
	// ProxyLabel is "true" on a node whose proxy listens: the nodes an
	// Ingress's status names.
	ProxyLabel = "ingress.edgeos.io/proxy"
	// legacyClassAnnotation names a class the way Ingresses did before
	// spec.ingressClassName.
	legacyClassAnnotation = "kubernetes.io/ingress.class"
)

// NewClass is the IngressClass the server creates: the cluster default,
// with the proxies' ports.
func NewClass(ports Ports) *networkingv1.IngressClass {
	return &networkingv1.IngressClass{
		ObjectMeta: metav1.ObjectMeta{
			Name:   ClassName,
			Labels: map[string]string{"app.kubernetes.io/managed-by": "edgeos"},
			Annotations: map[string]string{
				networkingv1.AnnotationIsDefaultIngressClass: "true",
				HTTPPortAnnotation:                           strconv.Itoa(ports.HTTP),
				HTTPSPortAnnotation:                          strconv.Itoa(ports.HTTPS),
			},
		},
		Spec: networkingv1.IngressClassSpec{Controller: ControllerName},
	}
}

// PortsOf reads the proxies' ports from the class.
func PortsOf(class *networkingv1.IngressClass) (Ports, error) {
	var p Ports
	for _, a := range []struct {
		name string
		to   *int
	}{{HTTPPortAnnotation, &p.HTTP}, {HTTPSPortAnnotation, &p.HTTPS}} {
		n, err := strconv.Atoi(class.Annotations[a.name])
		if err != nil || n < 1 || n > 65535 {
			return Ports{}, fmt.Errorf("IngressClass %s: annotation %s %q is not a port number", class.Name, a.name, class.Annotations[a.name])
		}
		*a.to = n
	}
	return p, nil
}

// Ours are the Ingresses of class edgeos: by spec.ingressClassName or the
// older annotation, or with neither while edgeos's class is the default.
func Ours(ings []*networkingv1.Ingress, class *networkingv1.IngressClass) []*networkingv1.Ingress {
	if class == nil {
		return nil
	}
	isDefault := class.Annotations[networkingv1.AnnotationIsDefaultIngressClass] == "true"
	var out []*networkingv1.Ingress
	for _, ing := range ings {
		legacy, hasLegacy := ing.Annotations[legacyClassAnnotation]
		switch {
		case ing.Spec.IngressClassName != nil:
			if *ing.Spec.IngressClassName == ClassName {
				out = append(out, ing)
			}
		case hasLegacy:
			if legacy == ClassName {
				out = append(out, ing)
			}
		case isDefault:
			out = append(out, ing)
		}
	}
	return out
}

// ServingNodes are the Ready nodes whose proxy listens.
func ServingNodes(nodes []*corev1.Node) []*corev1.Node {
	var out []*corev1.Node
	for _, n := range nodes {
		if lb.Ready(n) && n.Labels[ProxyLabel] == "true" {
			out = append(out, n)
		}
	}
	return out
}

// claim is the proxies' hold on their ports, as old as the oldest Ingress
// they serve; nil while they serve none.
func claim(ours []*networkingv1.Ingress, ports Ports, nodes []*corev1.Node) *lb.Claim {
	if len(ours) == 0 {
		return nil
	}
	oldest := Oldest(ours)[0]
	c := &lb.Claim{
		Holder: "the ingress proxy (Ingress " + Key(oldest) + ")",
		Since:  oldest.CreationTimestamp,
		Ports:  []int32{int32(ports.HTTP), int32(ports.HTTPS)},
	}
	for _, n := range ServingNodes(nodes) {
		c.Nodes = append(c.Nodes, n.Name)
	}
	return c
}

// GatewayPort is a port Gateways listen on at the nodes' addresses, with
// the oldest of them: the proxies need the port since it was made.
type GatewayPort struct {
	Port int32 `json:"port"`
	// Gateway is the oldest's namespace/name.
	Gateway string      `json:"gateway"`
	Since   metav1.Time `json:"since"`
}

// Claim is the proxies' hold on the port for the Gateways, on nodes.
func (g GatewayPort) Claim(nodes []string) lb.Claim {
	return lb.Claim{Holder: "the ingress proxy (Gateway " + g.Gateway + ")", Since: g.Since, Nodes: nodes, Ports: []int32{g.Port}}
}

// GatewayPorts reads the class's GatewayPortsAnnotation; none when it is
// absent or not what the server writes.
func GatewayPorts(class *networkingv1.IngressClass) []GatewayPort {
	var out []GatewayPort
	if v := class.Annotations[GatewayPortsAnnotation]; v == "" || json.Unmarshal([]byte(v), &out) != nil {
		return nil
	}
	return out
}

// Claimer puts the proxies' hold on their ports into servicelb's plan
// (lb.Claimer), so that both sides agree on who has a node's port: the
// Ingresses' ports, and those of the Gateways on the nodes' addresses.
type Claimer struct {
	ports Ports
	l     *listers
	nodes listerscorev1.NodeLister
}

// NewClaimer is the claim of proxies on ports.
func NewClaimer(ports Ports) *Claimer { return &Claimer{ports: ports} }

func (c *Claimer) Informers(f informers.SharedInformerFactory) []cache.SharedIndexInformer {
	c.l = newListers(f, false)
	c.nodes = f.Core().V1().Nodes().Lister()
	return append(c.l.infs, f.Core().V1().Nodes().Informer())
}

func (c *Claimer) Claims() ([]lb.Claim, error) {
	in, class, err := c.l.read()
	if err != nil || class == nil {
		return nil, err
	}
	nodes, err := c.nodes.List(labels.Everything())
	if err != nil {
		return nil, err
	}
	var claims []lb.Claim
	if cl := claim(in.Ingresses, c.ports, nodes); cl != nil {
		claims = append(claims, *cl)
	}
	var serving []string
	for _, n := range ServingNodes(nodes) {
		serving = append(serving, n.Name)
	}
	for _, g := range GatewayPorts(class) {
		claims = append(claims, g.Claim(serving))
	}
	return claims, nil
}
