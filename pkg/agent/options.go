package agent

import (
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"time"

	"github.com/edgeos/edgeos/pkg/multicall"
)

// NodeOptions are the node flags `server` and `agent` share.
type NodeOptions struct {
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
}

// Pod network choices.
const (
	CNIEdgeos = "edgeos"
	CNINone   = "none"
)

// Validate checks the options; every error names its flag.
func (o NodeOptions) Validate() error {
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
	return errors.Join(errs...)
}
