package controlplane

import (
	"fmt"

	"github.com/edgeos/edgeos/pkg/openapiv3"
	restful "github.com/emicklei/go-restful/v3"
	genericapiserver "k8s.io/apiserver/pkg/server"
	openapibuilder "k8s.io/kube-openapi/pkg/builder"
	"k8s.io/kube-openapi/pkg/cached"
	openapicommon "k8s.io/kube-openapi/pkg/common"
	"k8s.io/kube-openapi/pkg/common/restfuladapter"
	"k8s.io/kube-openapi/pkg/handler"
	"k8s.io/kube-openapi/pkg/validation/spec"
)

// The OpenAPI v2 document of the built-in APIs, built on first request (v3:
// pkg/openapiv3).
//
// Upstream builds it when the server starts (kube-apiserver's part of the
// server chain, at PrepareRun) and keeps it, about 16 MB of live heap, so
// that the aggregator can merge it into /openapi/v2 when a client asks.
// Clients of today (kubectl 1.27 and later, client-go's typed clients) ask
// for v3, and the aggregator's merge is lazy already: only the building was
// not. edgeos turns the built-in server's own OpenAPI installation off
// (Config.SkipOpenAPIInstallation) and installs the same two endpoints
// itself: /openapi/v3 with each group version built on request
// (pkg/openapiv3), /openapi/v2 built the first time a client asks for it,
// then kept as upstream keeps it.

// skipOpenAPI has the built-in API server leave its OpenAPI endpoints to
// installOpenAPI.
func skipOpenAPI(c *genericapiserver.Config) { c.SkipOpenAPIInstallation = true }

// installOpenAPI installs a lazily built /openapi/v3 and /openapi/v2 on the
// built-in API server, the aggregator's delegate, before PrepareRun (the
// aggregator reads its delegates' documents from then on).
func installOpenAPI(aggregator *genericapiserver.GenericAPIServer, v2 *openapicommon.Config, v3 *openapicommon.OpenAPIV3Config) error {
	kube, ok := aggregator.NextDelegate().(*genericapiserver.GenericAPIServer)
	if !ok || v2 == nil || v3 == nil {
		return fmt.Errorf("kube-apiserver: unexpected server chain (delegate %T) or OpenAPI config", aggregator.NextDelegate())
	}
	h := kube.Handler
	docs, err := openapiv3.New(h.GoRestfulContainer, v3)
	if err != nil {
		return fmt.Errorf("kube-apiserver: OpenAPI v3: %w", err)
	}
	docs.Register(h.NonGoRestfulMux)
	lazy := cached.Once(cached.Func(func() (*spec.Swagger, string, error) {
		s, err := openapibuilder.BuildOpenAPISpecFromRoutes(restfuladapter.AdaptWebServices(h.GoRestfulContainer.RegisteredWebServices()), v2)
		if err != nil {
			return nil, "", fmt.Errorf("building the OpenAPI v2 document: %w", err)
		}
		s.Definitions = handler.PruneDefaults(s.Definitions)
		// one document for the server's life: its etag never changes
		return s, "built-in", nil
	}))
	kube.OpenAPIVersionedService = handler.NewOpenAPIServiceLazy(lazy)
	kube.OpenAPIVersionedService.RegisterOpenAPIVersionedService("/openapi/v2", h.NonGoRestfulMux)
	return nil
}

// dropOpenAPIDefinitions lets the collector have the OpenAPI definitions of
// every built-in type once the servers are prepared (server + node 329 →
// 318/327 MB PSS, measured before routeOperations). Upstream computes them
// once (DefaultOpenAPIV3Config) and keeps them in the config the three
// servers of the chain share. They are read to install the APIs and the
// aggregator's own document, all done by now, and by the OpenAPI builders,
// which compute them again when the field is nil: the first request for
// each group version's document pays that.
func dropOpenAPIDefinitions(v3 *openapicommon.OpenAPIV3Config) { v3.Definitions = nil }

// routeOperations gives the OpenAPI configs the function that names a
// route's operation before any document is built. Left unset, the first
// builder (kube-openapi's builder and builder3, newOpenAPI) sets it to a
// closure over itself in the config that every later build and all three
// servers of the chain share: that builder, and with it its map of every
// built-in type's OpenAPI definition, stays reachable for the server's life
// (heap after a GC: 22 → 9 MB held by the definitions; server + node about
// 15 MB less PSS). This is the same function, closing over nothing but the
// config's own.
func routeOperations(v2 *openapicommon.Config, v3 *openapicommon.OpenAPIV3Config) {
	if v2 != nil && v2.GetOperationIDAndTagsFromRoute == nil {
		v2.GetOperationIDAndTagsFromRoute = operationFromRoute(v2.GetOperationIDAndTags)
	}
	if v3 != nil && v3.GetOperationIDAndTagsFromRoute == nil {
		v3.GetOperationIDAndTagsFromRoute = operationFromRoute(v3.GetOperationIDAndTags)
	}
}

// operationFromRoute is what kube-openapi's builders derive from a config's
// GetOperationIDAndTags, or from nothing.
func operationFromRoute(named func(*restful.Route) (string, []string, error)) func(openapicommon.Route) (string, []string, error) {
	if named == nil {
		return func(r openapicommon.Route) (string, []string, error) { return r.OperationName(), nil, nil }
	}
	return func(r openapicommon.Route) (string, []string, error) {
		route, ok := r.(*restfuladapter.RouteAdapter)
		if !ok {
			return "", nil, fmt.Errorf("config.GetOperationIDAndTags specified but route is not a restful v1 Route")
		}
		return named(route.Route)
	}
}
