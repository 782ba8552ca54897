// Package plugin is edgeos's pod network plugin, a CNI plugin that
// containerd executes for every pod sandbox: a small program of its own
// (cmd/cni, embedded by pkg/containerd/programs), so that a pod start does
// not pay for the whole edgeos binary's start-up. Each pod gets a veth
// pair: eth0 in the pod with an address from the node's podCIDR and a
// default route, the host end on the node's bridge, whose address is the
// pod network's gateway. A pod's hostPorts are DNATed to it by iptables
// rules in one chain per pod (hostport.go). Addresses are allocated with
// host-local's allocator and kept under the data dir. The program also
// serves as the loopback plugin.
package plugin

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"syscall"

	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"
	"github.com/containernetworking/cni/pkg/version"
	"github.com/containernetworking/plugins/pkg/ip"
	"github.com/containernetworking/plugins/pkg/ipam"
	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/containernetworking/plugins/plugins/ipam/host-local/backend/allocator"
	"github.com/containernetworking/plugins/plugins/ipam/host-local/backend/disk"
	"github.com/vishvananda/netlink"
)

// Name is the plugin's type in the network config, and the program's file
// name in containerd's CNI bin dir.
const Name = "edgeos-bridge"

// NetConf is the plugin's part of the network config.
type NetConf struct {
	types.NetConf
	Bridge string `json:"bridge"`
	// Subnet is the node's podCIDR.
	Subnet string `json:"subnet"`
	MTU    int    `json:"mtu"`
	// DataDir keeps the address allocations.
	DataDir string `json:"dataDir"`
	// RuntimeConfig carries the pod's hostPorts, when the plugin declares
	// the portMappings capability.
	RuntimeConfig struct {
		PortMappings []PortMapping `json:"portMappings,omitempty"`
	} `json:"runtimeConfig,omitzero"`
}

// Main runs the plugin its program was started as (Name or LoopbackName,
// by the file name in args[0]) and returns the process's exit code.
func Main(args []string) int {
	switch filepath.Base(args[0]) {
	case Name:
		skel.PluginMainFuncs(skel.CNIFuncs{Add: add, Del: del, Check: check}, version.All, "edgeos pod network plugin")
	case LoopbackName:
		loopbackMain()
	default:
		fmt.Fprintf(os.Stderr, "edgeos CNI plugin: started as %q; containerd runs it as %s or %s\n", filepath.Base(args[0]), Name, LoopbackName)
		return 2
	}
	return 0
}

func parse(stdin []byte) (*NetConf, *net.IPNet, net.IP, error) {
	conf := &NetConf{}
	if err := json.Unmarshal(stdin, conf); err != nil {
		return nil, nil, nil, fmt.Errorf("network config: %w", err)
	}
	_, subnet, err := net.ParseCIDR(conf.Subnet)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("network config subnet %q: %w", conf.Subnet, err)
	}
	if conf.Bridge == "" || conf.DataDir == "" {
		return nil, nil, nil, errors.New("network config needs bridge and dataDir")
	}
	if conf.MTU == 0 {
		conf.MTU = 1500
	}
	return conf, subnet, ip.NextIP(subnet.IP), nil
}

// allocate runs fn with the node's address allocator, under its file lock.
func allocate(conf *NetConf, subnet *net.IPNet, gw net.IP, fn func(*allocator.IPAllocator) error) error {
	store, err := disk.New(conf.Name, conf.DataDir)
	if err != nil {
		return err
	}
	defer store.Close()
	if err := store.Lock(); err != nil {
		return err
	}
	defer store.Unlock()
	r := allocator.Range{Subnet: types.IPNet(*subnet), Gateway: gw}
	if err := r.Canonicalize(); err != nil {
		return err
	}
	return fn(allocator.NewIPAllocator(&allocator.RangeSet{r}, store, 0))
}

func add(args *skel.CmdArgs) error {
	conf, subnet, gw, err := parse(args.StdinData)
	if err != nil {
		return err
	}
	br, err := ensureBridge(conf.Bridge, &net.IPNet{IP: gw, Mask: subnet.Mask}, conf.MTU)
	if err != nil {
		return err
	}
	netns, err := ns.GetNS(args.Netns)
	if err != nil {
		return fmt.Errorf("pod network namespace %s: %w", args.Netns, err)
	}
	defer netns.Close()

	var hostIf, podIf net.Interface
	err = netns.Do(func(hostNS ns.NetNS) error {
		h, p, err := ip.SetupVeth(args.IfName, conf.MTU, "", hostNS)
		hostIf, podIf = h, p
		return err
	})
	if err != nil {
		return fmt.Errorf("veth for the pod: %w", err)
	}
	hostLink, err := netlink.LinkByName(hostIf.Name)
	if err != nil {
		return err
	}
	if err := netlink.LinkSetMaster(hostLink, br); err != nil {
		return fmt.Errorf("attaching %s to %s: %w", hostIf.Name, conf.Bridge, err)
	}
	// hairpin: a pod reaching itself through a Service comes back in
	if err := netlink.LinkSetHairpin(hostLink, true); err != nil {
		return err
	}

	var ipc *current.IPConfig
	if err := allocate(conf, subnet, gw, func(a *allocator.IPAllocator) error {
		ipc, err = a.Get(args.ContainerID, args.IfName, nil)
		return err
	}); err != nil {
		return fmt.Errorf("allocating a pod address: %w", err)
	}
	ipc.Interface = current.Int(1)
	_, all, _ := net.ParseCIDR("0.0.0.0/0")
	result := &current.Result{
		CNIVersion: current.ImplementedSpecVersion,
		Interfaces: []*current.Interface{
			{Name: hostIf.Name, Mac: hostIf.HardwareAddr.String()},
			{Name: podIf.Name, Mac: podIf.HardwareAddr.String(), Sandbox: args.Netns},
		},
		IPs:    []*current.IPConfig{ipc},
		Routes: []*types.Route{{Dst: *all, GW: gw}},
	}
	err = netns.Do(func(ns.NetNS) error {
		if lo, err := netlink.LinkByName("lo"); err == nil {
			if err := netlink.LinkSetUp(lo); err != nil {
				return err
			}
		}
		return ipam.ConfigureIface(args.IfName, result)
	})
	if err != nil {
		return fmt.Errorf("configuring the pod's %s: %w", args.IfName, err)
	}
	if err := addHostPorts(args.ContainerID, ipc.Address.IP, conf.RuntimeConfig.PortMappings); err != nil {
		return fmt.Errorf("hostPorts: %w", err)
	}
	return types.PrintResult(result, conf.CNIVersion)
}

func del(args *skel.CmdArgs) error {
	conf, subnet, gw, err := parse(args.StdinData)
	if err != nil {
		return err
	}
	if err := delHostPorts(args.ContainerID); err != nil {
		return fmt.Errorf("hostPorts: %w", err)
	}
	if err := allocate(conf, subnet, gw, func(a *allocator.IPAllocator) error {
		return a.Release(args.ContainerID, args.IfName)
	}); err != nil {
		return err
	}
	if args.Netns == "" {
		return nil // the namespace is gone, and its veth with it
	}
	return ns.WithNetNSPath(args.Netns, func(ns.NetNS) error {
		err := ip.DelLinkByName(args.IfName)
		if err != nil && errors.Is(err, ip.ErrLinkNotFound) {
			return nil
		}
		return err
	})
}

func check(args *skel.CmdArgs) error {
	if _, _, _, err := parse(args.StdinData); err != nil {
		return err
	}
	return ns.WithNetNSPath(args.Netns, func(ns.NetNS) error {
		_, err := netlink.LinkByName(args.IfName)
		return err
	})
}

// ensureBridge makes the node's bridge with the gateway address, up.
func ensureBridge(name string, gw *net.IPNet, mtu int) (netlink.Link, error) {
	l, err := netlink.LinkByName(name)
	if err != nil {
		attrs := netlink.NewLinkAttrs()
		attrs.Name, attrs.MTU = name, mtu
		if err := netlink.LinkAdd(&netlink.Bridge{LinkAttrs: attrs}); err != nil && !errors.Is(err, syscall.EEXIST) {
			return nil, fmt.Errorf("creating bridge %s: %w", name, err)
		}
		if l, err = netlink.LinkByName(name); err != nil {
			return nil, err
		}
	}
	if err := netlink.AddrReplace(l, &netlink.Addr{IPNet: gw}); err != nil {
		return nil, fmt.Errorf("gateway address on %s: %w", name, err)
	}
	if err := netlink.LinkSetUp(l); err != nil {
		return nil, err
	}
	return l, nil
}
