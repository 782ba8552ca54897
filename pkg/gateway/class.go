package gateway

import (
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/gateway-api/pkg/features"
)

const (
	// ClassName is the GatewayClass the server creates.
	ClassName = "edgeos"
	// ControllerName is what a GatewayClass names to be served by edgeos.
	ControllerName gatewayv1.GatewayController = "edgeos.io/gateway-controller"
	// bundleVersion is the Gateway API release the CRDs and the
	// translation follow (the module's version in go.mod).
	bundleVersion = "v1.6.3"
)

// Features are what edgeos serves of the Gateway API beyond its core, as
// a GatewayClass's status lists them.
var Features = []features.FeatureName{
	features.SupportGateway,
	features.SupportHTTPRoute,
	features.SupportReferenceGrant,
	features.SupportHTTPRouteMethodMatching,
	features.SupportHTTPRouteQueryParamMatching,
	features.SupportHTTPRouteResponseHeaderModification,
	features.SupportHTTPRoutePathRewrite,
	features.SupportHTTPRouteHostRewrite,
	features.SupportHTTPRoutePathRedirect,
	features.SupportHTTPRoutePortRedirect,
	features.SupportHTTPRouteSchemeRedirect,
	features.SupportHTTPRoute303RedirectStatusCode,
	features.SupportHTTPRoute307RedirectStatusCode,
	features.SupportHTTPRoute308RedirectStatusCode,
	features.SupportHTTPRouteParentRefPort,
	features.SupportGatewayPort8080,
	features.SupportHTTPRouteRequestTimeout,
	features.SupportHTTPRouteBackendTimeout,
}

// NewClass is the GatewayClass the server creates.
func NewClass() *gatewayv1.GatewayClass {
	return &gatewayv1.GatewayClass{
		ObjectMeta: metav1.ObjectMeta{Name: ClassName, Labels: map[string]string{"app.kubernetes.io/managed-by": "edgeos"}},
		Spec:       gatewayv1.GatewayClassSpec{ControllerName: ControllerName},
	}
}

// ClassStatus is the status edgeos gives a GatewayClass that names it:
// accepted (it takes no parameters: a class with parametersRef is not),
// with the features served.
func ClassStatus(class *gatewayv1.GatewayClass) gatewayv1.GatewayClassStatus {
	accepted := condition(gatewayv1.GatewayClassConditionStatusAccepted, true, gatewayv1.GatewayClassReasonAccepted, "served by edgeos's proxies", class.Generation)
	if class.Spec.ParametersRef != nil {
		accepted = condition(gatewayv1.GatewayClassConditionStatusAccepted, false, gatewayv1.GatewayClassReasonInvalidParameters, "edgeos's GatewayClasses take no parameters", class.Generation)
	}
	st := gatewayv1.GatewayClassStatus{
		Conditions: []metav1.Condition{
			accepted,
			condition(gatewayv1.GatewayClassConditionStatusSupportedVersion, true, gatewayv1.GatewayClassReasonSupportedVersion, "edgeos serves the Gateway API "+bundleVersion, class.Generation),
		},
	}
	names := slices.Clone(Features)
	slices.Sort(names)
	for _, f := range names {
		st.SupportedFeatures = append(st.SupportedFeatures, gatewayv1.SupportedFeature{Name: gatewayv1.FeatureName(f)})
	}
	return st
}

// ours reports whether a class is served by edgeos and accepted.
func ours(class *gatewayv1.GatewayClass) bool {
	return class != nil && class.Spec.ControllerName == ControllerName && class.Spec.ParametersRef == nil
}

// condition is a status condition; the time of its transition is set by
// whoever writes it (see SetConditions).
func condition[T ~string, R ~string](kind T, ok bool, reason R, message string, generation int64) metav1.Condition {
	status := metav1.ConditionFalse
	if ok {
		status = metav1.ConditionTrue
	}
	return metav1.Condition{Type: string(kind), Status: status, Reason: string(reason), Message: message, ObservedGeneration: generation}
}
