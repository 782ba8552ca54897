// Command edgeosdns runs edgeos's cluster DNS (pkg/dns) alone, for
// bench/dns to measure it beside CoreDNS as a process of its own: the same
// code every node runs inside edgeos.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/edgeos/edgeos/pkg/dns"
)

func main() {
	kubeconfig := flag.String("kubeconfig", "", "kubeconfig to watch Services and EndpointSlices with")
	addr := flag.String("addr", "127.0.0.2", "address to answer on, port 53 (held on lo)")
	domain := flag.String("domain", "cluster.local", "cluster domain")
	resolv := flag.String("resolv-conf", "/etc/resolv.conf", "upstream resolvers")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	_, svc, _ := net.ParseCIDR("10.43.0.0/16")
	_, pods, _ := net.ParseCIDR("10.42.0.0/16")
	d := dns.New(dns.Config{Kubeconfig: *kubeconfig, Address: net.ParseIP(*addr), Domain: *domain, ResolvConf: *resolv, Reverse: []*net.IPNet{svc, pods}})
	if err := d.Run(ctx, func() { fmt.Println("edgeosdns ready") }); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
