package gateway

import (
	"fmt"
	"net/http"
	"time"

	"github.com/edgeos/edgeos/pkg/ingress"
	corev1 "k8s.io/api/core/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// compile makes an HTTPRoute's rules: one per match (a rule without
// matches matches every request), sharing the rule's action.
func (b *builder) compile(r *gatewayv1.HTTPRoute) *compiledRoute {
	c := &compiledRoute{}
	var refs *problem
	routeKey := key(&r.ObjectMeta)
	for i := range r.Spec.Rules {
		rule := &r.Spec.Rules[i]
		action, bad := b.action(r, rule, &refs)
		if bad != nil && c.partial == nil {
			c.partial = bad
		}
		matches := rule.Matches
		if len(matches) == 0 {
			matches = []gatewayv1.HTTPRouteMatch{{}}
		}
		for j := range matches {
			m, err := toMatch(&matches[j])
			if err != nil {
				// a match edgeos cannot make matches nothing
				if c.partial == nil {
					c.partial = &problem{string(gatewayv1.RouteReasonUnsupportedValue), fmt.Sprintf("rule %d: %v", i, err)}
				}
				continue
			}
			c.rules = append(c.rules, &ingress.Rule{Match: m, Action: action,
				Order: ingress.Order{Created: r.CreationTimestamp.UnixNano(), Route: routeKey, Rule: i, Match: j}})
		}
	}
	c.resolved = either(gatewayv1.RouteConditionResolvedRefs, refs, gatewayv1.RouteReasonResolvedRefs, "references resolved", r.Generation)
	return c
}

// toMatch translates a match, with the API's defaults: a path prefix of
// "/", exact header and query values.
func toMatch(m *gatewayv1.HTTPRouteMatch) (ingress.Match, error) {
	out := ingress.Match{PathKind: ingress.PathPrefix, Path: "/"}
	if p := m.Path; p != nil {
		if p.Value != nil {
			out.Path = *p.Value
		}
		if p.Type != nil {
			switch *p.Type {
			case gatewayv1.PathMatchExact:
				out.PathKind = ingress.PathExact
			case gatewayv1.PathMatchRegularExpression:
				out.PathKind = ingress.PathRegex
			}
		}
	}
	if m.Method != nil {
		out.Method = string(*m.Method)
	}
	for _, h := range m.Headers {
		out.Headers = append(out.Headers, ingress.ValueMatch{Name: string(h.Name), Value: h.Value,
			Regex: h.Type != nil && *h.Type == gatewayv1.HeaderMatchRegularExpression})
	}
	for _, q := range m.QueryParams {
		out.Query = append(out.Query, ingress.ValueMatch{Name: string(q.Name), Value: q.Value,
			Regex: q.Type != nil && *q.Type == gatewayv1.QueryParamMatchRegularExpression})
	}
	return out, out.Compile()
}

// action translates a rule's filters and backends. A filter edgeos does
// not serve is never skipped: the rule answers 500, and bad says why.
// The first backend that cannot be resolved is noted in refs; its share
// of the requests is answered with 500.
func (b *builder) action(r *gatewayv1.HTTPRoute, rule *gatewayv1.HTTPRouteRule, refs **problem) (a *ingress.Action, bad *problem) {
	a = &ingress.Action{}
	unsupported := func(what string) (*ingress.Action, *problem) {
		msg := what + " is not served by edgeos: the rule answers 500"
		return &ingress.Action{Why: msg}, &problem{string(gatewayv1.RouteReasonUnsupportedValue), msg}
	}
	for _, f := range rule.Filters {
		switch {
		case f.Type == gatewayv1.HTTPRouteFilterRequestHeaderModifier && f.RequestHeaderModifier != nil:
			a.RequestHeaders = headerChanges(f.RequestHeaderModifier)
		case f.Type == gatewayv1.HTTPRouteFilterResponseHeaderModifier && f.ResponseHeaderModifier != nil:
			a.ResponseHeaders = headerChanges(f.ResponseHeaderModifier)
		case f.Type == gatewayv1.HTTPRouteFilterRequestRedirect && f.RequestRedirect != nil:
			a.Redirect = redirect(f.RequestRedirect)
		case f.Type == gatewayv1.HTTPRouteFilterURLRewrite && f.URLRewrite != nil:
			a.Rewrite = &ingress.Rewrite{Path: pathChange(f.URLRewrite.Path)}
			if f.URLRewrite.Hostname != nil {
				a.Rewrite.Hostname = string(*f.URLRewrite.Hostname)
			}
		default:
			return unsupported(fmt.Sprintf("filter %s", f.Type))
		}
	}
	if t := rule.Timeouts; t != nil {
		var err error
		if a.Timeout, err = duration(t.Request); err == nil {
			a.BackendTimeout, err = duration(t.BackendRequest)
		}
		if err != nil {
			return unsupported(err.Error())
		}
	}
	for _, ref := range rule.BackendRefs {
		if len(ref.Filters) > 0 {
			return unsupported("a backendRef's filter")
		}
		weight := 1
		if ref.Weight != nil {
			weight = int(*ref.Weight)
		}
		target, p := b.backend(r, ref.BackendObjectReference)
		if p != nil {
			if *refs == nil {
				*refs = p
			}
			if a.Why == "" {
				a.Why = p.message
			}
		}
		a.Backends = append(a.Backends, ingress.Backend{Target: target, Weight: weight})
	}
	return a, nil
}

// duration reads a timeout: 0 for none (absent, or "0s": disabled).
func duration(d *gatewayv1.Duration) (time.Duration, error) {
	if d == nil {
		return 0, nil
	}
	v, err := time.ParseDuration(string(*d))
	if err != nil || v < 0 {
		return 0, fmt.Errorf("timeout %q", *d)
	}
	return v, nil
}

// backend resolves a backendRef to its Service port's endpoints.
func (b *builder) backend(r *gatewayv1.HTTPRoute, ref gatewayv1.BackendObjectReference) (*ingress.Target, *problem) {
	if (ref.Group != nil && *ref.Group != "") || (ref.Kind != nil && *ref.Kind != "Service") {
		kind := "Service"
		if ref.Kind != nil {
			kind = string(*ref.Kind)
		}
		return nil, &problem{string(gatewayv1.RouteReasonInvalidKind), fmt.Sprintf("backend %s is a %s; edgeos sends to Services", ref.Name, kind)}
	}
	ns := r.Namespace
	if ref.Namespace != nil {
		ns = string(*ref.Namespace)
	}
	k := ns + "/" + string(ref.Name)
	if ns != r.Namespace && !b.permitted(reference{group, kindRoute, r.Namespace}, reference{"", "Service", ns}, string(ref.Name)) {
		return nil, &problem{string(gatewayv1.RouteReasonRefNotPermitted), fmt.Sprintf("no ReferenceGrant in namespace %s lets HTTPRoutes of %s send to Service %s", ns, r.Namespace, ref.Name)}
	}
	svc := b.services[k]
	switch {
	case svc == nil:
		return nil, &problem{string(gatewayv1.RouteReasonBackendNotFound), fmt.Sprintf("Service %s does not exist", k)}
	case svc.Spec.Type == corev1.ServiceTypeExternalName:
		return nil, &problem{string(gatewayv1.RouteReasonBackendNotFound), fmt.Sprintf("Service %s is of type ExternalName, which edgeos does not send to", k)}
	case ref.Port == nil:
		return nil, &problem{string(gatewayv1.RouteReasonBackendNotFound), fmt.Sprintf("the backendRef to Service %s names no port", k)}
	}
	t := ingress.ServicePortTarget(svc, int32(*ref.Port), b.slices[k])
	if t == nil {
		return nil, &problem{string(gatewayv1.RouteReasonBackendNotFound), fmt.Sprintf("Service %s has no TCP port %d", k, *ref.Port)}
	}
	return t, nil
}

func headerChanges(f *gatewayv1.HTTPHeaderFilter) ingress.HeaderChanges {
	var c ingress.HeaderChanges
	for _, h := range f.Set {
		c.Set = append(c.Set, ingress.Header{Name: http.CanonicalHeaderKey(string(h.Name)), Value: h.Value})
	}
	for _, h := range f.Add {
		c.Add = append(c.Add, ingress.Header{Name: http.CanonicalHeaderKey(string(h.Name)), Value: h.Value})
	}
	c.Remove = append(c.Remove, f.Remove...)
	return c
}

func redirect(f *gatewayv1.HTTPRequestRedirectFilter) *ingress.Redirect {
	rd := &ingress.Redirect{Path: pathChange(f.Path)}
	if f.Scheme != nil {
		rd.Scheme = *f.Scheme
	}
	if f.Hostname != nil {
		rd.Hostname = string(*f.Hostname)
	}
	if f.Port != nil {
		rd.Port = int(*f.Port)
	}
	if f.StatusCode != nil {
		rd.Code = *f.StatusCode
	}
	return rd
}

func pathChange(m *gatewayv1.HTTPPathModifier) *ingress.PathChange {
	switch {
	case m == nil:
		return nil
	case m.Type == gatewayv1.FullPathHTTPPathModifier && m.ReplaceFullPath != nil:
		return &ingress.PathChange{Full: true, Value: *m.ReplaceFullPath}
	case m.Type == gatewayv1.PrefixMatchHTTPPathModifier && m.ReplacePrefixMatch != nil:
		return &ingress.PathChange{Value: *m.ReplacePrefixMatch}
	}
	return nil
}
