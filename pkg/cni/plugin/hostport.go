package plugin

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/coreos/go-iptables/iptables"
)

// PortMapping is one hostPort of a pod, as the runtime passes it in the
// "portMappings" capability.
type PortMapping struct {
	HostPort      int    `json:"hostPort"`
	ContainerPort int    `json:"containerPort"`
	Protocol      string `json:"protocol"`
	HostIP        string `json:"hostIP,omitempty"`
}

// The nat-table layout for hostPorts:
//
//	PREROUTING, OUTPUT: -m addrtype --dst-type LOCAL -j EDGEOS-HOSTPORTS
//	EDGEOS-HOSTPORTS:   -m comment --comment <container id> -j EDGEOS-HP-<hash>
//	EDGEOS-HP-<hash>:   per mapping, mark hairpin traffic, then DNAT to the pod
//	POSTROUTING:        -m mark --mark 0x2000/0x2000 -j MASQUERADE
//
// One chain per pod makes removal a matter of dropping that chain, which
// works from the container ID alone (DEL may come without the pod's address).
const (
	hostPortsChain = "EDGEOS-HOSTPORTS"
	// hairpinMark marks a pod reaching its own hostPort; such traffic is
	// masqueraded so the reply comes back through the bridge. kube-proxy
	// uses 0x4000 and 0x8000.
	hairpinMark = "0x2000/0x2000"
)

func podChain(containerID string) string {
	sum := sha256.Sum256([]byte(containerID))
	return "EDGEOS-HP-" + strings.ToUpper(hex.EncodeToString(sum[:6]))
}

// OpenIPTables opens the IPv4 tables through the iptables command.
func OpenIPTables() (*iptables.IPTables, error) {
	ipt, err := iptables.NewWithProtocol(iptables.ProtocolIPv4)
	if err != nil {
		return nil, fmt.Errorf("hostPort needs iptables (Debian/Ubuntu: apt-get install iptables): %w", err)
	}
	return ipt, nil
}

// ensureHostPortChains creates the shared chains and their jumps.
func ensureHostPortChains(ipt *iptables.IPTables) error {
	if err := EnsureChain(ipt, "nat", hostPortsChain); err != nil {
		return err
	}
	for _, from := range []string{"PREROUTING", "OUTPUT"} {
		if err := ipt.AppendUnique("nat", from, "-m", "addrtype", "--dst-type", "LOCAL",
			"-m", "comment", "--comment", "edgeos hostPorts", "-j", hostPortsChain); err != nil {
			return fmt.Errorf("iptables nat %s: %w", from, err)
		}
	}
	return ipt.AppendUnique("nat", "POSTROUTING", "-m", "mark", "--mark", hairpinMark,
		"-m", "comment", "--comment", "edgeos hostPort hairpin", "-j", "MASQUERADE")
}

// EnsureChain creates table's chain unless it exists.
func EnsureChain(ipt *iptables.IPTables, table, chain string) error {
	ok, err := ipt.ChainExists(table, chain)
	if err != nil {
		return fmt.Errorf("iptables %s %s: %w", table, chain, err)
	}
	if ok {
		return nil
	}
	if err := ipt.NewChain(table, chain); err != nil {
		return fmt.Errorf("iptables %s %s: %w", table, chain, err)
	}
	return nil
}

// mappingRules are the rules of a pod's chain: hairpin mark, then DNAT,
// for every mapping.
func mappingRules(podIP net.IP, maps []PortMapping) ([][]string, error) {
	var rules [][]string
	for _, m := range maps {
		proto := strings.ToLower(m.Protocol)
		if proto == "" {
			proto = "tcp"
		}
		if proto != "tcp" && proto != "udp" && proto != "sctp" {
			return nil, fmt.Errorf("hostPort %d: unknown protocol %q", m.HostPort, m.Protocol)
		}
		if m.HostPort <= 0 || m.HostPort > 65535 || m.ContainerPort <= 0 || m.ContainerPort > 65535 {
			return nil, fmt.Errorf("hostPort %d -> %d: port out of range", m.HostPort, m.ContainerPort)
		}
		match := []string{"-p", proto, "--dport", strconv.Itoa(m.HostPort)}
		if m.HostIP != "" && m.HostIP != "0.0.0.0" {
			hip := net.ParseIP(m.HostIP)
			if hip == nil || hip.To4() == nil {
				// IPv6 host addresses are for an IPv6 pod network, which this
				// plugin does not configure
				continue
			}
			match = append(match, "-d", hip.String()+"/32")
		}
		dst := net.JoinHostPort(podIP.String(), strconv.Itoa(m.ContainerPort))
		rules = append(rules,
			append(append([]string{}, match...), "-s", podIP.String()+"/32", "-j", "MARK", "--set-xmark", hairpinMark),
			append(append([]string{}, match...), "-j", "DNAT", "--to-destination", dst))
	}
	return rules, nil
}

// addHostPorts forwards the pod's hostPorts to its address.
func addHostPorts(containerID string, podIP net.IP, maps []PortMapping) error {
	if len(maps) == 0 {
		return nil
	}
	rules, err := mappingRules(podIP, maps)
	if err != nil {
		return err
	}
	ipt, err := OpenIPTables()
	if err != nil {
		return err
	}
	if err := ensureHostPortChains(ipt); err != nil {
		return err
	}
	chain := podChain(containerID)
	if err := ipt.ClearChain("nat", chain); err != nil { // creates it, or empties a stale one
		return fmt.Errorf("iptables nat %s: %w", chain, err)
	}
	for _, r := range rules {
		if err := ipt.Append("nat", chain, r...); err != nil {
			return fmt.Errorf("iptables nat %s: %w", chain, err)
		}
	}
	return ipt.AppendUnique("nat", hostPortsChain, "-m", "comment", "--comment", containerID, "-j", chain)
}

// delHostPorts removes the pod's chain and the jump to it. A node without
// iptables never had any.
func delHostPorts(containerID string) error {
	ipt, err := iptables.NewWithProtocol(iptables.ProtocolIPv4)
	if err != nil {
		return nil
	}
	chain := podChain(containerID)
	ok, err := ipt.ChainExists("nat", chain)
	if err != nil || !ok {
		return err
	}
	if err := ipt.DeleteIfExists("nat", hostPortsChain, "-m", "comment", "--comment", containerID, "-j", chain); err != nil {
		var e *iptables.Error
		if !errors.As(err, &e) || !e.IsNotExist() {
			return err
		}
	}
	return ipt.ClearAndDeleteChain("nat", chain)
}
