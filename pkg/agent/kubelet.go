package agent

import (
	"path/filepath"
	"strconv"
	"strings"

	"github.com/edgeos/edgeos/pkg/join"
	"github.com/edgeos/edgeos/pkg/kubelet"
	"github.com/edgeos/edgeos/pkg/kubelet/kubeletconfig"
	"github.com/edgeos/edgeos/pkg/multicall"
	"github.com/edgeos/edgeos/pkg/pki"
)

// podLogsDir is where the kubelet keeps the containers' logs (upstream's
// place, where log collectors look).
const podLogsDir = "/var/log/pods"

// kubeletComponent writes the kubelet's kubeconfig and config file and
// returns the kubelet with its flags.
func kubeletComponent(cfg Config, runtimeEndpoint, cgroupDriver string) (*kubelet.Kubelet, error) {
	tls := func(f string) string { return filepath.Join(cfg.TLSDir(), f) }
	kc := cfg.kubeletKubeconfig()
	if err := cfg.writeKubeconfig(kc, join.ClientCertFile, join.ClientKeyFile); err != nil {
		return nil, err
	}
	file, err := kubeletconfig.Render(kubeletconfig.Node{
		ClientCAFile:    tls(join.ClientCAFile),
		ServingCertFile: tls(join.ServingCertFile),
		ServingKeyFile:  tls(join.ServingKeyFile),
		RuntimeEndpoint: runtimeEndpoint,
		CgroupDriver:    cgroupDriver,
		ClusterDNS:      cfg.Cluster.ClusterDNS,
		ClusterDomain:   cfg.Cluster.ClusterDomain,
		PodLogsDir:      podLogsDir,
		ResolvConf:      cfg.resolvConf(),
	})
	if err != nil {
		return nil, err
	}
	configFile := cfg.dir("etc", "kubelet.yaml")
	if err := pki.WriteFile(configFile, file, 0o600); err != nil {
		return nil, err
	}
	args := map[string]string{
		"config":            configFile,
		"kubeconfig":        kc,
		"hostname-override": cfg.NodeName,
		"node-ip":           strings.Join(cfg.NodeIPs, ","),
		"root-dir":          cfg.dir("kubelet"),
		"cert-dir":          cfg.TLSDir(),
	}
	if cfg.Verbosity > 0 {
		args["v"] = strconv.Itoa(cfg.Verbosity)
	}
	if len(cfg.Node.Labels) > 0 {
		args["node-labels"] = strings.Join(cfg.Node.Labels, ",")
	}
	if len(cfg.Node.Taints) > 0 {
		args["register-with-taints"] = strings.Join(cfg.Node.Taints, ",")
	}
	return kubelet.New(multicall.Flags(multicall.Merge(args, cfg.Node.KubeletArgs))), nil
}

func (c Config) kubeletKubeconfig() string { return c.dir("etc", "kubelet.kubeconfig") }

// resolvConf is --resolv-conf, or the host's as the kubelet would pick it.
func (c Config) resolvConf() string {
	if c.Node.ResolvConf != "" {
		return c.Node.ResolvConf
	}
	return kubeletconfig.HostResolvConf()
}
