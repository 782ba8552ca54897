package ingress

import (
	"crypto/tls"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
)

// named is a rule whose action names it, for tests that ask which rule
// answers.
func named(name string, m Match, order int) *Rule {
	if err := m.Compile(); err != nil {
		panic(err)
	}
	return &Rule{Match: m, Action: &Action{Why: name}, Order: Order{Route: "default/r", Rule: order}}
}

func ruleName(r *Rule) string {
	if r == nil {
		return "none"
	}
	return r.Action.Why
}

func request(method, host, target string, headers ...string) *http.Request {
	r := httptest.NewRequest(method, target, nil)
	r.Host = host
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Add(headers[i], headers[i+1])
	}
	return r
}

// The API's precedence within a hostname: an exact path, then the longest
// prefix, then a method, then the most headers, then the most query
// parameters, then the oldest route; and element-wise prefixes.
func TestRulePrecedence(t *testing.T) {
	rules := []*Rule{
		named("root", Match{Path: "/"}, 0),
		named("prefix-a", Match{Path: "/a/"}, 1),
		named("prefix-ab", Match{Path: "/a/b"}, 2),
		named("exact-a", Match{PathKind: PathExact, Path: "/a"}, 3),
		named("post-a", Match{Path: "/a", Method: http.MethodPost}, 4),
		named("header-a", Match{Path: "/a", Headers: []ValueMatch{{Name: "x-version", Value: "2"}}}, 5),
		named("two-headers-a", Match{Path: "/a", Headers: []ValueMatch{{Name: "X-Version", Value: "2"}, {Name: "X-Env", Value: "dev"}}}, 6),
		named("query-a", Match{Path: "/a", Headers: []ValueMatch{{Name: "x-version", Value: "2"}}, Query: []ValueMatch{{Name: "debug", Value: "1"}}}, 7),
		named("regex", Match{PathKind: PathRegex, Path: "/v[0-9]+/.*"}, 8),
		named("header-regex", Match{Path: "/h", Headers: []ValueMatch{{Name: "X-Id", Value: "[a-f]+", Regex: true}}}, 9),
	}
	older := named("older-root", Match{Path: "/"}, 0)
	older.Order.Created = -1
	rules = append(rules, older)
	table := newTable()
	table.addListener(Listener{Port: 80, Rules: hostRules("", rules...)})
	table.finish()

	for _, c := range []struct {
		method, target string
		headers        []string
		want           string
	}{
		{"GET", "/", nil, "older-root"},
		{"GET", "/ab", nil, "older-root"},
		{"GET", "/a", nil, "exact-a"},
		{"GET", "/a/", nil, "prefix-a"},
		{"GET", "/a/c", nil, "prefix-a"},
		{"GET", "/a/b/c", nil, "prefix-ab"},
		{"GET", "/a/./b/../b", nil, "prefix-ab"},
		{"POST", "/a/c", nil, "post-a"},
		{"GET", "/a/c", []string{"X-Version", "2"}, "header-a"},
		{"GET", "/a/c", []string{"X-Version", "2", "X-Env", "dev"}, "two-headers-a"},
		{"GET", "/a/c?debug=1", []string{"X-Version", "2"}, "query-a"},
		{"GET", "/a/c?debug=2", []string{"X-Version", "2"}, "header-a"},
		// only the first value of a header counts
		{"GET", "/a/c", []string{"X-Version", "1", "X-Version", "2"}, "prefix-a"},
		{"GET", "/v12/x", nil, "regex"},
		{"GET", "/v12", nil, "older-root"},
		{"GET", "/h", []string{"X-Id", "beef"}, "header-regex"},
		{"GET", "/h", []string{"X-Id", "beefy"}, "older-root"},
	} {
		got := ruleName(table.GatewayRule(Local{Port: 80}, request(c.method, "any.example", c.target, c.headers...)))
		if got != c.want {
			t.Errorf("%s %s %v: %s, want %s", c.method, c.target, c.headers, got, c.want)
		}
	}
	if r := table.GatewayRule(Local{Port: 81}, request("GET", "any.example", "/")); r != nil {
		t.Errorf("a port without listeners answered by %s", ruleName(r))
	}
}

func hostRules(hostname string, rules ...*Rule) []HostRule {
	var out []HostRule
	for _, r := range rules {
		out = append(out, HostRule{Hostname: hostname, Rule: r})
	}
	return out
}

// A request goes to the most specific listener whose hostname matches;
// within it, to the rules of its most specific matching hostname first,
// falling back to less specific ones when none of those matches. Gateway
// API wildcards match names however many labels deep.
func TestListenerAndHostnamePrecedence(t *testing.T) {
	table := newTable()
	table.addListener(Listener{Port: 80, Rules: append(hostRules("", named("any", Match{Path: "/"}, 0)),
		HostRule{Hostname: "*.example.com", Rule: named("wild", Match{Path: "/"}, 0)},
		HostRule{Hostname: "*.b.example.com", Rule: named("wild-b", Match{Path: "/"}, 0)},
		HostRule{Hostname: "a.example.com", Rule: named("exact-a-only-x", Match{Path: "/x"}, 0)},
	)})
	table.addListener(Listener{Port: 80, Hostname: "*.shop.example", Rules: hostRules("*.shop.example", named("shop", Match{Path: "/"}, 0))})
	table.addListener(Listener{Port: 80, Hostname: "one.shop.example", Rules: hostRules("one.shop.example", named("one-shop-only-y", Match{Path: "/y"}, 0))})
	table.finish()
	for _, c := range []struct{ host, path, want string }{
		{"a.example.com", "/x", "exact-a-only-x"},
		{"a.example.com", "/z", "wild"},
		{"c.b.example.com", "/", "wild-b"},
		{"d.c.b.example.com:8080", "/", "wild-b"},
		{"example.com", "/", "any"},
		{"other.org", "/", "any"},
		{"two.shop.example", "/", "shop"},
		{"deep.two.shop.example", "/", "shop"},
		{"one.shop.example", "/y", "one-shop-only-y"},
		// the most specific listener alone answers for its host
		{"one.shop.example", "/", "none"},
	} {
		if got := ruleName(table.GatewayRule(Local{Port: 80}, request("GET", c.host, c.path))); got != c.want {
			t.Errorf("%s%s: %s, want %s", c.host, c.path, got, c.want)
		}
	}
}

func TestPathChange(t *testing.T) {
	for _, c := range []struct {
		prefix, value, path, want string
		full                      bool
	}{
		{"/prefix/one", "/one", "/prefix/one/two", "/one/two", false},
		{"/strip-prefix", "/", "/strip-prefix/three", "/three", false},
		{"/strip-prefix", "/", "/strip-prefix", "/", false},
		{"/a", "/x/", "/a", "/x/", false},
		{"/a", "/x", "/a", "/x", false},
		{"/a", "/x", "/a/", "/x/", false},
		{"/", "/x", "/a/b", "/x/a/b", false},
		{"/full/one", "/one", "/full/one/two", "/one", true},
	} {
		m := Match{Path: c.prefix}
		if err := m.Compile(); err != nil {
			t.Fatal(err)
		}
		pc := PathChange{Full: c.full, Value: c.value}
		if got := pc.apply(c.path, &m); got != c.want {
			t.Errorf("%s matched by %s, replaced by %s: %s, want %s", c.path, c.prefix, c.value, got, c.want)
		}
	}
}

func TestMatchCompileRefusesBadExpressions(t *testing.T) {
	for _, m := range []Match{
		{PathKind: PathRegex, Path: "/(unclosed"},
		{Path: "/", Headers: []ValueMatch{{Name: "X", Value: "a(?<", Regex: true}}},
		{Path: "/", Query: []ValueMatch{{Name: "q", Value: "[z-a]", Regex: true}}},
	} {
		if err := m.Compile(); err == nil || !strings.Contains(err.Error(), "not a regular expression") {
			t.Errorf("%+v: %v", m, err)
		}
	}
}

// A TLS client gets the certificate of the most specific HTTPS listener
// matching its server name on the port it came to; an Ingress's only on
// an Ingress port.
func TestListenerCertificates(t *testing.T) {
	wild, one, ing := &tls.Certificate{}, &tls.Certificate{}, &tls.Certificate{}
	table := newTable()
	table.addListener(Listener{Port: 443, Secure: true, Hostname: "*.example.com", Certificate: wild})
	table.addListener(Listener{Port: 443, Secure: true, Hostname: "a.example.com", Certificate: one})
	// the other protocol on a port taken is left out
	table.addListener(Listener{Port: 443, Hostname: "plain.example.com", Rules: hostRules("", named("plain", Match{Path: "/"}, 0))})
	table.certs["x.org"] = ing
	table.finish()
	for _, c := range []struct {
		port    int
		name    string
		ingress bool
		want    *tls.Certificate
	}{
		{443, "a.example.com", false, one},
		{443, "b.a.example.com", false, wild},
		{443, "x.org", false, nil},
		{443, "x.org", true, ing},
		{8443, "a.example.com", true, nil},
	} {
		if got := table.CertificateOn(Local{Port: c.port}, c.name, c.ingress); got != c.want {
			t.Errorf("port %d %s (ingress %v): wrong certificate", c.port, c.name, c.ingress)
		}
	}
	if r := table.GatewayRule(Local{Port: 443}, request("GET", "plain.example.com", "/")); r != nil {
		t.Errorf("an HTTP listener on an HTTPS port answered")
	}
	if got := table.GatewayPorts(); len(got) != 1 || !got[Local{Port: 443}] {
		t.Errorf("ports %v", got)
	}
}

// A Gateway with an address of its own is answered there alone, even on
// a port and hostname other Gateways share on the nodes' addresses; and
// its address serves no other listener, shared or an Ingress's.
func TestOwnAddresses(t *testing.T) {
	cert := &tls.Certificate{}
	table := newTable()
	table.addListener(Listener{Port: 80, Rules: hostRules("", named("shared", Match{Path: "/"}, 0))})
	table.addListener(Listener{Address: "198.18.0.200", Port: 80, Rules: hostRules("", named("first", Match{Path: "/"}, 0))})
	table.addListener(Listener{Address: "198.18.0.201", Port: 80, Rules: hostRules("", named("second", Match{Path: "/"}, 0))})
	table.addListener(Listener{Address: "198.18.0.201", Port: 443, Secure: true, Certificate: cert})
	table.certs["x.org"] = &tls.Certificate{}
	table.finish()
	for at, want := range map[Local]string{
		{Addr: "198.18.0.200", Port: 80}: "first",
		{Addr: "198.18.0.201", Port: 80}: "second",
		{Addr: "198.18.0.2", Port: 80}:   "shared",
		{Port: 80}:                       "shared",
		{Addr: "198.18.0.200", Port: 81}: "none",
	} {
		if got := ruleName(table.GatewayRule(at, request("GET", "any.example", "/"))); got != want {
			t.Errorf("at %v: %s, want %s", at, got, want)
		}
	}
	if got := table.CertificateOn(Local{Addr: "198.18.0.201", Port: 443}, "x.org", false); got != cert {
		t.Error("the own address's HTTPS listener's certificate was not served there")
	}
	if got := table.CertificateOn(Local{Addr: "198.18.0.2", Port: 443}, "y.org", false); got != nil {
		t.Error("a Gateway's own listener's certificate was served on a node's address")
	}
	want := map[Local]bool{{Port: 80}: false, {Addr: "198.18.0.200", Port: 80}: false, {Addr: "198.18.0.201", Port: 80}: false, {Addr: "198.18.0.201", Port: 443}: true}
	if got := table.GatewayPorts(); !maps.Equal(got, want) {
		t.Errorf("ports %v, want %v", got, want)
	}
	if got := table.OwnAddresses(); !slices.Equal(got, []string{"198.18.0.200", "198.18.0.201"}) {
		t.Errorf("own addresses %v", got)
	}
	ls := newListeners(t.Context(), NewProxy(), []string{"198.18.0.2"}, nil)
	ls.ingress.Store(&Ports{HTTP: 80, HTTPS: 443})
	if !ls.servesIngress(Local{Addr: "198.18.0.2", Port: 80}) || ls.servesIngress(Local{Addr: "198.18.0.200", Port: 80}) {
		t.Error("Ingresses must be served on the node's addresses only")
	}
}
