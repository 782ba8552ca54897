package gateway

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/edgeos/edgeos/pkg/ingress"
	"github.com/edgeos/edgeos/pkg/kubeconfig"
	"github.com/edgeos/edgeos/pkg/lb"
	"github.com/edgeos/edgeos/pkg/vip"
	"github.com/edgeos/edgeos/pkg/watch"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	listersnetworkingv1 "k8s.io/client-go/listers/networking/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	gatewayclient "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned"
	gatewayinformers "sigs.k8s.io/gateway-api/pkg/client/informers/externalversions"
)

// manager owns the CRDs edgeos applies.
const manager = "edgeos-gateway"

// Config is what the server's controller is told.
type Config struct {
	// Kubeconfig may install CRDs and write every Gateway API status.
	Kubeconfig string
	// IngressPorts are the proxies' Ingress ports (--ingress-http-port,
	// --ingress-https-port).
	IngressPorts ingress.Ports
	// Pool gives each Gateway an address of its own
	// (--gateway-addresses); empty: they share the nodes' addresses.
	Pool vip.Pool
}

// Controller is the server side of the Gateway API: the CRDs and the
// class, every status, and the copy of the listeners' certificates the
// nodes read.
type Controller struct {
	cfg Config
	// written is the certificates' copy as last written (nil: unknown)
	written map[string][]byte
}

// NewController makes the server's controller.
func NewController(cfg Config) *Controller { return &Controller{cfg: cfg} }

func (c *Controller) Name() string { return "gateway" }

// Run installs the CRDs and the class, then follows the Gateway API
// objects and what they name. It is ready at once: the server starts its
// parts one after another, and the CRDs' installation (the API server
// builds its OpenAPI again for each) must not hold up the node's start.
func (c *Controller) Run(ctx context.Context, ready func()) error {
	ready()
	clients, err := kubeconfig.Connect(c.cfg.Kubeconfig)
	if err != nil {
		return err
	}
	gc, err := gatewayclient.NewForConfig(clients.REST)
	if err != nil {
		return err
	}
	// ready already, it tries again rather than end the server
	if !watch.Retry(ctx, "Gateway API", 5*time.Second, func(ctx context.Context) error {
		if err := EnsureCRDs(ctx, clients.Dynamic, manager); err != nil {
			return err
		}
		return ensureClass(ctx, gc)
	}) {
		return nil
	}
	cs := clients.Typed
	gwf := gatewayinformers.NewSharedInformerFactory(gc, 0)
	core := informers.NewSharedInformerFactory(cs, 0)
	tlsOnly := informers.NewSharedInformerFactoryWithOptions(cs, 0, informers.WithTweakListOptions(func(o *metav1.ListOptions) {
		o.FieldSelector = fields.OneTermEqualSelector("type", string(corev1.SecretTypeTLS)).String()
	}))
	l := newListers(gwf, core)
	secrets, nodes := tlsOnly.Core().V1().Secrets(), core.Core().V1().Nodes()
	ingressClasses := core.Networking().V1().IngressClasses()
	infs := append(l.infs, secrets.Informer(), nodes.Informer(), ingressClasses.Informer())
	return watch.Loop(ctx, "Gateway API", watch.Factories{gwf, core, tlsOnly}, infs, watch.DefaultPause, nil, func(ctx context.Context) error {
		in, err := l.read()
		s, err1 := secrets.Lister().List(labels.Everything())
		n, err2 := nodes.Lister().List(labels.Everything())
		if err := errors.Join(err, err1, err2); err != nil {
			return err
		}
		in.IngressPorts, in.Pool = c.cfg.IngressPorts, c.cfg.Pool
		ports, err := c.pass(ctx, gc, cs, in, s, n)
		return errors.Join(err, announce(ctx, cs, ingressClasses.Lister(), Announcement{On: true, Pool: c.cfg.Pool.String(), Ports: ports}))
	})
}

// Announcement is what the IngressClass says of the Gateway API to the
// nodes' proxies and to servicelb.
type Announcement struct {
	// On: the proxies follow the Gateway API (ingress.GatewayAnnotation).
	On bool
	// Pool is the Gateways' own addresses (GatewayAddressesAnnotation).
	Pool string
	// Ports are the ports Gateways take at the nodes' addresses
	// (GatewayPortsAnnotation).
	Ports []ingress.GatewayPort
}

// annotations are the announcement's values; nil removes one.
func (a Announcement) annotations() (map[string]any, error) {
	out := map[string]any{ingress.GatewayAnnotation: nil, ingress.GatewayAddressesAnnotation: nil, ingress.GatewayPortsAnnotation: nil}
	if !a.On {
		return out, nil
	}
	out[ingress.GatewayAnnotation] = "true"
	if a.Pool != "" {
		out[ingress.GatewayAddressesAnnotation] = a.Pool
	}
	if len(a.Ports) > 0 {
		ports, err := json.Marshal(a.Ports)
		if err != nil {
			return nil, err
		}
		out[ingress.GatewayPortsAnnotation] = string(ports)
	}
	return out, nil
}

// announce writes the announcement on the IngressClass when it does not
// say so yet.
func announce(ctx context.Context, cs kubernetes.Interface, classes listersnetworkingv1.IngressClassLister, a Announcement) error {
	class, err := classes.Get(ingress.ClassName)
	if apierrors.IsNotFound(err) {
		return nil // the ingress controller makes it; this pass runs again then
	}
	if err != nil {
		return err
	}
	want, err := a.annotations()
	if err != nil {
		return err
	}
	same := true
	for k, v := range want {
		have, ok := class.Annotations[k]
		same = same && (v == nil && !ok || v != nil && have == v)
	}
	if same {
		return nil
	}
	return SetAnnouncement(ctx, cs, a)
}

// SetAnnouncement writes the announcement on the IngressClass (Off: a
// server without --gateway-api).
func SetAnnouncement(ctx context.Context, cs kubernetes.Interface, a Announcement) error {
	annotations, err := a.annotations()
	if err != nil {
		return err
	}
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": annotations}})
	if err != nil {
		return err
	}
	_, err = cs.NetworkingV1().IngressClasses().Patch(ctx, ingress.ClassName, types.MergePatchType, patch, metav1.PatchOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// ensureClass creates the GatewayClass edgeos, leaving one there as it is.
func ensureClass(ctx context.Context, gc gatewayclient.Interface) error {
	_, err := gc.GatewayV1().GatewayClasses().Create(ctx, NewClass(), metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}

// pass writes every status and the certificates' copy; it returns the
// ports the Gateways take at the nodes' addresses.
func (c *Controller) pass(ctx context.Context, gc gatewayclient.Interface, cs kubernetes.Interface, in Inputs, secrets []*corev1.Secret, nodes []*corev1.Node) ([]ingress.GatewayPort, error) {
	pairs := map[string][2][]byte{}
	in.Certs = map[string]*tls.Certificate{}
	named := certificateRefs(in.Gateways)
	for _, s := range secrets {
		if !named[s.Namespace+"/"+s.Name] {
			continue // parsed only when a listener names it
		}
		crt, key := s.Data[corev1.TLSCertKey], s.Data[corev1.TLSPrivateKeyKey]
		if cert, err := tls.X509KeyPair(crt, key); err == nil {
			k := s.Namespace + "/" + s.Name
			in.Certs[k], pairs[k] = &cert, [2][]byte{crt, key}
		}
	}
	res := Build(in)
	served := map[string][2][]byte{}
	for _, k := range res.Secrets {
		served[k] = pairs[k]
	}
	errs := []error{c.writeCertificates(ctx, cs, served)}
	for _, class := range in.Classes {
		if class.Spec.ControllerName != ControllerName {
			continue
		}
		if st := classStatus(class); st != nil {
			update := class.DeepCopy()
			update.Status = *st
			_, err := gc.GatewayV1().GatewayClasses().UpdateStatus(ctx, update, metav1.UpdateOptions{})
			errs = append(errs, ignoreGone(err))
		}
	}
	serving := servingNames(nodes)
	lostByPort := portsLost(in, nodes, serving, res.SharedPorts)
	for _, gw := range in.Gateways {
		k := key(&gw.ObjectMeta)
		built := res.Gateways[k]
		if built == nil {
			continue
		}
		var addresses []string
		unserved := "no node's proxy serves it: no Ready node listens on its ports"
		if own, ok := res.Addresses[k]; ok {
			addresses = []string{own.String()}
			if vip.Holder(own, serving) != "" {
				unserved = ""
			}
		} else {
			lost := lostOn(lostByPort, res.Ports[k])
			addresses = proxyAddresses(nodes, lost)
			if len(addresses) > 0 {
				unserved = ""
			} else if len(lost) > 0 {
				unserved = "no node's proxy serves it: " + strings.Join(slices.Sorted(maps.Values(lost)), "; ")
			}
		}
		if st := gatewayStatus(gw, built, addresses, unserved); st != nil {
			update := gw.DeepCopy()
			update.Status = *st
			_, err := gc.GatewayV1().Gateways(gw.Namespace).UpdateStatus(ctx, update, metav1.UpdateOptions{})
			errs = append(errs, ignoreGone(err))
		}
	}
	for _, r := range in.Routes {
		if st := routeStatus(r, res.Routes[key(&r.ObjectMeta)]); st != nil {
			update := r.DeepCopy()
			update.Status = *st
			_, err := gc.GatewayV1().HTTPRoutes(r.Namespace).UpdateStatus(ctx, update, metav1.UpdateOptions{})
			errs = append(errs, ignoreGone(err))
		}
	}
	return res.SharedPorts, errors.Join(errs...)
}

// portsLost are, for each port Gateways take at the nodes' addresses,
// the serving nodes where an older LoadBalancer Service holds it
// (servicelb's rule: the older keeps the port), with why, by node.
func portsLost(in Inputs, nodes []*corev1.Node, serving []string, shared []ingress.GatewayPort) map[int32]map[string]string {
	out := map[int32]map[string]string{}
	for _, g := range shared {
		if lost := lb.Lost(in.Services, nodes, in.Slices, g.Claim(serving)); len(lost) > 0 {
			out[g.Port] = lost
		}
	}
	return out
}

// lostOn are the nodes where one of ports is lost (portsLost), with why.
func lostOn(lostByPort map[int32]map[string]string, ports []int32) map[string]string {
	out := map[string]string{}
	for _, port := range ports {
		for node, why := range lostByPort[port] {
			if _, told := out[node]; !told {
				out[node] = why
			}
		}
	}
	return out
}

// certificateRefs are the Secrets (namespace/name) the Gateways'
// listeners name.
func certificateRefs(gws []*gatewayv1.Gateway) map[string]bool {
	out := map[string]bool{}
	for _, gw := range gws {
		for _, l := range gw.Spec.Listeners {
			if l.TLS == nil {
				continue
			}
			for _, ref := range l.TLS.CertificateRefs {
				ns := gw.Namespace
				if ref.Namespace != nil {
					ns = string(*ref.Namespace)
				}
				out[ns+"/"+string(ref.Name)] = true
			}
		}
	}
	return out
}

// ignoreGone drops the errors of a write to an object that has changed or
// gone since it was read: the next pass sees it as it is.
func ignoreGone(err error) error {
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil
	}
	return err
}

// proxyAddresses are those of the Ready nodes whose proxy listens, but
// for the nodes of except.
func proxyAddresses(nodes []*corev1.Node, except map[string]string) []string {
	var out []string
	for _, n := range ingress.ServingNodes(nodes) {
		if _, left := except[n.Name]; left {
			continue
		}
		if ip := lb.NodeAddress(n); ip != "" {
			out = append(out, ip)
		}
	}
	slices.Sort(out)
	return out
}

// writeCertificates makes the copy hold the pairs.
func (c *Controller) writeCertificates(ctx context.Context, cs kubernetes.Interface, pairs map[string][2][]byte) error {
	data, left := ingress.CertificatesData(pairs)
	if len(left) > 0 {
		return fmt.Errorf("the Gateways' certificates exceed the copy's size: %v are not served", left)
	}
	if c.written != nil && ingress.SameData(c.written, data) {
		return nil
	}
	if err := ingress.PutCertificates(ctx, cs, CertificatesSecret, data); err != nil {
		return err
	}
	c.written = data
	return nil
}

// CertificatesSecret, in kube-system, holds the certificates of the
// Gateways' HTTPS listeners, the one Secret of theirs a node may read
// (as ingress.CertificatesSecret for Ingresses).
const CertificatesSecret = "edgeos-gateway-certificates"
