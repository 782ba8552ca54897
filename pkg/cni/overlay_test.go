package cni

import (
	"net"
	"os"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func node(name, podCIDR, mac, ip string) *corev1.Node {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: map[string]string{}}}
	n.Spec.PodCIDR = podCIDR
	if mac != "" {
		n.Annotations[AnnotationVTEPMAC] = mac
	}
	if ip != "" {
		n.Annotations[AnnotationPublicIP] = ip
	}
	return n
}

func TestPeers(t *testing.T) {
	got := peers([]*corev1.Node{
		node("self", "10.42.0.0/24", "02:00:00:00:00:01", "198.18.0.2"),
		node("b", "10.42.1.0/24", "02:00:00:00:00:02", "198.18.0.3"),
		node("no-cidr", "", "02:00:00:00:00:03", "198.18.0.4"),
		node("no-mac", "10.42.3.0/24", "", "198.18.0.5"),
		node("bad-ip", "10.42.4.0/24", "02:00:00:00:00:05", "nope"),
	}, "self")
	if len(got) != 1 || got[0].name != "b" || got[0].gateway().String() != "10.42.1.0" || got[0].publicIP.String() != "198.18.0.3" {
		t.Fatalf("peers: %+v", got)
	}
}

// TestProgramPeers programs a real VXLAN device in a network namespace of
// its own: entries for new peers appear, a changed peer is replaced, a
// removed one vanishes.
func TestProgramPeers(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for a network namespace")
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		t.Fatal(err)
	}
	defer orig.Close()
	ns, err := netns.New() // this thread is now in it
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = netns.Set(orig)
		ns.Close()
	}()

	up := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "up0", MTU: 1500}, PeerName: "up1"}
	if err := netlink.LinkAdd(up); err != nil {
		t.Fatal(err)
	}
	l, _ := netlink.LinkByName("up0")
	if err := netlink.AddrAdd(l, &netlink.Addr{IPNet: &net.IPNet{IP: net.ParseIP("198.18.255.2"), Mask: net.CIDRMask(24, 32)}}); err != nil {
		t.Fatal(err)
	}
	if err := netlink.LinkSetUp(l); err != nil {
		t.Fatal(err)
	}
	upl, err := uplink("", "198.18.255.2")
	if err != nil || upl.Attrs().Name != "up0" {
		t.Fatalf("uplink: %v %v", upl, err)
	}
	_, own, _ := net.ParseCIDR("10.42.0.0/24")
	vx, err := ensureVXLAN(vxlanSpec{uplink: upl, localIP: net.ParseIP("198.18.255.2"), podCIDR: own})
	if err != nil {
		t.Fatal(err)
	}
	if vx.Attrs().MTU != 1450 {
		t.Errorf("MTU %d, want 1450", vx.Attrs().MTU)
	}
	// a second run keeps the device, and so its MAC
	again, err := ensureVXLAN(vxlanSpec{uplink: upl, localIP: net.ParseIP("198.18.255.2"), podCIDR: own})
	if err != nil || again.Attrs().HardwareAddr.String() != vx.Attrs().HardwareAddr.String() {
		t.Fatalf("re-ensure changed the device: %v", err)
	}

	b := node("b", "10.42.1.0/24", "02:00:00:00:00:02", "198.18.255.3")
	c := node("c", "10.42.2.0/24", "02:00:00:00:00:03", "198.18.255.4")
	if err := programPeers(vx, peers([]*corev1.Node{b, c}, "self")); err != nil {
		t.Fatal(err)
	}
	s := state(t, vx)
	for _, want := range []string{"route 10.42.1.0/24 via 10.42.1.0", "route 10.42.2.0/24 via 10.42.2.0",
		"neigh 10.42.1.0 02:00:00:00:00:02", "neigh 10.42.2.0 02:00:00:00:00:03",
		"fdb 02:00:00:00:00:02 198.18.255.3", "fdb 02:00:00:00:00:03 198.18.255.4"} {
		if !strings.Contains(s, want) {
			t.Errorf("missing %q in\n%s", want, s)
		}
	}

	// c moves to another address and MAC; b leaves
	c = node("c", "10.42.2.0/24", "02:00:00:00:00:33", "198.18.255.5")
	if err := programPeers(vx, peers([]*corev1.Node{c}, "self")); err != nil {
		t.Fatal(err)
	}
	s = state(t, vx)
	want := "route 10.42.2.0/24 via 10.42.2.0\nneigh 10.42.2.0 02:00:00:00:00:33\nfdb 02:00:00:00:00:33 198.18.255.5\n"
	if s != want {
		t.Errorf("after the change:\n%s\nwant:\n%s", s, want)
	}
}

func state(t *testing.T, l netlink.Link) string {
	t.Helper()
	var sb strings.Builder
	routes, err := netlink.RouteList(l, netlink.FAMILY_V4)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range routes {
		sb.WriteString("route " + r.Dst.String() + " via " + r.Gw.String() + "\n")
	}
	neighs, _ := netlink.NeighList(l.Attrs().Index, netlink.FAMILY_V4)
	for _, n := range neighs {
		if n.State&netlink.NUD_PERMANENT != 0 {
			sb.WriteString("neigh " + n.IP.String() + " " + n.HardwareAddr.String() + "\n")
		}
	}
	fdb, _ := netlink.NeighList(l.Attrs().Index, syscall.AF_BRIDGE)
	for _, n := range fdb {
		if n.IP != nil {
			sb.WriteString("fdb " + n.HardwareAddr.String() + " " + n.IP.String() + "\n")
		}
	}
	return sb.String()
}
