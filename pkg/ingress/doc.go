// Package ingress is edgeos's built-in Ingress: an HTTP(S) reverse proxy in
// the edgeos process of every node, and a controller on the server.
//
// Both sides build the same routing table from the API (Build, a pure
// function of Ingresses, Services, EndpointSlices and certificates). A
// node's proxy serves from the current table, swapped whole on every
// change, so open connections are never cut by a change of routes,
// endpoints or certificates. It routes straight to ready endpoints, not
// through a ClusterIP, retrying on another endpoint a request whose
// connection was refused.
//
// The server's controller owns what is cluster-wide: the IngressClass
// "edgeos" (whose existence turns the proxies on and whose annotations
// carry their ports), each Ingress's status and Events, and the one Secret
// holding the certificates the proxies serve, so that a node may read
// those and no other Secret.
package ingress
