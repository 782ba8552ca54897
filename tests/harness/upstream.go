package harness

import (
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/miekg/dns"
)

// FakeUpstream serves DNS on the host's address on the cluster bridge,
// port 53: A records for the names in records (name → address), NXDOMAIN
// for every other name. It returns a resolv.conf naming it, for
// --resolv-conf, so nodes resolve outside names without leaving the machine.
func (c *Cluster) FakeUpstream(records map[string]string) string {
	c.t.Helper()
	handler := dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		m.Authoritative = true
		q := r.Question[0]
		ip, ok := records[strings.ToLower(strings.TrimSuffix(q.Name, "."))]
		switch {
		case !ok:
			m.Rcode = dns.RcodeNameError
		case q.Qtype == dns.TypeA:
			m.Answer = []dns.RR{&dns.A{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 30}, A: net.ParseIP(ip)}}
		}
		_ = w.WriteMsg(m)
	})
	addr := net.JoinHostPort(c.HostIP(), "53")
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		c.t.Fatalf("fake upstream DNS: %v", err)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		pc.Close()
		c.t.Fatalf("fake upstream DNS: %v", err)
	}
	for _, srv := range []*dns.Server{{PacketConn: pc, Handler: handler}, {Listener: l, Handler: handler}} {
		go func() { _ = srv.ActivateAndServe() }()
		c.t.Cleanup(func() { _ = srv.Shutdown() })
	}
	path := filepath.Join(c.dir, "resolv.conf")
	if err := os.WriteFile(path, []byte("nameserver "+c.HostIP()+"\n"), 0o644); err != nil {
		c.t.Fatal(err)
	}
	return path
}
