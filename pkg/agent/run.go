package agent

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/edgeos/edgeos/pkg/component"
	"github.com/edgeos/edgeos/pkg/datadir"
	"github.com/edgeos/edgeos/pkg/join"
	"github.com/edgeos/edgeos/pkg/sdnotify"
	"github.com/sirupsen/logrus"
)

// JoinConfig is what `edgeos agent` is told about the cluster it joins:
// the join itself (its Dir is the agent's to set) and where the token may
// come from instead.
type JoinConfig struct {
	join.Config
	TokenFile string
}

// Validate checks the flags of `edgeos agent`; each error names its flag.
func (j *JoinConfig) Validate() error {
	u, err := url.Parse(j.Server)
	if j.Server == "" || err != nil || u.Scheme != "https" || u.Host == "" {
		return fmt.Errorf("--server %q must be the server's URL, https://HOST:6443", j.Server)
	}
	if (j.Token == "") == (j.TokenFile == "") {
		return errors.New("give exactly one of --token and --token-file")
	}
	if j.TokenFile != "" {
		b, err := os.ReadFile(j.TokenFile)
		if err != nil {
			return fmt.Errorf("--token-file: %w", err)
		}
		j.Token = strings.TrimSpace(string(b))
	}
	return nil
}

// TLSDir holds a joined node's credentials.
func (c Config) TLSDir() string { return c.dir("tls") }

// RunAgent joins the cluster unless this node already holds credentials
// from an earlier join (so it starts with the server unreachable), then runs
// the node until ctx ends.
func RunAgent(ctx context.Context, cfg Config, j JoinConfig) error {
	if err := datadir.Prepare(cfg.DataDir); err != nil {
		return err
	}
	if joined(cfg.TLSDir()) {
		logrus.Infof("Node credentials found in %s; starting without contacting the server", cfg.TLSDir())
	} else {
		jc := j.Config
		jc.Dir = cfg.TLSDir()
		if _, err := join.Join(ctx, jc); err != nil {
			return fmt.Errorf("joining %s: %w", j.Server, err)
		}
		logrus.Infof("Joined %s as node %s", j.Server, j.NodeName)
	}
	nc, err := join.LoadNodeConfig(cfg.TLSDir())
	if err != nil {
		return err
	}
	cfg.Server, cfg.NodeName, cfg.NodeIPs, cfg.Cluster = j.Server, j.NodeName, j.NodeIPs, *nc
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
	logrus.Infof("edgeos agent is ready: node %s of %s", j.NodeName, j.Server)
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
