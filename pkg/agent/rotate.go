package agent

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"strings"

	"github.com/edgeos/edgeos/pkg/apilb"
	"github.com/edgeos/edgeos/pkg/join"
	"github.com/edgeos/edgeos/pkg/pki"
	"k8s.io/client-go/tools/clientcmd"
)

// RotateCertificates renews now, through the server's bootstrap API, every
// certificate of a joined agent: `edgeos certificate rotate` on an agent.
// The server, node name and addresses are the ones the running agent
// uses; token is tried if the node's client certificate has expired.
func RotateCertificates(ctx context.Context, dataDir, token string) ([]string, error) {
	cfg := Config{DataDir: dataDir}
	kc, err := clientcmd.LoadFromFile(cfg.kubeletKubeconfig())
	if err != nil {
		return nil, fmt.Errorf("the agent's kubeconfig (has it run since it joined?): %w", err)
	}
	cur := kc.Contexts[kc.CurrentContext]
	if cur == nil || kc.Clusters[cur.Cluster] == nil {
		return nil, fmt.Errorf("%s names no server", cfg.kubeletKubeconfig())
	}
	cluster := kc.Clusters[cur.Cluster]
	tls := func(f string) string { return filepath.Join(cfg.TLSDir(), f) }
	client, _, err := pki.Load(tls(join.ClientCertFile), tls(join.ClientKeyFile))
	if err != nil {
		return nil, err
	}
	node, ok := strings.CutPrefix(client.Subject.CommonName, "system:node:")
	if !ok {
		return nil, fmt.Errorf("%s is not a node's certificate (%s)", tls(join.ClientCertFile), client.Subject.CommonName)
	}
	serving, _, err := pki.Load(tls(join.ServingCertFile), tls(join.ServingKeyFile))
	if err != nil {
		return nil, err
	}
	var ips []string
	for _, ip := range serving.IPAddresses {
		if !ip.Equal(net.IPv4(127, 0, 0, 1)) {
			ips = append(ips, ip.String())
		}
	}
	// the running agent's load balancer; a stopped agent's: --server and
	// the servers it kept
	servers := []string{cluster.Server}
	if kept, err := apilb.Load(cfg.serversFile()); err == nil {
		for _, s := range append([]string{kept.Server}, kept.Servers...) {
			if u := "https://" + s; s != "" && !slices.Contains(servers, u) {
				servers = append(servers, u)
			}
		}
	}
	var errs []error
	for _, s := range servers {
		renewed, err := join.Renew(ctx, join.RenewConfig{
			Server: s, NodeName: node, NodeIPs: ips, Dir: cfg.TLSDir(), Token: token, Force: true,
		})
		if err == nil {
			return renewed, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", s, err))
	}
	return nil, errors.Join(errs...)
}
