package agent

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/edgeos/edgeos/pkg/join"
	"github.com/edgeos/edgeos/pkg/kubeconfig"
	"github.com/edgeos/edgeos/pkg/kubelet"
	"github.com/edgeos/edgeos/pkg/kubelet/kubeletconfig"
	"github.com/edgeos/edgeos/pkg/multicall"
	"github.com/edgeos/edgeos/pkg/pki"
)

// kubeletComponent writes the kubelet's kubeconfig and config file and
// returns the kubelet with its flags.
func kubeletComponent(cfg Config, runtimeEndpoint, cgroupDriver string) (*kubelet.Kubelet, error) {
	tls := func(f string) string { return filepath.Join(cfg.TLSDir(), f) }
	kc := cfg.kubeletKubeconfig()
	if err := kubeconfig.Write(kc, 0o600, kubeconfig.Spec{
		Server: cfg.Server, CAFile: tls(join.ServerCAFile), CertFile: tls(join.ClientCertFile), KeyFile: tls(join.ClientKeyFile),
	}); err != nil {
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
		PodLogsDir:      "/var/log/pods",
		ResolvConf:      kubeletconfig.HostResolvConf(),
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
	if len(cfg.NodeLabels) > 0 {
		args["node-labels"] = strings.Join(cfg.NodeLabels, ",")
	}
	if len(cfg.NodeTaints) > 0 {
		args["register-with-taints"] = strings.Join(cfg.NodeTaints, ",")
	}
	for _, kv := range cfg.KubeletArgs {
		k, v, _ := strings.Cut(kv, "=")
		args[strings.TrimPrefix(k, "--")] = v
	}
	return kubelet.New(multicall.Flags(args)), nil
}

func (c Config) kubeletKubeconfig() string { return c.dir("etc", "kubelet.kubeconfig") }

// ValidateKubeletArgs checks --kubelet-arg values have the key=value form.
func ValidateKubeletArgs(args []string) error {
	for _, a := range args {
		if k, _, ok := strings.Cut(a, "="); !ok || strings.TrimPrefix(k, "--") == "" {
			return fmt.Errorf("--kubelet-arg %q must be key=value", a)
		}
	}
	return nil
}
