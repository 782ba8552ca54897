package cni

import (
	"errors"
	"fmt"
	"net"
	"syscall"

	"github.com/sirupsen/logrus"
	"github.com/vishvananda/netlink"
	corev1 "k8s.io/api/core/v1"
)

// The VXLAN overlay: one device per node (VNI 1, UDP 8472, no learning).
// The device holds the first address of the node's podCIDR as a /32. For
// every other node, with that node's podCIDR P, VTEP MAC M and public IP A:
//
//	route  P via P.0 dev edgeos.1 onlink
//	neigh  P.0 lladdr M dev edgeos.1 permanent
//	fdb    M dst A dev edgeos.1 self permanent
//
// so a packet for a remote pod is encapsulated straight to the node that
// holds it. Each node publishes M and A on its Node object.
const (
	VXLANDevice = "edgeos.1"
	VXLANID     = 1
	VXLANPort   = 8472
	// vxlanOverhead is what encapsulation adds: outer IPv4, UDP, VXLAN
	// and inner Ethernet headers.
	vxlanOverhead = 50

	AnnotationVTEPMAC  = "edgeos.io/vtep-mac"
	AnnotationPublicIP = "edgeos.io/public-ip"
)

// peer is another node as the overlay sees it.
type peer struct {
	name     string
	podCIDR  *net.IPNet
	vtepMAC  net.HardwareAddr
	publicIP net.IP
}

// gateway is the peer's overlay address: the first of its podCIDR.
func (p peer) gateway() net.IP { return p.podCIDR.IP }

// peers are the nodes other than self with a podCIDR and published overlay
// annotations; nodes without them yet are skipped until they have them.
func peers(nodes []*corev1.Node, self string) []peer {
	var out []peer
	for _, n := range nodes {
		if n.Name == self || n.Spec.PodCIDR == "" {
			continue
		}
		_, cidr, err := net.ParseCIDR(n.Spec.PodCIDR)
		if err != nil || cidr.IP.To4() == nil {
			continue
		}
		mac, err := net.ParseMAC(n.Annotations[AnnotationVTEPMAC])
		if err != nil {
			continue
		}
		ip := net.ParseIP(n.Annotations[AnnotationPublicIP])
		if ip == nil || ip.To4() == nil {
			continue
		}
		out = append(out, peer{name: n.Name, podCIDR: cidr, vtepMAC: mac, publicIP: ip.To4()})
	}
	return out
}

// vxlanSpec is the device this node should have.
type vxlanSpec struct {
	uplink  netlink.Link
	localIP net.IP
	podCIDR *net.IPNet
}

func (s vxlanSpec) mtu() int { return s.uplink.Attrs().MTU - vxlanOverhead }

// ensureVXLAN makes the device, or keeps the one an earlier run made when it
// matches (so traffic is not interrupted and the MAC other nodes know stays
// valid), and gives it its address. It returns the device.
func ensureVXLAN(s vxlanSpec) (netlink.Link, error) {
	want := &netlink.Vxlan{
		LinkAttrs:    netlink.LinkAttrs{Name: VXLANDevice, MTU: s.mtu()},
		VxlanId:      VXLANID,
		VtepDevIndex: s.uplink.Attrs().Index,
		SrcAddr:      s.localIP,
		Port:         VXLANPort,
		Learning:     false,
	}
	if l, err := netlink.LinkByName(VXLANDevice); err == nil {
		have, ok := l.(*netlink.Vxlan)
		if ok && have.VxlanId == want.VxlanId && have.VtepDevIndex == want.VtepDevIndex &&
			have.SrcAddr.Equal(want.SrcAddr) && have.Port == want.Port {
			if have.MTU != want.MTU {
				if err := netlink.LinkSetMTU(l, want.MTU); err != nil {
					return nil, fmt.Errorf("MTU of %s: %w", VXLANDevice, err)
				}
			}
			return l, vxlanAddress(l, s.podCIDR)
		}
		logrus.Infof("Overlay: replacing %s, whose settings changed", VXLANDevice)
		if err := netlink.LinkDel(l); err != nil {
			return nil, fmt.Errorf("removing the old %s: %w", VXLANDevice, err)
		}
	}
	if err := netlink.LinkAdd(want); err != nil {
		return nil, fmt.Errorf("creating %s (does the kernel have vxlan?): %w", VXLANDevice, err)
	}
	l, err := netlink.LinkByName(VXLANDevice)
	if err != nil {
		return nil, err
	}
	return l, vxlanAddress(l, s.podCIDR)
}

func vxlanAddress(l netlink.Link, podCIDR *net.IPNet) error {
	addr := &netlink.Addr{IPNet: &net.IPNet{IP: podCIDR.IP, Mask: net.CIDRMask(32, 32)}}
	have, err := netlink.AddrList(l, netlink.FAMILY_V4)
	if err != nil {
		return err
	}
	for _, a := range have {
		if !a.IP.Equal(addr.IP) {
			if err := netlink.AddrDel(l, &a); err != nil {
				return err
			}
		}
	}
	if err := netlink.AddrReplace(l, addr); err != nil {
		return fmt.Errorf("address of %s: %w", VXLANDevice, err)
	}
	return netlink.LinkSetUp(l)
}

// programPeers makes the device's routes, neighbours and FDB entries those
// of peers exactly: missing ones are added, stale ones (nodes gone or
// changed) removed, the rest left untouched.
func programPeers(l netlink.Link, ps []peer) error {
	idx := l.Attrs().Index
	wantRoutes := map[string]peer{}
	wantNeigh := map[string]peer{}
	wantFDB := map[string]peer{}
	for _, p := range ps {
		wantRoutes[p.podCIDR.String()] = p
		wantNeigh[p.gateway().String()] = p
		wantFDB[p.vtepMAC.String()] = p
	}
	var errs []error

	routes, err := netlink.RouteList(l, netlink.FAMILY_V4)
	if err != nil {
		return err
	}
	for _, r := range routes {
		p, ok := wantRoutes[r.Dst.String()]
		if r.Dst != nil && ok && r.Gw.Equal(p.gateway()) {
			delete(wantRoutes, r.Dst.String())
			continue
		}
		errs = append(errs, ignoreGone(netlink.RouteDel(&r)))
	}
	neighs, err := netlink.NeighList(idx, netlink.FAMILY_V4)
	if err != nil {
		return err
	}
	for _, n := range neighs {
		if n.State&netlink.NUD_PERMANENT == 0 {
			continue
		}
		if p, ok := wantNeigh[n.IP.String()]; ok && n.HardwareAddr.String() == p.vtepMAC.String() {
			delete(wantNeigh, n.IP.String())
			continue
		}
		errs = append(errs, ignoreGone(netlink.NeighDel(&n)))
	}
	fdb, err := netlink.NeighList(idx, syscall.AF_BRIDGE)
	if err != nil {
		return err
	}
	for _, n := range fdb {
		if n.IP == nil {
			continue // the kernel's own entries
		}
		if p, ok := wantFDB[n.HardwareAddr.String()]; ok && n.IP.Equal(p.publicIP) {
			delete(wantFDB, n.HardwareAddr.String())
			continue
		}
		errs = append(errs, ignoreGone(netlink.NeighDel(&n)))
	}

	// neighbour and FDB entries first, so the route is usable at once
	for _, p := range wantNeigh {
		errs = append(errs, netlink.NeighSet(&netlink.Neigh{
			LinkIndex: idx, Family: netlink.FAMILY_V4, State: netlink.NUD_PERMANENT,
			Type: netlink.NDA_DST, IP: p.gateway(), HardwareAddr: p.vtepMAC,
		}))
	}
	for _, p := range wantFDB {
		errs = append(errs, netlink.NeighSet(&netlink.Neigh{
			LinkIndex: idx, Family: syscall.AF_BRIDGE, State: netlink.NUD_PERMANENT,
			Flags: netlink.NTF_SELF, IP: p.publicIP, HardwareAddr: p.vtepMAC,
		}))
	}
	for _, p := range wantRoutes {
		errs = append(errs, netlink.RouteReplace(&netlink.Route{
			LinkIndex: idx, Dst: p.podCIDR, Gw: p.gateway(), Flags: int(netlink.FLAG_ONLINK),
		}))
		logrus.Infof("Overlay: pods of node %s (%s) via %s", p.name, p.podCIDR, p.publicIP)
	}
	return errors.Join(errs...)
}

func ignoreGone(err error) error {
	if errors.Is(err, syscall.ESRCH) || errors.Is(err, syscall.ENOENT) {
		return nil
	}
	return err
}

// uplink is the interface named by iface, or else the one holding ip.
func uplink(iface, ip string) (netlink.Link, error) {
	if iface != "" {
		l, err := netlink.LinkByName(iface)
		if err != nil {
			return nil, fmt.Errorf("--overlay-iface %s: %w", iface, err)
		}
		return l, nil
	}
	want := net.ParseIP(ip)
	addrs, err := netlink.AddrList(nil, netlink.FAMILY_ALL)
	if err != nil {
		return nil, err
	}
	for _, a := range addrs {
		if a.IP.Equal(want) {
			return netlink.LinkByIndex(a.LinkIndex)
		}
	}
	return nil, fmt.Errorf("no interface holds the node IP %s; name one with --overlay-iface", ip)
}
