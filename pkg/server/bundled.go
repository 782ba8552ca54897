package server

import (
	"context"
	"path/filepath"

	"github.com/edgeos/edgeos/pkg/component"
	"github.com/edgeos/edgeos/pkg/dns"
	"github.com/edgeos/edgeos/pkg/gateway"
	"github.com/edgeos/edgeos/pkg/helm"
	"github.com/edgeos/edgeos/pkg/ingress"
	"github.com/edgeos/edgeos/pkg/kubeconfig"
	"github.com/edgeos/edgeos/pkg/lb"
	"github.com/edgeos/edgeos/pkg/leader"
	"github.com/edgeos/edgeos/pkg/manifests"
	"github.com/edgeos/edgeos/pkg/secretsencrypt"
	"github.com/edgeos/edgeos/pkg/storage/localpath"
	"github.com/edgeos/edgeos/pkg/telemetry"
	"github.com/sirupsen/logrus"
	"k8s.io/client-go/kubernetes"
)

// bundled are the cluster-wide parts the server runs beside the control
// plane, each unless --disable names it. With a datastore several servers
// may share (shared), the controllers among them run on one server at a
// time, the one holding the ControllersLease.
func (s *Server) bundled(cs kubernetes.Interface, newEncryption, shared bool) []component.Component {
	out := []component.Component{component.Once("agent-rbac", func(ctx context.Context) error { return ensureAgentRBAC(ctx, cs) })}
	if newEncryption && s.cfg.SecretsEncryption {
		out = append(out, encryptExisting(s.paths.kubeconfig("admin")))
	}
	if !s.cfg.Disabled("dns") {
		out = append(out, component.Once("kube-dns-service", func(ctx context.Context) error {
			return dns.EnsureService(ctx, cs, s.cfg.ClusterDNS)
		}))
	}
	var controllers []component.Component
	if !s.cfg.Disabled("local-storage") {
		out = append(out, component.Once("local-path-class", func(ctx context.Context) error { return localpath.EnsureStorageClass(ctx, cs) }))
		controllers = append(controllers, localpath.NewProvisioner(cs, telemetry.Process()))
	}
	ports := ingress.Ports{HTTP: s.cfg.IngressHTTPPort, HTTPS: s.cfg.IngressHTTPSPort}
	var claimer lb.Claimer
	if s.cfg.Disabled("ingress") {
		// nodes follow the class: without it their proxies stop
		out = append(out, component.Once("ingress-class-removal", func(ctx context.Context) error { return ingress.RemoveClass(ctx, cs) }))
	} else {
		controllers = append(controllers, ingress.NewController(cs, ports))
		claimer = ingress.NewClaimer(ports)
		if s.cfg.GatewayAPI {
			controllers = append(controllers, gateway.NewController(gateway.Config{Kubeconfig: s.paths.kubeconfig("admin"), IngressPorts: ports, Pool: s.cfg.GatewayPool}))
		} else {
			// the proxies stop following the Gateway API; its CRDs, and
			// the objects in them, stay
			out = append(out, component.Once("gateway-api-off", func(ctx context.Context) error { return gateway.SetAnnouncement(ctx, cs, gateway.Announcement{}) }))
		}
	}
	if !s.cfg.Disabled("servicelb") {
		controllers = append(controllers, lb.New(cs, claimer, telemetry.Process()))
	}
	if !s.cfg.DisableHelmController {
		// before the manifests, whose HelmCharts it then installs at once
		controllers = append(controllers, helm.New(helm.Config{
			Kubeconfig: s.paths.kubeconfig("admin"),
			StaticDir:  filepath.Join(s.paths.server(), "static"),
			WorkDir:    filepath.Join(s.paths.server(), "helm"),
		}))
	}
	if shared && len(controllers) > 0 {
		controllers = []component.Component{&leader.Group{Client: cs, Lease: ControllersLease, Identity: s.cfg.NodeName, Components: controllers}}
	}
	out = append(out, controllers...)
	return append(out, manifests.New(manifests.Config{Dir: s.cfg.ManifestsDir, Kubeconfig: s.paths.kubeconfig("admin")}))
}

// ControllersLease is the Lease in kube-system held by the server that
// runs edgeos's cluster-wide controllers.
const ControllersLease = "edgeos-controllers"

// encryptExisting writes every Secret again once, in the background, when
// encryption was just set up on a cluster that may hold Secrets written
// before (one upgraded from an edgeos without it).
func encryptExisting(kubeconfigPath string) component.Component {
	return component.Func{Label: "secrets-encryption", Fn: func(ctx context.Context, ready func()) error {
		ready()
		// faster than the process's shared client allows, gentler than
		// the command
		cs, err := kubeconfig.ClientWithRate(kubeconfigPath, 100, 200)
		if err != nil {
			return err
		}
		n, err := secretsencrypt.Reencrypt(ctx, cs, func(string, ...any) {})
		switch {
		case ctx.Err() != nil:
		case err != nil:
			logrus.Warnf("Encrypting the Secrets written before encryption was on (run 'edgeos secrets-encrypt reencrypt' to finish): %v", err)
		case n > 0:
			logrus.Infof("Encrypted %d Secrets written before encryption was on", n)
		}
		<-ctx.Done()
		return nil
	}}
}
