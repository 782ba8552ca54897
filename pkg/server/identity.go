package server

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/edgeos/edgeos/pkg/clusterkeys"
	"github.com/edgeos/edgeos/pkg/datastore"
	"github.com/edgeos/edgeos/pkg/secretsencrypt"
	"github.com/edgeos/edgeos/pkg/token"
	"github.com/sirupsen/logrus"
)

// sharedFiles are what makes servers on one datastore one cluster, by
// their paths under <data-dir>/server: the CAs, the service-account key,
// and the Secrets encryption keys (without them one server could not read
// the Secrets another wrote).
func sharedFiles() []clusterkeys.File {
	var fs []clusterkeys.File
	for _, n := range caNames {
		fs = append(fs, clusterkeys.File{Path: filepath.Join("tls", n+".crt"), Mode: 0o644},
			clusterkeys.File{Path: filepath.Join("tls", n+".key"), Mode: 0o600})
	}
	return append(fs, clusterkeys.File{Path: filepath.Join("tls", "service-account.key"), Mode: 0o600},
		// `edgeos secrets-encrypt` changes one server's copy: it is that
		// server's to keep
		clusterkeys.File{Path: filepath.Join("cred", secretsencrypt.FileName), Mode: 0o600, Seed: true})
}

// identity settles the server's CAs, keys, join token and Secrets
// encryption configuration, and reports whether that configuration is new.
// On a datastore several servers can share, they are the cluster's stored
// there by its first server, or, on an empty datastore, this server's own,
// stored for the next ones.
func (s *Server) identity(ctx context.Context, ds *datastore.Datastore) (token.Token, bool, error) {
	if ds.Embedded() {
		return s.ensureIdentity()
	}
	cli, err := ds.Client()
	if err != nil {
		return token.Token{}, false, err
	}
	defer cli.Close()
	keys := clusterkeys.Keys{Store: clusterkeys.EtcdStore{KV: cli, Key: clusterkeys.Key}, Dir: s.paths.server(), Files: sharedFiles()}
	for attempt := 0; ; attempt++ {
		_, err := os.Stat(filepath.Join(s.paths.tls(), "server-ca.crt"))
		fresh := errors.Is(err, os.ErrNotExist)
		cred, err := s.credential()
		if err != nil {
			return token.Token{}, false, err
		}
		found, p, err := keys.Adopt(ctx, cred)
		if err != nil {
			return token.Token{}, false, fmt.Errorf("joining the cluster in the datastore: %w", err)
		}
		if found {
			if len(p.Write) > 0 {
				logrus.Infof("Took the cluster's CAs and keys from the datastore (%d files)", len(p.Write))
			}
			if len(p.Kept) > 0 {
				logrus.Warnf("This server's %s differs from the cluster's first server's; kept", strings.Join(p.Kept, ", "))
			}
			return s.ensureIdentity()
		}
		tok, newEncryption, err := s.ensureIdentity()
		if err != nil {
			return token.Token{}, false, err
		}
		stored, err := keys.Publish(ctx, tok.Credential)
		if err != nil {
			return token.Token{}, false, fmt.Errorf("storing the cluster's keys in the datastore: %w", err)
		}
		if stored {
			logrus.Info("Stored the cluster's CAs and keys in the datastore, sealed with the join token, for the next servers")
			return tok, newEncryption, nil
		}
		if !fresh || attempt > 0 {
			return token.Token{}, false, errors.New("another server stored its cluster in the datastore while this one, which has CAs of its own, started: this server belongs to another cluster")
		}
		// Another server stored its cluster between this one's look and its
		// store: drop what this start made and take that cluster's.
		logrus.Info("Another server stored the cluster's keys first; taking them")
		if err := keys.Remove(); err != nil {
			return token.Token{}, false, err
		}
		if err := os.Remove(s.paths.token()); err != nil && !errors.Is(err, os.ErrNotExist) {
			return token.Token{}, false, err
		}
	}
}

// ensureIdentity loads or makes the server's CAs and keys, join token and
// Secrets encryption configuration.
func (s *Server) ensureIdentity() (token.Token, bool, error) {
	var err error
	if s.certs, err = ensureCerts(s.cfg, s.paths.tls()); err != nil {
		return token.Token{}, false, fmt.Errorf("certificates: %w", err)
	}
	tok, err := s.ensureToken()
	if err != nil {
		return token.Token{}, false, err
	}
	newEncryption, err := secretsencrypt.Ensure(s.paths.encryption(), s.cfg.SecretsEncryption)
	if err != nil {
		return token.Token{}, false, fmt.Errorf("secrets encryption: %w", err)
	}
	return tok, newEncryption, nil
}

// credential is the server credential this start knows before it has its
// CA: --token's, or the one kept by an earlier start ("" for neither).
func (s *Server) credential() (string, error) {
	if s.cfg.Secret != "" {
		g, err := token.Parse(s.cfg.Secret)
		if err != nil {
			return "", fmt.Errorf("--token: %w", err)
		}
		return token.ServerCredential(g.Credential), nil
	}
	stored, err := storedToken(s.paths.token())
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	return stored.Credential, err
}
