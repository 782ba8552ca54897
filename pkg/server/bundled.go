package server

import (
	"context"

	"github.com/edgeos/edgeos/pkg/component"
	"github.com/edgeos/edgeos/pkg/dns"
	"github.com/edgeos/edgeos/pkg/lb"
	"github.com/edgeos/edgeos/pkg/storage/localpath"
	"k8s.io/client-go/kubernetes"
)

// bundled are the cluster-wide parts the server runs beside the control
// plane, each unless --disable names it.
func (s *Server) bundled(cs kubernetes.Interface) []component.Component {
	out := []component.Component{component.Once("agent-rbac", func(ctx context.Context) error { return ensureAgentRBAC(ctx, cs) })}
	if !s.cfg.Disabled("dns") {
		out = append(out, component.Once("kube-dns-service", func(ctx context.Context) error {
			return dns.EnsureService(ctx, cs, s.cfg.ClusterDNS)
		}))
	}
	if !s.cfg.Disabled("local-storage") {
		out = append(out,
			component.Once("local-path-class", func(ctx context.Context) error { return localpath.EnsureStorageClass(ctx, cs) }),
			localpath.NewProvisioner(cs))
	}
	if !s.cfg.Disabled("servicelb") {
		out = append(out, lb.New(cs))
	}
	return out
}
