// Package config is what `edgeos server` and `edgeos agent` are told (the
// flag structs the command line fills), how it is checked (Validate, which
// only reads) and what it becomes (Complete: a completed config, with what
// is derived from the host and from files filled in, that the server and
// the agent run with and nothing changes afterwards).
package config

import (
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/edgeos/edgeos/pkg/logforward/endpoint"
	"github.com/edgeos/edgeos/pkg/multicall"
	"github.com/edgeos/edgeos/pkg/registries"
)

// Node are the node flags `server` and `agent` share.
type Node struct {
	Labels        []string
	Taints        []string
	KubeletArgs   []string
	KubeProxyArgs []string
	// CNI is the pod network: CNIEdgeos (bridge + VXLAN overlay) or
	// CNINone (the user installs one).
	CNI string
	// OverlayIface is the uplink the overlay uses (default: the interface
	// holding the node IP).
	OverlayIface string
	// ExternalIP is the address other nodes reach this one at, for nodes
	// behind NAT (default: the node IP).
	ExternalIP string
	// ResolvConf names the upstream resolvers, for the cluster DNS and for
	// pods with dnsPolicy Default (default: the host's, as the kubelet
	// picks it).
	ResolvConf string
	// LocalStoragePath holds this node's local-path volumes (default
	// <data-dir>/storage).
	LocalStoragePath string
	// PageOutAfter is when, after start-up, the process's start-up-only
	// pages go back to the kernel (pkg/pageout); 0 keeps them.
	PageOutAfter time.Duration
	// DisableIngressProxy keeps this node out of the ingress.
	DisableIngressProxy bool
	// PrivateRegistry is registries.yaml (empty: registries.Default, read
	// where it exists).
	PrivateRegistry string
	// LogForward is the URL of a Loki or OTLP/HTTP logs endpoint the
	// node ships its logs to (empty: none).
	LogForward string
	// LogForwardBuffer caps the disk buffer of lines not yet shipped: a
	// size such as 64Mi.
	LogForwardBuffer string
}

// LogForward is where a node ships its logs, completed from the flags.
type LogForward struct {
	// Target is the endpoint; a nil URL: not shipped.
	Target      endpoint.Target
	BufferBytes int64
}

// On reports whether logs are shipped.
func (l LogForward) On() bool { return l.Target.URL != nil }

// MinLogForwardBuffer is the smallest --log-forward-buffer: a few
// segments of the spool.
const MinLogForwardBuffer = 16 << 10

// Pod network choices.
const (
	CNIEdgeos = "edgeos"
	CNINone   = "none"
)

// Validate checks the options; every error names its flag.
func (o Node) Validate() error {
	var errs []error
	errs = append(errs, multicall.CheckArgs("--kubelet-arg", o.KubeletArgs)...)
	errs = append(errs, multicall.CheckArgs("--kube-proxy-arg", o.KubeProxyArgs)...)
	if o.CNI != CNIEdgeos && o.CNI != CNINone {
		errs = append(errs, fmt.Errorf("--cni %q: want %s or %s", o.CNI, CNIEdgeos, CNINone))
	}
	if o.ExternalIP != "" && net.ParseIP(o.ExternalIP) == nil {
		errs = append(errs, fmt.Errorf("--node-external-ip %q is not an IP address", o.ExternalIP))
	}
	if o.PageOutAfter < 0 {
		errs = append(errs, fmt.Errorf("--pageout-after %s: want 0 (never) or more", o.PageOutAfter))
	}
	if o.LocalStoragePath != "" && !filepath.IsAbs(o.LocalStoragePath) {
		errs = append(errs, fmt.Errorf("--local-storage-path %q must be an absolute path", o.LocalStoragePath))
	}
	if o.PrivateRegistry != "" && !filepath.IsAbs(o.PrivateRegistry) {
		errs = append(errs, fmt.Errorf("--private-registry %q must be an absolute path", o.PrivateRegistry))
	}
	if _, err := o.logForward(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// logForward reads --log-forward and --log-forward-buffer.
func (o Node) logForward() (LogForward, error) {
	if o.LogForward == "" {
		return LogForward{}, nil
	}
	t, err := endpoint.Parse(o.LogForward)
	if err != nil {
		return LogForward{}, err
	}
	n, err := parseSize(o.LogForwardBuffer)
	if err != nil || n < MinLogForwardBuffer {
		return LogForward{}, fmt.Errorf("--log-forward-buffer %q: want a size of at least 16Ki, such as 64Mi", o.LogForwardBuffer)
	}
	return LogForward{Target: t, BufferBytes: n}, nil
}

// parseSize reads a size in bytes, with a binary suffix (Ki, Mi, Gi) or
// a decimal one (k, M, G) or none.
func parseSize(s string) (int64, error) {
	num, unit := s, int64(1)
	for _, u := range []struct {
		suffix string
		n      int64
	}{{"Ki", 1 << 10}, {"Mi", 1 << 20}, {"Gi", 1 << 30}, {"k", 1e3}, {"M", 1e6}, {"G", 1e9}} {
		if v, ok := strings.CutSuffix(s, u.suffix); ok {
			num, unit = v, u.n
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 || n > math.MaxInt64/unit {
		return 0, fmt.Errorf("%q is not a size", s)
	}
	return n * unit, nil
}

// clone copies the options, so that a completed config shares no slice
// with the flags it came from.
func (o Node) clone() Node {
	o.Labels = slices.Clone(o.Labels)
	o.Taints = slices.Clone(o.Taints)
	o.KubeletArgs = slices.Clone(o.KubeletArgs)
	o.KubeProxyArgs = slices.Clone(o.KubeProxyArgs)
	return o
}

// checkNodeIPs checks --node-ip's values.
func checkNodeIPs(ips []string) error {
	var errs []error
	for _, ip := range ips {
		if net.ParseIP(ip) == nil {
			errs = append(errs, fmt.Errorf("--node-ip %q is not an IP address", ip))
		}
	}
	return errors.Join(errs...)
}

// identity fills a node's name (the hostname, lower case) and IPs (the
// host's primary address) where the flags left them empty.
func identity(name string, ips []string) (string, []string, error) {
	if name == "" {
		h, err := os.Hostname()
		if err != nil {
			return "", nil, fmt.Errorf("--node-name not given and hostname unknown: %w", err)
		}
		name = strings.ToLower(h)
	}
	ips = slices.Clone(ips)
	if len(ips) == 0 {
		ip := HostIP()
		if ip == nil {
			return "", nil, errors.New("this host has no non-loopback IPv4 address to use as node IP; pass --node-ip")
		}
		ips = []string{ip.String()}
	}
	return name, ips, nil
}

// loadRegistries reads registries.yaml: the file --private-registry
// names, else the default one where it exists.
func loadRegistries(o Node) (*registries.File, error) {
	path := o.PrivateRegistry
	if path == "" {
		path = registries.Default
	}
	return registries.Load(path, o.PrivateRegistry != "")
}

// readSecret is the content of a token file, trimmed; empty is an error.
func readSecret(flag, path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("%s: %w", flag, err)
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "", fmt.Errorf("%s %s is empty", flag, path)
	}
	return s, nil
}
