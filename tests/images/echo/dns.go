package main

import (
	"fmt"
	"net"
	"strings"

	"github.com/miekg/dns"
)

// lookup asks for name's records of type qtype and prints "rcode X" and
// the answers. Without a server it reads /etc/resolv.conf and tries the
// search list as a stub resolver does, stopping at the first name that
// exists.
func lookup(qtype, name, server string) error {
	t, ok := dns.StringToType[strings.ToUpper(qtype)]
	if !ok {
		return fmt.Errorf("unknown record type %q", qtype)
	}
	names := []string{dns.Fqdn(name)}
	if server == "" {
		cc, err := dns.ClientConfigFromFile("/etc/resolv.conf")
		if err != nil {
			return err
		}
		server = net.JoinHostPort(cc.Servers[0], cc.Port)
		names = cc.NameList(name)
	} else if _, _, err := net.SplitHostPort(server); err != nil {
		server = net.JoinHostPort(server, "53")
	}
	c := new(dns.Client)
	var last *dns.Msg
	for _, n := range names {
		q := new(dns.Msg)
		q.SetQuestion(n, t)
		r, _, err := c.Exchange(q, server)
		if err != nil {
			return err
		}
		last = r
		if r.Rcode != dns.RcodeNameError {
			break
		}
	}
	fmt.Println("rcode", dns.RcodeToString[last.Rcode])
	for _, rr := range last.Answer {
		fmt.Println(rr.String())
	}
	return nil
}
