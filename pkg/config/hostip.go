package config

import (
	"bufio"
	"net"
	"os"
	"strings"
)

// HostIP picks the address a node is known by: the first IPv4 address of the
// interface holding the default route, else the first global unicast IPv4
// address of any interface that is up; nil when there is none.
func HostIP() net.IP {
	if name := defaultRouteInterface(); name != "" {
		if ip := firstIPv4(name); ip != nil {
			return ip
		}
	}
	ifaces, _ := net.Interfaces()
	for _, ifc := range ifaces {
		if ifc.Flags&net.FlagUp == 0 || ifc.Flags&net.FlagLoopback != 0 {
			continue
		}
		if ip := firstIPv4(ifc.Name); ip != nil {
			return ip
		}
	}
	return nil
}

func firstIPv4(name string) net.IP {
	ifc, err := net.InterfaceByName(name)
	if err != nil {
		return nil
	}
	addrs, _ := ifc.Addrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && n.IP.IsGlobalUnicast() {
			return n.IP.To4()
		}
	}
	return nil
}

// defaultRouteInterface reads the IPv4 default route from /proc/net/route.
func defaultRouteInterface() string {
	f, err := os.Open("/proc/net/route")
	if err != nil {
		return ""
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) > 2 && fields[1] == "00000000" && fields[0] != "Iface" {
			return fields[0]
		}
	}
	return ""
}
