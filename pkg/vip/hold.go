package vip

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"os"
	"slices"

	"github.com/edgeos/edgeos/pkg/atomicfile"
	"github.com/sirupsen/logrus"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Holding puts the addresses a node holds on its interfaces and takes
// them off again. It records them in its file before it adds them, so
// that a start after a crash takes off what the crashed run left.
// Not safe for concurrent use.
type Holding struct {
	file string
	// held: the addresses added, by the name of the link they are on
	held map[netip.Addr]string
}

type record struct {
	Address netip.Addr `json:"address"`
	Link    string     `json:"link"`
}

// NewHolding takes off the addresses a previous run recorded in file. The
// Holding it returns is usable even with an error: a record that cannot be
// read or an address that cannot be taken off is reported, not fatal.
func NewHolding(file string) (*Holding, error) {
	h := &Holding{file: file, held: map[netip.Addr]string{}}
	data, err := os.ReadFile(file)
	if errors.Is(err, os.ErrNotExist) {
		return h, nil
	}
	if err != nil {
		return h, err
	}
	var left []record
	if err := json.Unmarshal(data, &left); err != nil {
		// not torn (it is replaced by a rename): written by someone else
		return h, fmt.Errorf("%s cannot be read (%v): addresses a previous run held may be left on this node's interfaces", file, err)
	}
	for _, r := range left {
		h.held[r.Address] = r.Link
	}
	return h, h.Release(nil)
}

// Held are the addresses on the node's interfaces now.
func (h *Holding) Held() []netip.Addr {
	return slices.SortedFunc(maps.Keys(h.held), netip.Addr.Compare)
}

// Hold puts each address of want that is not the node's already on the
// interface whose network holds it, and announces it there. An address
// no interface's network holds is reported and left out.
func (h *Holding) Hold(want []netip.Addr) error {
	var add []netip.Addr
	for _, a := range want {
		if _, ok := h.held[a]; !ok {
			add = append(add, a)
		}
	}
	if len(add) == 0 {
		return nil
	}
	addrs, err := netlink.AddrList(nil, netlink.FAMILY_V4)
	if err != nil {
		return fmt.Errorf("listing the node's addresses: %w", err)
	}
	var errs []error
	for _, a := range add {
		link, err := linkFor(addrs, a)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if link == nil {
			continue // the node's own address already
		}
		h.held[a] = link.Attrs().Name
		if err := h.save(); err != nil {
			delete(h.held, a)
			errs = append(errs, err)
			continue
		}
		err = netlink.AddrAdd(link, hostAddr(a))
		if err != nil && !errors.Is(err, unix.EEXIST) {
			// not held: nothing listens on it, nothing takes it off
			delete(h.held, a)
			errs = append(errs, fmt.Errorf("adding %s to %s: %w", a, link.Attrs().Name, errors.Join(err, h.save())))
			continue
		}
		if err := announce(link.Attrs(), a); err != nil {
			// neighbours learn it when their entries expire
			logrus.Warnf("Announcing %s on %s: %v", a, link.Attrs().Name, err)
		}
		logrus.Infof("This node holds %s (on %s)", a, link.Attrs().Name)
	}
	return errors.Join(errs...)
}

// Release takes off the held addresses not in keep. The record is
// written only when that changes it: the proxy calls this on every change
// of its routes.
func (h *Holding) Release(keep []netip.Addr) error {
	var errs []error
	released := false
	for _, a := range h.Held() {
		if slices.Contains(keep, a) {
			continue
		}
		name := h.held[a]
		link, err := netlink.LinkByName(name)
		if err == nil {
			err = netlink.AddrDel(link, hostAddr(a))
		}
		var notFound netlink.LinkNotFoundError
		if err != nil && !errors.As(err, &notFound) && !errors.Is(err, unix.EADDRNOTAVAIL) {
			errs = append(errs, fmt.Errorf("taking %s off %s: %w", a, name, err))
			continue
		}
		delete(h.held, a)
		released = true
		logrus.Infof("This node no longer holds %s", a)
	}
	if released {
		errs = append(errs, h.save())
	}
	return errors.Join(errs...)
}

func (h *Holding) save() error {
	records := []record{}
	for _, a := range h.Held() {
		records = append(records, record{Address: a, Link: h.held[a]})
	}
	data, err := json.Marshal(records)
	if err != nil {
		return err
	}
	return atomicfile.Write(h.file, data, 0o600)
}

func hostAddr(a netip.Addr) *netlink.Addr {
	return &netlink.Addr{IPNet: &net.IPNet{IP: a.AsSlice(), Mask: net.CIDRMask(32, 32)}}
}

// linkFor is the link with a network holding a; nil when a is one of the
// node's addresses already.
func linkFor(addrs []netlink.Addr, a netip.Addr) (netlink.Link, error) {
	index := 0
	for _, have := range addrs {
		ip, ok := netip.AddrFromSlice(have.IP)
		if !ok {
			continue
		}
		if ip.Unmap() == a {
			return nil, nil
		}
		ones, _ := have.Mask.Size()
		if index == 0 && ones < 32 && netip.PrefixFrom(ip.Unmap(), ones).Contains(a) {
			index = have.LinkIndex
		}
	}
	if index == 0 {
		return nil, fmt.Errorf("no interface of this node is on a network holding %s: a Gateway's address must be on the nodes' network", a)
	}
	return netlink.LinkByIndex(index)
}

// announce sends a gratuitous ARP request for a from the link, so that
// the neighbours that knew a at another node's hardware address send to
// this one now.
func announce(link *netlink.LinkAttrs, a netip.Addr) error {
	if len(link.HardwareAddr) != 6 {
		return nil // not Ethernet: nothing to announce
	}
	proto := htons(unix.ETH_P_ARP)
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, int(proto))
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ip := a.As4()
	pkt := make([]byte, 28)
	binary.BigEndian.PutUint16(pkt[0:], 1)      // hardware: Ethernet
	binary.BigEndian.PutUint16(pkt[2:], 0x0800) // protocol: IPv4
	pkt[4], pkt[5] = 6, 4
	binary.BigEndian.PutUint16(pkt[6:], 1) // a request, sender and target a
	copy(pkt[8:], link.HardwareAddr)
	copy(pkt[14:], ip[:])
	copy(pkt[24:], ip[:])
	to := &unix.SockaddrLinklayer{Protocol: proto, Ifindex: link.Index, Halen: 6}
	copy(to.Addr[:], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	return unix.Sendto(fd, pkt, 0, to)
}

// htons is v in network byte order, as the socket calls take it.
func htons(v uint16) uint16 {
	var b [2]byte
	binary.BigEndian.PutUint16(b[:], v)
	return binary.NativeEndian.Uint16(b[:])
}
