// Package agent is the node side of edgeos, run by `edgeos server` (unless
// --disable-agent) and by `edgeos agent`. It owns <data-dir>/agent and
// /run/edgeos: containerd, the built-in and air-gap images, the kubelet, the
// pod network and kube-proxy.
package agent

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"

	"github.com/edgeos/edgeos/pkg/bootstrap"
	"github.com/edgeos/edgeos/pkg/cni"
	"github.com/edgeos/edgeos/pkg/component"
	"github.com/edgeos/edgeos/pkg/config"
	"github.com/edgeos/edgeos/pkg/containerd"
	"github.com/edgeos/edgeos/pkg/containerd/programs"
	"github.com/edgeos/edgeos/pkg/dns"
	"github.com/edgeos/edgeos/pkg/gateway"
	"github.com/edgeos/edgeos/pkg/images"
	"github.com/edgeos/edgeos/pkg/ingress"
	"github.com/edgeos/edgeos/pkg/join"
	"github.com/edgeos/edgeos/pkg/logforward"
	"github.com/edgeos/edgeos/pkg/mirror"
	"github.com/edgeos/edgeos/pkg/netpol"
	"github.com/edgeos/edgeos/pkg/pageout"
	"github.com/edgeos/edgeos/pkg/pause"
	"github.com/edgeos/edgeos/pkg/registries"
	"github.com/edgeos/edgeos/pkg/rewrite"
	"github.com/edgeos/edgeos/pkg/storage/localpath"
	"github.com/edgeos/edgeos/pkg/telemetry"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sirupsen/logrus"
)

// RunDir holds the node's runtime state, on tmpfs.
const RunDir = "/run/edgeos"

// containerdState is containerd's state dir, with its socket.
var containerdState = filepath.Join(RunDir, "containerd")

// ContainerdAddress is the node's containerd socket.
func ContainerdAddress() string { return containerd.Config{State: containerdState}.Address() }

// Config is what the node is told.
type Config struct {
	DataDir string
	Debug   bool
	// Verbosity is the kubelet's and kube-proxy's -v (0: upstream's).
	Verbosity int
	// Server is the API URL the kubelet talks to.
	Server   string
	NodeName string
	NodeIPs  []string
	// Cluster is what the server said about the cluster.
	Cluster bootstrap.NodeConfig
	Node    config.Node
	// MetricsBindAddress is where the node serves its Prometheus metrics;
	// empty: kube-proxy's default, loopback.
	MetricsBindAddress string
	// Registries is what registries.yaml tells containerd.
	Registries *registries.File
	// LogForward is where the node ships its logs; OwnLogs holds
	// edgeos's own lines for it.
	LogForward config.LogForward
	OwnLogs    *logforward.Own
}

func (c Config) dir(parts ...string) string {
	return filepath.Join(append([]string{c.DataDir, "agent"}, parts...)...)
}

// Components are the node's parts, in start order.
func Components(cfg Config) ([]component.Component, error) {
	restrict, err := restrictOOMScoreAdj()
	if err != nil {
		return nil, err
	}
	// runc and the kubelet must use the same cgroup driver
	systemd := systemdIsInit()
	binDir, cniConfDir := cfg.dir("bin"), cfg.dir("etc", "cni", "net.d")
	certsDir := cfg.dir("etc", "containerd", "certs.d")
	rw, err := rewriteProxy(cfg.Registries)
	if err != nil {
		return nil, err
	}
	// one registry for the process: the server's API port serves it, and
	// an agent's node-local endpoint
	reg := telemetry.Process()
	ctrd := containerd.New(containerd.Config{
		Root:                cfg.dir("containerd"),
		State:               containerdState,
		BinDir:              binDir,
		ConfigFile:          cfg.dir("etc", "containerd", "config.toml"),
		CertsDir:            certsDir,
		Registries:          registries.MakePlan(cfg.Registries, registries.Node{Rewrite: rw.Proxy()}),
		SandboxImage:        pause.Image,
		CNIBinDir:           binDir,
		CNIConfDir:          cniConfDir,
		SystemdCgroup:       systemd,
		RestrictOOMScoreAdj: restrict,
		Debug:               cfg.Debug,
		ShimPageOutAfter:    cfg.Node.PageOutAfter,
		Metrics:             reg,
	})
	driver := "cgroupfs"
	if systemd {
		driver = "systemd"
	}
	kl, err := kubeletComponent(cfg, ctrd.Address(), driver)
	if err != nil {
		return nil, err
	}
	proxy, err := kubeProxyComponent(cfg)
	if err != nil {
		return nil, err
	}
	if err := cfg.writeKubeconfig(cfg.agentKubeconfig(), join.AgentCertFile, join.AgentKeyFile); err != nil {
		return nil, err
	}
	var cs []component.Component
	if rw.Config.Registries != nil {
		cs = append(cs, rewrite.New(rw.Config))
	}
	cs = append(cs,
		ctrd,
		&images.Loader{
			Address: ctrd.Address(),
			Dir:     cfg.dir("images"),
			Builtin: map[string][]byte{pause.Image: pause.Archive},
		},
	)
	if cfg.Cluster.EmbeddedRegistry {
		tls := func(f string) string { return filepath.Join(cfg.TLSDir(), f) }
		cs = append(cs, mirror.New(mirror.Config{
			NodeName: cfg.NodeName, NodeIP: cfg.NodeIPs[0], Port: mirror.Port,
			Containerd: ctrd.Address(), Kubeconfig: cfg.agentKubeconfig(),
			ServingCert: tls(join.ServingCertFile), ServingKey: tls(join.ServingKeyFile), ClientCA: tls(join.ClientCAFile),
			PeerCA: tls(join.KubeletCAFile), ClientCert: tls(join.ClientCertFile), ClientKey: tls(join.ClientKeyFile),
			CertsDir: certsDir, Registries: cfg.Registries, Rewrite: rw.Proxy(), Metrics: reg,
		}))
	}
	if !cfg.Cluster.DisableDNS {
		d, err := dnsComponent(cfg, reg)
		if err != nil {
			return nil, err
		}
		cs = append(cs, d)
	}
	cs = append(cs, kl)
	if !cfg.Cluster.DisableLocalStorage {
		path := cfg.Node.LocalStoragePath
		if path == "" {
			path = filepath.Join(cfg.DataDir, "storage")
		}
		cs = append(cs, localpath.NewNode(localpath.NodeConfig{
			Path: path, NodeName: cfg.NodeName,
			NodeKubeconfig: cfg.kubeletKubeconfig(), VolumesKubeconfig: cfg.agentKubeconfig(),
		}))
	}
	if cfg.Node.CNI == config.CNIEdgeos {
		cs = append(cs, cni.New(cni.Config{
			ConfDir:         cniConfDir,
			DataDir:         cfg.dir("cni"),
			Kubeconfig:      cfg.kubeletKubeconfig(),
			PeersKubeconfig: cfg.agentKubeconfig(),
			NodeName:        cfg.NodeName,
			NodeIP:          cfg.NodeIPs[0],
			Iface:           cfg.Node.OverlayIface,
			ExternalIP:      cfg.Node.ExternalIP,
			ClusterCIDR:     cfg.Cluster.ClusterCIDR,
			Metrics:         reg,
		}))
	} else {
		logrus.Infof("--cni %s: the node stays NotReady until a CNI config appears in %s", cfg.Node.CNI, cniConfDir)
	}
	if cfg.Node.CNI == config.CNIEdgeos {
		// the rules follow the addresses edgeos's pod network gives;
		// another CNI brings its own enforcement
		cs = append(cs, netpol.New(netpol.Config{
			NodeName: cfg.NodeName, Kubeconfig: cfg.agentKubeconfig(), Off: cfg.Cluster.DisableNetworkPolicy,
		}))
	}
	cs = append(cs, proxy, ingress.NewNode(ingress.NodeConfig{
		NodeName:       cfg.NodeName,
		Addresses:      cfg.NodeIPs,
		Kubeconfig:     cfg.agentKubeconfig(),
		NodeKubeconfig: cfg.kubeletKubeconfig(),
		Off:            cfg.Node.DisableIngressProxy,
		Metrics:        reg,
		Gateway:        gateway.NewNodeSource,
		StateDir:       cfg.dir("ingress"),
	}))
	if cfg.LogForward.On() {
		// after the parts whose lines it ships; edgeos's own lines wait
		// for it in OwnLogs
		cs = append(cs, logforward.New(logforward.Config{
			Target: cfg.LogForward.Target, NodeName: cfg.NodeName, Dir: cfg.dir("log-forward"), PodLogs: podLogsDir,
			BufferBytes: cfg.LogForward.BufferBytes, Own: cfg.OwnLogs, Metrics: reg,
		}))
	}
	if cfg.Node.PageOutAfter > 0 {
		cs = append(cs, pageout.New(pageout.Config{After: cfg.Node.PageOutAfter, BinDir: binDir, SelfPaging: []string{programs.Containerd}, OwnClock: []string{programs.Shim}}))
	}
	return cs, nil
}

// rewrites is the node's rewrite proxy (pkg/rewrite): run only where a
// mirror of registries.yaml has rewrites, with a new secret each start.
type rewrites struct{ rewrite.Config }

// Proxy is where containerd reaches it; empty when it does not run.
func (r rewrites) Proxy() registries.RewriteProxy {
	if r.Registries == nil {
		return registries.RewriteProxy{}
	}
	return registries.RewriteProxy{URL: r.URL(), Secret: r.Secret}
}

func rewriteProxy(f *registries.File) (rewrites, error) {
	if f == nil || len(f.Routes()) == 0 {
		return rewrites{}, nil
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return rewrites{}, err
	}
	return rewrites{rewrite.Config{
		Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(rewrite.Port)), Secret: hex.EncodeToString(b), Registries: f,
	}}, nil
}

// restrictOOMScoreAdj turns containerd's restrict_oom_score_adj on only
// where edgeos lacks CAP_SYS_RESOURCE (some containers and sandboxes): there
// runc cannot give a pod an OOM score below its own, and every sandbox
// would fail.
func restrictOOMScoreAdj() (bool, error) {
	has, err := containerd.HasSysResource()
	if err != nil {
		return false, err
	}
	if !has {
		logrus.Warn("edgeos lacks CAP_SYS_RESOURCE: containers get an OOM score no lower than containerd's (restrict_oom_score_adj)")
	}
	return !has, nil
}

// systemdIsInit reports whether systemd manages this host's cgroups, in
// which case runc and the kubelet use the systemd cgroup driver.
func systemdIsInit() bool {
	_, err := os.Stat("/run/systemd/system")
	return err == nil
}

// dnsComponent is the node's cluster DNS, answering on the cluster DNS
// address, watching with the edgeos-agent identity.
func dnsComponent(cfg Config, reg prometheus.Registerer) (*dns.DNS, error) {
	addr := net.ParseIP(cfg.Cluster.ClusterDNS)
	if addr == nil {
		return nil, fmt.Errorf("the server's cluster DNS address %q is not an IP address", cfg.Cluster.ClusterDNS)
	}
	var reverse []*net.IPNet
	for _, c := range []string{cfg.Cluster.ServiceCIDR, cfg.Cluster.ClusterCIDR} {
		if _, n, err := net.ParseCIDR(c); err == nil {
			reverse = append(reverse, n)
		}
	}
	return dns.New(dns.Config{
		Kubeconfig: cfg.agentKubeconfig(),
		Address:    addr,
		Domain:     cfg.Cluster.ClusterDomain,
		ResolvConf: cfg.resolvConf(),
		Reverse:    reverse,
		Metrics:    reg,
	}), nil
}
