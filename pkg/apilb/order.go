// Package apilb is a node's client-side load balancer for the Kubernetes
// API: a listener on loopback that the node's clients (the kubelet,
// kube-proxy, edgeos's own) use, forwarding each connection to one of the
// cluster's servers. It learns the servers from the kubernetes Service's
// endpoints and keeps them on disk, so that a node starting while its
// server is away still knows the others. The --server address is always
// tried, last if nothing else answers, so the node never runs out of
// servers to try.
package apilb

import (
	"hash/fnv"
	"slices"
)

// rank orders the servers to try, best first. Until the cluster's servers
// are learned from the API (discovered false), --server comes first: a list
// kept on disk never overrides the server the node is told to use. Once
// they are, --server stays first while it is one of them; the others
// follow in an order that differs between nodes, so that nodes spread over
// them; and a --server that is not itself a server (a registration address:
// a DNS name or a VIP) comes last.
func rank(def string, servers []string, discovered bool, node string) []string {
	others := slices.DeleteFunc(slices.Clone(servers), func(s string) bool { return s == def })
	slices.Sort(others)
	others = slices.Compact(others)
	if n := len(others); n > 1 {
		h := fnv.New32a()
		h.Write([]byte(node))
		k := int(h.Sum32() % uint32(n))
		others = append(others[k:], others[:k]...)
	}
	if !discovered || slices.Contains(servers, def) {
		return append([]string{def}, others...)
	}
	return append(others, def)
}

// candidates are the ranked servers with those known to be down moved to
// the end, in rank order: they are still tried when nothing else answers.
func candidates(ranked []string, down map[string]bool) []string {
	out := make([]string, 0, len(ranked))
	for _, s := range ranked {
		if !down[s] {
			out = append(out, s)
		}
	}
	for _, s := range ranked {
		if down[s] {
			out = append(out, s)
		}
	}
	return out
}
