package dns

import (
	"net"
	"testing"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// FuzzReply feeds the cluster DNS every message shape the fuzzer makes,
// against a table holding Services, endpoints and a CNAME loop, with no
// upstream: no message may end the process, and every reply packs.
func FuzzReply(f *testing.F) {
	tb := fixture()
	loop := build("cluster.local", []*corev1.Service{
		{ObjectMeta: metav1.ObjectMeta{Name: "a", Namespace: "x"}, Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "b.x.svc.cluster.local"}},
		{ObjectMeta: metav1.ObjectMeta{Name: "b", Namespace: "x"}, Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "a.x.svc.cluster.local"}},
	}, nil)
	_, reverse, _ := net.ParseCIDR("10.43.0.0/16")
	for _, q := range []struct {
		name  string
		qtype uint16
	}{
		{"web.shop.svc.cluster.local.", dns.TypeA},
		{"a.x.svc.cluster.local.", dns.TypeAAAA},
		{"_http._tcp.web.shop.svc.cluster.local.", dns.TypeSRV},
		{"20.0.43.10.in-addr.arpa.", dns.TypePTR},
		{"10-42-3-9.shop.pod.cluster.local.", dns.TypeA},
		{"example.org.", dns.TypeMX},
	} {
		m := new(dns.Msg)
		m.SetQuestion(q.name, q.qtype)
		m.SetEdns0(4096, true)
		b, err := m.Pack()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r := new(dns.Msg)
		if r.Unpack(b) != nil {
			return
		}
		for _, table := range []*table{tb, loop} {
			s := NewServer("cluster.local", nil, []*net.IPNet{reverse}, 10)
			s.current.Store(table)
			m := s.reply(r)
			if _, err := m.Pack(); err != nil {
				t.Fatalf("the reply to %v does not pack: %v", r.Question, err)
			}
		}
	})
}
