package dns

import (
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// fakeUpstream answers example.org. A 192.0.2.1 (TTL 60) and NXDOMAIN for
// anything else, on loopback, counting the questions it gets.
func fakeUpstream(t *testing.T) (string, *atomic.Int32) {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var asked atomic.Int32
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		asked.Add(1)
		m := new(dns.Msg)
		m.SetReply(r)
		if r.Question[0].Name == "example.org." && r.Question[0].Qtype == dns.TypeA {
			rr, _ := dns.NewRR("example.org. 60 IN A 192.0.2.1")
			m.Answer = []dns.RR{rr}
		} else {
			m.Rcode = dns.RcodeNameError
			soa, _ := dns.NewRR("org. 60 IN SOA ns.org. host.org. 1 2 3 4 10")
			m.Ns = []dns.RR{soa}
		}
		_ = w.WriteMsg(m)
	})}
	go func() { _ = srv.ActivateAndServe() }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	return pc.LocalAddr().String(), &asked
}

func query(name string, qtype uint16) *dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	return m
}

func TestForwardAndCache(t *testing.T) {
	up, asked := fakeUpstream(t)
	_, svcNet, _ := net.ParseCIDR("10.43.0.0/16")
	s := NewServer("cluster.local", []string{up}, []*net.IPNet{svcNet}, 100)
	s.current.Store(fixture())

	for range 3 {
		m := s.reply(query("example.org.", dns.TypeA))
		if m.Rcode != dns.RcodeSuccess || len(m.Answer) != 1 || m.Answer[0].(*dns.A).A.String() != "192.0.2.1" {
			t.Fatalf("forwarded answer: %v", m)
		}
	}
	if n := asked.Load(); n != 1 {
		t.Errorf("upstream asked %d times for one cached name", n)
	}
	if m := s.reply(query("nowhere.org.", dns.TypeA)); m.Rcode != dns.RcodeNameError {
		t.Errorf("upstream NXDOMAIN became %s", dns.RcodeToString[m.Rcode])
	}
	// a name in the zone never goes upstream, and is authoritative
	before := asked.Load()
	m := s.reply(query("missing.shop.svc.cluster.local.", dns.TypeA))
	if m.Rcode != dns.RcodeNameError || !m.Authoritative || len(m.Ns) != 1 || asked.Load() != before {
		t.Errorf("missing Service: %v (upstream asked %d more)", m, asked.Load()-before)
	}
	// reverse names of the Service network are ours, known or not
	if m := s.reply(query("99.9.43.10.in-addr.arpa.", dns.TypePTR)); m.Rcode != dns.RcodeNameError || asked.Load() != before {
		t.Errorf("unknown Service address: %s", dns.RcodeToString[m.Rcode])
	}
	// an ExternalName's target is resolved upstream
	m = s.reply(query("ext.shop.svc.cluster.local.", dns.TypeA))
	if len(m.Answer) != 2 || m.Answer[1].(*dns.A).A.String() != "192.0.2.1" {
		t.Errorf("ExternalName: %v", m.Answer)
	}
}

func TestCacheExpiry(t *testing.T) {
	c := newCache(2)
	now := time.Unix(1000, 0)
	c.now = func() time.Time { return now }
	m := new(dns.Msg)
	rr, _ := dns.NewRR("a.example. 10 IN A 192.0.2.1")
	m.Answer = []dns.RR{rr}
	q := dns.Question{Name: "a.example.", Qtype: dns.TypeA, Qclass: dns.ClassINET}
	c.put(q, false, m)
	now = now.Add(4 * time.Second)
	got := c.get(q, false)
	if got == nil || got.Answer[0].Header().Ttl != 6 {
		t.Fatalf("cached answer: %v", got)
	}
	now = now.Add(7 * time.Second)
	if c.get(q, false) != nil {
		t.Error("expired answer served")
	}
	for _, n := range []string{"b.", "c.", "d."} {
		c.put(dns.Question{Name: n, Qtype: dns.TypeA, Qclass: dns.ClassINET}, false, m)
	}
	if len(c.entries) > 2 {
		t.Errorf("cache holds %d entries, bound 2", len(c.entries))
	}
}

func TestUpstreamsSkipSelf(t *testing.T) {
	f := filepath.Join(t.TempDir(), "resolv.conf")
	if err := os.WriteFile(f, []byte("nameserver 10.43.0.10\nnameserver 192.0.2.53\nsearch x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ups, err := Upstreams(f, []net.IP{net.ParseIP("10.43.0.10")})
	if err != nil || len(ups) != 1 || ups[0] != "192.0.2.53:53" {
		t.Errorf("upstreams %v %v", ups, err)
	}
	if _, err := Upstreams(filepath.Join(t.TempDir(), "none"), nil); err == nil {
		t.Error("a missing resolv.conf is no error")
	}
}

func TestAnswersCountedByRcode(t *testing.T) {
	up, _ := fakeUpstream(t)
	s := NewServer("cluster.local", []string{up}, nil, 100)
	s.current.Store(fixture())
	reg := prometheus.NewRegistry()
	s.countAnswers(reg)
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{PacketConn: pc, Handler: s}
	go func() { _ = srv.ActivateAndServe() }()
	t.Cleanup(func() { _ = srv.Shutdown() })

	c := new(dns.Client)
	for _, name := range []string{"example.org.", "nowhere.org.", "missing.shop.svc.cluster.local."} {
		if _, _, err := c.Exchange(query(name, dns.TypeA), pc.LocalAddr().String()); err != nil {
			t.Fatal(err)
		}
	}
	if n := testutil.ToFloat64(s.answers.WithLabelValues("NOERROR")); n != 1 {
		t.Errorf("NOERROR answers %v, want 1", n)
	}
	if n := testutil.ToFloat64(s.answers.WithLabelValues("NXDOMAIN")); n != 2 {
		t.Errorf("NXDOMAIN answers %v, want 2", n)
	}
	// published under its name in the registry given
	if n, err := testutil.GatherAndCount(reg, "edgeos_dns_answers_total"); err != nil || n != 2 {
		t.Errorf("gathered %d series: %v", n, err)
	}
}
