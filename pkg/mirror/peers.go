package mirror

import (
	"hash/fnv"
	"net"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// peerURLs are the mirrors of the cluster's other Ready nodes, at their
// first internal address (the one their serving certificate names), in
// name order turned to start at a place that depends on self: the nodes
// of a fleet do not all ask the same peer first.
func peerURLs(nodes []*corev1.Node, self string, port int) []string {
	type peer struct{ name, url string }
	var ps []peer
	for _, n := range nodes {
		if n.Name == self || !ready(n) {
			continue
		}
		for _, a := range n.Status.Addresses {
			if a.Type == corev1.NodeInternalIP && net.ParseIP(a.Address) != nil {
				ps = append(ps, peer{n.Name, "https://" + net.JoinHostPort(a.Address, strconv.Itoa(port))})
				break
			}
		}
	}
	if len(ps) == 0 {
		return nil
	}
	slices.SortFunc(ps, func(a, b peer) int { return strings.Compare(a.name, b.name) })
	h := fnv.New32a()
	h.Write([]byte(self))
	start := int(h.Sum32() % uint32(len(ps)))
	out := make([]string, 0, len(ps))
	for i := range ps {
		out = append(out, ps[(start+i)%len(ps)].url)
	}
	return out
}

func ready(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
