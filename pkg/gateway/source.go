package gateway

import (
	"net/netip"
	"slices"

	"github.com/edgeos/edgeos/pkg/ingress"
	"github.com/edgeos/edgeos/pkg/vip"
	"github.com/edgeos/edgeos/pkg/watch"
	"github.com/sirupsen/logrus"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	listerscorev1 "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	gatewayclient "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned"
	gatewayinformers "sigs.k8s.io/gateway-api/pkg/client/informers/externalversions"
)

// Source is the Gateway API's part of a node's proxy: it watches what
// Build reads, and gives the proxy the listeners: those on the nodes'
// addresses, and those of the Gateways' own addresses this node holds.
type Source struct {
	l      *listers
	own    watch.Factories
	certs  *ingress.CertCopy
	copies cache.SharedIndexInformer
	node   string
	pool   vip.Pool
	// nodes: with a pool, to find who holds each address
	nodes    listerscorev1.NodeLister
	nodesInf cache.SharedIndexInformer
}

// NewNodeSource is NewSource as the ingress proxy's configuration takes
// it.
func NewNodeSource(cfg ingress.SourceConfig) (ingress.RouteSource, error) {
	return NewSource(cfg)
}

// NewSource prepares a node's Source on the node's connection, sharing the
// proxy's own factory of core kinds (its Services and EndpointSlices).
func NewSource(cfg ingress.SourceConfig) (*Source, error) {
	gc, err := gatewayclient.NewForConfig(cfg.REST)
	if err != nil {
		return nil, err
	}
	pool, err := vip.ParsePool(cfg.Addresses)
	if err != nil {
		// the server wrote it from a pool it checked: serve the Gateways
		// without their own addresses rather than none
		logrus.Errorf("Ingress proxy: the IngressClass's %s: %v", ingress.GatewayAddressesAnnotation, err)
	}
	gwf := gatewayinformers.NewSharedInformerFactory(gc, 0)
	copies := informers.NewSharedInformerFactoryWithOptions(cfg.Clients, 0, informers.WithNamespace(metav1.NamespaceSystem),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("metadata.name", CertificatesSecret).String()
		}))
	secrets := copies.Core().V1().Secrets()
	s := &Source{
		l: newListers(gwf, cfg.Core), own: watch.Factories{gwf, copies},
		certs: ingress.NewCertCopy(secrets.Lister(), CertificatesSecret), copies: secrets.Informer(),
		node: cfg.NodeName, pool: pool,
	}
	if !pool.Empty() {
		nodes := cfg.Core.Core().V1().Nodes()
		s.nodes, s.nodesInf = nodes.Lister(), nodes.Informer()
	}
	return s, nil
}

// Informers are the factories Source made, to start and shut down, and
// every informer it reads (the shared ones too).
func (s *Source) Informers() (watch.Factory, []cache.SharedIndexInformer) {
	infs := append(slices.Clone(s.l.infs), s.copies)
	if s.nodesInf != nil {
		infs = append(infs, s.nodesInf)
	}
	return s.own, infs
}

// Listeners are the listeners as the watches have them now; nil when they
// cannot be read.
func (s *Source) Listeners(ports ingress.Ports) []ingress.Listener {
	in, err := s.l.read()
	if err != nil {
		return nil
	}
	in.Certs, in.IngressPorts, in.Pool = s.certs.Get(), ports, s.pool
	res := Build(in)
	if s.pool.Empty() {
		return res.Listeners
	}
	nodes, err := s.nodes.List(labels.Everything())
	if err != nil {
		return nil
	}
	serving := servingNames(nodes)
	return slices.DeleteFunc(res.Listeners, func(l ingress.Listener) bool {
		if l.Address == "" {
			return false
		}
		a, err := netip.ParseAddr(l.Address)
		return err != nil || vip.Holder(a, serving) != s.node
	})
}
