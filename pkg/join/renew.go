package join

import (
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/edgeos/edgeos/pkg/pki"
	"github.com/edgeos/edgeos/pkg/token"
	"github.com/sirupsen/logrus"
)

// RenewConfig says which node renews its certificates with which server.
type RenewConfig struct {
	// Server is the server's URL, https://host:6443.
	Server   string
	NodeName string
	NodeIPs  []string
	// Dir is the node's tls dir, as a join left it.
	Dir string
	// Token is tried when the node's client certificate is no longer
	// accepted (it expired while the node was off); empty: none.
	Token string
	// Force renews every certificate, due or not.
	Force bool
}

// Renew renews, through the bootstrap API, the node's certificates that are
// due (every one with Force), each for the key it has: only certificate
// files change, each in one rename, so a reader never sees a certificate
// and key that disagree. It returns the files it wrote; with nothing due it
// does not contact the server.
func Renew(ctx context.Context, cfg RenewConfig) ([]string, error) {
	path := func(f string) string { return filepath.Join(cfg.Dir, f) }
	type pair struct {
		i    int
		cert *x509.Certificate // nil: missing, from an older join
		key  crypto.Signer
	}
	now := time.Now()
	var due []pair
	for i, c := range nodeCerts {
		cert, key, err := pki.Load(path(c.certFile), path(c.keyFile))
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
		if cfg.Force || err != nil || pki.Due(cert, now) {
			due = append(due, pair{i, cert, key})
		}
	}
	if len(due) == 0 {
		return nil, nil
	}
	c, err := renewClient(cfg)
	if err != nil {
		return nil, err
	}
	defer c.http.CloseIdleConnections()
	ips, err := parseIPs(cfg.NodeIPs)
	if err != nil {
		return nil, err
	}
	var wrote []string
	for _, d := range due {
		nc, old, key := nodeCerts[d.i], d.cert, d.key
		if old == nil {
			if key, err = pki.NewKey(); err != nil {
				return wrote, err
			}
			if err := pki.WriteFile(path(nc.keyFile), pki.PEMKey(key), 0o600); err != nil {
				return wrote, err
			}
		}
		crt, err := c.certificate(ctx, nc.path, key, ips)
		if err != nil {
			return wrote, err
		}
		cert, err := pki.ParseCert(crt)
		if err != nil {
			return wrote, err
		}
		if !cfg.Force && old != nil && !cert.NotAfter.After(old.NotAfter) {
			logrus.Warnf("Renewing %s: the server's certificate would expire no later (%s) than the current one; its CA needs rotating (see the README)", path(nc.certFile), cert.NotAfter.Format(time.RFC3339))
			continue
		}
		if err := pki.WriteFile(path(nc.certFile), crt, 0o644); err != nil {
			return wrote, err
		}
		logrus.Infof("Renewed certificate %s, valid until %s", path(nc.certFile), cert.NotAfter.Format(time.RFC3339))
		wrote = append(wrote, path(nc.certFile))
	}
	return wrote, nil
}

// renewClient connects to the server the join verified, presenting the
// node's kubelet client certificate and, when given, the join token.
func renewClient(cfg RenewConfig) (*client, error) {
	ca, err := os.ReadFile(filepath.Join(cfg.Dir, ServerCAFile))
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		return nil, fmt.Errorf("%s holds no certificate", filepath.Join(cfg.Dir, ServerCAFile))
	}
	password, err := NodePassword(cfg.Dir)
	if err != nil {
		return nil, err
	}
	tlsCfg := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	if pair, err := tls.LoadX509KeyPair(filepath.Join(cfg.Dir, ClientCertFile), filepath.Join(cfg.Dir, ClientKeyFile)); err == nil {
		tlsCfg.Certificates = []tls.Certificate{pair}
	}
	var cred string
	if cfg.Token != "" {
		tok, err := token.Parse(cfg.Token)
		if err != nil {
			return nil, fmt.Errorf("join token: %w", err)
		}
		cred = tok.Credential
	}
	return &client{
		http:     &http.Client{Timeout: requestTimeout, Transport: &http.Transport{TLSClientConfig: tlsCfg}},
		server:   strings.TrimSuffix(cfg.Server, "/"),
		cred:     cred,
		node:     cfg.NodeName,
		password: password,
	}, nil
}
