// Package mirror is the embedded registry mirror (--embedded-registry):
// every node serves the images in its containerd store to the cluster's
// other nodes, over TLS with the node's serving certificate, to clients
// holding a node client certificate of the cluster only; and every node
// lists its peers first among the hosts of each registry registries.yaml
// mirrors, in containerd's registry config, so that an image one node
// holds is pulled from it and not again from outside. Peers are the
// cluster's Ready nodes, from the Node objects. containerd verifies the
// digest of everything it pulls, from a peer as from anywhere.
package mirror

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/edgeos/edgeos/pkg/atomicfile"
	"github.com/edgeos/edgeos/pkg/kubeconfig"
	"github.com/edgeos/edgeos/pkg/registries"
	"github.com/edgeos/edgeos/pkg/telemetry"
	"github.com/edgeos/edgeos/pkg/watch"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// Port is where every node's mirror listens, on the node's address.
const Port = 5001

// Config places one node's mirror.
type Config struct {
	NodeName string
	// NodeIP is the address the mirror listens on; peers reach it there.
	NodeIP string
	// Port is the port of this node's mirror and of its peers'.
	Port int
	// Containerd is the node's containerd socket; the images served are
	// those of its k8s.io namespace.
	Containerd string
	// Kubeconfig is the identity Nodes are watched with.
	Kubeconfig string
	// ServingCert and ServingKey are the node's serving certificate;
	// ClientCA verifies peers' client certificates.
	ServingCert, ServingKey, ClientCA string
	// PeerCA verifies peers' serving certificates; ClientCert and
	// ClientKey are what this node's containerd shows them.
	PeerCA, ClientCert, ClientKey string
	// CertsDir is containerd's registry host directory, rewritten from
	// Registries with the peers whenever they change.
	CertsDir   string
	Registries *registries.File
	// Rewrite is the node's proxy of the endpoints with rewrites.
	Rewrite registries.RewriteProxy
	Metrics prometheus.Registerer
}

// Mirror is one node's mirror.
type Mirror struct{ cfg Config }

// New prepares a mirror; Run serves.
func New(cfg Config) *Mirror { return &Mirror{cfg: cfg} }

func (m *Mirror) Name() string { return "registry-mirror" }

// Namespace is containerd's namespace of the Kubernetes images.
const Namespace = "k8s.io"

// Run serves until ctx ends and keeps containerd's list of peers current.
// It is ready once it listens.
func (m *Mirror) Run(ctx context.Context, ready func()) error {
	tlsCfg, err := serverTLS(m.cfg.ServingCert, m.cfg.ServingKey, m.cfg.ClientCA)
	if err != nil {
		return fmt.Errorf("registry mirror: %w", err)
	}
	client, err := containerd.New(m.cfg.Containerd, containerd.WithDefaultNamespace(Namespace), containerd.WithTimeout(30*time.Second))
	if err != nil {
		return fmt.Errorf("registry mirror: %w", err)
	}
	defer client.Close()
	cs, err := kubeconfig.Client(m.cfg.Kubeconfig)
	if err != nil {
		return err
	}
	h := &handler{
		images: client.ImageService(),
		blobs:  client.ContentStore(),
		scope:  func(ctx context.Context) context.Context { return namespaces.WithNamespace(ctx, Namespace) },
		requests: telemetry.CounterVec(m.cfg.Metrics, prometheus.CounterOpts{Subsystem: "registry_mirror", Name: "requests_total",
			Help: "Pulls other nodes asked this node's registry mirror for, by kind (manifest, blob) and result (served, missing, error)."}, "kind", "result"),
		bytes: telemetry.Counter(m.cfg.Metrics, prometheus.CounterOpts{Subsystem: "registry_mirror", Name: "served_bytes_total",
			Help: "Bytes of manifests and blobs this node's registry mirror served to other nodes."}),
	}
	addr := net.JoinHostPort(m.cfg.NodeIP, strconv.Itoa(m.cfg.Port))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("registry mirror: %w", err)
	}
	srv := &http.Server{
		Handler: h, TLSConfig: tlsCfg,
		ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
		// refused handshakes (a machine outside the cluster) are no fault
		// of this node: at debug level only
		ErrorLog: log.New(debugWriter{}, "", 0),
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() {
		if err := srv.ServeTLS(ln, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logrus.Errorf("Registry mirror: %v", err)
		}
	})
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	logrus.Infof("Registry mirror serving this node's images to the cluster's nodes on %s", addr)
	// ready without the API: a node starting while the server is away
	// pulls as before, from the registries themselves
	ready()
	return m.followPeers(ctx, cs)
}

// followPeers rewrites containerd's registry hosts whenever the set of
// Ready peers changes.
func (m *Mirror) followPeers(ctx context.Context, cs kubernetes.Interface) error {
	factory := informers.NewSharedInformerFactory(cs, 10*time.Minute)
	nodes := factory.Core().V1().Nodes()
	gauge := telemetry.Gauge(m.cfg.Metrics, prometheus.GaugeOpts{Subsystem: "registry_mirror", Name: "peers",
		Help: "Other nodes this node's containerd asks for images first."})
	var written []string
	first, warned := true, false
	return watch.Loop(ctx, "Registry mirror", factory, []cache.SharedIndexInformer{nodes.Informer()},
		watch.Pause{AfterError: 5 * time.Second}, nil, func(context.Context) error {
			list, err := nodes.Lister().List(labels.Everything())
			if err != nil {
				return err
			}
			urls := peerURLs(list, m.cfg.NodeName, m.cfg.Port)
			if _, err := os.Stat(m.cfg.PeerCA); err != nil && len(urls) > 0 {
				// joined before servers handed nodes the kubelet CA, and
				// the server was away at this start: containerd could not
				// read the hosts at all
				if !warned {
					logrus.Warnf("Registry mirror: pulling from no peer until the next start with the server reachable: %v", err)
					warned = true
				}
				urls = nil
			}
			if !first && slices.Equal(urls, written) {
				return nil
			}
			plan := registries.MakePlan(m.cfg.Registries, registries.Node{
				Peers:   registries.Peers{URLs: urls, CAFile: m.cfg.PeerCA, CertFile: m.cfg.ClientCert, KeyFile: m.cfg.ClientKey},
				Rewrite: m.cfg.Rewrite,
			})
			if err := atomicfile.ReplaceDir(m.cfg.CertsDir, plan.Hosts, 0o600); err != nil {
				return fmt.Errorf("writing containerd's registry hosts: %w", err)
			}
			logrus.Infof("Registry mirror: %d peers", len(urls))
			written, first = urls, false
			gauge.Set(float64(len(urls)))
			return nil
		})
}

// debugWriter takes the HTTP server's own messages (a client that failed
// the handshake) to the log at debug level.
type debugWriter struct{}

func (debugWriter) Write(b []byte) (int, error) {
	logrus.Debugf("Registry mirror: %s", bytes.TrimSpace(b))
	return len(b), nil
}
