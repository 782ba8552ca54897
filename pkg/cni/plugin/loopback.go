package plugin

import (
	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"
	"github.com/containernetworking/cni/pkg/version"
	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/vishvananda/netlink"
)

// LoopbackName is the plugin containerd's CRI runs for every pod before the
// network's own; edgeos serves it too.
const LoopbackName = "loopback"

func loopbackMain() {
	skel.PluginMainFuncs(skel.CNIFuncs{
		Add: func(args *skel.CmdArgs) error {
			err := ns.WithNetNSPath(args.Netns, func(ns.NetNS) error {
				lo, err := netlink.LinkByName("lo")
				if err != nil {
					return err
				}
				return netlink.LinkSetUp(lo)
			})
			if err != nil {
				return err
			}
			return types.PrintResult(&current.Result{CNIVersion: current.ImplementedSpecVersion,
				Interfaces: []*current.Interface{{Name: "lo", Sandbox: args.Netns}}}, current.ImplementedSpecVersion)
		},
		Del:   func(*skel.CmdArgs) error { return nil }, // lo goes with the namespace
		Check: func(*skel.CmdArgs) error { return nil },
	}, version.All, "edgeos loopback plugin")
}
