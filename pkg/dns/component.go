package dns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/edgeos/edgeos/pkg/kubeconfig"
	"github.com/edgeos/edgeos/pkg/watch"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"
	"github.com/vishvananda/netlink"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// Config places the node's cluster DNS.
type Config struct {
	// Kubeconfig watches Services and EndpointSlices (the edgeos-agent
	// identity, which may).
	Kubeconfig string
	// Address is the cluster DNS address pods are given (kubelet's
	// clusterDNS); the node holds it on its loopback device.
	Address net.IP
	Domain  string
	// ResolvConf names the upstream resolvers.
	ResolvConf string
	// Reverse are the cluster's networks, whose reverse names are answered
	// here.
	Reverse []*net.IPNet
	// Metrics is where the answer counts are published; nil: nowhere.
	Metrics prometheus.Registerer
}

// CacheSize bounds the upstream answer cache.
const CacheSize = 10000

// DNS is the node's cluster DNS component.
type DNS struct{ cfg Config }

// New prepares the cluster DNS.
func New(cfg Config) *DNS { return &DNS{cfg: cfg} }

func (d *DNS) Name() string { return "cluster-dns" }

// Run serves on the cluster DNS address, port 53, and is ready once it
// listens: forwarding works at once; cluster names resolve once the watch
// has synced, and keep resolving from the watch cache while the server is
// unreachable.
func (d *DNS) Run(ctx context.Context, ready func()) error {
	upstreams, err := Upstreams(d.cfg.ResolvConf, []net.IP{d.cfg.Address})
	if err != nil {
		return err
	}
	if len(upstreams) == 0 {
		logrus.Warnf("Cluster DNS: %s names no upstream resolver besides the cluster DNS; names outside %s will fail", d.cfg.ResolvConf, d.cfg.Domain)
	}
	if err := holdAddress(d.cfg.Address); err != nil {
		return err
	}
	cs, err := kubeconfig.Client(d.cfg.Kubeconfig)
	if err != nil {
		return err
	}
	srv := NewServer(d.cfg.Domain, upstreams, d.cfg.Reverse, CacheSize)
	srv.countAnswers(d.cfg.Metrics)
	// the watch ends with the server: when ctx ends, or when serving fails
	// (cancel runs before the wait)
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	wg.Go(func() { d.follow(ctx, cs, srv) })
	return srv.Serve(ctx, net.JoinHostPort(d.cfg.Address.String(), "53"), func() {
		logrus.Infof("Cluster DNS on %s:53 for %s, upstream %v", d.cfg.Address, d.cfg.Domain, upstreams)
		ready()
	})
}

// follow rebuilds the table whenever Services or EndpointSlices change,
// at most every 100 ms.
func (d *DNS) follow(ctx context.Context, cs kubernetes.Interface, srv *Server) {
	factory := informers.NewSharedInformerFactory(cs, 0)
	svcs := factory.Core().V1().Services()
	slices := factory.Discovery().V1().EndpointSlices()
	err := watch.Loop(ctx, "Cluster DNS", factory, []cache.SharedIndexInformer{svcs.Informer(), slices.Informer()},
		watch.Pause{AfterError: time.Second, Between: 100 * time.Millisecond}, nil, func(context.Context) error {
			services, err1 := svcs.Lister().List(labels.Everything())
			eps, err2 := slices.Lister().List(labels.Everything())
			if err := errors.Join(err1, err2); err != nil {
				return err
			}
			srv.current.Store(build(d.cfg.Domain, services, eps))
			return nil
		})
	if err != nil {
		logrus.Errorf("Cluster DNS: %v", err)
	}
}

// holdAddress puts the cluster DNS address on the loopback device, where
// packets from pods to it are delivered to this node's server. It stays
// when edgeos stops, so a restart does not disturb pods.
func holdAddress(ip net.IP) error {
	lo, err := netlink.LinkByName("lo")
	if err != nil {
		return err
	}
	bits := 128
	if ip.To4() != nil {
		bits = 32
	}
	addr := &netlink.Addr{IPNet: &net.IPNet{IP: ip, Mask: net.CIDRMask(bits, bits)}}
	if err := netlink.AddrAdd(lo, addr); err != nil && !errors.Is(err, syscall.EEXIST) {
		return fmt.Errorf("cluster DNS address %s on lo: %w", ip, err)
	}
	return nil
}
