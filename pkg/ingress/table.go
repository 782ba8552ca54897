package ingress

import (
	"crypto/tls"
	"net/http"
	"path"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
)

// Table is the routing of one moment. It is never changed once built: a
// change builds a new one.
type Table struct {
	// by host: exact names, wildcards by the suffix after "*.", and the
	// rules without a host
	exact    map[string]*hostRoutes
	wildcard map[string]*hostRoutes
	anyHost  *hostRoutes
	// fallback is the default backend (nil: 404)
	fallback *Target
	// certificates by exact host and by wildcard suffix
	certs, wildcardCerts map[string]*tls.Certificate
	// ports are the Gateway listeners' routes, by address and port
	ports map[Local]*portRoutes
	// own: the Gateways' addresses of their own among ports' keys
	own map[string]bool
}

type hostRoutes struct {
	exact map[string]*Target
	// longest prefix first
	prefixes []prefixRoute
}

type prefixRoute struct {
	// without a trailing slash: "" is "/"
	prefix string
	target *Target
}

// Target is where a route's requests go: a Service port's endpoints.
type Target struct {
	// Name is namespace/service:port, for logs.
	Name string
	// Why the target has no endpoints when it cannot have any (a missing
	// Service, an unsupported backend).
	Why string
	// Ready endpoints as host:port; Terminating ones are used only while
	// none is ready.
	Ready, Terminating []string
	next               atomic.Uint32
	// the proxy to the endpoints, made at the first request
	proxyOnce sync.Once
	proxy     http.Handler
}

// Endpoints are the addresses to send to now.
func (t *Target) Endpoints() []string {
	if len(t.Ready) > 0 {
		return t.Ready
	}
	return t.Terminating
}

// Start is the index of the endpoint to try first: round robin.
func (t *Target) Start() int {
	n := len(t.Endpoints())
	if n == 0 {
		return 0
	}
	return int(t.next.Add(1)-1) % n
}

func newTable() *Table {
	return &Table{
		exact: map[string]*hostRoutes{}, wildcard: map[string]*hostRoutes{},
		certs: map[string]*tls.Certificate{}, wildcardCerts: map[string]*tls.Certificate{},
		ports: map[Local]*portRoutes{}, own: map[string]bool{},
	}
}

// host returns the routes of a rule's host ("" for every host; "*.x" for
// one label in front of x), making them if new.
func (t *Table) host(h string) *hostRoutes {
	var m map[string]*hostRoutes
	switch suffix, wild := strings.CutPrefix(h, "*."); {
	case h == "":
		if t.anyHost == nil {
			t.anyHost = &hostRoutes{exact: map[string]*Target{}}
		}
		return t.anyHost
	case wild:
		m, h = t.wildcard, suffix
	default:
		m = t.exact
	}
	if m[h] == nil {
		m[h] = &hostRoutes{exact: map[string]*Target{}}
	}
	return m[h]
}

// finish orders each host's prefixes longest first, and the Gateway
// listeners' rules by precedence.
func (t *Table) finish() {
	t.finishListeners()
	all := []*hostRoutes{t.anyHost}
	for _, r := range t.exact {
		all = append(all, r)
	}
	for _, r := range t.wildcard {
		all = append(all, r)
	}
	for _, r := range all {
		if r != nil {
			sort.SliceStable(r.prefixes, func(i, j int) bool { return len(r.prefixes[i].prefix) > len(r.prefixes[j].prefix) })
		}
	}
}

// Route finds the target of a request: the routes of the exact host, then
// of a wildcard matching it, then those without a host, then the default
// backend. Within a host the longest matching path wins, an Exact path
// over a Prefix one of the same length, as the Ingress API documents. A
// nil target means no route (404).
func (t *Table) Route(host, requestPath string) *Target {
	host = normalizeHost(host)
	p := cleanPath(requestPath)
	for _, r := range []*hostRoutes{t.exact[host], t.wildcard[parentOf(host)], t.anyHost} {
		if r == nil {
			continue
		}
		if target := r.match(p); target != nil {
			return target
		}
	}
	return t.fallback
}

func (r *hostRoutes) match(p string) *Target {
	if target := r.exact[p]; target != nil {
		return target
	}
	for _, pr := range r.prefixes {
		if pr.prefix == "" || p == pr.prefix || strings.HasPrefix(p, pr.prefix+"/") {
			return pr.target
		}
	}
	return nil
}

// CertificateOn is the certificate for a TLS server name at an address
// and port: a Gateway listener's there, else (on an Ingress port) an
// Ingress's; nil when none gives one.
func (t *Table) CertificateOn(at Local, serverName string, ingress bool) *tls.Certificate {
	if c := t.listenerCertificate(at, serverName); c != nil || !ingress {
		return c
	}
	return t.Certificate(serverName)
}

// Certificate is the certificate for a TLS server name, nil when no
// Ingress gives one.
func (t *Table) Certificate(serverName string) *tls.Certificate {
	h := normalizeHost(serverName)
	if c := t.certs[h]; c != nil {
		return c
	}
	return t.wildcardCerts[parentOf(h)]
}

// normalizeHost lowers a Host header and drops its port and a trailing dot.
func normalizeHost(h string) string {
	if i := strings.LastIndexByte(h, ':'); i >= 0 && !strings.HasSuffix(h, "]") {
		h = h[:i]
	}
	return strings.TrimSuffix(strings.ToLower(h), ".")
}

// parentOf drops a name's first label; "" for a single label.
func parentOf(h string) string {
	if i := strings.IndexByte(h, '.'); i > 0 {
		return h[i+1:]
	}
	return ""
}

// cleanPath resolves "." and ".." and doubled slashes, keeping a trailing
// slash, so that a request is routed by what its path means.
func cleanPath(p string) string {
	if p == "" {
		return "/"
	}
	c := path.Clean("/" + p)
	if strings.HasSuffix(p, "/") && c != "/" {
		c += "/"
	}
	return c
}
