// Package cni is the node's pod network in edgeos's process: the network
// config containerd reads (written once the node has its podCIDR), the
// bridge's sysctls, egress masquerading and the VXLAN overlay kept in step
// with the other nodes. The CNI plugin containerd executes for each pod is
// pkg/cni/plugin, a program of its own.
package cni

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/edgeos/edgeos/pkg/cni/plugin"
	"github.com/edgeos/edgeos/pkg/kubeconfig"
	"github.com/edgeos/edgeos/pkg/pki"
	"github.com/edgeos/edgeos/pkg/telemetry"
	"github.com/edgeos/edgeos/pkg/watch"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"
	"github.com/vishvananda/netlink"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// Config places the node's pod network.
type Config struct {
	// ConfDir is containerd's CNI config directory. The plugin's program
	// is written to containerd's bin dir with containerd's own
	// (pkg/containerd/programs).
	ConfDir string
	// DataDir keeps address allocations.
	DataDir string
	// Kubeconfig reads and annotates this node's Node object (the
	// kubelet's identity, which since Kubernetes 1.37 may read no other).
	Kubeconfig string
	// PeersKubeconfig watches every Node: the edgeos-agent identity, whose
	// role may list and watch them.
	PeersKubeconfig string
	NodeName        string
	// NodeIP is the overlay's source address; the uplink is the interface
	// holding it unless Iface names another.
	NodeIP string
	Iface  string
	// ExternalIP is published for other nodes to reach this one at
	// (default NodeIP).
	ExternalIP string
	// ClusterCIDR is the whole pod network: traffic leaving it from pods is
	// masqueraded.
	ClusterCIDR string
	// Metrics is where the count of overlay peers is published; nil:
	// nowhere.
	Metrics prometheus.Registerer
}

// Bridge is the node's pod bridge.
const Bridge = "edgeos0"

// ConfFile is the network config containerd loads.
const ConfFile = "10-edgeos.conflist"

// Network brings up the overlay and writes the network config once the
// controller-manager has given the node its podCIDR, then keeps the
// overlay's routes in step with the other nodes.
type Network struct{ cfg Config }

// New prepares the pod network.
func New(cfg Config) *Network { return &Network{cfg: cfg} }

func (n *Network) Name() string { return "pod-network" }

// Run is ready once the network config is written: at once when an earlier
// start wrote it (so a node starts while the server is unreachable; the
// overlay's kernel state of the earlier run keeps working meanwhile), else
// when the podCIDR is known and the overlay is up.
func (n *Network) Run(ctx context.Context, ready func()) error {
	if err := enableSysctls("/proc/sys"); err != nil {
		return err
	}
	conf := filepath.Join(n.cfg.ConfDir, ConfFile)
	if _, err := os.Stat(conf); err == nil {
		ready()
	}
	cs, err := kubeconfig.Client(n.cfg.Kubeconfig)
	if err != nil {
		return err
	}
	peersCS, err := kubeconfig.Client(n.cfg.PeersKubeconfig)
	if err != nil {
		return err
	}
	podCIDR, err := n.waitPodCIDR(ctx, cs)
	if err != nil {
		return err
	}
	up, err := uplink(n.cfg.Iface, n.cfg.NodeIP)
	if err != nil {
		return err
	}
	vx, err := ensureVXLAN(vxlanSpec{uplink: up, localIP: net.ParseIP(n.cfg.NodeIP), podCIDR: podCIDR})
	if err != nil {
		return err
	}
	if err := masquerade(n.cfg.ClusterCIDR); err != nil {
		return err
	}
	b, err := n.render(podCIDR.String(), vx.Attrs().MTU)
	if err != nil {
		return err
	}
	if old, _ := os.ReadFile(conf); string(old) != string(b) {
		if err := pki.WriteFile(conf, b, 0o644); err != nil {
			return err
		}
		logrus.Infof("Pod network: %s on bridge %s, overlay %s over %s", podCIDR, Bridge, VXLANDevice, up.Attrs().Name)
	}
	if err := n.publish(ctx, cs, vx.Attrs().HardwareAddr); err != nil {
		return err
	}
	ready()
	return n.followPeers(ctx, peersCS, vx)
}

func (n *Network) waitPodCIDR(ctx context.Context, cs kubernetes.Interface) (*net.IPNet, error) {
	for {
		node, err := cs.CoreV1().Nodes().Get(ctx, n.cfg.NodeName, metav1.GetOptions{})
		if err == nil && node.Spec.PodCIDR != "" {
			_, cidr, err := net.ParseCIDR(node.Spec.PodCIDR)
			if err != nil || cidr.IP.To4() == nil {
				return nil, fmt.Errorf("node podCIDR %q: the pod network is IPv4", node.Spec.PodCIDR)
			}
			return cidr, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// publish puts the VTEP MAC and public IP on this node's Node object,
// retrying while the server is unreachable.
func (n *Network) publish(ctx context.Context, cs kubernetes.Interface, mac net.HardwareAddr) error {
	public := n.cfg.ExternalIP
	if public == "" {
		public = n.cfg.NodeIP
	}
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{
		AnnotationVTEPMAC: mac.String(), AnnotationPublicIP: public,
	}}})
	if err != nil {
		return err
	}
	watch.Retry(ctx, "Overlay: publishing this node's VTEP", 2*time.Second, func(ctx context.Context) error {
		_, err := cs.CoreV1().Nodes().Patch(ctx, n.cfg.NodeName, types.MergePatchType, patch, metav1.PatchOptions{})
		return err
	})
	return nil
}

// followPeers programs the overlay for every other node, again whenever a
// node joins, leaves or changes, until ctx ends. The kernel state stays
// when edgeos stops, so pods keep talking across nodes meanwhile.
func (n *Network) followPeers(ctx context.Context, cs kubernetes.Interface, vx netlink.Link) error {
	factory := informers.NewSharedInformerFactory(cs, 10*time.Minute)
	nodes := factory.Core().V1().Nodes()
	programmed := telemetry.Gauge(n.cfg.Metrics, prometheus.GaugeOpts{Subsystem: "overlay", Name: "peers",
		Help: "Other nodes this node's VXLAN overlay reaches (programmed routes, neighbours and FDB entries)."})
	return watch.Loop(ctx, "Overlay", factory, []cache.SharedIndexInformer{nodes.Informer()},
		watch.Pause{AfterError: 5 * time.Second}, nil, func(context.Context) error {
			list, err := nodes.Lister().List(labels.Everything())
			if err != nil {
				return err
			}
			ps := peers(list, n.cfg.NodeName)
			if err := programPeers(vx, ps); err != nil {
				return err
			}
			programmed.Set(float64(len(ps)))
			return nil
		})
}

func (n *Network) render(podCIDR string, mtu int) ([]byte, error) {
	conf := plugin.NetConf{Bridge: Bridge, Subnet: podCIDR, MTU: mtu, DataDir: filepath.Join(n.cfg.DataDir, "networks")}
	conf.Type = plugin.Name
	conf.Capabilities = map[string]bool{"portMappings": true}
	list := map[string]any{
		"cniVersion": "1.0.0",
		"name":       "edgeos",
		"plugins":    []any{conf},
	}
	b, err := json.MarshalIndent(list, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("network config: %w", err)
	}
	return b, nil
}
