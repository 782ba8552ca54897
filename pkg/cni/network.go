package cni

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/edgeos/edgeos/pkg/multicall"
	"github.com/edgeos/edgeos/pkg/pki"
	"github.com/sirupsen/logrus"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// Config places the node's pod network.
type Config struct {
	// ConfDir and BinDir are containerd's CNI directories.
	ConfDir, BinDir string
	// DataDir keeps address allocations.
	DataDir string
	// Kubeconfig reads this node's Node object (the kubelet's identity).
	Kubeconfig string
	NodeName   string
	// NodeIP finds the uplink, whose MTU pods get.
	NodeIP string
}

// Bridge is the node's pod bridge.
const Bridge = "edgeos0"

// ConfFile is the network config containerd loads.
const ConfFile = "10-edgeos.conflist"

// Network links the plugin and writes the network config once the
// controller-manager has given the node its podCIDR.
type Network struct{ cfg Config }

// New prepares the pod network.
func New(cfg Config) *Network { return &Network{cfg: cfg} }

func (n *Network) Name() string { return "pod-network" }

// Run is ready once the network config is written: at once when an earlier
// start wrote it (so a node starts while the server is unreachable), else
// when the podCIDR is known.
func (n *Network) Run(ctx context.Context, ready func()) error {
	for _, name := range []string{PluginName, LoopbackName} {
		if err := multicall.Link(n.cfg.BinDir, name); err != nil {
			return err
		}
	}
	if err := enableSysctls("/proc/sys"); err != nil {
		return err
	}
	conf := filepath.Join(n.cfg.ConfDir, ConfFile)
	if _, err := os.Stat(conf); err == nil {
		ready()
	}
	podCIDR, err := n.waitPodCIDR(ctx)
	if err != nil {
		return err
	}
	b, err := n.render(podCIDR)
	if err != nil {
		return err
	}
	if old, _ := os.ReadFile(conf); string(old) != string(b) {
		if err := pki.WriteFile(conf, b, 0o644); err != nil {
			return err
		}
		logrus.Infof("Pod network: %s on bridge %s", podCIDR, Bridge)
	}
	ready()
	<-ctx.Done()
	return nil
}

func (n *Network) waitPodCIDR(ctx context.Context) (string, error) {
	rc, err := clientcmd.BuildConfigFromFlags("", n.cfg.Kubeconfig)
	if err != nil {
		return "", err
	}
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return "", err
	}
	for {
		node, err := cs.CoreV1().Nodes().Get(ctx, n.cfg.NodeName, metav1.GetOptions{})
		if err == nil && node.Spec.PodCIDR != "" {
			return node.Spec.PodCIDR, nil
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

func (n *Network) render(podCIDR string) ([]byte, error) {
	plugin := NetConf{Bridge: Bridge, Subnet: podCIDR, MTU: uplinkMTU(n.cfg.NodeIP), DataDir: filepath.Join(n.cfg.DataDir, "networks")}
	plugin.Type = PluginName
	plugin.Capabilities = map[string]bool{"portMappings": true}
	list := map[string]any{
		"cniVersion": "1.0.0",
		"name":       "edgeos",
		"plugins":    []any{plugin},
	}
	b, err := json.MarshalIndent(list, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("network config: %w", err)
	}
	return b, nil
}

// uplinkMTU is the MTU of the interface that holds the node's address.
func uplinkMTU(nodeIP string) int {
	ifaces, _ := net.Interfaces()
	for _, ifc := range ifaces {
		addrs, _ := ifc.Addrs()
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && n.IP.String() == nodeIP {
				return ifc.MTU
			}
		}
	}
	return 1500
}
