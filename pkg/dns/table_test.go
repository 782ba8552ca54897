package dns

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func ptr[T any](v T) *T { return &v }

func fixture() *table {
	svcs := []*corev1.Service{
		{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop"}, Spec: corev1.ServiceSpec{
			ClusterIP: "10.43.0.20", ClusterIPs: []string{"10.43.0.20"},
			Ports: []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP}, {Port: 9000, Protocol: corev1.ProtocolTCP}},
		}},
		{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "shop"}, Spec: corev1.ServiceSpec{ClusterIP: "None"}},
		{ObjectMeta: metav1.ObjectMeta{Name: "ext", Namespace: "shop"}, Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "example.org"}},
		{ObjectMeta: metav1.ObjectMeta{Name: "alias", Namespace: "shop"}, Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "web.shop.svc.cluster.local"}},
	}
	slices := []*discoveryv1.EndpointSlice{{
		ObjectMeta: metav1.ObjectMeta{Name: "db-x", Namespace: "shop", Labels: map[string]string{discoveryv1.LabelServiceName: "db"}},
		Ports:      []discoveryv1.EndpointPort{{Name: ptr("pg"), Port: ptr(int32(5432)), Protocol: ptr(corev1.ProtocolTCP)}},
		Endpoints: []discoveryv1.Endpoint{
			{Addresses: []string{"10.42.1.5"}, Hostname: ptr("db-0"), Conditions: discoveryv1.EndpointConditions{Ready: ptr(true)}},
			{Addresses: []string{"10.42.2.6"}, Conditions: discoveryv1.EndpointConditions{Ready: ptr(true)}},
			{Addresses: []string{"10.42.2.7"}, Hostname: ptr("db-2"), Conditions: discoveryv1.EndpointConditions{Ready: ptr(false)}},
		},
	}}
	return build("cluster.local", svcs, slices)
}

// ask returns the rcode and the answer records as sorted strings without
// TTL and class.
func ask(t *table, name string, qtype uint16) (string, []string) {
	a := t.lookup(dns.Question{Name: name, Qtype: qtype, Qclass: dns.ClassINET})
	var out []string
	for _, rr := range a.answer {
		f := strings.Fields(rr.String())
		out = append(out, strings.Join(append(f[:1:1], f[3:]...), " "))
	}
	if a.external != "" {
		out = append(out, "external "+a.external)
	}
	sort.Strings(out)
	return dns.RcodeToString[a.rcode], out
}

func TestLookup(t *testing.T) {
	tb := fixture()
	for _, c := range []struct {
		name  string
		qtype uint16
		rcode string
		want  []string
	}{
		{"web.shop.svc.cluster.local.", dns.TypeA, "NOERROR", []string{"web.shop.svc.cluster.local. A 10.43.0.20"}},
		{"WEB.Shop.svc.cluster.local.", dns.TypeA, "NOERROR", []string{"WEB.Shop.svc.cluster.local. A 10.43.0.20"}},
		{"web.shop.svc.cluster.local.", dns.TypeAAAA, "NOERROR", nil}, // NODATA
		{"_http._tcp.web.shop.svc.cluster.local.", dns.TypeSRV, "NOERROR", []string{"_http._tcp.web.shop.svc.cluster.local. SRV 0 100 80 web.shop.svc.cluster.local."}},
		{"db.shop.svc.cluster.local.", dns.TypeA, "NOERROR", []string{"db.shop.svc.cluster.local. A 10.42.1.5", "db.shop.svc.cluster.local. A 10.42.2.6"}},
		{"db-0.db.shop.svc.cluster.local.", dns.TypeA, "NOERROR", []string{"db-0.db.shop.svc.cluster.local. A 10.42.1.5"}},
		{"10-42-2-6.db.shop.svc.cluster.local.", dns.TypeA, "NOERROR", []string{"10-42-2-6.db.shop.svc.cluster.local. A 10.42.2.6"}},
		{"db-2.db.shop.svc.cluster.local.", dns.TypeA, "NXDOMAIN", nil}, // not ready
		{"_pg._tcp.db.shop.svc.cluster.local.", dns.TypeSRV, "NOERROR", []string{
			"_pg._tcp.db.shop.svc.cluster.local. SRV 0 50 5432 10-42-2-6.db.shop.svc.cluster.local.",
			"_pg._tcp.db.shop.svc.cluster.local. SRV 0 50 5432 db-0.db.shop.svc.cluster.local."}},
		{"ext.shop.svc.cluster.local.", dns.TypeA, "NOERROR", []string{"ext.shop.svc.cluster.local. CNAME example.org.", "external example.org."}},
		{"alias.shop.svc.cluster.local.", dns.TypeA, "NOERROR", []string{"alias.shop.svc.cluster.local. CNAME web.shop.svc.cluster.local.", "web.shop.svc.cluster.local. A 10.43.0.20"}},
		{"20.0.43.10.in-addr.arpa.", dns.TypePTR, "NOERROR", []string{"20.0.43.10.in-addr.arpa. PTR web.shop.svc.cluster.local."}},
		{"5.1.42.10.in-addr.arpa.", dns.TypePTR, "NOERROR", []string{"5.1.42.10.in-addr.arpa. PTR db-0.db.shop.svc.cluster.local."}},
		{"10-42-3-9.shop.pod.cluster.local.", dns.TypeA, "NOERROR", []string{"10-42-3-9.shop.pod.cluster.local. A 10.42.3.9"}},
		{"missing.shop.svc.cluster.local.", dns.TypeA, "NXDOMAIN", nil},
		{"web.nowhere.svc.cluster.local.", dns.TypeA, "NXDOMAIN", nil},
		{"shop.svc.cluster.local.", dns.TypeA, "NOERROR", nil},            // namespace: empty non-terminal
		{"svc.cluster.local.", dns.TypeA, "NOERROR", nil},                 // empty non-terminal
		{"_tcp.web.shop.svc.cluster.local.", dns.TypeSRV, "NOERROR", nil}, // empty non-terminal
		{"cluster.local.", dns.TypeSOA, "NOERROR", []string{"cluster.local. SOA ns.dns.cluster.local. hostmaster.cluster.local. 1 7200 1800 86400 5"}},
	} {
		rcode, got := ask(tb, c.name, c.qtype)
		if rcode != c.rcode || strings.Join(got, "\n") != strings.Join(c.want, "\n") {
			t.Errorf("%s %s: %s %q\nwant %s %q", c.name, dns.TypeToString[c.qtype], rcode, got, c.rcode, c.want)
		}
	}
	if !tb.inZone("x.cluster.local.") || tb.inZone("example.org.") {
		t.Error("zone membership")
	}
}

// ExternalName Services that name each other, or themselves, in a loop,
// and chains longer than maxCNAMEs: SERVFAIL, with the CNAMEs up to the
// bound, and no lookup without end.
func TestCNAMELoops(t *testing.T) {
	ext := func(name, target string) *corev1.Service {
		return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "loop"},
			Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: target + ".loop.svc.cluster.local"}}
	}
	svcs := []*corev1.Service{ext("self", "self"), ext("ping", "pong"), ext("pong", "ping")}
	// a chain of 8 CNAMEs ends at c8, a ClusterIP; one of 9 is too long
	for i := 0; i < 9; i++ {
		svcs = append(svcs, ext(fmt.Sprintf("c%d", i), fmt.Sprintf("c%d", i+1)))
	}
	svcs[len(svcs)-1] = &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "c8", Namespace: "loop"}, Spec: corev1.ServiceSpec{ClusterIP: "10.43.0.8", ClusterIPs: []string{"10.43.0.8"}}}
	svcs = append(svcs, ext("c-1", "c0"))
	tb := build("cluster.local", svcs, nil)
	for _, c := range []struct {
		name   string
		rcode  string
		cnames int
	}{
		{"self", "SERVFAIL", maxCNAMEs},
		{"ping", "SERVFAIL", maxCNAMEs},
		{"c0", "NOERROR", maxCNAMEs},
		{"c-1", "SERVFAIL", maxCNAMEs},
	} {
		for _, qtype := range []uint16{dns.TypeA, dns.TypeAAAA, dns.TypeSRV} {
			rcode, got := ask(tb, c.name+".loop.svc.cluster.local.", qtype)
			n := 0
			for _, rr := range got {
				if strings.Contains(rr, " CNAME ") {
					n++
				}
			}
			if rcode != c.rcode || n != c.cnames {
				t.Errorf("%s %s: %s with %d CNAMEs, want %s with %d: %q", c.name, dns.TypeToString[qtype], rcode, n, c.rcode, c.cnames, got)
			}
		}
	}
	if _, got := ask(tb, "c0.loop.svc.cluster.local.", dns.TypeA); !slices.Contains(got, "c8.loop.svc.cluster.local. A 10.43.0.8") {
		t.Errorf("a chain of %d CNAMEs does not reach its address: %q", maxCNAMEs, got)
	}
}
