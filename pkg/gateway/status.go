package gateway

import (
	"slices"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// mergeConditions is want with the transition times of have kept where a
// condition's status did not change.
func mergeConditions(have, want []metav1.Condition) []metav1.Condition {
	out := slices.Clone(have)
	for _, c := range want {
		meta.SetStatusCondition(&out, c)
	}
	// conditions edgeos no longer sets go
	return slices.DeleteFunc(out, func(c metav1.Condition) bool {
		return meta.FindStatusCondition(want, c.Type) == nil
	})
}

// classStatus is a class's status as it should be, nil when it is.
func classStatus(class *gatewayv1.GatewayClass) *gatewayv1.GatewayClassStatus {
	want := ClassStatus(class)
	want.Conditions = mergeConditions(class.Status.Conditions, want.Conditions)
	if equality.Semantic.DeepEqual(class.Status, want) {
		return nil
	}
	return &want
}

// gatewayStatus is a Gateway's status as it should be, with addresses;
// nil when it is. While no node serves its addresses (unserved says why)
// the Gateway is not programmed.
func gatewayStatus(gw *gatewayv1.Gateway, built *gatewayv1.GatewayStatus, addresses []string, unserved string) *gatewayv1.GatewayStatus {
	want := built.DeepCopy()
	for _, a := range addresses {
		want.Addresses = append(want.Addresses, gatewayv1.GatewayStatusAddress{Type: ptrTo(gatewayv1.IPAddressType), Value: a})
	}
	if unserved != "" && meta.IsStatusConditionTrue(want.Conditions, string(gatewayv1.GatewayConditionProgrammed)) {
		meta.SetStatusCondition(&want.Conditions, condition(gatewayv1.GatewayConditionProgrammed, false, gatewayv1.GatewayReasonAddressNotAssigned,
			unserved, gw.Generation))
	}
	want.Conditions = mergeConditions(gw.Status.Conditions, want.Conditions)
	for i := range want.Listeners {
		l := &want.Listeners[i]
		var have []metav1.Condition
		for _, h := range gw.Status.Listeners {
			if h.Name == l.Name {
				have = h.Conditions
			}
		}
		l.Conditions = mergeConditions(have, l.Conditions)
	}
	if equality.Semantic.DeepEqual(gw.Status, *want) {
		return nil
	}
	return want
}

// routeStatus is an HTTPRoute's status with edgeos's parents as built
// (none when built is empty) and other controllers' left as they are; nil
// when it is so.
func routeStatus(r *gatewayv1.HTTPRoute, built []gatewayv1.RouteParentStatus) *gatewayv1.HTTPRouteStatus {
	want := gatewayv1.HTTPRouteStatus{}
	for _, p := range r.Status.Parents {
		if p.ControllerName != ControllerName {
			want.Parents = append(want.Parents, p)
		}
	}
	for _, p := range built {
		var have []metav1.Condition
		for _, h := range r.Status.Parents {
			if h.ControllerName == ControllerName && equality.Semantic.DeepEqual(h.ParentRef, p.ParentRef) {
				have = h.Conditions
			}
		}
		p.Conditions = mergeConditions(have, p.Conditions)
		want.Parents = append(want.Parents, p)
	}
	if equality.Semantic.DeepEqual(r.Status.Parents, want.Parents) {
		return nil
	}
	if want.Parents == nil {
		want.Parents = []gatewayv1.RouteParentStatus{}
	}
	return &want
}

func ptrTo[T any](v T) *T { return &v }
