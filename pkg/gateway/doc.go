// Package gateway is edgeos's Gateway API (gateway.networking.k8s.io,
// standard channel): the CRDs of the kinds it serves, the GatewayClass
// "edgeos", and the translation of Gateways, HTTPRoutes and
// ReferenceGrants into the routes the nodes' ingress proxies serve and
// the status conditions the API asks for.
package gateway
