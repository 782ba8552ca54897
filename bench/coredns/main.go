// Command coredns is CoreDNS with only the plugins a Kubernetes cluster DNS
// uses (bind, errors, loop, cache, kubernetes, forward), built from its Go module
// as a benchmark peer for edgeos's cluster DNS. It is never shipped; it
// has a go.mod of its own so that CoreDNS's dependencies stay out of
// edgeos's.
package main

import (
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/bind"
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/forward"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/loop"
)

func main() {
	dnsserver.Directives = []string{"bind", "errors", "loop", "cache", "kubernetes", "forward"}
	coremain.Run()
}
