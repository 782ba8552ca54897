package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/edgeos/edgeos/pkg/agent"
	"github.com/edgeos/edgeos/pkg/bootstrap"
	"github.com/edgeos/edgeos/pkg/component"
	"github.com/edgeos/edgeos/pkg/join"
	"github.com/edgeos/edgeos/pkg/nodepassword"
	"github.com/edgeos/edgeos/pkg/pki"
	"github.com/sirupsen/logrus"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
)

// nodeConfig is the server's own node: it gets the same files a joined
// agent gets, signed here instead of through the bootstrap API.
func (s *Server) nodeConfig(ctx context.Context, cs kubernetes.Interface) (agent.Config, error) {
	cfg := agent.Config{
		DataDir: s.cfg.DataDir,
		Debug:   s.cfg.Debug,
		// the node's components log as verbosely as the control plane
		Verbosity:  s.cfg.Verbosity,
		Server:     s.localURL(),
		NodeName:   s.cfg.NodeName,
		NodeIPs:    s.cfg.NodeIPs,
		Cluster:    s.clusterInfo(),
		Node:       s.cfg.Node,
		Registries: s.cfg.Registries,
		LogForward: s.cfg.LogForward,
		OwnLogs:    s.ownLogs,
	}
	dir := cfg.TLSDir()
	c := s.certs
	if _, err := ensureLeaves(s.nodeLeaves(dir), c.lifetime); err != nil {
		return cfg, err
	}
	serverCA, err := os.ReadFile(c.serverCA.CertFile)
	if err != nil {
		return cfg, err
	}
	for name, data := range map[string][]byte{join.ServerCAFile: serverCA, join.ClientCAFile: c.clientCA.PEM(), join.KubeletCAFile: c.kubeletCA.PEM()} {
		if err := pki.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return cfg, err
		}
	}
	// Claim the node name as any joining machine would, so that no agent
	// can take the server's own node.
	password, err := s.nodePassword(dir)
	if err != nil {
		return cfg, err
	}
	if err := (nodepassword.Store{Secrets: cs.CoreV1()}).Verify(ctx, s.cfg.NodeName, password); err != nil {
		if errors.Is(err, bootstrap.ErrNodeTaken) {
			return cfg, fmt.Errorf("node name %q belongs to another machine; give this server another --node-name", s.cfg.NodeName)
		}
		return cfg, err
	}
	return cfg, nil
}

// nodeLeaves are the certificates of the server's own node, signed here
// as the bootstrap API signs them for a joining node.
func (s *Server) nodeLeaves(dir string) []leafFile {
	c := s.certs
	node := pki.Leaf{CommonName: "system:node:" + s.cfg.NodeName, Organization: []string{"system:nodes"}}
	serving := node
	serving.Server = true
	serving.DNSNames = []string{s.cfg.NodeName, "localhost"}
	for _, ip := range s.cfg.NodeIPs {
		serving.IPs = append(serving.IPs, net.ParseIP(ip))
	}
	path := func(f string) string { return filepath.Join(dir, f) }
	return []leafFile{
		{c.clientCA, path(join.ClientCertFile), path(join.ClientKeyFile), node},
		{c.clientCA, path(join.ProxyCertFile), path(join.ProxyKeyFile), bootstrap.KubeProxyLeaf},
		{c.clientCA, path(join.AgentCertFile), path(join.AgentKeyFile), bootstrap.AgentLeaf(s.cfg.NodeName)},
		{c.kubeletCA, path(join.ServingCertFile), path(join.ServingKeyFile), serving},
	}
}

func (s *Server) nodePassword(dir string) (string, error) {
	p, err := join.NodePassword(dir)
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, join.NodePasswordFile)
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		err = pki.WriteFile(path, []byte(p+"\n"), 0o600)
		return p, err
	}
	return p, nil
}

// clusterInfo is what nodes are told about the cluster.
func (s *Server) clusterInfo() bootstrap.NodeConfig {
	return bootstrap.NodeConfig{
		ClusterCIDR:          s.cfg.ClusterCIDR,
		ServiceCIDR:          s.cfg.ServiceCIDR,
		ClusterDNS:           s.cfg.ClusterDNS,
		ClusterDomain:        s.cfg.ClusterDomain,
		ClientCA:             string(s.certs.clientCA.PEM()),
		DisableDNS:           s.cfg.Disabled("dns"),
		DisableLocalStorage:  s.cfg.Disabled("local-storage"),
		DisableNetworkPolicy: s.cfg.Disabled("network-policy"),
		KubeletCA:            string(s.certs.kubeletCA.PEM()),
		EmbeddedRegistry:     s.cfg.EmbeddedRegistry,
	}
}

// ControlPlaneLabel marks the server's own node, as kubeadm and k3s do.
const ControlPlaneLabel = "node-role.kubernetes.io/control-plane"

// controlPlaneLabel labels the server's node once it has registered. A
// kubelet may not set node-role labels on itself (NodeRestriction), so the
// server does, with its own client; the start does not wait for it.
func controlPlaneLabel(cs kubernetes.Interface, node string) component.Component {
	return component.Func{Label: "control-plane-label", Fn: func(ctx context.Context, ready func()) error {
		ready()
		patch := []byte(`{"metadata":{"labels":{"` + ControlPlaneLabel + `":"true"}}}`)
		for delay := time.Second; ; delay = min(2*delay, 30*time.Second) {
			n, err := cs.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
			if err == nil && n.Labels[ControlPlaneLabel] == "true" {
				break
			}
			if err == nil {
				_, err = cs.CoreV1().Nodes().Patch(ctx, node, types.MergePatchType, patch, metav1.PatchOptions{})
			}
			if err == nil {
				break
			}
			if !apierrors.IsNotFound(err) && ctx.Err() == nil {
				logrus.Debugf("Labelling node %s %s: %v (trying again)", node, ControlPlaneLabel, err)
			}
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(delay):
			}
		}
		<-ctx.Done()
		return nil
	}}
}
