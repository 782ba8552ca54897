package agent

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/edgeos/edgeos/pkg/component"
	"github.com/edgeos/edgeos/pkg/config"
	"github.com/edgeos/edgeos/pkg/datadir"
	"github.com/edgeos/edgeos/pkg/join"
	"github.com/edgeos/edgeos/pkg/sdnotify"
	"github.com/sirupsen/logrus"
)

// TLSDir holds a joined node's credentials.
func (c Config) TLSDir() string { return c.dir("tls") }

// RunAgent joins the cluster unless this node already holds credentials
// from an earlier join (so it starts with the server unreachable), then runs
// the node until ctx ends.
func RunAgent(ctx context.Context, a config.CompletedAgent) error {
	cfg := Config{DataDir: a.DataDir, Debug: a.Debug, Server: a.Server, NodeName: a.NodeName, NodeIPs: a.NodeIPs, Node: a.Node}
	if err := datadir.Prepare(cfg.DataDir); err != nil {
		return err
	}
	if joined(cfg.TLSDir()) {
		logrus.Infof("Node credentials found in %s; starting without contacting the server", cfg.TLSDir())
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
	node, err := Components(cfg)
	if err != nil {
		return err
	}
	m := component.NewManager()
	defer m.Stop()
	for _, c := range node {
		if err := m.Start(ctx, c); err != nil {
			return err
		}
	}
	logrus.Infof("edgeos agent is ready: node %s of %s", a.NodeName, a.Server)
	if err := sdnotify.Ready(); err != nil {
		logrus.Warnf("Telling systemd edgeos is ready: %v", err)
	}
	select {
	case <-ctx.Done():
		return nil
	case err := <-m.Failed():
		return err
	}
}

// joined reports whether a complete set of credentials is on disk.
func joined(dir string) bool {
	for _, f := range []string{join.ServerCAFile, join.ClientCertFile, join.ClientKeyFile, join.ServingCertFile, join.ServingKeyFile, join.NodePasswordFile} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			return false
		}
	}
	return true
}
