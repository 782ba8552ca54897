package cni

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// nodeSysctls are the kernel settings a node's pod network depends on:
// forwarding between the uplink and the pod bridge (hostPorts, Services,
// the overlay), and bridged pod-to-pod traffic seen by iptables, so a pod
// reaching a Service whose endpoint is on the same bridge is NATed. The
// second exists only with br_netfilter loaded; check-config reports it.
var nodeSysctls = []struct {
	path     string
	optional bool
}{
	{"net/ipv4/ip_forward", false},
	{"net/bridge/bridge-nf-call-iptables", true},
}

// enableSysctls sets each of nodeSysctls to 1 under procSys (/proc/sys).
func enableSysctls(procSys string) error {
	for _, s := range nodeSysctls {
		p := procSys + "/" + s.path
		cur, err := os.ReadFile(p)
		if errors.Is(err, fs.ErrNotExist) && s.optional {
			continue
		}
		if err != nil {
			return fmt.Errorf("sysctl %s: %w", strings.ReplaceAll(s.path, "/", "."), err)
		}
		if strings.TrimSpace(string(cur)) == "1" {
			continue
		}
		if err := os.WriteFile(p, []byte("1\n"), 0o644); err != nil {
			return fmt.Errorf("sysctl %s=1: %w", strings.ReplaceAll(s.path, "/", "."), err)
		}
	}
	return nil
}
