package agent

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/edgeos/edgeos/pkg/apilb"
	"github.com/edgeos/edgeos/pkg/component"
	"github.com/edgeos/edgeos/pkg/config"
	"github.com/edgeos/edgeos/pkg/datadir"
	"github.com/edgeos/edgeos/pkg/join"
	"github.com/edgeos/edgeos/pkg/kubeconfig"
	"github.com/edgeos/edgeos/pkg/logforward"
	"github.com/edgeos/edgeos/pkg/pki"
	"github.com/edgeos/edgeos/pkg/renewal"
	"github.com/edgeos/edgeos/pkg/telemetry"
	"github.com/sirupsen/logrus"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// TLSDir holds a joined node's credentials.
func (c Config) TLSDir() string { return c.dir("tls") }

// RunAgent joins the cluster unless this node already holds credentials
// from an earlier join (so it starts with the server unreachable), then runs
// the node until ctx ends; it calls ready once the node's parts run.
// ownLogs holds edgeos's own log lines where the node ships its logs (nil:
// it does not).
func RunAgent(ctx context.Context, a config.CompletedAgent, ready func(), ownLogs *logforward.Own) error {
	cfg := Config{DataDir: a.DataDir, Debug: a.Debug, Verbosity: a.Verbosity, Server: a.Server, NodeName: a.NodeName, NodeIPs: a.NodeIPs, Node: a.Node,
		MetricsBindAddress: a.MetricsBindAddress, Registries: a.Registries, LogForward: a.LogForward, OwnLogs: ownLogs}
	if err := datadir.Prepare(cfg.DataDir); err != nil {
		return err
	}
	if join.Joined(cfg.TLSDir()) {
		logrus.Infof("Node credentials found in %s", cfg.TLSDir())
		// the server may have changed a cluster setting since; a server
		// that does not answer soon does not hold the start up
		rctx, cancel := context.WithTimeout(ctx, refreshTimeout)
		_, err := join.RefreshNodeConfig(rctx, join.RenewConfig{Server: a.Server, NodeName: a.NodeName, NodeIPs: a.NodeIPs, Dir: cfg.TLSDir(), Token: a.Token})
		cancel()
		if err != nil {
			logrus.Infof("Starting with the cluster settings of the last contact with %s: %v", a.Server, err)
		}
	} else {
		j := join.Config{Server: a.Server, Token: a.Token, NodeName: a.NodeName, NodeIPs: a.NodeIPs, Dir: cfg.TLSDir()}
		if _, err := join.Join(ctx, j); err != nil {
			return fmt.Errorf("joining %s: %w", a.Server, err)
		}
		logrus.Infof("Joined %s as node %s", a.Server, a.NodeName)
	}
	nc, err := join.LoadNodeConfig(cfg.TLSDir())
	if err != nil {
		return err
	}
	cfg.Cluster = *nc
	// the node's clients reach whichever server answers through the load
	// balancer
	lb := apilb.New(apilb.Config{
		Listen: net.JoinHostPort("127.0.0.1", strconv.Itoa(a.LBServerPort)), Server: a.ServerAddress,
		NodeName: a.NodeName, StateFile: cfg.serversFile(), Discover: discoverServers(cfg.agentKubeconfig()),
		Check: readyz(cfg.agentKubeconfig()),
	})
	cfg.Server = lb.URL()
	node, err := Components(cfg)
	if err != nil {
		return err
	}
	tuneClients(cfg.TLSDir())
	m := component.NewManager()
	defer m.Stop()
	telemetry.PublishProcess(telemetry.Process(), cfg.DataDir)
	// the renewer next: the node's other parts may wait for the API, which
	// an expired certificate keeps them from reaching
	renewer := renewal.New(renewal.Config{
		Files:   join.CertFiles(cfg.TLSDir()),
		Metrics: telemetry.Process(),
		Renew: func(ctx context.Context) error {
			_, err := join.Renew(ctx, join.RenewConfig{Server: lb.URL(), NodeName: a.NodeName, NodeIPs: a.NodeIPs, Dir: cfg.TLSDir(), Token: a.Token})
			return err
		},
	})
	for _, c := range append([]component.Component{lb, renewer}, node...) {
		if err := m.Start(ctx, c); err != nil {
			return err
		}
	}
	logrus.Infof("edgeos agent is ready: node %s of %s", a.NodeName, a.Server)
	ready()
	select {
	case <-ctx.Done():
		return nil
	case err := <-m.Failed():
		return err
	}
}

// discoverServers learns the cluster's servers with the identity of
// edgeos's own node-side workers, through the load balancer itself.
func discoverServers(path string) func(context.Context, func([]string)) error {
	return func(ctx context.Context, found func([]string)) error {
		cs, err := kubeconfig.Client(path)
		if err != nil {
			return err
		}
		return apilb.Discover(cs)(ctx, found)
	}
}

// readyz checks a server by its /readyz, with the identity of edgeos's
// node-side workers, over one kept-alive connection per server: a server
// whose apiserver answers but cannot serve (its datastore out of reach)
// counts as down, and no check costs a TLS handshake. The transport is the
// process's (component.Shared), as kubeconfig.Client's.
func readyz(path string) func(context.Context, string) error {
	var mu sync.Mutex
	clients := map[string]*http.Client{}
	client := func(server string) (*http.Client, error) {
		mu.Lock()
		defer mu.Unlock()
		if c := clients[server]; c != nil {
			return c, nil
		}
		rc, err := clientcmd.BuildConfigFromFlags("", path)
		if err != nil {
			return nil, err
		}
		rc.Host = "https://" + server
		var c *http.Client
		component.Shared(func() { c, err = rest.HTTPClientFor(rc) })
		if err != nil {
			return nil, err
		}
		clients[server] = c
		return c, nil
	}
	return func(ctx context.Context, server string) error {
		c, err := client(server)
		if err != nil {
			return err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+server+"/readyz", nil)
		if err != nil {
			return err
		}
		resp, err := c.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("/readyz: %s", resp.Status)
		}
		return nil
	}
}

// serversFile keeps the cluster's servers for the next start.
func (c Config) serversFile() string { return c.dir("etc", "api-servers.json") }

// refreshTimeout bounds the question for the cluster settings at start.
const refreshTimeout = 5 * time.Second

// tuneClients has the node's clients look for renewed certificates as
// often as the lifetime the server gives them needs (renewal.TuneClients).
func tuneClients(dir string) {
	b, err := os.ReadFile(filepath.Join(dir, join.ClientCertFile))
	if err != nil {
		return
	}
	if cert, err := pki.ParseCert(b); err == nil {
		renewal.TuneClients(pki.RenewalWindow(cert))
	}
}
