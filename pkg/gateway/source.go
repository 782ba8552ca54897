package gateway

import (
	"github.com/edgeos/edgeos/pkg/ingress"
	"github.com/edgeos/edgeos/pkg/watch"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	gatewayclient "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned"
	gatewayinformers "sigs.k8s.io/gateway-api/pkg/client/informers/externalversions"
)

// Source is the Gateway API's part of a node's proxy: it watches what
// Build reads, and gives the proxy the listeners.
type Source struct {
	l      *listers
	own    watch.Factories
	certs  *ingress.CertCopy
	copies cache.SharedIndexInformer
}

// NewNodeSource is NewSource as the ingress proxy's configuration takes
// it.
func NewNodeSource(rc *rest.Config, cs kubernetes.Interface, core informers.SharedInformerFactory) (ingress.RouteSource, error) {
	return NewSource(rc, cs, core)
}

// NewSource prepares a node's Source on the node's connection; core is
// the proxy's own factory of core kinds, whose Services and EndpointSlices
// it shares.
func NewSource(rc *rest.Config, cs kubernetes.Interface, core informers.SharedInformerFactory) (*Source, error) {
	gc, err := gatewayclient.NewForConfig(rc)
	if err != nil {
		return nil, err
	}
	gwf := gatewayinformers.NewSharedInformerFactory(gc, 0)
	copies := informers.NewSharedInformerFactoryWithOptions(cs, 0, informers.WithNamespace(metav1.NamespaceSystem),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("metadata.name", CertificatesSecret).String()
		}))
	secrets := copies.Core().V1().Secrets()
	return &Source{
		l: newListers(gwf, core), own: watch.Factories{gwf, copies},
		certs: ingress.NewCertCopy(secrets.Lister(), CertificatesSecret), copies: secrets.Informer(),
	}, nil
}

// Informers are the factories Source made, to start and shut down, and
// every informer it reads (the shared ones too).
func (s *Source) Informers() (watch.Factory, []cache.SharedIndexInformer) {
	return s.own, append(append([]cache.SharedIndexInformer(nil), s.l.infs...), s.copies)
}

// Listeners are the listeners as the watches have them now; nil when they
// cannot be read.
func (s *Source) Listeners(ports ingress.Ports) []ingress.Listener {
	in, err := s.l.read()
	if err != nil {
		return nil
	}
	in.Certs, in.IngressPorts = s.certs.Get(), ports
	return Build(in).Listeners
}
