package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/edgeos/edgeos/pkg/agent"
	"github.com/edgeos/edgeos/pkg/bootstrap"
	"github.com/edgeos/edgeos/pkg/component"
	"github.com/edgeos/edgeos/pkg/config"
	"github.com/edgeos/edgeos/pkg/controlplane"
	"github.com/edgeos/edgeos/pkg/datadir"
	"github.com/edgeos/edgeos/pkg/datastore"
	"github.com/edgeos/edgeos/pkg/kubeconfig"
	"github.com/edgeos/edgeos/pkg/leader"
	"github.com/edgeos/edgeos/pkg/logforward"
	"github.com/edgeos/edgeos/pkg/multicall"
	"github.com/edgeos/edgeos/pkg/nodepassword"
	"github.com/edgeos/edgeos/pkg/pageout"
	"github.com/edgeos/edgeos/pkg/pki"
	"github.com/edgeos/edgeos/pkg/renewal"
	"github.com/edgeos/edgeos/pkg/secretsencrypt"
	"github.com/edgeos/edgeos/pkg/snapshot"
	"github.com/edgeos/edgeos/pkg/telemetry"
	"github.com/edgeos/edgeos/pkg/token"
	"github.com/sirupsen/logrus"
	genericapiserver "k8s.io/apiserver/pkg/server"
	encryptionconfig "k8s.io/apiserver/pkg/server/options/encryptionconfig/controller"
	"k8s.io/client-go/kubernetes"
)

// encryptionPoll is how often the apiserver rereads its encryption
// configuration.
const encryptionPoll = 5 * time.Second

// shutdownGrace is how long a stopping apiserver lets requests finish
// before it closes the connections still open.
const shutdownGrace = 3 * time.Second

// paths is the server's part of the data dir.
type paths struct{ root string }

func (p paths) server() string { return filepath.Join(p.root, "server") }
func (p paths) tls() string    { return filepath.Join(p.server(), "tls") }
func (p paths) db() string     { return filepath.Join(p.server(), "db") }
func (p paths) token() string  { return filepath.Join(p.server(), "token") }
func (p paths) encryption() string {
	return filepath.Join(p.server(), "cred", secretsencrypt.FileName)
}
func (p paths) kubeconfig(name string) string {
	return filepath.Join(p.server(), "cred", name+".kubeconfig")
}

// AdminKubeconfig is where a server keeps its admin kubeconfig.
func AdminKubeconfig(dataDir string) string { return paths{dataDir}.kubeconfig("admin") }

// EncryptionConfig is where a server keeps its Secrets encryption
// configuration.
func EncryptionConfig(dataDir string) string { return paths{dataDir}.encryption() }

// TokenFile is where a server keeps its full join token.
func TokenFile(dataDir string) string { return paths{dataDir}.token() }

// Server is one running `edgeos server`.
type Server struct {
	cfg   config.CompletedServer
	paths paths
	certs *certs
	// ownLogs holds edgeos's own log lines for the node's log forwarder
	// (nil: not shipped).
	ownLogs *logforward.Own
}

// Run starts the server and serves until ctx ends or a component fails;
// it calls ready once every part serves. ownLogs holds edgeos's own log
// lines where the node ships its logs (nil: it does not).
func Run(ctx context.Context, cfg config.CompletedServer, ready func(), ownLogs *logforward.Own) error {
	s := &Server{cfg: cfg, paths: paths{cfg.DataDir}, ownLogs: ownLogs}
	if err := datadir.Prepare(cfg.DataDir); err != nil {
		return err
	}
	bound, err := listen(cfg)
	if err != nil {
		return err
	}
	ln := newTrackingListener(bound)
	defer ln.Close()
	if cfg.ClusterReset {
		return clusterReset(cfg)
	}
	m := component.NewManager()
	defer m.Stop()

	dsCfg := cfg.Datastore
	dsCfg.Dir = s.paths.db()
	dsCfg.Metrics = telemetry.Process()
	telemetry.PublishProcess(telemetry.Process(), cfg.DataDir)
	ds := datastore.New(dsCfg)
	if err := m.Start(ctx, ds); err != nil {
		return err
	}
	tok, newEncryption, err := s.identity(ctx, ds)
	if err != nil {
		return err
	}
	renewal.TuneClients(pki.WindowFor(cfg.CertificateLifetime))
	// The apiserver looks for a changed encryption configuration this
	// often (upstream: every minute); each step of 'edgeos secrets-encrypt'
	// waits for it. A look is a read and hash of a small file.
	encryptionconfig.EncryptionConfigFileChangePollDuration = encryptionPoll
	if err := s.writeKubeconfigs(); err != nil {
		return err
	}

	if ds.Embedded() && !cfg.DisableSnapshots {
		// validated already
		schedule, err := snapshot.ParseSchedule(cfg.SnapshotSchedule)
		if err != nil {
			return err
		}
		if err := m.Start(ctx, &snapshot.Scheduler{
			Server:   SnapshotServer(cfg.DataDir, cfg.NodeName, cfg.SnapshotDir),
			Schedule: schedule, Retention: cfg.SnapshotRetention, Credential: tok.Credential,
		}); err != nil {
			return err
		}
	}

	cs, err := s.adminClient()
	if err != nil {
		return err
	}
	boot, err := s.bootstrapAPI(tok, cs)
	if err != nil {
		return err
	}
	rm, err := s.resourceMetrics(cs)
	if err != nil {
		return err
	}
	var apiGroups []*genericapiserver.APIGroupInfo
	if rm.group != nil {
		apiGroups = append(apiGroups, rm.group)
	}
	cp, err := controlplane.New(controlplane.Config{
		APIServerArgs:         multicall.Merge(s.apiserverArgs(ds), s.cfg.APIServerArgs),
		ControllerManagerArgs: multicall.Merge(s.controllerManagerArgs(ds), s.cfg.ControllerManagerArgs),
		SchedulerArgs:         multicall.Merge(s.schedulerArgs(ds), s.cfg.SchedulerArgs),
		Listener:              ln,
		WrapHandler:           boot.Wrap,
		// the Lease is valid for an hour; upstream rewrites it every 10 s
		IdentityLeaseRenewInterval: 5 * time.Minute,
		APIGroups:                  apiGroups,
	})
	if err != nil {
		return err
	}
	// The upstream components end their own loops on stop, but not every
	// goroutine they start: some run on wait.NeverStop (component.Outliver).
	apiserver := component.Func{Label: "kube-apiserver", Outlives: true, Fn: func(ctx context.Context, ready func()) error {
		served := make(chan struct{})
		var wg sync.WaitGroup
		defer wg.Wait()
		defer close(served)
		wg.Go(func() {
			select {
			case <-served: // failed on its own
				return
			case <-ctx.Done():
			}
			// Give ordinary requests a moment to finish, then cut what is
			// left (watches) instead of waiting out the request timeout.
			select {
			case <-served:
			case <-time.After(shutdownGrace):
			}
			if n := ln.closeConns(); n > 0 {
				logrus.Debugf("Closed %d API connections still open after %s", n, shutdownGrace)
			}
		})
		return cp.APIServer(ctx, ready)
	}}
	for _, c := range append([]component.Component{
		apiserver,
		s.elected(cs, cp.ControllerManagerElection(), component.Func{Label: "kube-controller-manager", Outlives: true, Fn: cp.ControllerManager}),
		s.elected(cs, cp.SchedulerElection(), component.Func{Label: "kube-scheduler", Outlives: true, Fn: cp.Scheduler}),
	}, append(s.bundled(cs, newEncryption, !ds.Embedded()), rm.components...)...) {
		if err := m.Start(ctx, c); err != nil {
			return err
		}
	}
	if cfg.DisableAgent && cfg.LogForward.On() {
		// with a node, the node's forwarder ships the server's lines too
		f := logforward.New(logforward.Config{Target: cfg.LogForward.Target, NodeName: cfg.NodeName, Dir: filepath.Join(cfg.DataDir, "server", "log-forward"),
			BufferBytes: cfg.LogForward.BufferBytes, Own: s.ownLogs, Metrics: telemetry.Process()})
		if err := m.Start(ctx, f); err != nil {
			return err
		}
	}
	if cfg.DisableAgent && cfg.Node.PageOutAfter > 0 {
		// with a node, the node's components do it (containerd's too)
		if err := m.Start(ctx, pageout.New(pageout.Config{After: cfg.Node.PageOutAfter})); err != nil {
			return err
		}
	}
	var nodeLeaves []leafFile
	if !cfg.DisableAgent {
		nodeCfg, err := s.nodeConfig(ctx, cs)
		if err != nil {
			return fmt.Errorf("this server's node: %w", err)
		}
		node, err := agent.Components(nodeCfg)
		if err != nil {
			return err
		}
		nodeLeaves = s.nodeLeaves(nodeCfg.TLSDir())
		for _, c := range append(node, controlPlaneLabel(cs, cfg.NodeName)) {
			if err := m.Start(ctx, c); err != nil {
				return err
			}
		}
	}
	if err := s.writeAdminKubeconfig(); err != nil {
		return err
	}
	if err := m.Start(ctx, s.renewal(nodeLeaves)); err != nil {
		return err
	}
	logrus.Infof("edgeos server is ready: Kubernetes API at https://%s, kubeconfig at %s, join token in %s",
		net.JoinHostPort(cfg.AdvertiseAddress, strconv.Itoa(cfg.HTTPSListenPort)), cfg.WriteKubeconfig, s.paths.token())
	ready()

	select {
	case <-ctx.Done():
		logrus.Info("Stopping edgeos server")
		return nil
	case err := <-m.Failed():
		return err
	}
}

// elected runs c while this server holds the Lease e names, when e asks
// for an election: upstream's own would end this process, API server and
// node included, at the first renewal that comes too late.
func (s *Server) elected(cs kubernetes.Interface, e controlplane.Election, c component.Component) component.Component {
	if !e.LeaderElect {
		return c
	}
	return &leader.Group{
		Client: cs, Lease: e.ResourceName, Namespace: e.ResourceNamespace, Identity: s.cfg.NodeName,
		Timing:     controlplane.ElectionTiming(e),
		Components: []component.Component{c},
	}
}

// renewal keeps the server's certificates, and its node's, current while it
// runs; the admin kubeconfig embeds one of them.
func (s *Server) renewal(nodeLeaves []leafFile) *renewal.Renewer {
	leaves := append(slices.Clone(s.certs.leaves), nodeLeaves...)
	return renewal.New(renewal.Config{
		Files:   files(leaves),
		Metrics: telemetry.Process(),
		Renew: func(context.Context) error {
			if _, err := ensureLeaves(leaves, s.certs.lifetime); err != nil {
				return err
			}
			return s.writeAdminKubeconfig()
		},
	})
}

// listen binds the apiserver's port up front, so that a port in use stops
// the start before anything runs.
func listen(cfg config.CompletedServer) (net.Listener, error) {
	addr := net.JoinHostPort(cfg.BindAddress, strconv.Itoa(cfg.HTTPSListenPort))
	ln, err := net.Listen("tcp", addr)
	if errors.Is(err, syscall.EADDRINUSE) {
		return nil, fmt.Errorf("cannot listen on %s: port %d is already in use (another edgeos or kube-apiserver?)", addr, cfg.HTTPSListenPort)
	}
	if err != nil {
		return nil, fmt.Errorf("cannot listen on %s: %w", addr, err)
	}
	return ln, nil
}

// localURL is how this process reaches its own apiserver.
func (s *Server) localURL() string {
	host := "127.0.0.1"
	if b := net.ParseIP(s.cfg.BindAddress); !b.IsUnspecified() {
		host = b.String()
	}
	return "https://" + net.JoinHostPort(host, strconv.Itoa(s.cfg.HTTPSListenPort))
}

func (s *Server) writeKubeconfigs() error {
	for _, k := range []struct{ name, cert string }{
		{"admin", "client-admin"}, {"controller", "client-controller"}, {"scheduler", "client-scheduler"},
	} {
		err := kubeconfig.Write(s.paths.kubeconfig(k.name), 0o600, kubeconfig.Spec{
			Server: s.localURL(), CAFile: s.certs.serverCA.CertFile,
			CertFile: s.certs.crt(k.cert), KeyFile: s.certs.key(k.cert),
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// writeAdminKubeconfig writes the portable admin kubeconfig the user asked for.
func (s *Server) writeAdminKubeconfig() error {
	if s.cfg.WriteKubeconfig == "" {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(s.cfg.WriteKubeconfig), 0o755); err != nil {
		return err
	}
	return kubeconfig.Write(s.cfg.WriteKubeconfig, s.cfg.KubeconfigMode, kubeconfig.Spec{
		Server: s.localURL(), CAFile: s.certs.serverCA.CertFile,
		CertFile: s.certs.crt("client-admin"), KeyFile: s.certs.key("client-admin"), Embed: true,
	})
}

// adminClient is this process's own admin connection to its apiserver.
func (s *Server) adminClient() (kubernetes.Interface, error) {
	return kubeconfig.Client(s.paths.kubeconfig("admin"))
}

// bootstrapAPI builds the node bootstrap handler.
func (s *Server) bootstrapAPI(tok token.Token, cs kubernetes.Interface) (*bootstrap.Handler, error) {
	serverCA, err := os.ReadFile(s.certs.serverCA.CertFile)
	if err != nil {
		return nil, err
	}
	return bootstrap.New(bootstrap.Config{
		ServerCA:  serverCA,
		ClientCA:  s.certs.clientCA,
		KubeletCA: s.certs.kubeletCA,
		Auth:      token.Authenticator{Server: tok.Credential, Secrets: cs.CoreV1()},
		Passwords: nodepassword.Store{Secrets: cs.CoreV1()},
		Node:      s.clusterInfo(),
		Lifetime:  s.certs.lifetime,
	}), nil
}
