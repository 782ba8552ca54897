package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/edgeos/edgeos/pkg/datastore"
	"github.com/edgeos/edgeos/pkg/multicall"
	"github.com/edgeos/edgeos/pkg/pki"
	"github.com/edgeos/edgeos/pkg/registries"
	"github.com/edgeos/edgeos/pkg/vip"
	"github.com/robfig/cron/v3"
)

// Server is everything `edgeos server` is told, from flags, environment or
// config file.
type Server struct {
	DataDir             string
	WriteKubeconfig     string
	WriteKubeconfigMode string
	HTTPSListenPort     int
	BindAddress         string
	AdvertiseAddress    string
	NodeIPs             []string
	NodeName            string
	TLSSANs             []string
	ClusterCIDR         string
	ServiceCIDR         string
	ClusterDNS          string
	ClusterDomain       string
	Token               string
	TokenFile           string
	// Datastore is handed to the datastore component as is; the server
	// fills in only the directory it owns.
	Datastore datastore.Config
	// CertificateLifetime is how long the leaf certificates the server
	// signs (its own and its nodes') are valid.
	CertificateLifetime time.Duration
	// SecretsEncryption sets up a new cluster (or one that has no
	// encryption configuration yet) to encrypt Secrets at rest.
	SecretsEncryption bool
	// Snapshots of the embedded datastore: a cron schedule, how many
	// scheduled ones to keep, where (empty: <data-dir>/server/db/snapshots).
	SnapshotSchedule  string
	SnapshotRetention int
	SnapshotDir       string
	DisableSnapshots  bool
	// ManifestsDir is the auto-deploy directory (empty:
	// <data-dir>/server/manifests).
	ManifestsDir string
	// MetricsResolution is how often the resource metrics are read from
	// every kubelet.
	MetricsResolution time.Duration
	// DisableHelmController leaves HelmCharts alone.
	DisableHelmController bool
	// ClusterReset with RestorePath restores a snapshot and ends.
	ClusterReset bool
	RestorePath  string
	Node         Node
	DisableAgent bool
	Disable      []string
	// EmbeddedRegistry has every node serve the images it holds to the
	// cluster's other nodes, which try them first (pkg/mirror).
	EmbeddedRegistry bool
	// GatewayAPI has the ingress proxies serve the Gateway API too, its
	// CRDs installed (off by default: they cost the API server memory).
	GatewayAPI bool
	// GatewayAddresses is the pool of IPv4 addresses on the nodes'
	// network each Gateway gets one of its own from
	// (--gateway-addresses); empty: Gateways share the nodes' addresses.
	GatewayAddresses string
	// IngressHTTPPort and IngressHTTPSPort are where every node's ingress
	// proxy listens.
	IngressHTTPPort, IngressHTTPSPort int
	Debug                             bool
	// Verbosity (-v) is the upstream components' log verbosity; LogFormat
	// is text or json.
	Verbosity int
	LogFormat string
	// key=value flags for the upstream components; they win over edgeos's
	APIServerArgs, ControllerManagerArgs, SchedulerArgs []string
}

// MinCertificateLifetime is the shortest --certificate-lifetime: a
// certificate is renewed when a quarter of its life is left, and every
// client must move to the renewed one before the old one expires.
const MinCertificateLifetime = time.Minute

// MinMetricsResolution is the shortest --metrics-resolution: kubelets
// refresh their figures no faster.
const MinMetricsResolution = 5 * time.Second

// Parts that --disable can turn off.
var Parts = []string{"dns", "servicelb", "local-storage", "ingress", "metrics", "network-policy"}

// Disabled reports whether --disable names part.
func (c *Server) Disabled(part string) bool { return slices.Contains(c.Disable, part) }

// Validate checks the config without changing it or reading anything
// outside it. Every error names the flag at fault.
func (c *Server) Validate() error {
	var errs []error
	errs = append(errs, multicall.CheckArgs("--kube-apiserver-arg", c.APIServerArgs)...)
	errs = append(errs, multicall.CheckArgs("--kube-controller-manager-arg", c.ControllerManagerArgs)...)
	errs = append(errs, multicall.CheckArgs("--kube-scheduler-arg", c.SchedulerArgs)...)
	if c.DataDir == "" {
		errs = append(errs, errors.New("--data-dir must not be empty"))
	}
	if c.HTTPSListenPort < 1 || c.HTTPSListenPort > 65535 {
		errs = append(errs, fmt.Errorf("--https-listen-port %d is not a port number", c.HTTPSListenPort))
	}
	if ip := net.ParseIP(c.BindAddress); ip == nil {
		errs = append(errs, fmt.Errorf("--bind-address %q is not an IP address", c.BindAddress))
	}
	if _, err := parseMode(c.WriteKubeconfigMode); err != nil {
		errs = append(errs, err)
	}
	if c.AdvertiseAddress != "" && net.ParseIP(c.AdvertiseAddress) == nil {
		errs = append(errs, fmt.Errorf("--advertise-address %q is not an IP address", c.AdvertiseAddress))
	}
	errs = append(errs, checkNodeIPs(c.NodeIPs))
	clusterNet, err := parseCIDR("--cluster-cidr", c.ClusterCIDR)
	errs = append(errs, err)
	serviceNet, err := parseCIDR("--service-cidr", c.ServiceCIDR)
	errs = append(errs, err)
	if clusterNet != nil && serviceNet != nil && (clusterNet.Contains(serviceNet.IP) || serviceNet.Contains(clusterNet.IP)) {
		errs = append(errs, fmt.Errorf("--cluster-cidr %s and --service-cidr %s overlap", c.ClusterCIDR, c.ServiceCIDR))
	}
	if dns := net.ParseIP(c.ClusterDNS); dns == nil {
		errs = append(errs, fmt.Errorf("--cluster-dns %q is not an IP address", c.ClusterDNS))
	} else if serviceNet != nil && !serviceNet.Contains(dns) {
		errs = append(errs, fmt.Errorf("--cluster-dns %s is outside --service-cidr %s", c.ClusterDNS, c.ServiceCIDR))
	}
	if c.ClusterDomain == "" || strings.HasPrefix(c.ClusterDomain, ".") || strings.HasSuffix(c.ClusterDomain, ".") {
		errs = append(errs, fmt.Errorf("--cluster-domain %q is not a domain name", c.ClusterDomain))
	}
	for _, d := range c.Disable {
		if !slices.Contains(Parts, d) {
			errs = append(errs, fmt.Errorf("--disable %q is not a bundled part (known: %s)", d, strings.Join(Parts, ", ")))
		}
	}
	errs = append(errs, checkLogging(c.LogFormat, c.Verbosity))
	errs = append(errs, c.checkIngressPorts())
	errs = append(errs, c.checkGatewayAddresses(clusterNet, serviceNet))
	errs = append(errs, c.Node.Validate())
	if c.Token != "" && c.TokenFile != "" {
		errs = append(errs, errors.New("--token and --token-file are mutually exclusive"))
	}
	if c.CertificateLifetime < MinCertificateLifetime || c.CertificateLifetime > pki.CAValidity {
		errs = append(errs, fmt.Errorf("--certificate-lifetime %s is outside %s to %s", c.CertificateLifetime, MinCertificateLifetime, pki.CAValidity))
	}
	if !c.DisableSnapshots {
		if _, err := cron.ParseStandard(c.SnapshotSchedule); err != nil {
			errs = append(errs, fmt.Errorf("--snapshot-schedule %q is not a cron schedule: %v", c.SnapshotSchedule, err))
		}
		if c.SnapshotRetention < 1 {
			errs = append(errs, fmt.Errorf("--snapshot-retention %d: keep at least one", c.SnapshotRetention))
		}
	}
	if c.ManifestsDir != "" && !filepath.IsAbs(c.ManifestsDir) {
		errs = append(errs, fmt.Errorf("--manifests-dir %q is not an absolute path", c.ManifestsDir))
	}
	if c.MetricsResolution < MinMetricsResolution {
		errs = append(errs, fmt.Errorf("--metrics-resolution %s is shorter than %s", c.MetricsResolution, MinMetricsResolution))
	}
	if c.SnapshotDir != "" && !filepath.IsAbs(c.SnapshotDir) {
		errs = append(errs, fmt.Errorf("--snapshot-dir %q is not an absolute path", c.SnapshotDir))
	}
	if c.ClusterReset != (c.RestorePath != "") {
		errs = append(errs, errors.New("--cluster-reset and --restore-path go together: with the embedded datastore, a reset is a restore"))
	}
	if c.ClusterReset && c.Datastore.Endpoint != "" {
		errs = append(errs, errors.New("--cluster-reset restores the embedded datastore; an external one is restored with its own tools"))
	}
	if c.Datastore.ConnectTimeout <= 0 {
		errs = append(errs, errors.New("--datastore-connect-timeout must be positive"))
	}
	return errors.Join(errs...)
}

func (c *Server) checkIngressPorts() error {
	var errs []error
	for _, p := range []struct {
		flag string
		port int
	}{{"--ingress-http-port", c.IngressHTTPPort}, {"--ingress-https-port", c.IngressHTTPSPort}} {
		switch {
		case p.port < 1 || p.port > 65535:
			errs = append(errs, fmt.Errorf("%s %d is not a port number", p.flag, p.port))
		case p.port == c.HTTPSListenPort:
			errs = append(errs, fmt.Errorf("%s %d is the API's --https-listen-port", p.flag, p.port))
		}
	}
	if c.IngressHTTPPort == c.IngressHTTPSPort {
		errs = append(errs, fmt.Errorf("--ingress-http-port and --ingress-https-port are both %d", c.IngressHTTPPort))
	}
	return errors.Join(errs...)
}

// LogFormats are the values of --log-format.
var LogFormats = []string{"text", "json"}

func checkLogging(format string, v int) error {
	var errs []error
	if !slices.Contains(LogFormats, format) {
		errs = append(errs, fmt.Errorf("--log-format %q is not one of %s", format, strings.Join(LogFormats, ", ")))
	}
	if v < 0 || v > 10 {
		errs = append(errs, fmt.Errorf("-v %d is not a verbosity from 0 to 10", v))
	}
	return errors.Join(errs...)
}

func parseCIDR(flag, s string) (*net.IPNet, error) {
	_, n, err := net.ParseCIDR(s)
	if err != nil {
		return nil, fmt.Errorf("%s %q is not a CIDR", flag, s)
	}
	return n, nil
}

// checkGatewayAddresses: a pool needs the Gateway API, and must not hold
// the pods' or the Services' addresses.
func (c *Server) checkGatewayAddresses(clusterNet, serviceNet *net.IPNet) error {
	if c.GatewayAddresses == "" {
		return nil
	}
	pool, err := vip.ParsePool(c.GatewayAddresses)
	if err != nil {
		return fmt.Errorf("--gateway-addresses: %v", err)
	}
	if !c.GatewayAPI {
		return errors.New("--gateway-addresses gives Gateways addresses: it needs --gateway-api")
	}
	for flag, n := range map[string]*net.IPNet{"--cluster-cidr": clusterNet, "--service-cidr": serviceNet} {
		if n == nil {
			continue
		}
		ones, _ := n.Mask.Size()
		if a, ok := netip.AddrFromSlice(n.IP); ok && pool.Overlaps(netip.PrefixFrom(a.Unmap(), ones)) {
			return fmt.Errorf("--gateway-addresses %s overlaps %s %s", pool, flag, n)
		}
	}
	return nil
}

// parseMode reads --write-kubeconfig-mode, octal; empty means 0600.
func parseMode(s string) (os.FileMode, error) {
	if s == "" {
		return 0o600, nil
	}
	m, err := strconv.ParseUint(s, 8, 32)
	if err != nil || m > 0o777 {
		return 0, fmt.Errorf("--write-kubeconfig-mode %q is not an octal file mode", s)
	}
	return os.FileMode(m), nil
}

// CompletedServer is a server config that passed Validate, with what is
// derived filled in. Only Complete makes one; nothing changes it after.
type CompletedServer struct{ *completedServer }

type completedServer struct {
	// Server holds the flags, with NodeName, NodeIPs and AdvertiseAddress
	// filled in; it shares no slice with the flags it was completed from.
	Server
	// Secret is the join token or secret of --token or --token-file
	// (empty: the stored one, or a new one).
	Secret string
	// KubeconfigMode is --write-kubeconfig-mode.
	KubeconfigMode os.FileMode
	// Registries is what registries.yaml tells the node's containerd.
	Registries *registries.File
	// LogForward is where the node ships its logs (the server its own,
	// with --disable-agent).
	LogForward LogForward
	// GatewayPool is --gateway-addresses.
	GatewayPool vip.Pool
}

// Complete validates c and derives the completed config: the node's name
// and addresses (from the host where not given), the advertise address
// (the first node IP where not given), the auto-deploy directory and the
// secret from --token-file.
// c is left as it was.
func (c *Server) Complete() (CompletedServer, error) {
	if err := c.Validate(); err != nil {
		return CompletedServer{}, err
	}
	out := &completedServer{Server: c.clone()}
	name, ips, err := identity(c.NodeName, c.NodeIPs)
	if err != nil {
		return CompletedServer{}, err
	}
	out.NodeName, out.NodeIPs = name, ips
	if out.AdvertiseAddress == "" {
		out.AdvertiseAddress = out.NodeIPs[0]
	}
	if out.ManifestsDir == "" {
		out.ManifestsDir = filepath.Join(c.DataDir, "server", "manifests")
	}
	out.Secret = strings.TrimSpace(c.Token)
	if c.TokenFile != "" {
		if out.Secret, err = readSecret("--token-file", c.TokenFile); err != nil {
			return CompletedServer{}, err
		}
	}
	if out.KubeconfigMode, err = parseMode(c.WriteKubeconfigMode); err != nil {
		return CompletedServer{}, err
	}
	if out.GatewayPool, err = vip.ParsePool(c.GatewayAddresses); err != nil {
		return CompletedServer{}, err
	}
	if !c.DisableAgent {
		if out.Registries, err = loadRegistries(c.Node); err != nil {
			return CompletedServer{}, err
		}
	}
	// without a node, the server still ships its own lines
	if out.LogForward, err = c.Node.logForward(); err != nil {
		return CompletedServer{}, err
	}
	return CompletedServer{out}, nil
}

func (c *Server) clone() Server {
	out := *c
	out.NodeIPs = slices.Clone(c.NodeIPs)
	out.TLSSANs = slices.Clone(c.TLSSANs)
	out.Disable = slices.Clone(c.Disable)
	out.APIServerArgs = slices.Clone(c.APIServerArgs)
	out.ControllerManagerArgs = slices.Clone(c.ControllerManagerArgs)
	out.SchedulerArgs = slices.Clone(c.SchedulerArgs)
	out.Node = c.Node.clone()
	return out
}
