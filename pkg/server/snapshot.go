package server

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/edgeos/edgeos/pkg/config"
	"github.com/edgeos/edgeos/pkg/secretsencrypt"
	"github.com/edgeos/edgeos/pkg/snapshot"
	"github.com/edgeos/edgeos/pkg/token"
	"github.com/sirupsen/logrus"
)

// SnapshotServer is what a snapshot of the server in dataDir covers:
// its database, certificates and keys, encryption configuration and
// token. snapshotDir empty: <data-dir>/server/db/snapshots.
func SnapshotServer(dataDir, node, snapshotDir string) snapshot.Server {
	p := paths{dataDir}
	if snapshotDir == "" {
		snapshotDir = filepath.Join(p.db(), "snapshots")
	}
	return snapshot.Server{
		Dir:       p.server(),
		Files:     []string{"tls", filepath.Join("cred", secretsencrypt.FileName), "token"},
		DB:        filepath.Join(p.db(), "state.db"),
		Snapshots: snapshotDir,
		NodeName:  node,
	}
}

// StoredCredential is the credential of the token a server keeps.
func StoredCredential(dataDir string) (string, error) {
	t, err := storedToken(TokenFile(dataDir))
	return t.Credential, err
}

// RestoreCredential is the credential a restore checks the snapshot
// against: --token's (or --token-file's), else the stored token's.
func RestoreCredential(dataDir, given string) (string, error) {
	if given != "" {
		t, err := token.Parse(given)
		if err != nil {
			return "", fmt.Errorf("--token: %w", err)
		}
		return token.ServerCredential(t.Credential), nil
	}
	c, err := StoredCredential(dataDir)
	if errors.Is(err, os.ErrNotExist) {
		return "", errors.New("give the token the snapshot was taken under (--token or --token-file)")
	}
	return c, err
}

// clusterReset restores --restore-path and says what to do next.
func clusterReset(cfg config.CompletedServer) error {
	cred, err := RestoreCredential(cfg.DataDir, cfg.Secret)
	if err != nil {
		return err
	}
	aside, err := snapshot.Restore(SnapshotServer(cfg.DataDir, cfg.NodeName, cfg.SnapshotDir), cfg.RestorePath, cred, time.Now())
	if err != nil {
		return fmt.Errorf("restoring %s: %w", cfg.RestorePath, err)
	}
	for _, a := range aside {
		logrus.Infof("Kept %s", a)
	}
	logrus.Infof("Restored %s. Start edgeos again without --cluster-reset and --restore-path", cfg.RestorePath)
	return nil
}
