package ingress

import (
	"cmp"
	"crypto/tls"
	"maps"
	"net"
	"net/http"
	"slices"
	"strings"
)

// Listener is a Gateway listener as the proxy serves it, with the rules
// of the routes attached to it: what pkg/gateway makes of Gateways and
// HTTPRoutes. Listeners of several Gateways on one address, port and
// hostname are served as one.
type Listener struct {
	// Address is a Gateway's address of its own, which this node holds;
	// "" for the nodes' addresses, which Gateways without one share.
	Address string
	Port    int
	Secure  bool
	// Hostname is "" for any host, "*.example.com" for every name under
	// example.com, or one name.
	Hostname string
	// Certificate is served to TLS clients asking for Hostname.
	Certificate *tls.Certificate
	Rules       []HostRule
}

// HostRule is a rule for the requests to one hostname of its route (as
// narrowed by the listener's): "" for any, "*.x" for every name under x.
type HostRule struct {
	Hostname string
	Rule     *Rule
}

// Local is where a request came in: an address the proxy listens on and
// the port. In a table's keys, Addr "" stands for the nodes' addresses.
type Local struct {
	Addr string
	Port int
}

// localOf is where a connection came in.
func localOf(a net.Addr) Local {
	if ta, ok := a.(*net.TCPAddr); ok {
		return Local{Addr: ta.IP.String(), Port: ta.Port}
	}
	return Local{}
}

// portRoutes are the Gateway listeners of one address and port.
type portRoutes struct {
	secure bool
	// most specific hostname first
	listeners []*listenerRoutes
}

type listenerRoutes struct {
	hostname string
	cert     *tls.Certificate
	// rules by hostname: exact, under a wildcard's suffix, and for any
	// host; each in order of precedence
	exact, wildcard map[string][]*Rule
	any             []*Rule
}

// addListener adds l's rules to the table. A listener on a port taken
// with the other protocol is left out (pkg/gateway reports that conflict).
func (t *Table) addListener(l Listener) {
	at := Local{Addr: l.Address, Port: l.Port}
	if l.Address != "" {
		t.own[l.Address] = true
	}
	pr := t.ports[at]
	if pr == nil {
		pr = &portRoutes{secure: l.Secure}
		t.ports[at] = pr
	}
	if pr.secure != l.Secure {
		return
	}
	hostname := strings.ToLower(l.Hostname)
	var lr *listenerRoutes
	for _, have := range pr.listeners {
		if have.hostname == hostname {
			lr = have
		}
	}
	if lr == nil {
		lr = &listenerRoutes{hostname: hostname, exact: map[string][]*Rule{}, wildcard: map[string][]*Rule{}}
		pr.listeners = append(pr.listeners, lr)
	}
	if lr.cert == nil {
		lr.cert = l.Certificate
	}
	for _, hr := range l.Rules {
		switch suffix, wild := strings.CutPrefix(strings.ToLower(hr.Hostname), "*."); {
		case hr.Hostname == "":
			lr.any = append(lr.any, hr.Rule)
		case wild:
			lr.wildcard[suffix] = append(lr.wildcard[suffix], hr.Rule)
		default:
			lr.exact[suffix] = append(lr.exact[suffix], hr.Rule)
		}
	}
}

// finishListeners orders each port's listeners and each listener's rules.
func (t *Table) finishListeners() {
	byPrecedence := func(a, b *Rule) int { return a.compare(b) }
	for _, pr := range t.ports {
		slices.SortStableFunc(pr.listeners, func(a, b *listenerRoutes) int { return compareHostnames(a.hostname, b.hostname) })
		for _, lr := range pr.listeners {
			slices.SortStableFunc(lr.any, byPrecedence)
			for _, m := range []map[string][]*Rule{lr.exact, lr.wildcard} {
				for _, rules := range m {
					slices.SortStableFunc(rules, byPrecedence)
				}
			}
		}
	}
}

// compareHostnames orders hostnames most specific first: names, then
// wildcards with the longest suffix, then "" (any).
func compareHostnames(a, b string) int {
	kind := func(h string) int {
		switch {
		case h == "":
			return 2
		case strings.HasPrefix(h, "*."):
			return 1
		}
		return 0
	}
	return cmp.Or(cmp.Compare(kind(a), kind(b)), cmp.Compare(len(b), len(a)), strings.Compare(a, b))
}

// HostnameMatches reports whether a host (lower case, without a port)
// matches a listener's or route's hostname; a wildcard matches names
// under its suffix, however many labels deep (and a wildcard under it).
func HostnameMatches(pattern, host string) bool {
	if pattern == "" {
		return true
	}
	if suffix, ok := strings.CutPrefix(pattern, "*."); ok {
		return strings.HasSuffix(host, "."+suffix)
	}
	return pattern == host
}

// listenerFor is the listener of port serving host: the one with the
// most specific hostname matching it.
func (pr *portRoutes) listenerFor(host string) *listenerRoutes {
	for _, lr := range pr.listeners {
		if HostnameMatches(lr.hostname, host) {
			return lr
		}
	}
	return nil
}

// rule finds the rule answering a request: among the rules of the most
// specific of the request's hostnames first (the host itself, then
// wildcards from the longest suffix, then any host), the first by
// precedence that matches.
func (lr *listenerRoutes) rule(host string, r *http.Request, path string) *Rule {
	try := func(rules []*Rule) *Rule {
		for _, rule := range rules {
			if rule.Match.matches(r, path) {
				return rule
			}
		}
		return nil
	}
	if rule := try(lr.exact[host]); rule != nil {
		return rule
	}
	for suffix := parentOf(host); suffix != ""; suffix = parentOf(suffix) {
		if rule := try(lr.wildcard[suffix]); rule != nil {
			return rule
		}
	}
	return try(lr.any)
}

// routesAt are the listeners serving what comes in at: a Gateway's own
// address has its own, every other address of the node the shared ones.
func (t *Table) routesAt(at Local) *portRoutes {
	if !t.own[at.Addr] {
		at.Addr = ""
	}
	return t.ports[at]
}

// GatewayRule finds the Gateway API rule for a request that came in at an
// address and port: nil when no Gateway listener there serves its host,
// or none of the listener's rules matches.
func (t *Table) GatewayRule(at Local, r *http.Request) *Rule {
	pr := t.routesAt(at)
	if pr == nil {
		return nil
	}
	host := normalizeHost(r.Host)
	lr := pr.listenerFor(host)
	if lr == nil {
		return nil
	}
	return lr.rule(host, r, cleanPath(r.URL.Path))
}

// listenerCertificate is the certificate of the most specific HTTPS
// listener at an address and port whose hostname matches serverName, nil
// if none.
func (t *Table) listenerCertificate(at Local, serverName string) *tls.Certificate {
	pr := t.routesAt(at)
	if pr == nil {
		return nil
	}
	host := normalizeHost(serverName)
	for _, lr := range pr.listeners {
		if lr.cert != nil && HostnameMatches(lr.hostname, host) {
			return lr.cert
		}
	}
	return nil
}

// GatewayPorts are where the Gateway listeners are (Addr "": on the
// nodes' addresses), each with whether it serves HTTPS.
func (t *Table) GatewayPorts() map[Local]bool {
	out := make(map[Local]bool, len(t.ports))
	for at, pr := range t.ports {
		out[at] = pr.secure
	}
	return out
}

// OwnAddresses are the Gateways' addresses of their own that the table
// serves, in order.
func (t *Table) OwnAddresses() []string {
	return slices.Sorted(maps.Keys(t.own))
}
