package teardown

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/vishvananda/netlink"
	"sigs.k8s.io/yaml"
)

// removeLinks deletes the pod network's links.
func removeLinks(cfg Config, names ...string) error {
	var errs []error
	for _, name := range names {
		l, err := netlink.LinkByName(name)
		if err != nil {
			continue // not there
		}
		if err := netlink.LinkDel(l); err != nil {
			errs = append(errs, fmt.Errorf("deleting link %s: %w", name, err))
			continue
		}
		cfg.Say("deleted link %s", name)
	}
	return errors.Join(errs...)
}

// clusterDNS reads the cluster DNS addresses from the kubelet's config file
// under the data dir; none if there is none.
func clusterDNS(dataDir string) []net.IP {
	b, err := os.ReadFile(filepath.Join(dataDir, "agent", "etc", "kubelet.yaml"))
	if err != nil {
		return nil
	}
	var kc struct {
		ClusterDNS []string `json:"clusterDNS"`
	}
	if yaml.Unmarshal(b, &kc) != nil {
		return nil
	}
	var out []net.IP
	for _, s := range kc.ClusterDNS {
		if ip := net.ParseIP(s); ip != nil {
			out = append(out, ip)
		}
	}
	return out
}

// removeAddresses takes the cluster DNS addresses off the loopback device.
func removeAddresses(cfg Config, ips []net.IP) error {
	if len(ips) == 0 {
		return nil
	}
	lo, err := netlink.LinkByName("lo")
	if err != nil {
		return err
	}
	var errs []error
	for _, ip := range ips {
		bits := 128
		if ip.To4() != nil {
			bits = 32
		}
		addr := &netlink.Addr{IPNet: &net.IPNet{IP: ip, Mask: net.CIDRMask(bits, bits)}}
		switch err := netlink.AddrDel(lo, addr); {
		case err == nil:
			cfg.Say("removed %s from lo", ip)
		case errors.Is(err, syscall.EADDRNOTAVAIL):
		default:
			errs = append(errs, fmt.Errorf("removing %s from lo: %w", ip, err))
		}
	}
	return errors.Join(errs...)
}

// ourRule reports whether an iptables-save line is edgeos's or
// kube-proxy's: their chains, rules jumping to them, and rules they mark.
func ourRule(line string) bool {
	return strings.Contains(line, "KUBE-") || strings.Contains(line, "EDGEOS-") || strings.Contains(line, `"edgeos`)
}

// removeRules writes the iptables tables back without edgeos's and
// kube-proxy's chains and rules, for IPv4 and IPv6, leaving every other
// program's rules as they are.
func removeRules(cfg Config) error {
	var errs []error
	for _, family := range []string{"iptables", "ip6tables"} {
		save, err := exec.LookPath(family + "-save")
		if err != nil {
			continue
		}
		out, err := exec.Command(save).Output()
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", save, err))
			continue
		}
		var kept bytes.Buffer
		removed := 0
		for _, line := range strings.SplitAfter(string(out), "\n") {
			if ourRule(line) {
				removed++
				continue
			}
			kept.WriteString(line)
		}
		if removed == 0 {
			continue
		}
		restore := exec.Command(family+"-restore", "-w")
		restore.Stdin = &kept
		if msg, err := restore.CombinedOutput(); err != nil {
			errs = append(errs, fmt.Errorf("%s-restore: %v: %s", family, err, bytes.TrimSpace(msg)))
			continue
		}
		cfg.Say("removed %d %s lines of edgeos and kube-proxy", removed, family)
	}
	return errors.Join(errs...)
}
