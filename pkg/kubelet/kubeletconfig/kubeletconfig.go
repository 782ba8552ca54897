// Package kubeletconfig renders the KubeletConfiguration file edgeos hands
// the kubelet: secure serving (webhook authentication and authorization, no
// read-only port), the node's own certificates, parallel image pulls, both
// cgroup versions, and the cluster's DNS.
package kubeletconfig

import (
	"os"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kubeletv1beta1 "k8s.io/kubelet/config/v1beta1"
	"sigs.k8s.io/yaml"
)

// Node is what the kubelet of one node must know.
type Node struct {
	ClientCAFile     string
	ServingCertFile  string
	ServingKeyFile   string
	RuntimeEndpoint  string
	CgroupDriver     string // "cgroupfs" or "systemd"
	ClusterDNS       string
	ClusterDomain    string
	PodLogsDir       string
	ResolvConf       string
	MaxParallelPulls int32
}

// Render returns the KubeletConfiguration as YAML.
func Render(n Node) ([]byte, error) {
	no, yes := false, true
	pulls := n.MaxParallelPulls
	if pulls == 0 {
		pulls = 3
	}
	cfg := kubeletv1beta1.KubeletConfiguration{
		TypeMeta: metav1.TypeMeta{APIVersion: "kubelet.config.k8s.io/v1beta1", Kind: "KubeletConfiguration"},
		Authentication: kubeletv1beta1.KubeletAuthentication{
			Anonymous: kubeletv1beta1.KubeletAnonymousAuthentication{Enabled: &no},
			Webhook:   kubeletv1beta1.KubeletWebhookAuthentication{Enabled: &yes},
			X509:      kubeletv1beta1.KubeletX509Authentication{ClientCAFile: n.ClientCAFile},
		},
		Authorization:            kubeletv1beta1.KubeletAuthorization{Mode: kubeletv1beta1.KubeletAuthorizationModeWebhook},
		ReadOnlyPort:             0,
		TLSCertFile:              n.ServingCertFile,
		TLSPrivateKeyFile:        n.ServingKeyFile,
		ContainerRuntimeEndpoint: "unix://" + n.RuntimeEndpoint,
		CgroupDriver:             n.CgroupDriver,
		FailCgroupV1:             &no,
		FailSwapOn:               &no,
		SerializeImagePulls:      &no,
		MaxParallelImagePulls:    &pulls,
		ClusterDomain:            n.ClusterDomain,
		PodLogsDir:               n.PodLogsDir,
		ResolverConfig:           &n.ResolvConf,
		StaticPodPath:            "",
	}
	if n.ClusterDNS != "" {
		cfg.ClusterDNS = []string{n.ClusterDNS}
	}
	return yaml.Marshal(cfg)
}

// HostResolvConf is the resolv.conf pods inherit: systemd-resolved's
// upstream file where the host uses the stub resolver, else /etc/resolv.conf.
func HostResolvConf() string {
	const resolved = "/run/systemd/resolve/resolv.conf"
	if _, err := os.Stat(resolved); err == nil {
		return resolved
	}
	return "/etc/resolv.conf"
}
