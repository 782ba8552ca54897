// Package join is a node's side of joining a cluster. It trusts nothing the
// server says until the server's CA bundle matches the hash in the join
// token, then obtains the kubelet's client and serving certificates through
// the bootstrap API, proving the node's name with a per-machine password.
// A join is complete or absent: its last write is the node config, and a
// node without one has not joined. Renew later renews the certificates
// through the same API.
package join

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/edgeos/edgeos/pkg/bootstrap"
	"github.com/edgeos/edgeos/pkg/pki"
	"github.com/edgeos/edgeos/pkg/token"
)

// Config says whom to join as what.
type Config struct {
	// Server is the server's URL, https://host:6443.
	Server string
	// Token is the full join token, K10<hash>::<credential>.
	Token    string
	NodeName string
	NodeIPs  []string
	// Dir receives the credentials (the node's tls dir, root-only).
	Dir string
}

// Files are what a successful join writes under Config.Dir.
const (
	ServerCAFile     = "server-ca.crt"
	ClientCAFile     = "client-ca.crt"
	KubeletCAFile    = "kubelet-ca.crt"
	ClientCertFile   = "kubelet-client.crt"
	ClientKeyFile    = "kubelet-client.key"
	ServingCertFile  = "kubelet-serving.crt"
	ServingKeyFile   = "kubelet-serving.key"
	ProxyCertFile    = "kube-proxy.crt"
	ProxyKeyFile     = "kube-proxy.key"
	AgentCertFile    = "edgeos-agent.crt"
	AgentKeyFile     = "edgeos-agent.key"
	NodePasswordFile = "node-password"
	NodeConfigFile   = "node-config.json"
)

const (
	maxResponse       = 1 << 20
	requestTimeout    = 30 * time.Second
	passwordByteCount = 32
)

// Join runs the join and returns what the server said about the cluster.
func Join(ctx context.Context, cfg Config) (*bootstrap.NodeConfig, error) {
	tok, err := token.Parse(cfg.Token)
	if err != nil {
		return nil, fmt.Errorf("join token: %w", err)
	}
	if tok.CAHash == "" {
		return nil, errors.New("join token carries no CA hash, so the server cannot be verified; use the full K10… token from the server's data dir or 'edgeos token create'")
	}
	server := strings.TrimSuffix(cfg.Server, "/")
	caBundle, err := fetchCA(ctx, server)
	if err != nil {
		return nil, err
	}
	if err := tok.VerifyCA(caBundle); err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caBundle) {
		return nil, errors.New("server's CA bundle holds no certificate")
	}
	// The server keeps the password at the first request that carries a
	// valid token, so it is stored before that: a join cut short and tried
	// again must bring the same one.
	password, created, err := ensureNodePassword(cfg.Dir)
	if err != nil {
		return nil, err
	}
	c := &client{
		http:     &http.Client{Timeout: requestTimeout, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}},
		server:   server,
		cred:     tok.Credential,
		node:     cfg.NodeName,
		password: password,
	}
	defer c.http.CloseIdleConnections()

	var nc bootstrap.NodeConfig
	body, err := c.do(ctx, http.MethodGet, "/edgeos/v1/config", nil)
	if created && (errors.Is(err, errRefused) || errors.Is(err, errTaken)) {
		// refused before the password was kept: the server kept
		// nothing, nor do we
		_ = os.Remove(filepath.Join(cfg.Dir, NodePasswordFile))
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(body, &nc); err != nil {
		return nil, fmt.Errorf("server's node config: %w", err)
	}

	files := map[string][]byte{ServerCAFile: caBundle, ClientCAFile: []byte(nc.ClientCA)}
	if nc.KubeletCA != "" {
		files[KubeletCAFile] = []byte(nc.KubeletCA)
	}
	ips, err := parseIPs(cfg.NodeIPs)
	if err != nil {
		return nil, err
	}
	for _, cert := range nodeCerts {
		key, err := pki.NewKey()
		if err != nil {
			return nil, err
		}
		crt, err := c.certificate(ctx, cert.path, key, ips)
		if err != nil {
			return nil, err
		}
		files[cert.certFile], files[cert.keyFile] = crt, pki.PEMKey(key)
	}
	if nc.ClientCA != "" {
		if err := verifyChain(files[ClientCertFile], []byte(nc.ClientCA)); err != nil {
			return nil, fmt.Errorf("kubelet client certificate: %w", err)
		}
	}
	for name, data := range files {
		mode := os.FileMode(0o600)
		if strings.HasSuffix(name, ".crt") {
			mode = 0o644
		}
		if err := pki.WriteFile(filepath.Join(cfg.Dir, name), data, mode); err != nil {
			return nil, err
		}
	}
	// last: its presence says the join is complete
	b, err := json.MarshalIndent(nc, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := pki.WriteFile(filepath.Join(cfg.Dir, NodeConfigFile), b, 0o644); err != nil {
		return nil, err
	}
	return &nc, nil
}

// nodeCerts are the certificates a node holds: where the bootstrap API
// signs each, and its files.
var nodeCerts = []struct{ path, certFile, keyFile string }{
	{"/edgeos/v1/certs/kubelet-client", ClientCertFile, ClientKeyFile},
	{"/edgeos/v1/certs/kubelet-serving", ServingCertFile, ServingKeyFile},
	{"/edgeos/v1/certs/kube-proxy", ProxyCertFile, ProxyKeyFile},
	{"/edgeos/v1/certs/edgeos-agent", AgentCertFile, AgentKeyFile},
}

// CertFiles are the node's certificate files under its tls dir.
func CertFiles(dir string) []string {
	out := make([]string, len(nodeCerts))
	for i, c := range nodeCerts {
		out[i] = filepath.Join(dir, c.certFile)
	}
	return out
}

// Joined reports whether dir holds a complete join.
func Joined(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, NodeConfigFile))
	return err == nil
}

func parseIPs(in []string) ([]net.IP, error) {
	ips := make([]net.IP, 0, len(in))
	for _, s := range in {
		ip := net.ParseIP(s)
		if ip == nil {
			return nil, fmt.Errorf("node IP %q is not an IP address", s)
		}
		ips = append(ips, ip)
	}
	return ips, nil
}

// fetchCA gets the CA bundle before anything is trusted; the caller checks
// it against the token's hash.
func fetchCA(ctx context.Context, server string) ([]byte, error) {
	insecure := &http.Client{Timeout: requestTimeout, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // verified by hash below
	}}
	defer insecure.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, server+"/edgeos/v1/cacerts", nil)
	if err != nil {
		return nil, fmt.Errorf("server URL %q: %w", server, err)
	}
	resp, err := insecure.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot reach the server: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil || resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("server did not hand out its CA bundle (status %d): is %s an edgeos server?", resp.StatusCode, server)
	}
	return body, nil
}

// ensureNodePassword is NodePassword, stored in dir when it is new
// (created).
func ensureNodePassword(dir string) (p string, created bool, err error) {
	if p, err = NodePassword(dir); err != nil {
		return "", false, err
	}
	path := filepath.Join(dir, NodePasswordFile)
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		return p, false, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", false, err
	}
	return p, true, pki.WriteFile(path, []byte(p+"\n"), 0o600)
}

// NodePassword is this machine's proof of its node name: the one kept in
// dir from an earlier join, or a new one (which the caller keeps).
func NodePassword(dir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dir, NodePasswordFile))
	if err == nil {
		if p := strings.TrimSpace(string(b)); len(p) >= bootstrap.MinNodePasswordLength {
			return p, nil
		}
		return "", fmt.Errorf("%s is corrupt: remove it only if this machine never joined under its node name", filepath.Join(dir, NodePasswordFile))
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	return token.RandomHex(passwordByteCount)
}

var (
	// errRefused is the server's 401: neither credential was accepted.
	errRefused = errors.New("the server refused the join token (wrong, or expired) and the node's client certificate (absent, or expired)")
	// errTaken is the server's 403: another machine owns the node name.
	errTaken = errors.New("node name taken")
)

type client struct {
	http                         *http.Client
	server, cred, node, password string
}

func (c *client) do(ctx context.Context, method, path string, body []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.server+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	if c.cred != "" {
		req.Header.Set("Authorization", "Bearer "+c.cred)
	}
	req.Header.Set(bootstrap.NodeNameHeader, c.node)
	req.Header.Set(bootstrap.NodePasswordHeader, c.password)
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return nil, err
	}
	msg := strings.TrimSpace(string(out))
	switch resp.StatusCode {
	case http.StatusOK:
		return out, nil
	case http.StatusUnauthorized:
		return nil, errRefused
	case http.StatusForbidden:
		return nil, fmt.Errorf("%w: %s", errTaken, msg)
	default:
		return nil, fmt.Errorf("server refused %s (status %d): %s", path, resp.StatusCode, msg)
	}
}

// certificate sends a CSR for key and returns the certificate PEM.
func (c *client) certificate(ctx context.Context, path string, key crypto.Signer, ips []net.IP) ([]byte, error) {
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: "system:node:" + c.node}, IPAddresses: ips,
	}, key)
	if err != nil {
		return nil, err
	}
	crt, err := c.do(ctx, http.MethodPost, path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
	if err != nil {
		return nil, err
	}
	cert, err := pki.ParseCert(crt)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := pki.Matches(cert, key); err != nil {
		return nil, fmt.Errorf("%s: the server signed a different key", path)
	}
	return crt, nil
}

func verifyChain(certPEM, caPEM []byte) error {
	cert, err := pki.ParseCert(certPEM)
	if err != nil {
		return err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	_, err = cert.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	return err
}

// LoadNodeConfig reads the cluster settings an earlier join kept in dir.
func LoadNodeConfig(dir string) (*bootstrap.NodeConfig, error) {
	b, err := os.ReadFile(filepath.Join(dir, NodeConfigFile))
	if err != nil {
		return nil, fmt.Errorf("node config from the join: %w", err)
	}
	var nc bootstrap.NodeConfig
	if err := json.Unmarshal(b, &nc); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, NodeConfigFile), err)
	}
	return &nc, nil
}
