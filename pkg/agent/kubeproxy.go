package agent

import (
	"path/filepath"
	"strconv"

	"github.com/edgeos/edgeos/pkg/join"
	"github.com/edgeos/edgeos/pkg/kubeconfig"
	"github.com/edgeos/edgeos/pkg/kubeproxy"
	"github.com/edgeos/edgeos/pkg/multicall"
)

// kubeProxyComponent writes kube-proxy's kubeconfig and returns it with its
// flags.
func kubeProxyComponent(cfg Config) (*kubeproxy.KubeProxy, error) {
	kc := cfg.kubeProxyKubeconfig()
	if err := cfg.writeKubeconfig(kc, join.ProxyCertFile, join.ProxyKeyFile); err != nil {
		return nil, err
	}
	args := map[string]string{
		"kubeconfig":           kc,
		"hostname-override":    cfg.NodeName,
		"proxy-mode":           "iptables",
		"cluster-cidr":         cfg.Cluster.ClusterCIDR,
		"healthz-bind-address": kubeproxy.HealthzAddress,
		// kube-proxy's metrics server serves the process's one registry
		// (pkg/telemetry): the node-local endpoint. Upstream cannot turn it
		// off, so a server's node keeps it on loopback beside the API
		// port's /metrics.
		"metrics-bind-address": kubeproxy.MetricsAddress,
		"nodeport-addresses":   "primary",
	}
	if cfg.MetricsBindAddress != "" {
		args["metrics-bind-address"] = cfg.MetricsBindAddress
	}
	if len(cfg.NodeIPs) > 0 {
		args["bind-address"] = cfg.NodeIPs[0]
	}
	if cfg.Verbosity > 0 {
		args["v"] = strconv.Itoa(cfg.Verbosity)
	}
	return kubeproxy.New(multicall.Flags(multicall.Merge(args, cfg.Node.KubeProxyArgs))), nil
}

func (c Config) kubeProxyKubeconfig() string { return c.dir("etc", "kube-proxy.kubeconfig") }

// agentKubeconfig is the identity of edgeos's own node-side workers
// (overlay, cluster DNS, local storage).
func (c Config) agentKubeconfig() string { return c.dir("etc", "edgeos-agent.kubeconfig") }

// writeKubeconfig writes a kubeconfig for one of the node's identities:
// the server's CA, and the certificate and key of that name in the node's
// TLS dir.
func (c Config) writeKubeconfig(path, certFile, keyFile string) error {
	tls := func(f string) string { return filepath.Join(c.TLSDir(), f) }
	return kubeconfig.Write(path, 0o600, kubeconfig.Spec{
		Server: c.Server, CAFile: tls(join.ServerCAFile), CertFile: tls(certFile), KeyFile: tls(keyFile),
	})
}
