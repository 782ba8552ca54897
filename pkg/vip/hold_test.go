package vip

import (
	"bytes"
	"encoding/binary"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// inNetNS runs the test on a thread in a network namespace of its own
// with a veth pair, up0 (198.18.255.2/24) and up1, and returns up0.
func inNetNS(t *testing.T) netlink.Link {
	if os.Geteuid() != 0 {
		t.Skip("needs root for a network namespace")
	}
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		t.Fatal(err)
	}
	ns, err := netns.New() // this thread is now in it
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = netns.Set(orig)
		ns.Close()
		orig.Close()
		runtime.UnlockOSThread()
	})
	if err := netlink.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "up0"}, PeerName: "up1"}); err != nil {
		t.Fatal(err)
	}
	up0, err := netlink.LinkByName("up0")
	if err != nil {
		t.Fatal(err)
	}
	up1, err := netlink.LinkByName("up1")
	if err != nil {
		t.Fatal(err)
	}
	if err := netlink.AddrAdd(up0, &netlink.Addr{IPNet: &net.IPNet{IP: net.ParseIP("198.18.255.2"), Mask: net.CIDRMask(24, 32)}}); err != nil {
		t.Fatal(err)
	}
	for _, l := range []netlink.Link{up0, up1} {
		if err := netlink.LinkSetUp(l); err != nil {
			t.Fatal(err)
		}
	}
	return up0
}

func addrsOf(t *testing.T, link netlink.Link) []string {
	t.Helper()
	addrs, err := netlink.AddrList(link, netlink.FAMILY_V4)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, a := range addrs {
		out = append(out, a.IPNet.String())
	}
	return out
}

func TestHolding(t *testing.T) {
	up0 := inNetNS(t)
	up1, err := netlink.LinkByName("up1")
	if err != nil {
		t.Fatal(err)
	}
	arp := listenARP(t, up1.Attrs().Index)
	file := filepath.Join(t.TempDir(), "held.json")
	h, err := NewHolding(file)
	if err != nil {
		t.Fatal(err)
	}
	vip, own, away := netip.MustParseAddr("198.18.255.50"), netip.MustParseAddr("198.18.255.2"), netip.MustParseAddr("192.0.2.1")
	err = h.Hold([]netip.Addr{vip, own, away})
	if err == nil || !strings.Contains(err.Error(), "192.0.2.1") {
		t.Errorf("holding an address on no network of the node: %v, want an error naming it", err)
	}
	if got := addrsOf(t, up0); strings.Join(got, " ") != "198.18.255.2/24 198.18.255.50/32" {
		t.Errorf("up0 has %v, want its own address and 198.18.255.50/32", got)
	}
	if got := h.Held(); len(got) != 1 || got[0] != vip {
		t.Errorf("held %v, want only %s (the node's own address is not taken off by a release)", got, vip)
	}
	// the neighbours are told
	if !arp(up0.Attrs().HardwareAddr, vip) {
		t.Error("no gratuitous ARP for 198.18.255.50 from up0's address seen on up1")
	}
	data, err := os.ReadFile(file)
	if err != nil || !bytes.Contains(data, []byte(`"198.18.255.50"`)) {
		t.Errorf("the record %s: %q, %v", file, data, err)
	}

	// a run after a crash takes off what this one left
	again, err := NewHolding(file)
	if err != nil {
		t.Fatal(err)
	}
	if got := addrsOf(t, up0); len(got) != 1 {
		t.Errorf("after a new start up0 has %v, want its own address only", got)
	}
	if err := again.Hold([]netip.Addr{vip}); err != nil {
		t.Fatal(err)
	}
	if err := again.Release([]netip.Addr{own}); err != nil {
		t.Fatal(err)
	}
	if got := addrsOf(t, up0); len(got) != 1 || len(again.Held()) != 0 {
		t.Errorf("after the release up0 has %v and %v are held, want its own address only", got, again.Held())
	}
	// a release that changes nothing does not write the record again
	before, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(file, 0o400); err != nil {
		t.Fatal(err)
	}
	if err := again.Release(nil); err != nil {
		t.Fatal(err)
	}
	after, err := os.Stat(file)
	if err != nil || !os.SameFile(before, after) || after.Mode().Perm() != 0o400 {
		t.Errorf("the record was written again by a release of nothing: %v %v", after, err)
	}
	// a record that cannot be read is said, not taken for none
	if err := os.WriteFile(file, []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	h, err = NewHolding(file)
	if err == nil || !strings.Contains(err.Error(), file) {
		t.Errorf("a corrupt record: %v, want an error naming it", err)
	}
	// and the holding goes on: the record is written anew
	if err := h.Hold([]netip.Addr{vip}); err != nil {
		t.Fatal(err)
	}
	if err := h.Release(nil); err != nil {
		t.Fatal(err)
	}
	if data, err := os.ReadFile(file); err != nil || string(data) != "[]" {
		t.Errorf("the record after a release: %q, %v", data, err)
	}
}

// listenARP returns a function that reports whether a gratuitous ARP
// request for a from hw reaches the link, waiting a while for it.
func listenARP(t *testing.T, index int) func(hw net.HardwareAddr, a netip.Addr) bool {
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM, int(htons(unix.ETH_P_ARP)))
	if err != nil {
		t.Fatal(err)
	}
	// a bound on the wait, not on how soon it comes
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Sec: 10}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ARP), Ifindex: index}); err != nil {
		t.Fatal(err)
	}
	return func(hw net.HardwareAddr, a netip.Addr) bool {
		ip := a.As4()
		buf := make([]byte, 128)
		for {
			n, _, err := unix.Recvfrom(fd, buf, 0)
			if err != nil {
				return false // nothing came
			}
			p := buf[:n]
			if n >= 28 && binary.BigEndian.Uint16(p[6:]) == 1 && bytes.Equal(p[8:14], hw) &&
				bytes.Equal(p[14:18], ip[:]) && bytes.Equal(p[24:28], ip[:]) {
				return true
			}
		}
	}
}
