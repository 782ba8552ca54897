package plugin

import (
	"net"
	"reflect"
	"strings"
	"testing"
)

func TestMappingRules(t *testing.T) {
	pod := net.ParseIP("10.42.0.7")
	rules, err := mappingRules(pod, []PortMapping{
		{HostPort: 80, ContainerPort: 8080, Protocol: "TCP"},
		{HostPort: 53, ContainerPort: 5353, Protocol: "udp", HostIP: "198.18.0.2"},
		{HostPort: 81, ContainerPort: 81, HostIP: "fd00::1"}, // not for an IPv4 pod
	})
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{
		{"-p", "tcp", "--dport", "80", "-s", "10.42.0.7/32", "-j", "MARK", "--set-xmark", hairpinMark},
		{"-p", "tcp", "--dport", "80", "-j", "DNAT", "--to-destination", "10.42.0.7:8080"},
		{"-p", "udp", "--dport", "53", "-d", "198.18.0.2/32", "-s", "10.42.0.7/32", "-j", "MARK", "--set-xmark", hairpinMark},
		{"-p", "udp", "--dport", "53", "-d", "198.18.0.2/32", "-j", "DNAT", "--to-destination", "10.42.0.7:5353"},
	}
	if !reflect.DeepEqual(rules, want) {
		t.Errorf("rules:\n%v\nwant:\n%v", rules, want)
	}

	for _, bad := range []PortMapping{
		{HostPort: 0, ContainerPort: 80},
		{HostPort: 80, ContainerPort: 70000},
		{HostPort: 80, ContainerPort: 80, Protocol: "icmp"},
	} {
		if _, err := mappingRules(pod, []PortMapping{bad}); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

func TestPodChainName(t *testing.T) {
	a, b := podChain("abc"), podChain("abd")
	if a == b || !strings.HasPrefix(a, "EDGEOS-HP-") {
		t.Errorf("chains %s %s", a, b)
	}
	if len(a) > 28 { // iptables' limit on chain names
		t.Errorf("chain name %s is %d characters", a, len(a))
	}
	if podChain("abc") != a {
		t.Error("the chain name is not a function of the container ID")
	}
}
