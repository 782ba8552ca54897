package ingress

import (
	"crypto/tls"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
)

// Inputs is everything a routing table is built from.
type Inputs struct {
	// Ingresses are those of class edgeos (see Ours).
	Ingresses []*networkingv1.Ingress
	Services  []*corev1.Service
	Slices    []*discoveryv1.EndpointSlice
	// Certs are the usable certificates by Secret key (namespace/name).
	Certs map[string]*tls.Certificate
	// Listeners are the Gateway listeners with their routes' rules.
	Listeners []Listener
}

// Problem is something an Ingress asks for that is not served as asked.
type Problem struct {
	// Ingress is the key (namespace/name) of the Ingress at fault.
	Ingress string
	// Reason is a CamelCase word for the Event.
	Reason  string
	Message string
}

// Build makes the routing table of in, and the problems found on the way.
// Ingresses are taken oldest first: where two ask for the same thing (a
// host and path, a host's certificate, the default backend) the older one
// has it.
func Build(in Inputs) (*Table, []Problem) {
	b := builder{
		t:        newTable(),
		services: map[string]*corev1.Service{},
		slices:   map[string][]*discoveryv1.EndpointSlice{},
		owner:    map[string]string{},
		in:       in,
	}
	for _, s := range in.Services {
		b.services[s.Namespace+"/"+s.Name] = s
	}
	for _, s := range in.Slices {
		if name := s.Labels[discoveryv1.LabelServiceName]; name != "" {
			b.slices[s.Namespace+"/"+name] = append(b.slices[s.Namespace+"/"+name], s)
		}
	}
	for _, ing := range Oldest(in.Ingresses) {
		b.add(ing)
	}
	for _, l := range in.Listeners {
		b.t.addListener(l)
	}
	b.t.finish()
	return b.t, b.problems
}

// Oldest sorts Ingresses oldest first, by name where equally old.
func Oldest(ings []*networkingv1.Ingress) []*networkingv1.Ingress {
	out := append([]*networkingv1.Ingress(nil), ings...)
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
			return a.CreationTimestamp.Before(&b.CreationTimestamp)
		}
		return Key(a) < Key(b)
	})
	return out
}

// Key is an Ingress's namespace/name.
func Key(ing *networkingv1.Ingress) string { return ing.Namespace + "/" + ing.Name }

type builder struct {
	t        *Table
	services map[string]*corev1.Service
	slices   map[string][]*discoveryv1.EndpointSlice
	// owner: which Ingress has a route, certificate or the default
	// backend, by what it is ("route host path type", "cert host",
	// "default")
	owner    map[string]string
	in       Inputs
	problems []Problem
}

func (b *builder) problem(ing *networkingv1.Ingress, reason, format string, args ...any) {
	b.problems = append(b.problems, Problem{Ingress: Key(ing), Reason: reason, Message: fmt.Sprintf(format, args...)})
}

// claim gives what to ing unless an older Ingress has it.
func (b *builder) claim(ing *networkingv1.Ingress, what, describe string) bool {
	if holder, ok := b.owner[what]; ok && holder != Key(ing) {
		b.problem(ing, "Conflict", "%s is already served by Ingress %s, which is older", describe, holder)
		return false
	}
	b.owner[what] = Key(ing)
	return true
}

func (b *builder) add(ing *networkingv1.Ingress) {
	if d := ing.Spec.DefaultBackend; d != nil && b.claim(ing, "default", "the default backend") {
		b.t.fallback = b.backend(ing, *d)
	}
	var hosts []string
	for _, rule := range ing.Spec.Rules {
		host := strings.ToLower(rule.Host)
		hosts = append(hosts, host)
		if rule.HTTP == nil {
			continue
		}
		routes := b.t.host(host)
		for _, p := range rule.HTTP.Paths {
			kind := networkingv1.PathTypeImplementationSpecific
			if p.PathType != nil {
				kind = *p.PathType
			}
			if kind == networkingv1.PathTypeImplementationSpecific && looksLikePattern(p.Path) {
				b.problem(ing, "UnsupportedPath", "path %q looks like a pattern; edgeos matches ImplementationSpecific paths as prefixes, so this path is not served", p.Path)
				continue
			}
			if !strings.HasPrefix(p.Path, "/") && p.Path != "" {
				b.problem(ing, "UnsupportedPath", "path %q is not absolute and is not served", p.Path)
				continue
			}
			exact := kind == networkingv1.PathTypeExact
			path := p.Path
			if path == "" {
				path = "/"
			}
			what := fmt.Sprintf("route %s %s %v", host, path, exact)
			if !exact {
				what = fmt.Sprintf("route %s %s %v", host, strings.TrimRight(path, "/"), exact)
			}
			if !b.claim(ing, what, fmt.Sprintf("path %s (%s) of host %q", path, kind, host)) {
				continue
			}
			target := b.backend(ing, p.Backend)
			if exact {
				routes.exact[path] = target
			} else {
				routes.prefixes = append(routes.prefixes, prefixRoute{prefix: strings.TrimRight(path, "/"), target: target})
			}
		}
	}
	for _, t := range ing.Spec.TLS {
		cert := b.in.Certs[ing.Namespace+"/"+t.SecretName]
		if cert == nil {
			b.problem(ing, "SecretNotFound", "TLS Secret %s/%s is missing or holds no usable kubernetes.io/tls certificate; its hosts get edgeos's default certificate", ing.Namespace, t.SecretName)
		}
		tlsHosts := t.Hosts
		if len(tlsHosts) == 0 {
			tlsHosts = hosts
		}
		for _, h := range tlsHosts {
			h = strings.ToLower(h)
			if h == "" || cert == nil {
				continue
			}
			if !b.claim(ing, "cert "+h, fmt.Sprintf("the certificate of host %q", h)) {
				continue
			}
			if suffix, ok := strings.CutPrefix(h, "*."); ok {
				b.t.wildcardCerts[suffix] = cert
			} else {
				b.t.certs[h] = cert
			}
		}
	}
}

// looksLikePattern reports whether a path holds characters other
// controllers read as a regular expression.
func looksLikePattern(p string) bool { return strings.ContainsAny(p, "*()[]{}^$|?+\\") }

// backend resolves an Ingress backend to its endpoints now. A backend edgeos
// cannot resolve is kept, with the reason, and answers 503.
func (b *builder) backend(ing *networkingv1.Ingress, ib networkingv1.IngressBackend) *Target {
	if ib.Resource != nil {
		b.problem(ing, "UnsupportedBackend", "resource backend %s %s is not supported; requests for it get 503", ib.Resource.Kind, ib.Resource.Name)
		return &Target{Name: "resource " + ib.Resource.Name, Why: "resource backends are not supported"}
	}
	if ib.Service == nil {
		b.problem(ing, "UnsupportedBackend", "a backend names no Service; requests for it get 503")
		return &Target{Why: "no Service named"}
	}
	sb := ib.Service
	key := ing.Namespace + "/" + sb.Name
	port := sb.Port.Name
	if port == "" {
		port = strconv.Itoa(int(sb.Port.Number))
	}
	t := &Target{Name: key + ":" + port}
	svc := b.services[key]
	if svc == nil {
		b.problem(ing, "ServiceNotFound", "Service %s does not exist; requests for it get 503 until it does", key)
		t.Why = "Service " + key + " not found"
		return t
	}
	if svc.Spec.Type == corev1.ServiceTypeExternalName {
		b.problem(ing, "UnsupportedBackend", "Service %s is of type ExternalName, which is not supported; requests for it get 503", key)
		t.Why = "ExternalName Service"
		return t
	}
	var sp *corev1.ServicePort
	for i := range svc.Spec.Ports {
		p := &svc.Spec.Ports[i]
		if (sb.Port.Name != "" && p.Name == sb.Port.Name) || (sb.Port.Name == "" && p.Port == sb.Port.Number) {
			sp = p
		}
	}
	if sp == nil {
		b.problem(ing, "ServiceNotFound", "Service %s has no port %s; requests for it get 503", key, port)
		t.Why = "no port " + port + " on Service " + key
		return t
	}
	t.Ready, t.Terminating = endpoints(b.slices[key], sp.Name)
	return t
}

// endpoints are the addresses (host:port) of a Service port's ready
// endpoints, and of its serving but terminating ones, which are used only
// while no endpoint is ready (as kube-proxy does).
func endpoints(slices []*discoveryv1.EndpointSlice, portName string) (ready, terminating []string) {
	seen := map[string]bool{}
	for _, s := range slices {
		if s.AddressType == discoveryv1.AddressTypeFQDN {
			continue
		}
		var port int32
		for _, p := range s.Ports {
			name := ""
			if p.Name != nil {
				name = *p.Name
			}
			if name == portName && p.Port != nil && (p.Protocol == nil || *p.Protocol == corev1.ProtocolTCP) {
				port = *p.Port
			}
		}
		if port == 0 {
			continue
		}
		for _, ep := range s.Endpoints {
			c := ep.Conditions
			isReady := c.Ready == nil || *c.Ready
			serving := c.Serving != nil && *c.Serving
			for _, a := range ep.Addresses {
				addr := net.JoinHostPort(a, strconv.Itoa(int(port)))
				if seen[addr] {
					continue
				}
				seen[addr] = true
				switch {
				case isReady:
					ready = append(ready, addr)
				case serving:
					terminating = append(terminating, addr)
				}
			}
		}
	}
	sort.Strings(ready)
	sort.Strings(terminating)
	return ready, terminating
}

// ServicePortTarget is the target of a Service's port by number, with the
// endpoints its slices give it now; nil when the Service has no such TCP
// port.
func ServicePortTarget(svc *corev1.Service, number int32, slices []*discoveryv1.EndpointSlice) *Target {
	for _, p := range svc.Spec.Ports {
		if p.Port == number && (p.Protocol == "" || p.Protocol == corev1.ProtocolTCP) {
			t := &Target{Name: fmt.Sprintf("%s/%s:%d", svc.Namespace, svc.Name, number)}
			t.Ready, t.Terminating = endpoints(slices, p.Name)
			return t
		}
	}
	return nil
}
