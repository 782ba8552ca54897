package gateway

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// Every condition written has a transition time (the API refuses one
// without); a condition whose status did not change keeps its time; a
// status as it should be is not written again.
func TestStatusTimes(t *testing.T) {
	in := base()
	in.Gateways = []*gatewayv1.Gateway{gatewayOf("default", "web", 1, listener("http", 80, gatewayv1.HTTPProtocolType, ""))}
	in.Routes = []*gatewayv1.HTTPRoute{routeOf("default", "r", 1, []gatewayv1.ParentReference{parent("", "web", "")}, nil, prefixRule("/", backendRef("", "app", 80)))}
	res := Build(in)
	gw, r := in.Gateways[0], in.Routes[0]
	st := gatewayStatus(gw, res.Gateways["default/web"], []string{"10.1.1.1"}, "")
	rst := routeStatus(r, res.Routes["default/r"])
	if st == nil || rst == nil {
		t.Fatal("a new status is not written")
	}
	var all []metav1.Condition
	all = append(all, st.Conditions...)
	for _, l := range st.Listeners {
		all = append(all, l.Conditions...)
	}
	for _, p := range rst.Parents {
		all = append(all, p.Conditions...)
	}
	for _, c := range all {
		if c.LastTransitionTime.IsZero() {
			t.Errorf("condition %s has no transition time", c.Type)
		}
	}
	old := metav1.NewTime(time.Unix(1, 0))
	for i := range st.Conditions {
		st.Conditions[i].LastTransitionTime = old
	}
	gw.Status, r.Status = *st, *rst
	if again := gatewayStatus(gw, res.Gateways["default/web"], []string{"10.1.1.1"}, ""); again != nil {
		t.Errorf("an unchanged status is written again: %+v", again)
	}
	if again := routeStatus(r, res.Routes["default/r"]); again != nil {
		t.Errorf("an unchanged route status is written again")
	}
	// without addresses: not programmed, from now on
	changed := gatewayStatus(gw, res.Gateways["default/web"], nil, "no node serves it")
	for _, c := range changed.Conditions {
		switch {
		case c.Type == "Accepted" && !c.LastTransitionTime.Equal(&old):
			t.Errorf("Accepted, unchanged, got a new transition time")
		case c.Type == "Programmed" && (c.Status != metav1.ConditionFalse || c.Reason != "AddressNotAssigned" || c.LastTransitionTime.Equal(&old)):
			t.Errorf("Programmed: %+v", c)
		}
	}
	// a parent of another controller is kept
	r.Status.Parents = append(r.Status.Parents, gatewayv1.RouteParentStatus{ControllerName: "example.com/other", ParentRef: parent("", "theirs", "")})
	if got := routeStatus(r, nil); got == nil || len(got.Parents) != 1 || got.Parents[0].ControllerName != "example.com/other" {
		t.Errorf("detached from edgeos's Gateway: %+v", got)
	}
}
