// Package dns is edgeos's cluster DNS: a node-local server, in the edgeos
// process on every node, that answers the Kubernetes DNS-based service
// discovery names from a watch of Services and EndpointSlices and forwards
// every other name to the node's upstream resolvers, with a cache.
//
// The records live in a table rebuilt whole from the watch caches whenever
// they change (debounced); a lookup reads the current table without locks.
// Edge clusters have hundreds of Services, not hundreds of thousands, and a
// whole rebuild keeps the rules of the specification in one place.
package dns

import (
	"net"
	"strconv"
	"strings"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

// TTL of every record the table answers, as CoreDNS's kubernetes plugin.
const TTL = 5

// srvTarget is one SRV answer: a port on a name in the zone.
type srvTarget struct {
	port   uint16
	target string
}

type entry struct {
	a, aaaa []net.IP
	cname   string
	srv     []srvTarget
}

// table is the zone at one moment. Names are lower case and fully
// qualified.
type table struct {
	zone  string
	names map[string]*entry
	// exists holds every name that has records or names below it, so an
	// empty non-terminal answers NODATA, not NXDOMAIN.
	exists map[string]bool
	ptr    map[string][]string
}

func newTable(zone string) *table {
	return &table{zone: dns.Fqdn(strings.ToLower(zone)), names: map[string]*entry{}, exists: map[string]bool{}, ptr: map[string][]string{}}
}

func (t *table) entry(name string) *entry {
	name = strings.ToLower(name)
	e := t.names[name]
	if e == nil {
		e = &entry{}
		t.names[name] = e
		for n := name; n != t.zone && n != "."; {
			t.exists[n] = true
			i := strings.IndexByte(n, '.')
			n = n[i+1:]
		}
		t.exists[t.zone] = true
	}
	return e
}

func (e *entry) addIP(ip net.IP) {
	if v4 := ip.To4(); v4 != nil {
		e.a = append(e.a, v4)
	} else if ip != nil {
		e.aaaa = append(e.aaaa, ip)
	}
}

func (t *table) addPTR(ip net.IP, name string) {
	rev, err := dns.ReverseAddr(ip.String())
	if err == nil {
		t.ptr[rev] = append(t.ptr[rev], name)
	}
}

// build makes the table for services and their EndpointSlices.
func build(zone string, services []*corev1.Service, slices []*discoveryv1.EndpointSlice) *table {
	t := newTable(zone)
	t.exists["svc."+t.zone] = true
	t.exists["pod."+t.zone] = true
	bySvc := map[string][]*discoveryv1.EndpointSlice{}
	for _, s := range slices {
		if name := s.Labels[discoveryv1.LabelServiceName]; name != "" {
			bySvc[s.Namespace+"/"+name] = append(bySvc[s.Namespace+"/"+name], s)
		}
	}
	for _, svc := range services {
		base := strings.ToLower(svc.Name + "." + svc.Namespace + ".svc." + t.zone)
		t.exists[strings.ToLower(svc.Namespace)+".svc."+t.zone] = true
		t.exists[strings.ToLower(svc.Namespace)+".pod."+t.zone] = true
		switch {
		case svc.Spec.Type == corev1.ServiceTypeExternalName:
			if svc.Spec.ExternalName != "" {
				t.entry(base).cname = dns.Fqdn(strings.ToLower(svc.Spec.ExternalName))
			}
		case svc.Spec.ClusterIP == corev1.ClusterIPNone:
			t.addHeadless(svc, base, bySvc[svc.Namespace+"/"+svc.Name])
		case svc.Spec.ClusterIP != "":
			e := t.entry(base)
			ips := svc.Spec.ClusterIPs
			if len(ips) == 0 {
				ips = []string{svc.Spec.ClusterIP}
			}
			for _, s := range ips {
				if ip := net.ParseIP(s); ip != nil {
					e.addIP(ip)
					t.addPTR(ip, base)
				}
			}
			for _, p := range svc.Spec.Ports {
				if p.Name == "" {
					continue
				}
				srv := t.entry(srvName(p.Name, string(p.Protocol), base))
				srv.srv = append(srv.srv, srvTarget{port: uint16(p.Port), target: base})
			}
		}
	}
	return t
}

// addHeadless gives a headless Service the addresses of its ready
// endpoints, and each endpoint a name of its own: its hostname (a
// StatefulSet pod's) or its address with dashes.
func (t *table) addHeadless(svc *corev1.Service, base string, slices []*discoveryv1.EndpointSlice) {
	t.entry(base)
	for _, s := range slices {
		for _, ep := range s.Endpoints {
			ready := ep.Conditions.Ready == nil || *ep.Conditions.Ready
			if !ready && !svc.Spec.PublishNotReadyAddresses {
				continue
			}
			for _, addr := range ep.Addresses {
				ip := net.ParseIP(addr)
				if ip == nil {
					continue
				}
				t.names[base].addIP(ip)
				host := strings.NewReplacer(".", "-", ":", "-").Replace(addr)
				if ep.Hostname != nil && *ep.Hostname != "" {
					host = *ep.Hostname
				}
				name := strings.ToLower(host) + "." + base
				t.entry(name).addIP(ip)
				t.addPTR(ip, name)
				for _, p := range s.Ports {
					if p.Name == nil || *p.Name == "" || p.Port == nil {
						continue
					}
					proto := "TCP"
					if p.Protocol != nil {
						proto = string(*p.Protocol)
					}
					srv := t.entry(srvName(*p.Name, proto, base))
					srv.srv = append(srv.srv, srvTarget{port: uint16(*p.Port), target: name})
				}
			}
		}
	}
}

func srvName(port, proto, base string) string {
	return "_" + strings.ToLower(port) + "._" + strings.ToLower(proto) + "." + base
}

// answer is the table's reply to one question.
type answer struct {
	rcode  int
	answer []dns.RR
	extra  []dns.RR
	// external is a CNAME target outside the zone that the caller may
	// resolve upstream and append.
	external string
}

// inZone reports whether the table is authoritative for name.
func (t *table) inZone(name string) bool {
	return dns.IsSubDomain(t.zone, strings.ToLower(name))
}

// maxCNAMEs bounds a chain of in-zone CNAMEs (ExternalName Services that
// name one another): Services may point at each other in a loop, and the
// answer to such a chain is SERVFAIL, not a lookup without end.
const maxCNAMEs = 8

func (t *table) lookup(q dns.Question) answer { return t.follow(q, 0) }

// follow answers q, the target of hops in-zone CNAMEs before it.
func (t *table) follow(q dns.Question, hops int) answer {
	name := strings.ToLower(q.Name)
	if rev := t.ptr[name]; rev != nil {
		if q.Qtype != dns.TypePTR {
			return answer{rcode: dns.RcodeSuccess}
		}
		var out []dns.RR
		for _, target := range rev {
			out = append(out, &dns.PTR{Hdr: t.hdr(q.Name, dns.TypePTR), Ptr: target})
		}
		return answer{rcode: dns.RcodeSuccess, answer: out}
	}
	if name == t.zone && (q.Qtype == dns.TypeSOA || q.Qtype == dns.TypeNS) {
		if q.Qtype == dns.TypeSOA {
			return answer{rcode: dns.RcodeSuccess, answer: []dns.RR{t.soa()}}
		}
		return answer{rcode: dns.RcodeSuccess, answer: []dns.RR{&dns.NS{Hdr: t.hdr(q.Name, dns.TypeNS), Ns: "ns.dns." + t.zone}}}
	}
	e := t.names[name]
	if e == nil {
		if ip := t.podIP(name); ip != nil {
			e = &entry{}
			e.addIP(ip)
		}
	}
	if e == nil {
		if t.exists[name] {
			return answer{rcode: dns.RcodeSuccess}
		}
		return answer{rcode: dns.RcodeNameError}
	}
	var a answer
	if e.cname != "" {
		if hops >= maxCNAMEs {
			return answer{rcode: dns.RcodeServerFailure}
		}
		a.answer = append(a.answer, &dns.CNAME{Hdr: t.hdr(q.Name, dns.TypeCNAME), Target: e.cname})
		if q.Qtype == dns.TypeCNAME {
			return a
		}
		if t.inZone(e.cname) {
			sub := t.follow(dns.Question{Name: e.cname, Qtype: q.Qtype, Qclass: q.Qclass}, hops+1)
			a.answer = append(a.answer, sub.answer...)
			a.extra = sub.extra
			if sub.rcode == dns.RcodeServerFailure {
				a.rcode = sub.rcode
			}
		} else {
			a.external = e.cname
		}
		return a
	}
	switch q.Qtype {
	case dns.TypeA:
		for _, ip := range e.a {
			a.answer = append(a.answer, &dns.A{Hdr: t.hdr(q.Name, dns.TypeA), A: ip})
		}
	case dns.TypeAAAA:
		for _, ip := range e.aaaa {
			a.answer = append(a.answer, &dns.AAAA{Hdr: t.hdr(q.Name, dns.TypeAAAA), AAAA: ip})
		}
	case dns.TypeSRV:
		weight := uint16(100)
		if n := len(e.srv); n > 1 {
			weight = uint16(100 / n)
		}
		for _, s := range e.srv {
			a.answer = append(a.answer, &dns.SRV{Hdr: t.hdr(q.Name, dns.TypeSRV), Priority: 0, Weight: weight, Port: s.port, Target: s.target})
			if target := t.names[s.target]; target != nil {
				for _, ip := range target.a {
					a.extra = append(a.extra, &dns.A{Hdr: t.hdr(s.target, dns.TypeA), A: ip})
				}
				for _, ip := range target.aaaa {
					a.extra = append(a.extra, &dns.AAAA{Hdr: t.hdr(s.target, dns.TypeAAAA), AAAA: ip})
				}
			}
		}
	}
	a.rcode = dns.RcodeSuccess
	return a
}

// podIP reads a pod name, a-b-c-d.<ns>.pod.<zone>, as its address.
func (t *table) podIP(name string) net.IP {
	rest, ok := strings.CutSuffix(name, ".pod."+t.zone)
	if !ok {
		return nil
	}
	host, ns, ok := strings.Cut(rest, ".")
	if !ok || ns == "" || strings.Contains(ns, ".") {
		return nil
	}
	ip := net.ParseIP(strings.ReplaceAll(host, "-", "."))
	if ip == nil {
		ip = net.ParseIP(strings.ReplaceAll(host, "-", ":"))
	}
	return ip
}

func (t *table) hdr(name string, rrtype uint16) dns.RR_Header {
	return dns.RR_Header{Name: name, Rrtype: rrtype, Class: dns.ClassINET, Ttl: TTL}
}

// soa is the zone's SOA, given in the authority section of NXDOMAIN and
// NODATA answers; its minimum bounds how long they are cached.
func (t *table) soa() dns.RR {
	return &dns.SOA{
		Hdr: t.hdr(t.zone, dns.TypeSOA), Ns: "ns.dns." + t.zone, Mbox: "hostmaster." + t.zone,
		Serial: 1, Refresh: 7200, Retry: 1800, Expire: 86400, Minttl: TTL,
	}
}

// ptrZone reports whether a reverse name falls in one of nets, for which
// the table is authoritative.
func ptrInNets(name string, nets []*net.IPNet) bool {
	ip := reverseIP(strings.ToLower(name))
	if ip == nil {
		return false
	}
	for _, n := range nets {
		if n.Contains(ip) {
			return true
		}
	}
	return false
}

// reverseIP reads d.c.b.a.in-addr.arpa. as an address.
func reverseIP(name string) net.IP {
	rest, ok := strings.CutSuffix(name, ".in-addr.arpa.")
	if !ok {
		return nil
	}
	parts := strings.Split(rest, ".")
	if len(parts) != 4 {
		return nil
	}
	for i, j := 0, len(parts)-1; i < j; i, j = i+1, j-1 {
		parts[i], parts[j] = parts[j], parts[i]
	}
	for _, p := range parts {
		if n, err := strconv.Atoi(p); err != nil || n < 0 || n > 255 {
			return nil
		}
	}
	return net.ParseIP(strings.Join(parts, "."))
}
