package ingress

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/edgeos/edgeos/pkg/kubeconfig"
	"github.com/edgeos/edgeos/pkg/vip"
	"github.com/edgeos/edgeos/pkg/watch"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	listerscorev1 "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
)

// NodeConfig places a node's proxy.
type NodeConfig struct {
	NodeName string
	// Addresses the proxy listens on: the node's IPs.
	Addresses []string
	// Kubeconfig watches Ingresses, Services, EndpointSlices and the
	// certificates' copy (the edgeos-agent identity, which may).
	Kubeconfig string
	// NodeKubeconfig labels the node (the kubelet's identity, which may
	// change its own Node).
	NodeKubeconfig string
	// Off keeps this node out (--disable-ingress-proxy).
	Off bool
	// Metrics is where the count of requests is published; nil: nowhere.
	Metrics prometheus.Registerer
	// Gateway makes the Gateway API's source; nil: Ingresses only.
	Gateway func(SourceConfig) (RouteSource, error)
	// StateDir keeps the record of the Gateways' addresses this node
	// holds, so that a start after a crash takes them off.
	StateDir string
}

// SourceConfig is what a node's Gateway API source is made with.
type SourceConfig struct {
	// REST and Clients are the node's connection.
	REST    *rest.Config
	Clients kubernetes.Interface
	// Core is the proxy's factory of core kinds, to share.
	Core     informers.SharedInformerFactory
	NodeName string
	// Addresses is the pool of the Gateways' own addresses as the class
	// announces it (GatewayAddressesAnnotation); "" for none.
	Addresses string
}

// gatewayMode is how the class says the proxies follow the Gateway API.
type gatewayMode struct {
	on        bool
	addresses string
}

// Node is a node's ingress proxy component.
type Node struct{ cfg NodeConfig }

// NewNode prepares a node's proxy.
func NewNode(cfg NodeConfig) *Node { return &Node{cfg: cfg} }

func (n *Node) Name() string { return "ingress-proxy" }

// Run is ready at once. It watches only for the IngressClass while there
// is none (--disable ingress on the server); once there is, the proxy
// follows the routes and listens on the ports the class names, and serves
// from its watch caches while the server is unreachable. The Gateway API's
// routes are followed too while the class says the server serves it
// (GatewayAnnotation); turning that on or off, or changing the pool of the
// Gateways' own addresses, restarts the watches, not the proxy, whose
// connections stay open. The Gateways' addresses this node holds are
// taken off when it stops, and at start those a crashed run left.
func (n *Node) Run(ctx context.Context, ready func()) error {
	clients, err := kubeconfig.Connect(n.cfg.Kubeconfig)
	if err != nil {
		return err
	}
	nodes, err := kubeconfig.Client(n.cfg.NodeKubeconfig)
	if err != nil {
		return err
	}
	lbl := &labeller{cs: nodes, node: n.cfg.NodeName}
	if err := os.MkdirAll(n.cfg.StateDir, 0o700); err != nil {
		return err
	}
	hold, err := vip.NewHolding(filepath.Join(n.cfg.StateDir, "gateway-addresses.json"))
	if err != nil {
		logrus.Errorf("Ingress proxy: the Gateways' addresses a previous run held: %v", err)
	}
	defer func() {
		if err := hold.Release(nil); err != nil {
			logrus.Errorf("Ingress proxy: %v", err)
		}
	}()
	ready()
	if n.cfg.Off {
		logrus.Infof("Ingress proxy off on this node (--disable-ingress-proxy)")
		return n.keepOut(ctx, lbl)
	}
	cert, err := selfSigned(n.cfg.NodeName)
	if err != nil {
		return err
	}
	factory := informers.NewSharedInformerFactoryWithOptions(clients.Typed, 0, informers.WithTweakListOptions(func(o *metav1.ListOptions) {
		o.FieldSelector = fields.OneTermEqualSelector("metadata.name", ClassName).String()
	}))
	classes := factory.Networking().V1().IngressClasses()
	var serving sync.WaitGroup
	stopServing := func() {}
	var fe *frontend
	defer func() {
		stopServing()
		serving.Wait()
		if fe != nil {
			fe.close()
		}
	}()
	on, withGateway := false, gatewayMode{}
	return watch.Loop(ctx, "Ingress proxy", factory, []cache.SharedIndexInformer{classes.Informer()}, watch.DefaultPause, nil, func(ctx context.Context) error {
		class, err := classes.Lister().Get(ClassName)
		if err != nil && !apierrors.IsNotFound(err) {
			return err
		}
		want := err == nil && class.Spec.Controller == ControllerName
		var gateway gatewayMode
		if want && n.cfg.Gateway != nil && class.Annotations[GatewayAnnotation] == "true" {
			gateway = gatewayMode{on: true, addresses: class.Annotations[GatewayAddressesAnnotation]}
		}
		if want != on || gateway != withGateway {
			stopServing()
			serving.Wait()
			switch {
			case want:
				if fe == nil {
					fe = newFrontend(n.cfg, cert)
				}
				sctx, cancel := context.WithCancel(ctx)
				stopServing = cancel
				serving.Go(func() { n.serve(sctx, clients, lbl, fe, gateway, hold) })
			case fe != nil:
				fe.close()
				fe = nil
				if err := hold.Release(nil); err != nil {
					logrus.Errorf("Ingress proxy: %v", err)
				}
				logrus.Infof("Ingress proxy stopped: the IngressClass %s is gone", ClassName)
			}
		}
		on, withGateway = want, gateway
		if !on {
			return lbl.set(ctx, false)
		}
		return nil
	})
}

// frontend is what clients connect to: the proxy and its listeners, kept
// while the watches behind them restart.
type frontend struct {
	proxy    *Proxy
	ls       *listeners
	endConns context.CancelFunc
}

func newFrontend(cfg NodeConfig, cert *tls.Certificate) *frontend {
	proxy := NewProxy()
	proxy.countRequests(cfg.Metrics)
	conns, endConns := context.WithCancel(context.Background())
	return &frontend{proxy: proxy, ls: newListeners(conns, proxy, cfg.Addresses, cert), endConns: endConns}
}

func (f *frontend) close() {
	f.ls.stop()
	f.endConns()
	f.proxy.Close()
}

// RouteSource adds another API's listeners to a node's proxy: the Gateway
// API's (pkg/gateway).
type RouteSource interface {
	// Informers are the factory to start and shut down, and every
	// informer the source reads.
	Informers() (watch.Factory, []cache.SharedIndexInformer)
	// Listeners are the source's listeners now.
	Listeners(ports Ports) []Listener
}

// serve follows the routes until ctx ends, serving them from fe, and
// holds the Gateways' own addresses that are this node's to hold.
func (n *Node) serve(ctx context.Context, clients kubeconfig.Clients, lbl *labeller, fe *frontend, gateway gatewayMode, hold *vip.Holding) {
	cs := clients.Typed
	factory := informers.NewSharedInformerFactory(cs, 0)
	l := newListers(factory, true)
	copyFactory := informers.NewSharedInformerFactoryWithOptions(cs, 0, informers.WithNamespace(metav1.NamespaceSystem),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("metadata.name", CertificatesSecret).String()
		}))
	copies := copyFactory.Core().V1().Secrets()
	certs := NewCertCopy(copies.Lister(), CertificatesSecret)
	fs := watch.Factories{factory, copyFactory}
	infs := append(l.infs, copies.Informer())
	var src RouteSource
	if gateway.on {
		var err error
		sc := SourceConfig{REST: clients.REST, Clients: cs, Core: factory, NodeName: n.cfg.NodeName, Addresses: gateway.addresses}
		if src, err = n.cfg.Gateway(sc); err != nil {
			logrus.Errorf("Ingress proxy: the Gateway API: %v", err)
			return
		}
		f, more := src.Informers()
		fs, infs = append(fs, f), append(infs, more...)
	}
	var told, toldHold string // the errors last reported
	err := watch.Loop(ctx, "Ingress proxy", fs, infs,
		watch.Pause{AfterError: 5 * time.Second, Between: 100 * time.Millisecond}, nil, func(ctx context.Context) error {
			in, class, err := l.read()
			if err != nil || class == nil {
				return err // without the class, Run stops this
			}
			ports, err := PortsOf(class)
			if err != nil {
				return err
			}
			in.Certs = certs.Get()
			if src != nil {
				in.Listeners = src.Listeners(ports)
			}
			table, _ := Build(in)
			own, keep, holdErr := holdOwn(hold, table.OwnAddresses())
			at := table.GatewayPorts()
			maps.DeleteFunc(at, func(l Local, _ bool) bool { return l.Addr != "" && !own[l.Addr] })
			fe.proxy.Swap(table)
			if err := fe.ls.set(ports, at); err != nil {
				err = fmt.Errorf("%w (this node is left out of Ingresses' addresses until it listens)", errors.Join(err, lbl.set(ctx, false)))
				if err.Error() == told {
					return watch.Quietly(err)
				}
				told = err.Error()
				return err
			}
			told = ""
			// taken off once nothing listens on them
			holdErr = errors.Join(holdErr, hold.Release(keep))
			if err := errors.Join(lbl.set(ctx, true), holdErr); err != nil {
				if err.Error() == toldHold {
					return watch.Quietly(err)
				}
				toldHold = err.Error()
				return err
			}
			toldHold = ""
			return nil
		})
	if err != nil {
		logrus.Errorf("Ingress proxy: %v", err)
	}
}

// holdOwn puts on the node the Gateways' own addresses of its table (the
// source gives this node only those it is to hold), and reports those of
// them it holds: to listen on, and to keep.
func holdOwn(hold *vip.Holding, addresses []string) (map[string]bool, []netip.Addr, error) {
	var want []netip.Addr
	var errs []error
	for _, s := range addresses {
		a, err := netip.ParseAddr(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("a Gateway's address %q: %w", s, err))
			continue
		}
		want = append(want, a)
	}
	errs = append(errs, hold.Hold(want))
	own := map[string]bool{}
	var keep []netip.Addr
	for _, a := range hold.Held() {
		if slices.Contains(want, a) {
			own[a.String()] = true
			keep = append(keep, a)
		}
	}
	return own, keep, errors.Join(errs...)
}

// keepOut says on the node that its proxy is off, until that is said.
func (n *Node) keepOut(ctx context.Context, lbl *labeller) error {
	if watch.Retry(ctx, "Ingress proxy", 5*time.Second, func(ctx context.Context) error { return lbl.set(ctx, false) }) {
		<-ctx.Done()
	}
	return nil
}

// labeller sets ProxyLabel on the node, remembering what it set so that a
// pass writes only a change.
type labeller struct {
	cs    kubernetes.Interface
	node  string
	known bool
	on    bool
}

func (l *labeller) set(ctx context.Context, on bool) error {
	if l.known && l.on == on {
		return nil
	}
	var value any // nil removes the label
	if on {
		value = "true"
	}
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"labels": map[string]any{ProxyLabel: value}}})
	if err != nil {
		return err
	}
	if _, err := l.cs.CoreV1().Nodes().Patch(ctx, l.node, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("labelling node %s %s=%v: %w", l.node, ProxyLabel, on, err)
	}
	l.known, l.on = true, on
	return nil
}

// CertCopy parses a certificates' copy (see CertificatesSecret) again
// only when it changes.
type CertCopy struct {
	lister  listerscorev1.SecretLister
	name    string
	version string
	certs   map[string]*tls.Certificate
}

// NewCertCopy reads the copy name in kube-system from lister.
func NewCertCopy(lister listerscorev1.SecretLister, name string) *CertCopy {
	return &CertCopy{lister: lister, name: name}
}

// Get is the copy's certificates by namespace/name: none while it does not
// exist, the last good ones while it cannot be read.
func (c *CertCopy) Get() map[string]*tls.Certificate {
	s, err := c.lister.Secrets(metav1.NamespaceSystem).Get(c.name)
	if apierrors.IsNotFound(err) {
		s, err = &corev1.Secret{}, nil
	}
	if err != nil {
		return c.certs
	}
	if c.certs != nil && s.ResourceVersion == c.version {
		return c.certs
	}
	certs, err := CertificatesFrom(s)
	if err != nil {
		logrus.Warnf("Ingress proxy: %v", err)
	}
	c.certs, c.version = certs, s.ResourceVersion
	return certs
}
