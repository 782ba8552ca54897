package gateway

import (
	"fmt"
	"strings"

	"github.com/edgeos/edgeos/pkg/ingress"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

const (
	group     = gatewayv1.GroupName
	kindRoute = "HTTPRoute"
)

// gateway checks a Gateway and its listeners, and takes the ports of the
// listeners it may serve.
func (b *builder) gateway(gw *gatewayv1.Gateway) {
	st := &gatewayState{gw: gw}
	b.gateways[key(&gw.ObjectMeta)] = st
	for i := range gw.Spec.Listeners {
		st.listeners = append(st.listeners, b.listener(gw, &gw.Spec.Listeners[i]))
	}
	conflicts(st.listeners)
	unsupported := b.address(st)
	valid := 0
	for _, l := range st.listeners {
		if !l.usable() {
			continue
		}
		// a Gateway's own address is its alone: only the nodes' are shared
		at := ingress.Local{Addr: st.address, Port: int(l.spec.Port)}
		if have, taken := b.ports[at]; taken && have != l.spec.Protocol {
			l.conflicted = &problem{string(gatewayv1.ListenerReasonProtocolConflict),
				fmt.Sprintf("port %d serves %s (for Ingresses or an older Gateway): the proxies serve one protocol on a port", at.Port, have)}
			continue
		}
		valid++
	}
	switch {
	case unsupported != "":
		st.accepted = condition(gatewayv1.GatewayConditionAccepted, false, gatewayv1.GatewayReasonUnsupportedAddress, unsupported, gw.Generation)
	case valid == 0:
		st.accepted = condition(gatewayv1.GatewayConditionAccepted, false, gatewayv1.GatewayReasonListenersNotValid, "no listener is valid", gw.Generation)
	case valid < len(st.listeners):
		st.accepted = condition(gatewayv1.GatewayConditionAccepted, true, gatewayv1.GatewayReasonListenersNotValid, "some listeners are not valid; the others are served", gw.Generation)
	default:
		st.accepted = condition(gatewayv1.GatewayConditionAccepted, true, gatewayv1.GatewayReasonAccepted, "accepted", gw.Generation)
	}
	if st.accepted.Status != metav1.ConditionTrue || st.unassigned != nil {
		return
	}
	for _, l := range st.listeners {
		if l.usable() {
			b.ports[ingress.Local{Addr: st.address, Port: int(l.spec.Port)}] = l.spec.Protocol
		}
	}
}

// address finds the Gateway's own address (with a pool), or why it has
// none; it returns why what the Gateway asks for is not supported.
func (b *builder) address(st *gatewayState) (unsupported string) {
	k := key(&st.gw.ObjectMeta)
	if b.given == nil {
		if len(st.gw.Spec.Addresses) > 0 {
			return "edgeos serves Gateways on the addresses of the nodes whose proxies listen unless the server is given a pool (--gateway-addresses); spec.addresses cannot be asked for"
		}
		return ""
	}
	if why := b.refused[k]; why != "" {
		return why
	}
	g := b.given[k]
	switch {
	case g.Refused:
		return g.Why
	case g.Addr.IsValid():
		st.address = g.Addr.String()
		b.res.Addresses[k] = g.Addr
	case len(st.gw.Spec.Addresses) > 0:
		st.unassigned = &problem{string(gatewayv1.GatewayReasonAddressNotUsable), g.Why}
	default:
		st.unassigned = &problem{string(gatewayv1.GatewayReasonAddressNotAssigned), g.Why}
	}
	return ""
}

// listener checks one listener on its own: its protocol, route kinds and
// certificates.
func (b *builder) listener(gw *gatewayv1.Gateway, spec *gatewayv1.Listener) *listenerState {
	l := &listenerState{spec: spec}
	if spec.Hostname != nil {
		l.hostname = strings.ToLower(string(*spec.Hostname))
	}
	switch spec.Protocol {
	case gatewayv1.HTTPProtocolType, gatewayv1.HTTPSProtocolType:
	default:
		l.accepted = &problem{string(gatewayv1.ListenerReasonUnsupportedProtocol),
			fmt.Sprintf("protocol %s is not served by edgeos (HTTP and HTTPS are)", spec.Protocol)}
		return l
	}
	l.kinds, l.resolved = routeKinds(spec.AllowedRoutes)
	if spec.Protocol == gatewayv1.HTTPSProtocolType {
		if p := b.certificate(gw, l); p != nil && l.resolved == nil {
			l.resolved = p
		}
	}
	return l
}

// routeKinds are the kinds of route a listener takes that edgeos serves:
// HTTPRoute, unless the listener names only others.
func routeKinds(allowed *gatewayv1.AllowedRoutes) ([]gatewayv1.RouteGroupKind, *problem) {
	g := gatewayv1.Group(group)
	httpRoute := gatewayv1.RouteGroupKind{Group: &g, Kind: kindRoute}
	if allowed == nil || len(allowed.Kinds) == 0 {
		return []gatewayv1.RouteGroupKind{httpRoute}, nil
	}
	var kinds []gatewayv1.RouteGroupKind
	var unknown []string
	for _, k := range allowed.Kinds {
		if (k.Group == nil || *k.Group == group) && k.Kind == kindRoute {
			kinds = append(kinds, httpRoute)
		} else {
			unknown = append(unknown, string(k.Kind))
		}
	}
	if len(unknown) > 0 {
		return kinds, &problem{string(gatewayv1.ListenerReasonInvalidRouteKinds),
			fmt.Sprintf("route kinds %s are not served by edgeos (HTTPRoute is)", strings.Join(unknown, ", "))}
	}
	return kinds, nil
}

// certificate finds an HTTPS listener's certificate: the first of its
// certificateRefs (edgeos serves one per listener), a kubernetes.io/tls
// Secret in the Gateway's namespace or one a ReferenceGrant lets it use.
func (b *builder) certificate(gw *gatewayv1.Gateway, l *listenerState) *problem {
	t := l.spec.TLS
	if t == nil || len(t.CertificateRefs) == 0 {
		return &problem{string(gatewayv1.ListenerReasonInvalidCertificateRef), "an HTTPS listener needs a certificateRef"}
	}
	if t.Mode != nil && *t.Mode != gatewayv1.TLSModeTerminate {
		return &problem{string(gatewayv1.ListenerReasonInvalidCertificateRef), fmt.Sprintf("TLS mode %s is not served by edgeos on an HTTPS listener (Terminate is)", *t.Mode)}
	}
	for _, ref := range t.CertificateRefs {
		if (ref.Group != nil && *ref.Group != "") || (ref.Kind != nil && *ref.Kind != "Secret") {
			return &problem{string(gatewayv1.ListenerReasonInvalidCertificateRef), fmt.Sprintf("certificateRef %s is not a Secret", ref.Name)}
		}
		ns := gw.Namespace
		if ref.Namespace != nil {
			ns = string(*ref.Namespace)
		}
		if ns != gw.Namespace && !b.permitted(reference{group, "Gateway", gw.Namespace}, reference{"", "Secret", ns}, string(ref.Name)) {
			return &problem{string(gatewayv1.ListenerReasonRefNotPermitted),
				fmt.Sprintf("no ReferenceGrant in namespace %s lets Gateways of %s use Secret %s", ns, gw.Namespace, ref.Name)}
		}
		k := ns + "/" + string(ref.Name)
		cert := b.in.Certs[k]
		if cert == nil {
			return &problem{string(gatewayv1.ListenerReasonInvalidCertificateRef), fmt.Sprintf("Secret %s is missing or holds no usable kubernetes.io/tls certificate", k)}
		}
		if l.cert == nil {
			l.cert = cert
			b.res.Secrets = append(b.res.Secrets, k)
		}
	}
	return nil
}

// conflicts marks the listeners of one Gateway that cannot be served
// together: on one port with different protocols, or with the same
// protocol and hostname.
func conflicts(ls []*listenerState) {
	byPort := map[gatewayv1.PortNumber][]*listenerState{}
	for _, l := range ls {
		if l.accepted == nil {
			byPort[l.spec.Port] = append(byPort[l.spec.Port], l)
		}
	}
	for port, same := range byPort {
		protocols := map[gatewayv1.ProtocolType]bool{}
		hostnames := map[string]int{}
		for _, l := range same {
			protocols[l.spec.Protocol] = true
			hostnames[string(l.spec.Protocol)+" "+l.hostname]++
		}
		for _, l := range same {
			switch {
			case len(protocols) > 1:
				l.conflicted = &problem{string(gatewayv1.ListenerReasonProtocolConflict), fmt.Sprintf("listeners on port %d ask for different protocols", port)}
			case hostnames[string(l.spec.Protocol)+" "+l.hostname] > 1:
				l.conflicted = &problem{string(gatewayv1.ListenerReasonHostnameConflict), fmt.Sprintf("listeners on port %d share the hostname %q", port, l.hostname)}
			}
		}
	}
}

// finish writes a Gateway's status and hands its programmed listeners to
// the proxies.
func (b *builder) finish(st *gatewayState) {
	gw := st.gw
	gen := gw.Generation
	out := &gatewayv1.GatewayStatus{}
	accepted := st.accepted.Status == metav1.ConditionTrue
	programmed := 0
	for _, l := range st.listeners {
		ls := gatewayv1.ListenerStatus{Name: l.spec.Name, SupportedKinds: l.kinds, AttachedRoutes: l.attached}
		if ls.SupportedKinds == nil {
			ls.SupportedKinds = []gatewayv1.RouteGroupKind{}
		}
		ls.Conditions = append(ls.Conditions,
			either(gatewayv1.ListenerConditionAccepted, l.accepted, gatewayv1.ListenerReasonAccepted, "accepted", gen),
			either(gatewayv1.ListenerConditionResolvedRefs, l.resolved, gatewayv1.ListenerReasonResolvedRefs, "references resolved", gen),
		)
		conflicted := condition(gatewayv1.ListenerConditionConflicted, false, gatewayv1.ListenerReasonNoConflicts, "no conflicts", gen)
		if l.conflicted != nil {
			conflicted = condition(gatewayv1.ListenerConditionConflicted, true, l.conflicted.reason, l.conflicted.message, gen)
		}
		ls.Conditions = append(ls.Conditions, conflicted)
		if accepted && st.unassigned == nil && l.programmed() {
			programmed++
			ls.Conditions = append(ls.Conditions, condition(gatewayv1.ListenerConditionProgrammed, true, gatewayv1.ListenerReasonProgrammed, "served by the proxies", gen))
			b.res.Listeners = append(b.res.Listeners, ingress.Listener{
				Address: st.address, Port: int(l.spec.Port), Secure: l.spec.Protocol == gatewayv1.HTTPSProtocolType,
				Hostname: l.hostname, Certificate: l.cert, Rules: l.rules,
			})
		} else {
			ls.Conditions = append(ls.Conditions, condition(gatewayv1.ListenerConditionProgrammed, false, gatewayv1.ListenerReasonInvalid, "not served: see the other conditions", gen))
		}
		out.Listeners = append(out.Listeners, ls)
	}
	out.Conditions = []metav1.Condition{st.accepted}
	switch {
	case accepted && st.unassigned != nil:
		out.Conditions = append(out.Conditions, condition(gatewayv1.GatewayConditionProgrammed, false, st.unassigned.reason, st.unassigned.message, gen))
	case accepted && programmed > 0:
		out.Conditions = append(out.Conditions, condition(gatewayv1.GatewayConditionProgrammed, true, gatewayv1.GatewayReasonProgrammed, "served by the proxies", gen))
	default:
		out.Conditions = append(out.Conditions, condition(gatewayv1.GatewayConditionProgrammed, false, gatewayv1.GatewayReasonInvalid, "no listener is served", gen))
	}
	b.res.Gateways[key(&gw.ObjectMeta)] = out
}

// either is a condition True with ok's reason, or False with p's.
func either[T ~string, R ~string](kind T, p *problem, okReason R, okMessage string, gen int64) metav1.Condition {
	if p == nil {
		return condition(kind, true, okReason, okMessage, gen)
	}
	return condition(kind, false, p.reason, p.message, gen)
}
