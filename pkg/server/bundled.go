package server

import (
	"context"

	"github.com/edgeos/edgeos/pkg/component"
	"github.com/edgeos/edgeos/pkg/dns"
	"github.com/edgeos/edgeos/pkg/lb"
	"k8s.io/client-go/kubernetes"
)

// bundled are the cluster-wide parts the server runs beside the control
// plane, each unless --disable names it.
func (s *Server) bundled(cs kubernetes.Interface) []component.Component {
	var out []component.Component
	if !s.cfg.Disabled("dns") {
		out = append(out, component.Func{Label: "kube-dns-service", Fn: func(ctx context.Context, ready func()) error {
			if err := dns.EnsureService(ctx, cs, s.cfg.ClusterDNS); err != nil {
				return err
			}
			ready()
			<-ctx.Done()
			return nil
		}})
	}
	if !s.cfg.Disabled("servicelb") {
		out = append(out, lb.New(cs))
	}
	return out
}
