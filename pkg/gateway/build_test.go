package gateway

import (
	"crypto/tls"
	"fmt"
	"maps"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/edgeos/edgeos/pkg/ingress"
	"github.com/edgeos/edgeos/pkg/vip"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

func objectMeta(ns, name string, age int) metav1.ObjectMeta {
	return metav1.ObjectMeta{Namespace: ns, Name: name, Generation: 2, CreationTimestamp: metav1.NewTime(time.Unix(int64(10000-age), 0))}
}

func ptr[T any](v T) *T { return &v }

func listener(name string, port int, protocol gatewayv1.ProtocolType, hostname string) gatewayv1.Listener {
	l := gatewayv1.Listener{Name: gatewayv1.SectionName(name), Port: gatewayv1.PortNumber(port), Protocol: protocol}
	if hostname != "" {
		l.Hostname = ptr(gatewayv1.Hostname(hostname))
	}
	return l
}

func https(name string, port int, hostname, secretNS, secret string) gatewayv1.Listener {
	l := listener(name, port, gatewayv1.HTTPSProtocolType, hostname)
	ref := gatewayv1.SecretObjectReference{Name: gatewayv1.ObjectName(secret)}
	if secretNS != "" {
		ref.Namespace = ptr(gatewayv1.Namespace(secretNS))
	}
	l.TLS = &gatewayv1.ListenerTLSConfig{CertificateRefs: []gatewayv1.SecretObjectReference{ref}}
	return l
}

func gatewayOf(ns, name string, age int, ls ...gatewayv1.Listener) *gatewayv1.Gateway {
	return &gatewayv1.Gateway{ObjectMeta: objectMeta(ns, name, age), Spec: gatewayv1.GatewaySpec{GatewayClassName: ClassName, Listeners: ls}}
}

func parent(ns, name, section string) gatewayv1.ParentReference {
	p := gatewayv1.ParentReference{Name: gatewayv1.ObjectName(name)}
	if ns != "" {
		p.Namespace = ptr(gatewayv1.Namespace(ns))
	}
	if section != "" {
		p.SectionName = ptr(gatewayv1.SectionName(section))
	}
	return p
}

func backendRef(ns, name string, port int) gatewayv1.HTTPBackendRef {
	r := gatewayv1.HTTPBackendRef{BackendRef: gatewayv1.BackendRef{BackendObjectReference: gatewayv1.BackendObjectReference{
		Name: gatewayv1.ObjectName(name), Port: ptr(gatewayv1.PortNumber(port))}}}
	if ns != "" {
		r.Namespace = ptr(gatewayv1.Namespace(ns))
	}
	return r
}

func routeOf(ns, name string, age int, parents []gatewayv1.ParentReference, hostnames []string, rules ...gatewayv1.HTTPRouteRule) *gatewayv1.HTTPRoute {
	r := &gatewayv1.HTTPRoute{ObjectMeta: objectMeta(ns, name, age)}
	r.Spec.ParentRefs = parents
	for _, h := range hostnames {
		r.Spec.Hostnames = append(r.Spec.Hostnames, gatewayv1.Hostname(h))
	}
	r.Spec.Rules = rules
	return r
}

func prefixRule(path string, backends ...gatewayv1.HTTPBackendRef) gatewayv1.HTTPRouteRule {
	return gatewayv1.HTTPRouteRule{
		Matches:     []gatewayv1.HTTPRouteMatch{{Path: &gatewayv1.HTTPPathMatch{Type: ptr(gatewayv1.PathMatchPathPrefix), Value: ptr(path)}}},
		BackendRefs: backends,
	}
}

func serviceWithEndpoints(ns, name string, port int32, ip string) (*corev1.Service, *discoveryv1.EndpointSlice) {
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: port}}}}
	pn, target := "http", int32(8080)
	s := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: ns, Name: name + "-1", Labels: map[string]string{discoveryv1.LabelServiceName: name}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: &pn, Port: &target}},
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{ip}}},
	}
	return svc, s
}

// base is a cluster with edgeos's class, a class of another controller,
// and Services app (10.0.0.1), other (10.0.0.2) and far/away (10.0.0.3).
func base() Inputs {
	in := Inputs{
		Classes: []*gatewayv1.GatewayClass{NewClass(), {ObjectMeta: metav1.ObjectMeta{Name: "theirs"}, Spec: gatewayv1.GatewayClassSpec{ControllerName: "example.com/other"}}},
		Certs:   map[string]*tls.Certificate{"default/cert": {}, "certs/shared": {}},
		Namespaces: []*corev1.Namespace{
			{ObjectMeta: metav1.ObjectMeta{Name: "default"}},
			{ObjectMeta: metav1.ObjectMeta{Name: "team", Labels: map[string]string{"routes": "yes"}}},
			{ObjectMeta: metav1.ObjectMeta{Name: "far"}},
		},
		IngressPorts: ingress.Ports{HTTP: 80, HTTPS: 443},
	}
	for _, s := range []struct{ ns, name, ip string }{{"default", "app", "10.0.0.1"}, {"default", "other", "10.0.0.2"}, {"far", "away", "10.0.0.3"}} {
		svc, sl := serviceWithEndpoints(s.ns, s.name, 80, s.ip)
		in.Services, in.Slices = append(in.Services, svc), append(in.Slices, sl)
	}
	return in
}

func cond(t *testing.T, conds []metav1.Condition, kind string, status metav1.ConditionStatus, reason string) {
	t.Helper()
	c := meta.FindStatusCondition(conds, kind)
	if c == nil || c.Status != status || c.Reason != reason || c.ObservedGeneration != 2 {
		t.Errorf("condition %s: %+v, want %s %s", kind, c, status, reason)
	}
}

func listenerStatus(t *testing.T, st *gatewayv1.GatewayStatus, name string) gatewayv1.ListenerStatus {
	t.Helper()
	if st == nil {
		t.Fatalf("no status")
	}
	for _, l := range st.Listeners {
		if string(l.Name) == name {
			return l
		}
	}
	t.Fatalf("no status of listener %s", name)
	return gatewayv1.ListenerStatus{}
}

// routeTo answers which Service a request to a node's address goes to by
// res's listeners.
func routeTo(t *testing.T, res Result, port int, host, target string) string {
	t.Helper()
	return routeAt(t, res, ingress.Local{Port: port}, host, target)
}

// routeAt answers which Service a request that came in at an address and
// port goes to by res's listeners.
func routeAt(t *testing.T, res Result, at ingress.Local, host, target string) string {
	t.Helper()
	table, _ := ingress.Build(ingress.Inputs{Listeners: res.Listeners})
	r := httptest.NewRequest("GET", target, nil)
	r.Host = host
	rule := table.GatewayRule(at, r)
	switch {
	case rule == nil:
		return "404"
	case len(rule.Action.Backends) == 0 || rule.Action.Backends[0].Target == nil:
		return "500 " + rule.Action.Why
	}
	return rule.Action.Backends[0].Target.Name
}

func TestGatewayListeners(t *testing.T) {
	in := base()
	tcp := listener("tcp", 9000, gatewayv1.TCPProtocolType, "")
	onlyTLSRoutes := listener("tls-routes", 8081, gatewayv1.HTTPProtocolType, "")
	onlyTLSRoutes.AllowedRoutes = &gatewayv1.AllowedRoutes{Kinds: []gatewayv1.RouteGroupKind{{Kind: "TLSRoute"}}}
	in.Gateways = []*gatewayv1.Gateway{
		gatewayOf("default", "web", 10,
			listener("http", 80, gatewayv1.HTTPProtocolType, ""),
			https("https", 443, "secure.example", "", "cert"),
			https("missing-secret", 443, "missing.example", "", "nope"),
			https("other-namespace", 443, "shared.example", "certs", "shared"),
			tcp, onlyTLSRoutes,
			listener("dup-a", 8080, gatewayv1.HTTPProtocolType, "dup.example"),
			listener("dup-b", 8080, gatewayv1.HTTPProtocolType, "dup.example"),
			listener("mixed-http", 8443, gatewayv1.HTTPProtocolType, ""),
			https("mixed-https", 8443, "", "", "cert")),
		// newer, and asking for HTTPS where the Ingresses serve HTTP
		gatewayOf("default", "late", 5, https("on-80", 80, "", "", "cert")),
		gatewayOf("default", "theirs", 20, listener("http", 80, gatewayv1.HTTPProtocolType, "")),
	}
	in.Gateways[2].Spec.GatewayClassName = "theirs"
	res := Build(in)
	if _, ok := res.Gateways["default/theirs"]; ok {
		t.Error("a Gateway of another class got a status")
	}
	web := res.Gateways["default/web"]
	cond(t, web.Conditions, "Accepted", metav1.ConditionTrue, "ListenersNotValid")
	cond(t, web.Conditions, "Programmed", metav1.ConditionTrue, "Programmed")
	for _, c := range []struct{ listener, kind, status, reason string }{
		{"http", "Programmed", "True", "Programmed"},
		{"https", "ResolvedRefs", "True", "ResolvedRefs"},
		{"https", "Programmed", "True", "Programmed"},
		{"missing-secret", "ResolvedRefs", "False", "InvalidCertificateRef"},
		{"missing-secret", "Programmed", "False", "Invalid"},
		{"other-namespace", "ResolvedRefs", "False", "RefNotPermitted"},
		{"tcp", "Accepted", "False", "UnsupportedProtocol"},
		{"tls-routes", "ResolvedRefs", "False", "InvalidRouteKinds"},
		{"dup-a", "Conflicted", "True", "HostnameConflict"},
		{"dup-b", "Conflicted", "True", "HostnameConflict"},
		{"mixed-http", "Conflicted", "True", "ProtocolConflict"},
		{"mixed-https", "Conflicted", "True", "ProtocolConflict"},
		{"http", "Conflicted", "False", "NoConflicts"},
	} {
		cond(t, listenerStatus(t, web, c.listener).Conditions, c.kind, metav1.ConditionStatus(c.status), c.reason)
	}
	if k := listenerStatus(t, web, "tls-routes").SupportedKinds; len(k) != 0 {
		t.Errorf("supported kinds of a listener asking only for TLSRoutes: %v", k)
	}
	if k := listenerStatus(t, web, "http").SupportedKinds; len(k) != 1 || k[0].Kind != "HTTPRoute" {
		t.Errorf("supported kinds: %v", k)
	}
	late := res.Gateways["default/late"]
	cond(t, late.Conditions, "Accepted", metav1.ConditionFalse, "ListenersNotValid")
	cond(t, listenerStatus(t, late, "on-80").Conditions, "Conflicted", metav1.ConditionTrue, "ProtocolConflict")

	// a ReferenceGrant in the Secret's namespace lets the Gateway use it
	in.Grants = []*gatewayv1.ReferenceGrant{{ObjectMeta: metav1.ObjectMeta{Namespace: "certs", Name: "g"}, Spec: gatewayv1.ReferenceGrantSpec{
		From: []gatewayv1.ReferenceGrantFrom{{Group: gatewayv1.GroupName, Kind: "Gateway", Namespace: "default"}},
		To:   []gatewayv1.ReferenceGrantTo{{Kind: "Secret"}},
	}}}
	res = Build(in)
	cond(t, listenerStatus(t, res.Gateways["default/web"], "other-namespace").Conditions, "ResolvedRefs", metav1.ConditionTrue, "ResolvedRefs")
	if want := []string{"certs/shared", "default/cert"}; !slices.Equal(res.Secrets, want) {
		t.Errorf("secrets %v, want %v", res.Secrets, want)
	}
	var served []string
	for _, l := range res.Listeners {
		served = append(served, l.Hostname)
		if l.Secure && l.Certificate == nil {
			t.Errorf("HTTPS listener %q without a certificate", l.Hostname)
		}
	}
	if want := []string{"", "secure.example", "shared.example"}; !slices.Equal(served, want) {
		t.Errorf("served listeners %q, want %q", served, want)
	}
}

func TestGatewayWithAddressesIsNotAccepted(t *testing.T) {
	in := base()
	gw := gatewayOf("default", "web", 1, listener("http", 80, gatewayv1.HTTPProtocolType, ""))
	gw.Spec.Addresses = []gatewayv1.GatewaySpecAddress{{Value: "10.9.9.9"}}
	in.Gateways = []*gatewayv1.Gateway{gw}
	in.Routes = []*gatewayv1.HTTPRoute{routeOf("default", "r", 1, []gatewayv1.ParentReference{parent("", "web", "")}, nil, prefixRule("/", backendRef("", "app", 80)))}
	res := Build(in)
	cond(t, res.Gateways["default/web"].Conditions, "Accepted", metav1.ConditionFalse, "UnsupportedAddress")
	cond(t, res.Gateways["default/web"].Conditions, "Programmed", metav1.ConditionFalse, "Invalid")
	cond(t, res.Routes["default/r"][0].Conditions, "Accepted", metav1.ConditionFalse, "NoMatchingParent")
	if len(res.Listeners) != 0 {
		t.Errorf("served %d listeners", len(res.Listeners))
	}
}

// With a pool, each Gateway gets an address of its own, the one it asks
// for or keeps first; what it asks for outside the pool or of another
// kind is refused, and a Gateway the pool has no address for is not
// programmed. Two Gateways' routes for the same port, host and path are
// told apart by address, and an address has its own ports.
func TestGatewayAddresses(t *testing.T) {
	in := base()
	pool, err := vip.ParsePool("10.9.9.0/30")
	if err != nil {
		t.Fatal(err)
	}
	in.Pool = pool
	http80 := listener("http", 80, gatewayv1.HTTPProtocolType, "")
	asking := func(gw *gatewayv1.Gateway, typ gatewayv1.AddressType, values ...string) *gatewayv1.Gateway {
		for _, v := range values {
			gw.Spec.Addresses = append(gw.Spec.Addresses, gatewayv1.GatewaySpecAddress{Type: ptr(typ), Value: v})
		}
		return gw
	}
	keeps := gatewayOf("default", "keeps", 20, http80)
	keeps.Status.Addresses = []gatewayv1.GatewayStatusAddress{{Value: "10.9.9.3"}}
	in.Gateways = []*gatewayv1.Gateway{
		keeps,
		asking(gatewayOf("default", "asks", 19, http80), gatewayv1.IPAddressType, "10.9.9.2"),
		// HTTP on the Ingresses' HTTPS port: its address has its own ports
		gatewayOf("default", "new", 18, listener("http", 443, gatewayv1.HTTPProtocolType, "")),
		asking(gatewayOf("default", "outside", 17, http80), gatewayv1.IPAddressType, "192.168.0.1"),
		asking(gatewayOf("default", "two", 16, http80), gatewayv1.IPAddressType, "10.9.9.0", "10.9.9.1"),
		asking(gatewayOf("default", "named", 15, http80), gatewayv1.HostnameAddressType, "gw.example"),
		asking(gatewayOf("default", "taken", 14, http80), gatewayv1.IPAddressType, "10.9.9.2"),
		gatewayOf("default", "fifth", 13, http80),
		gatewayOf("default", "sixth", 12, http80),
	}
	in.Routes = []*gatewayv1.HTTPRoute{
		routeOf("default", "to-app", 5, []gatewayv1.ParentReference{parent("", "keeps", ""), parent("", "new", "")}, nil, prefixRule("/", backendRef("", "app", 80))),
		routeOf("default", "to-other", 5, []gatewayv1.ParentReference{parent("", "asks", "")}, nil, prefixRule("/", backendRef("", "other", 80))),
	}
	res := Build(in)
	want := map[string]string{"default/keeps": "10.9.9.3", "default/asks": "10.9.9.2", "default/new": "10.9.9.0", "default/fifth": "10.9.9.1"}
	got := map[string]string{}
	for k, a := range res.Addresses {
		got[k] = a.String()
	}
	if !maps.Equal(got, want) {
		t.Errorf("addresses %v, want %v", got, want)
	}
	for _, name := range []string{"keeps", "asks", "new", "fifth"} {
		cond(t, res.Gateways["default/"+name].Conditions, "Programmed", metav1.ConditionTrue, "Programmed")
	}
	for _, name := range []string{"outside", "two", "named"} {
		cond(t, res.Gateways["default/"+name].Conditions, "Accepted", metav1.ConditionFalse, "UnsupportedAddress")
	}
	cond(t, res.Gateways["default/taken"].Conditions, "Programmed", metav1.ConditionFalse, "AddressNotUsable")
	cond(t, res.Gateways["default/sixth"].Conditions, "Programmed", metav1.ConditionFalse, "AddressNotAssigned")
	if l := listenerStatus(t, res.Gateways["default/sixth"], "http"); meta.IsStatusConditionTrue(l.Conditions, "Programmed") {
		t.Error("a listener of a Gateway without an address is programmed")
	}
	for at, to := range map[ingress.Local]string{
		{Addr: "10.9.9.3", Port: 80}:  "default/app:80",
		{Addr: "10.9.9.2", Port: 80}:  "default/other:80",
		{Addr: "10.9.9.0", Port: 443}: "default/app:80",
		{Addr: "10.9.9.0", Port: 80}:  "404",
		{Port: 80}:                    "404", // nothing shares the nodes' addresses
	} {
		if got := routeAt(t, res, at, "any.example", "/"); got != to {
			t.Errorf("at %v: %s, want %s", at, got, to)
		}
	}
	for _, l := range res.Listeners {
		if l.Address == "" {
			t.Errorf("a listener on the nodes' addresses: %+v", l)
		}
	}
}

func TestRouteAttachment(t *testing.T) {
	in := base()
	fromTeam := listener("team", 80, gatewayv1.HTTPProtocolType, "team.example")
	fromTeam.AllowedRoutes = &gatewayv1.AllowedRoutes{Namespaces: &gatewayv1.RouteNamespaces{
		From: ptr(gatewayv1.NamespacesFromSelector), Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"routes": "yes"}}}}
	in.Gateways = []*gatewayv1.Gateway{gatewayOf("default", "web", 10,
		listener("wild", 80, gatewayv1.HTTPProtocolType, "*.example.com"),
		listener("exact", 80, gatewayv1.HTTPProtocolType, "foo.bar.com"),
		fromTeam)}
	to := func(svc string) gatewayv1.HTTPRouteRule { return prefixRule("/", backendRef("", svc, 80)) }
	web := func(section string) []gatewayv1.ParentReference {
		return []gatewayv1.ParentReference{parent("default", "web", section)}
	}
	in.Routes = []*gatewayv1.HTTPRoute{
		routeOf("default", "all-listeners", 9, web(""), nil, to("app")),
		routeOf("default", "narrowed", 8, web("wild"), []string{"a.example.com", "*.example.com", "example.com", "other.org"}, to("other")),
		routeOf("default", "no-such-section", 7, web("nope"), nil, to("app")),
		routeOf("default", "no-hostname-match", 6, web("exact"), []string{"baz.bar.com"}, to("app")),
		routeOf("far", "not-allowed", 5, web("wild"), nil, to("app")),
		routeOf("team", "selected", 4, web("team"), nil, gatewayv1.HTTPRouteRule{BackendRefs: []gatewayv1.HTTPBackendRef{backendRef("default", "app", 80)}}),
		routeOf("default", "elsewhere", 3, []gatewayv1.ParentReference{parent("default", "unknown", "")}, nil, to("app")),
	}
	res := Build(in)
	for _, c := range []struct{ route, reason string }{
		{"default/all-listeners", "Accepted"},
		{"default/narrowed", "Accepted"},
		{"default/no-such-section", "NoMatchingParent"},
		{"default/no-hostname-match", "NoMatchingListenerHostname"},
		{"far/not-allowed", "NotAllowedByListeners"},
		{"team/selected", "Accepted"},
	} {
		ps := res.Routes[c.route]
		if len(ps) != 1 || ps[0].ControllerName != ControllerName {
			t.Fatalf("%s: parents %+v", c.route, ps)
		}
		status := metav1.ConditionFalse
		if c.reason == "Accepted" {
			status = metav1.ConditionTrue
		}
		cond(t, ps[0].Conditions, "Accepted", status, c.reason)
	}
	// the cross-namespace backend of team/selected is not granted
	cond(t, res.Routes["team/selected"][0].Conditions, "ResolvedRefs", metav1.ConditionFalse, "RefNotPermitted")
	cond(t, res.Routes["default/narrowed"][0].Conditions, "ResolvedRefs", metav1.ConditionTrue, "ResolvedRefs")
	if _, ok := res.Routes["default/elsewhere"]; ok {
		t.Error("a route of a Gateway that is not edgeos's got a status")
	}
	st := res.Gateways["default/web"]
	for name, want := range map[string]int32{"wild": 2, "exact": 1, "team": 1} {
		if got := listenerStatus(t, st, name).AttachedRoutes; got != want {
			t.Errorf("listener %s: %d routes attached, want %d", name, got, want)
		}
	}
	for _, c := range []struct{ host, want string }{
		{"a.example.com", "default/other:80"},
		// both routes serve *.example.com there: the older one answers
		{"b.example.com", "default/app:80"},
		{"deep.b.example.com", "default/app:80"},
		{"foo.bar.com", "default/app:80"},
		{"team.example", "500 no ReferenceGrant in namespace default lets HTTPRoutes of team send to Service app"},
		{"example.com", "404"},
		{"other.org", "404"},
	} {
		if got := routeTo(t, res, 80, c.host, "/x"); got != c.want {
			t.Errorf("%s: %s, want %s", c.host, got, c.want)
		}
	}
}

func TestBackendsAndFilters(t *testing.T) {
	in := base()
	in.Gateways = []*gatewayv1.Gateway{gatewayOf("default", "web", 10, listener("http", 80, gatewayv1.HTTPProtocolType, ""))}
	web := []gatewayv1.ParentReference{parent("", "web", "")}
	badKind := backendRef("", "app", 80)
	badKind.Kind = ptr(gatewayv1.Kind("ConfigMap"))
	mirror := prefixRule("/mirror", backendRef("", "app", 80))
	mirror.Filters = []gatewayv1.HTTPRouteFilter{{Type: gatewayv1.HTTPRouteFilterRequestMirror, RequestMirror: &gatewayv1.HTTPRequestMirrorFilter{}}}
	regex := gatewayv1.HTTPRouteRule{Matches: []gatewayv1.HTTPRouteMatch{{Path: &gatewayv1.HTTPPathMatch{Type: ptr(gatewayv1.PathMatchRegularExpression), Value: ptr("/(bad")}}}}
	in.Routes = []*gatewayv1.HTTPRoute{
		routeOf("default", "missing", 5, web, []string{"missing.example"}, prefixRule("/", backendRef("", "gone", 80))),
		routeOf("default", "kind", 4, web, []string{"kind.example"}, prefixRule("/", badKind)),
		routeOf("default", "far", 3, web, []string{"far.example"}, prefixRule("/", backendRef("far", "away", 80))),
		routeOf("default", "port", 2, web, []string{"port.example"}, prefixRule("/", backendRef("", "app", 81))),
		routeOf("default", "filters", 1, web, []string{"filters.example"}, mirror, regex, prefixRule("/", backendRef("", "app", 80))),
		routeOf("default", "none", 0, web, []string{"none.example"}, gatewayv1.HTTPRouteRule{}),
	}
	res := Build(in)
	for _, c := range []struct{ route, reason, host, answer string }{
		{"default/missing", "BackendNotFound", "missing.example", "500 Service default/gone does not exist"},
		{"default/kind", "InvalidKind", "kind.example", "500 backend app is a ConfigMap; edgeos sends to Services"},
		{"default/far", "RefNotPermitted", "far.example", "500 no ReferenceGrant in namespace far lets HTTPRoutes of default send to Service away"},
		{"default/port", "BackendNotFound", "port.example", "500 Service default/app has no TCP port 81"},
		{"default/none", "ResolvedRefs", "none.example", "500 "},
	} {
		ps := res.Routes[c.route][0]
		cond(t, ps.Conditions, "Accepted", metav1.ConditionTrue, "Accepted")
		status := metav1.ConditionFalse
		if c.reason == "ResolvedRefs" {
			status = metav1.ConditionTrue
		}
		cond(t, ps.Conditions, "ResolvedRefs", status, c.reason)
		if got := routeTo(t, res, 80, c.host, "/"); got != c.answer {
			t.Errorf("%s: %q, want %q", c.route, got, c.answer)
		}
	}
	filters := res.Routes["default/filters"][0]
	cond(t, filters.Conditions, "PartiallyInvalid", metav1.ConditionTrue, "UnsupportedValue")
	if got := routeTo(t, res, 80, "filters.example", "/mirror/x"); got != "500 filter RequestMirror is not served by edgeos: the rule answers 500" {
		t.Errorf("unsupported filter: %q", got)
	}
	if got := routeTo(t, res, 80, "filters.example", "/x"); got != "default/app:80" {
		t.Errorf("the route's other rules: %q", got)
	}

	// granted, the far Service is served
	in.Grants = []*gatewayv1.ReferenceGrant{{ObjectMeta: metav1.ObjectMeta{Namespace: "far", Name: "g"}, Spec: gatewayv1.ReferenceGrantSpec{
		From: []gatewayv1.ReferenceGrantFrom{{Group: gatewayv1.GroupName, Kind: "HTTPRoute", Namespace: "default"}},
		To:   []gatewayv1.ReferenceGrantTo{{Kind: "Service", Name: ptr(gatewayv1.ObjectName("away"))}},
	}}}
	if got := routeTo(t, Build(in), 80, "far.example", "/"); got != "far/away:80" {
		t.Errorf("granted: %q", got)
	}
}

func TestIntersect(t *testing.T) {
	for _, c := range []struct {
		listener string
		route    []string
		want     []string
	}{
		{"", nil, []string{""}},
		{"", []string{"a.example"}, []string{"a.example"}},
		{"*.example.com", nil, []string{"*.example.com"}},
		{"*.example.com", []string{"a.example.com", "x.a.example.com", "*.a.example.com", "example.com", "a.other.com"}, []string{"a.example.com", "x.a.example.com", "*.a.example.com"}},
		{"foo.example.com", []string{"*.example.com", "bar.example.com"}, []string{"foo.example.com"}},
		{"*.a.example.com", []string{"*.example.com"}, []string{"*.a.example.com"}},
		{"foo.example.com", []string{"foo.example.com", "*.example.com"}, []string{"foo.example.com"}},
		{"foo.example.com", []string{"*.foo.example.com"}, nil},
	} {
		if got := intersect(c.listener, c.route); !slices.Equal(got, c.want) {
			t.Errorf("%q ∩ %q: %q, want %q", c.listener, c.route, got, c.want)
		}
	}
}

func TestClassStatus(t *testing.T) {
	class := NewClass()
	class.Generation = 2
	st := ClassStatus(class)
	cond(t, st.Conditions, "Accepted", metav1.ConditionTrue, "Accepted")
	cond(t, st.Conditions, "SupportedVersion", metav1.ConditionTrue, "SupportedVersion")
	if len(st.SupportedFeatures) != len(Features) || !slices.IsSortedFunc(st.SupportedFeatures, func(a, b gatewayv1.SupportedFeature) int {
		return strings.Compare(string(a.Name), string(b.Name))
	}) {
		t.Errorf("features %v", st.SupportedFeatures)
	}
	class.Spec.ParametersRef = &gatewayv1.ParametersReference{Kind: "ConfigMap", Name: "x"}
	cond(t, ClassStatus(class).Conditions, "Accepted", metav1.ConditionFalse, "InvalidParameters")
	in := base()
	in.Classes = []*gatewayv1.GatewayClass{class}
	in.Gateways = []*gatewayv1.Gateway{gatewayOf("default", "web", 1, listener("http", 80, gatewayv1.HTTPProtocolType, ""))}
	if res := Build(in); len(res.Gateways) != 0 {
		t.Error("a Gateway of a class edgeos does not accept got a status")
	}
}

// The server parses only the Secrets a listener names, in the Gateway's
// namespace unless the reference says another.
func TestCertificateRefs(t *testing.T) {
	got := certificateRefs([]*gatewayv1.Gateway{gatewayOf("web", "g", 1,
		listener("http", 80, gatewayv1.HTTPProtocolType, ""),
		https("a", 443, "a.example", "", "own"),
		https("b", 443, "b.example", "certs", "shared"))})
	if want := map[string]bool{"web/own": true, "certs/shared": true}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%v, want %v", got, want)
	}
}

// The ports Gateways take at the nodes' addresses, each with its oldest
// Gateway (servicelb's claims), and each Gateway's: only its served
// listeners'.
func TestSharedPorts(t *testing.T) {
	in := base()
	in.Gateways = []*gatewayv1.Gateway{
		gatewayOf("default", "newer", 5, listener("alt", 8080, gatewayv1.HTTPProtocolType, ""), listener("other", 9090, gatewayv1.HTTPProtocolType, "")),
		gatewayOf("default", "older", 9, listener("http", 80, gatewayv1.HTTPProtocolType, ""), listener("alt", 8080, gatewayv1.HTTPProtocolType, "a.example"),
			listener("tcp", 7000, gatewayv1.TCPProtocolType, "")),
	}
	res := Build(in)
	var got []string
	for _, p := range res.SharedPorts {
		got = append(got, fmt.Sprintf("%d %s %d", p.Port, p.Gateway, p.Since.Unix()))
	}
	if want := []string{"80 default/older 9991", "8080 default/older 9991", "9090 default/newer 9995"}; !slices.Equal(got, want) {
		t.Errorf("shared ports %v, want %v", got, want)
	}
	if !slices.Equal(res.Ports["default/older"], []int32{80, 8080}) || !slices.Equal(res.Ports["default/newer"], []int32{8080, 9090}) {
		t.Errorf("each Gateway's ports %v", res.Ports)
	}
	// Gateways with addresses of their own take no port of the nodes'
	in.Pool, _ = vip.ParsePool("10.9.9.0/30")
	if res := Build(in); len(res.SharedPorts) != 0 || len(res.Ports) != 0 {
		t.Errorf("with a pool: %v %v", res.SharedPorts, res.Ports)
	}
}

// A rule's timeouts reach the proxy; "0s" turns one off; one that cannot
// be read makes the rule answer 500 rather than be served without it.
func TestTimeouts(t *testing.T) {
	in := base()
	in.Gateways = []*gatewayv1.Gateway{gatewayOf("default", "web", 1, listener("http", 80, gatewayv1.HTTPProtocolType, ""))}
	timed := func(path, request, backend string) gatewayv1.HTTPRouteRule {
		r := prefixRule(path, backendRef("", "app", 80))
		r.Timeouts = &gatewayv1.HTTPRouteTimeouts{}
		if request != "" {
			r.Timeouts.Request = ptr(gatewayv1.Duration(request))
		}
		if backend != "" {
			r.Timeouts.BackendRequest = ptr(gatewayv1.Duration(backend))
		}
		return r
	}
	in.Routes = []*gatewayv1.HTTPRoute{routeOf("default", "r", 1, []gatewayv1.ParentReference{parent("", "web", "")}, nil,
		timed("/both", "10s", "1s500ms"), timed("/off", "0s", ""), timed("/bad", "soon", ""))}
	res := Build(in)
	got := map[string]string{}
	for _, l := range res.Listeners {
		for _, hr := range l.Rules {
			a := hr.Rule.Action
			got[hr.Rule.Match.Path] = fmt.Sprintf("%s %s %s", a.Timeout, a.BackendTimeout, a.Why)
		}
	}
	want := map[string]string{"/both": "10s 1.5s ", "/off": "0s 0s ", "/bad": `0s 0s timeout "soon" is not served by edgeos: the rule answers 500`}
	if !maps.Equal(got, want) {
		t.Errorf("actions %v, want %v", got, want)
	}
	cond(t, res.Routes["default/r"][0].Conditions, "Accepted", metav1.ConditionTrue, "Accepted")
}
