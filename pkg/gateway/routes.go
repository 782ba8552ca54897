package gateway

import (
	"fmt"
	"strings"

	"github.com/edgeos/edgeos/pkg/ingress"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// compiledRoute is an HTTPRoute's rules as the proxies serve them, made
// once for all its parents.
type compiledRoute struct {
	rules    []*ingress.Rule
	resolved metav1.Condition
	// partial: some rules answer 500 for a reason of their own (an
	// unsupported filter, a path edgeos cannot match)
	partial *problem
}

// route attaches an HTTPRoute to the listeners its parentRefs name, and
// gives it a status for each parent that is one of edgeos's Gateways.
func (b *builder) route(r *gatewayv1.HTTPRoute) {
	var c *compiledRoute
	for _, ref := range r.Spec.ParentRefs {
		if (ref.Group != nil && *ref.Group != group) || (ref.Kind != nil && *ref.Kind != "Gateway") {
			continue
		}
		ns := r.Namespace
		if ref.Namespace != nil {
			ns = string(*ref.Namespace)
		}
		st := b.gateways[ns+"/"+string(ref.Name)]
		if st == nil {
			continue // not edgeos's
		}
		if c == nil {
			c = b.compile(r)
		}
		ps := gatewayv1.RouteParentStatus{ParentRef: ref, ControllerName: ControllerName,
			Conditions: []metav1.Condition{b.attach(r, ref, st, c), c.resolved}}
		if c.partial != nil {
			ps.Conditions = append(ps.Conditions, condition(gatewayv1.RouteConditionPartiallyInvalid, true, c.partial.reason, c.partial.message, r.Generation))
		}
		k := key(&r.ObjectMeta)
		b.res.Routes[k] = append(b.res.Routes[k], ps)
	}
}

// attach adds a route's rules to the listeners of one parent that take
// it, and says whether any did.
func (b *builder) attach(r *gatewayv1.HTTPRoute, ref gatewayv1.ParentReference, st *gatewayState, c *compiledRoute) metav1.Condition {
	gen := r.Generation
	no := func(reason gatewayv1.RouteConditionReason, format string, args ...any) metav1.Condition {
		return condition(gatewayv1.RouteConditionAccepted, false, reason, fmt.Sprintf(format, args...), gen)
	}
	if st.accepted.Status != metav1.ConditionTrue {
		return no(gatewayv1.RouteReasonNoMatchingParent, "Gateway %s is not accepted: %s", key(&st.gw.ObjectMeta), st.accepted.Message)
	}
	var named []*listenerState
	for _, l := range st.listeners {
		if (ref.SectionName == nil || l.spec.Name == *ref.SectionName) && (ref.Port == nil || l.spec.Port == *ref.Port) {
			named = append(named, l)
		}
	}
	if len(named) == 0 {
		return no(gatewayv1.RouteReasonNoMatchingParent, "Gateway %s has no listener of that name and port", key(&st.gw.ObjectMeta))
	}
	var allowed []*listenerState
	for _, l := range named {
		if l.usable() && b.allows(st.gw, l, r.Namespace) && takesRoutes(l) {
			allowed = append(allowed, l)
		}
	}
	if len(allowed) == 0 {
		return no(gatewayv1.RouteReasonNotAllowedByListeners, "no listener of Gateway %s takes HTTPRoutes from namespace %s", key(&st.gw.ObjectMeta), r.Namespace)
	}
	routeHosts := make([]string, len(r.Spec.Hostnames))
	for i, h := range r.Spec.Hostnames {
		routeHosts[i] = strings.ToLower(string(h))
	}
	attached := false
	for _, l := range allowed {
		hosts := intersect(l.hostname, routeHosts)
		if len(hosts) == 0 {
			continue
		}
		attached = true
		l.attached++
		if !l.programmed() {
			continue
		}
		for _, h := range hosts {
			for _, rule := range c.rules {
				l.rules = append(l.rules, ingress.HostRule{Hostname: h, Rule: rule})
			}
		}
	}
	if !attached {
		return no(gatewayv1.RouteReasonNoMatchingListenerHostname, "no hostname of the route matches a listener's of Gateway %s", key(&st.gw.ObjectMeta))
	}
	return condition(gatewayv1.RouteConditionAccepted, true, gatewayv1.RouteReasonAccepted, "accepted", gen)
}

func takesRoutes(l *listenerState) bool {
	for _, k := range l.kinds {
		if k.Kind == kindRoute {
			return true
		}
	}
	return false
}

// allows reports whether a listener takes routes from namespace ns: its
// Gateway's own (the default), all, or those its selector picks.
func (b *builder) allows(gw *gatewayv1.Gateway, l *listenerState, ns string) bool {
	from := gatewayv1.NamespacesFromSame
	var sel *metav1.LabelSelector
	if a := l.spec.AllowedRoutes; a != nil && a.Namespaces != nil {
		if a.Namespaces.From != nil {
			from = *a.Namespaces.From
		}
		sel = a.Namespaces.Selector
	}
	switch from {
	case gatewayv1.NamespacesFromAll:
		return true
	case gatewayv1.NamespacesFromSelector:
		s, err := metav1.LabelSelectorAsSelector(sel)
		return err == nil && sel != nil && s.Matches(labels.Set(b.nsLabels[ns]))
	case gatewayv1.NamespacesFromSame:
		return ns == gw.Namespace
	}
	return false
}

// intersect is the hostnames a route serves on a listener: of the
// route's, those the listener's hostname covers, and the listener's
// where a wildcard of the route covers it. "" stands for any host.
func intersect(listener string, route []string) []string {
	switch {
	case len(route) == 0:
		return []string{listener}
	case listener == "":
		return route
	}
	var out []string
	for _, h := range route {
		switch {
		case ingress.HostnameMatches(listener, h):
			out = append(out, h)
		case ingress.HostnameMatches(h, listener):
			out = append(out, listener)
		}
	}
	return compact(out)
}

func compact(hs []string) []string {
	seen := map[string]bool{}
	out := hs[:0]
	for _, h := range hs {
		if !seen[h] {
			seen[h] = true
			out = append(out, h)
		}
	}
	return out
}
