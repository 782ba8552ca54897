package ingress

import (
	"crypto/tls"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func service(name string, ports ...corev1.ServicePort) *corev1.Service {
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name}, Spec: corev1.ServiceSpec{Ports: ports}}
}

func slice(svc, port string, number int32, ready map[string]bool) *discoveryv1.EndpointSlice {
	s := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: "default", Name: svc + "-x", Labels: map[string]string{discoveryv1.LabelServiceName: svc}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: &port, Port: &number}},
	}
	for ip, r := range ready {
		serving := true
		s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{Addresses: []string{ip}, Conditions: discoveryv1.EndpointConditions{Ready: &r, Serving: &serving}})
	}
	return s
}

type rule struct {
	path, kind, svc string
	port            int32
}

func ingressOf(name string, age int, host string, paths ...rule) *networkingv1.Ingress {
	ing := &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name, CreationTimestamp: metav1.NewTime(time.Unix(int64(1000-age), 0))}}
	r := networkingv1.IngressRule{Host: host, IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{}}}
	for _, p := range paths {
		kind := networkingv1.PathType(p.kind)
		r.HTTP.Paths = append(r.HTTP.Paths, networkingv1.HTTPIngressPath{
			Path: p.path, PathType: &kind,
			Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: p.svc, Port: networkingv1.ServiceBackendPort{Number: p.port}}},
		})
	}
	ing.Spec.Rules = []networkingv1.IngressRule{r}
	return ing
}

func TestRoutePrecedence(t *testing.T) {
	var svcs []*corev1.Service
	var slices []*discoveryv1.EndpointSlice
	for i, name := range []string{"root", "foo", "foo-exact", "foobar", "wild", "any", "other"} {
		svcs = append(svcs, service(name, corev1.ServicePort{Name: "http", Port: 80}))
		slices = append(slices, slice(name, "http", 8080, map[string]bool{"10.42.0." + string(rune('1'+i)): true}))
	}
	in := Inputs{
		Services: svcs, Slices: slices,
		Ingresses: []*networkingv1.Ingress{
			ingressOf("a", 10, "example.com",
				rule{"/", "Prefix", "root", 80},
				rule{"/foo", "Prefix", "foo", 80},
				rule{"/foo", "Exact", "foo-exact", 80},
				rule{"/foo/bar/", "Prefix", "foobar", 80}),
			ingressOf("b", 5, "*.example.com", rule{"/", "Prefix", "wild", 80}),
			ingressOf("c", 4, "", rule{"/any", "ImplementationSpecific", "any", 80}),
		},
	}
	table, problems := Build(in)
	if len(problems) != 0 {
		t.Fatalf("problems: %v", problems)
	}
	for _, tc := range []struct{ host, path, want string }{
		{"example.com", "/", "default/root:80"},
		{"Example.COM:8080", "/x", "default/root:80"},
		{"example.com", "/foo", "default/foo-exact:80"}, // Exact over Prefix of the same length
		{"example.com", "/foo/", "default/foo:80"},
		{"example.com", "/foobar", "default/root:80"}, // prefixes match whole elements
		{"example.com", "/foo/bar", "default/foobar:80"},
		{"example.com", "/foo/bar/baz", "default/foobar:80"},
		{"example.com", "/foo/bar/../x", "default/foo:80"}, // routed by what the path means
		{"example.com", "//foo//bar", "default/foobar:80"},
		{"a.example.com", "/", "default/wild:80"},
		{"a.b.example.com", "/any/x", "default/any:80"}, // a wildcard covers one label
		{"example.com", "/any", "default/root:80"},      // the host's own routes first
		{"elsewhere", "/any/", "default/any:80"},
		{"elsewhere", "/anything", ""},
	} {
		got := ""
		if target := table.Route(tc.host, tc.path); target != nil {
			got = target.Name
		}
		if got != tc.want {
			t.Errorf("%s%s: %q, want %q", tc.host, tc.path, got, tc.want)
		}
	}
}

func TestBuildProblems(t *testing.T) {
	svcs := []*corev1.Service{service("web", corev1.ServicePort{Name: "http", Port: 80})}
	slices := []*discoveryv1.EndpointSlice{slice("web", "http", 8080, map[string]bool{"10.42.0.1": true, "10.42.0.2": false})}
	older := ingressOf("older", 10, "web.example", rule{"/", "Prefix", "web", 80})
	newer := ingressOf("newer", 5, "web.example",
		rule{"/", "Prefix", "web", 80}, // taken by the older one
		rule{"/api/(v1|v2)", "ImplementationSpecific", "web", 80},
		rule{"/gone", "Prefix", "missing", 80},
		rule{"/port", "Prefix", "web", 81},
	)
	newer.Spec.TLS = []networkingv1.IngressTLS{{Hosts: []string{"web.example"}, SecretName: "absent"}}
	table, problems := Build(Inputs{Ingresses: []*networkingv1.Ingress{newer, older}, Services: svcs, Slices: slices})
	reasons := map[string]string{}
	for _, p := range problems {
		if p.Ingress != "default/newer" {
			t.Errorf("problem on %s: %v", p.Ingress, p)
		}
		reasons[p.Reason] += p.Message + "; "
	}
	for reason, phrase := range map[string]string{
		"Conflict":        "already served by Ingress default/older",
		"UnsupportedPath": `"/api/(v1|v2)" looks like a pattern`,
		"ServiceNotFound": "Service default/missing does not exist",
		"SecretNotFound":  "TLS Secret default/absent",
	} {
		if !strings.Contains(reasons[reason], phrase) {
			t.Errorf("%s: %q, want %q", reason, reasons[reason], phrase)
		}
	}
	if !strings.Contains(reasons["ServiceNotFound"], "has no port 81") {
		t.Errorf("a missing port: %q", reasons["ServiceNotFound"])
	}
	// what could be served is
	if got := table.Route("web.example", "/").Ready; len(got) != 1 || got[0] != "10.42.0.1:8080" {
		t.Errorf("ready endpoints: %v", got)
	}
	if target := table.Route("web.example", "/gone"); target == nil || len(target.Endpoints()) != 0 || target.Why == "" {
		t.Errorf("a missing Service's route: %+v", target)
	}
	if table.Certificate("web.example") != nil {
		t.Error("a missing Secret gave a certificate")
	}
}

func TestCertificateBySNI(t *testing.T) {
	a, b := &tls.Certificate{}, &tls.Certificate{}
	ing := ingressOf("tls", 1, "a.example", rule{"/", "Prefix", "web", 80})
	ing.Spec.TLS = []networkingv1.IngressTLS{{Hosts: []string{"a.example"}, SecretName: "a"}, {Hosts: []string{"*.wild.example"}, SecretName: "b"}}
	table, _ := Build(Inputs{Ingresses: []*networkingv1.Ingress{ing}, Certs: map[string]*tls.Certificate{"default/a": a, "default/b": b}})
	if table.Certificate("A.example") != a || table.Certificate("x.wild.example") != b || table.Certificate("x.y.wild.example") != nil || table.Certificate("other") != nil {
		t.Error("wrong certificate by server name")
	}
}

func TestTerminatingEndpointsOnlyWhenNoneReady(t *testing.T) {
	s := slice("web", "http", 8080, map[string]bool{"10.42.0.2": false})
	ready, terminating := endpoints([]*discoveryv1.EndpointSlice{s}, "http")
	if len(ready) != 0 || len(terminating) != 1 {
		t.Fatalf("ready %v terminating %v", ready, terminating)
	}
	target := &Target{Ready: ready, Terminating: terminating}
	if eps := target.Endpoints(); len(eps) != 1 || eps[0] != "10.42.0.2:8080" {
		t.Errorf("with none ready: %v", eps)
	}
}

// The class's Gateway ports are read as the server writes them, and
// anything else is taken for none.
func TestGatewayPortsAnnotation(t *testing.T) {
	class := &networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{
		GatewayPortsAnnotation: `[{"port":8080,"gateway":"default/web","since":"2026-12-01T10:00:00Z"}]`}}}
	got := GatewayPorts(class)
	if len(got) != 1 || got[0].Port != 8080 || got[0].Gateway != "default/web" || got[0].Since.Hour() != 10 {
		t.Fatalf("ports %+v", got)
	}
	c := got[0].Claim([]string{"n1"})
	if c.Holder != "the ingress proxy (Gateway default/web)" || !slices.Equal(c.Ports, []int32{8080}) || !slices.Equal(c.Nodes, []string{"n1"}) {
		t.Errorf("claim %+v", c)
	}
	for _, bad := range []string{"", "8080", `{"port":1}`, `[{"port":"x"}]`} {
		class.Annotations[GatewayPortsAnnotation] = bad
		if got := GatewayPorts(class); got != nil {
			t.Errorf("%q read as %+v", bad, got)
		}
	}
}
