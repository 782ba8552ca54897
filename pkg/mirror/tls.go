package mirror

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
)

// serverTLS serves with the node's serving certificate, read again once
// renewed, and lets in only clients that hold a node client certificate
// of this cluster: signed by its client CA, of group system:nodes. A
// machine outside the cluster fails the handshake.
func serverTLS(certFile, keyFile, clientCAFile string) (*tls.Config, error) {
	pem, err := os.ReadFile(clientCAFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s holds no certificate", clientCAFile)
	}
	kp := &keyPair{certFile: certFile, keyFile: keyFile}
	if _, err := kp.get(); err != nil {
		return nil, err
	}
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		ClientAuth:     tls.RequireAndVerifyClientCert,
		ClientCAs:      pool,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return kp.get() },
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("no client certificate")
			}
			return isNode(cs.PeerCertificates[0])
		},
	}, nil
}

// isNode accepts a node's client certificate: system:node:<name>, group
// system:nodes.
func isNode(c *x509.Certificate) error {
	if !strings.HasPrefix(c.Subject.CommonName, "system:node:") || !slices.Equal(c.Subject.Organization, []string{"system:nodes"}) {
		return fmt.Errorf("client %q is not a node of this cluster", c.Subject.CommonName)
	}
	return nil
}

// keyPair is a certificate and key on disk, read again when the
// certificate file changes (renewal replaces it whole).
type keyPair struct {
	certFile, keyFile string
	mu                sync.Mutex
	mtime             time.Time
	cert              *tls.Certificate
}

func (k *keyPair) get() (*tls.Certificate, error) {
	st, err := os.Stat(k.certFile)
	if err != nil {
		return nil, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.cert != nil && st.ModTime().Equal(k.mtime) {
		return k.cert, nil
	}
	c, err := tls.LoadX509KeyPair(k.certFile, k.keyFile)
	if err != nil {
		if k.cert != nil {
			return k.cert, nil // a renewal in progress: the old pair still serves
		}
		return nil, err
	}
	k.cert, k.mtime = &c, st.ModTime()
	return k.cert, nil
}
