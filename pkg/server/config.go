// Package server is `edgeos server`: it prepares the data dir, PKI and join
// token, then runs the datastore, the upstream control plane and the node
// bootstrap API as components of one process.
package server

import (
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/edgeos/edgeos/pkg/agent"
	"github.com/edgeos/edgeos/pkg/datastore"
	"github.com/edgeos/edgeos/pkg/multicall"
)

// Config is everything `edgeos server` is told, from flags, environment or
// config file.
type Config struct {
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
	Datastore    datastore.Config
	Node         agent.NodeOptions
	DisableAgent bool
	Disable      []string
	Debug        bool
	// key=value flags for the upstream components; they win over edgeos's
	APIServerArgs, ControllerManagerArgs, SchedulerArgs []string
}

// Parts that --disable can turn off.
var Parts = []string{"dns", "servicelb", "local-storage"}

// Disabled reports whether --disable names part.
func (c *Config) Disabled(part string) bool { return slices.Contains(c.Disable, part) }

// Validate checks the config and fills what is derived (node IP, advertise
// address, node name). Every error names the flag at fault.
func (c *Config) Validate() error {
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
	if _, err := strconv.ParseUint(c.WriteKubeconfigMode, 8, 32); c.WriteKubeconfigMode != "" && err != nil {
		errs = append(errs, fmt.Errorf("--write-kubeconfig-mode %q is not an octal file mode", c.WriteKubeconfigMode))
	}
	if c.AdvertiseAddress != "" && net.ParseIP(c.AdvertiseAddress) == nil {
		errs = append(errs, fmt.Errorf("--advertise-address %q is not an IP address", c.AdvertiseAddress))
	}
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
	if err := c.Node.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.Token != "" && c.TokenFile != "" {
		errs = append(errs, errors.New("--token and --token-file are mutually exclusive"))
	}
	if c.Datastore.ConnectTimeout <= 0 {
		errs = append(errs, errors.New("--datastore-connect-timeout must be positive"))
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return c.derive()
}

func parseCIDR(flag, s string) (*net.IPNet, error) {
	_, n, err := net.ParseCIDR(s)
	if err != nil {
		return nil, fmt.Errorf("%s %q is not a CIDR", flag, s)
	}
	return n, nil
}

// derive fills node name, node IPs and advertise address from the host.
func (c *Config) derive() error {
	name, ips, err := NodeIdentity(c.NodeName, c.NodeIPs)
	if err != nil {
		return err
	}
	c.NodeName, c.NodeIPs = name, ips
	if c.AdvertiseAddress == "" {
		c.AdvertiseAddress = c.NodeIPs[0]
	}
	return nil
}

// NodeIdentity fills a node's name (the hostname) and IPs (the host's
// primary address) where the flags left them empty.
func NodeIdentity(name string, ips []string) (string, []string, error) {
	if name == "" {
		h, err := os.Hostname()
		if err != nil {
			return "", nil, fmt.Errorf("--node-name not given and hostname unknown: %w", err)
		}
		name = strings.ToLower(h)
	}
	for _, ip := range ips {
		if net.ParseIP(ip) == nil {
			return "", nil, fmt.Errorf("--node-ip %q is not an IP address", ip)
		}
	}
	if len(ips) == 0 {
		ip := HostIP()
		if ip == nil {
			return "", nil, errors.New("this host has no non-loopback IPv4 address to use as node IP; pass --node-ip")
		}
		ips = []string{ip.String()}
	}
	return name, ips, nil
}

// SecretFromFlags returns the server secret given by --token or --token-file.
func (c *Config) SecretFromFlags() (string, error) {
	if c.TokenFile == "" {
		return strings.TrimSpace(c.Token), nil
	}
	b, err := os.ReadFile(c.TokenFile)
	if err != nil {
		return "", fmt.Errorf("--token-file: %w", err)
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "", fmt.Errorf("--token-file %s is empty", c.TokenFile)
	}
	return s, nil
}
