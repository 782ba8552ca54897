package join

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"

	"github.com/edgeos/edgeos/pkg/bootstrap"
	"github.com/edgeos/edgeos/pkg/pki"
)

// RefreshNodeConfig asks the server, as the node (its client certificate,
// the token when given), for the cluster settings, and keeps them in
// cfg.Dir when they changed, with the kubelet CA they carry: a setting the
// server gained after the join (--disable dns, --embedded-registry)
// reaches the node at its next start. It returns the settings now kept.
func RefreshNodeConfig(ctx context.Context, cfg RenewConfig) (*bootstrap.NodeConfig, error) {
	c, err := renewClient(cfg)
	if err != nil {
		return nil, err
	}
	defer c.http.CloseIdleConnections()
	body, err := c.do(ctx, http.MethodGet, "/edgeos/v1/config", nil)
	if err != nil {
		return nil, err
	}
	var nc bootstrap.NodeConfig
	if err := json.Unmarshal(body, &nc); err != nil {
		return nil, fmt.Errorf("server's node config: %w", err)
	}
	if nc.KubeletCA != "" {
		if err := writeIfChanged(filepath.Join(cfg.Dir, KubeletCAFile), []byte(nc.KubeletCA), 0o644); err != nil {
			return nil, err
		}
	}
	b, err := json.MarshalIndent(nc, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := writeIfChanged(filepath.Join(cfg.Dir, NodeConfigFile), b, 0o644); err != nil {
		return nil, err
	}
	return &nc, nil
}

// writeIfChanged spares the flash a write of what is already there.
func writeIfChanged(path string, data []byte, mode os.FileMode) error {
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
		return nil
	}
	return pki.WriteFile(path, data, mode)
}
