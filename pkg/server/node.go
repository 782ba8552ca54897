package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"

	"github.com/edgeos/edgeos/pkg/agent"
	"github.com/edgeos/edgeos/pkg/bootstrap"
	"github.com/edgeos/edgeos/pkg/join"
	"github.com/edgeos/edgeos/pkg/nodepassword"
	"github.com/edgeos/edgeos/pkg/pki"
	"k8s.io/client-go/kubernetes"
)

// nodeConfig is the server's own node: it gets the same files a joined
// agent gets, signed here instead of through the bootstrap API.
func (s *Server) nodeConfig(ctx context.Context, cs kubernetes.Interface) (agent.Config, error) {
	cfg := agent.Config{
		DataDir:  s.cfg.DataDir,
		Debug:    s.cfg.Debug,
		Server:   s.localURL(),
		NodeName: s.cfg.NodeName,
		NodeIPs:  s.cfg.NodeIPs,
		Cluster:  s.clusterInfo(),
		Node:     s.cfg.Node,
	}
	dir := cfg.TLSDir()
	c := s.certs
	node := pki.Leaf{CommonName: "system:node:" + s.cfg.NodeName, Organization: []string{"system:nodes"}}
	if _, err := c.clientCA.EnsureLeaf(filepath.Join(dir, join.ClientCertFile), filepath.Join(dir, join.ClientKeyFile), node); err != nil {
		return cfg, err
	}
	if _, err := c.clientCA.EnsureLeaf(filepath.Join(dir, join.ProxyCertFile), filepath.Join(dir, join.ProxyKeyFile), bootstrap.KubeProxyLeaf); err != nil {
		return cfg, err
	}
	if _, err := c.clientCA.EnsureLeaf(filepath.Join(dir, join.AgentCertFile), filepath.Join(dir, join.AgentKeyFile), bootstrap.AgentLeaf(s.cfg.NodeName)); err != nil {
		return cfg, err
	}
	serving := node
	serving.Server = true
	serving.DNSNames = []string{s.cfg.NodeName, "localhost"}
	for _, ip := range s.cfg.NodeIPs {
		serving.IPs = append(serving.IPs, net.ParseIP(ip))
	}
	if _, err := c.kubeletCA.EnsureLeaf(filepath.Join(dir, join.ServingCertFile), filepath.Join(dir, join.ServingKeyFile), serving); err != nil {
		return cfg, err
	}
	serverCA, err := os.ReadFile(c.serverCA.CertFile)
	if err != nil {
		return cfg, err
	}
	for name, data := range map[string][]byte{join.ServerCAFile: serverCA, join.ClientCAFile: c.clientCA.PEM()} {
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
		ClusterCIDR:         s.cfg.ClusterCIDR,
		ServiceCIDR:         s.cfg.ServiceCIDR,
		ClusterDNS:          s.cfg.ClusterDNS,
		ClusterDomain:       s.cfg.ClusterDomain,
		ClientCA:            string(s.certs.clientCA.PEM()),
		DisableDNS:          s.cfg.Disabled("dns"),
		DisableLocalStorage: s.cfg.Disabled("local-storage"),
	}
}
