package server

import (
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/edgeos/edgeos/pkg/agent"
	"github.com/edgeos/edgeos/pkg/pki"
)

// CertificateDirs are the dirs of a data dir that hold certificates: a
// server's own and its node's (a joined agent has the second only).
func CertificateDirs(dataDir string) []string {
	return []string{paths{dataDir}.tls(), agent.Config{DataDir: dataDir}.TLSDir()}
}

// IsServer reports whether dataDir holds a server's CAs (as opposed to a
// joined agent's credentials only).
func IsServer(dataDir string) bool {
	_, err := os.Stat(filepath.Join(paths{dataDir}.tls(), "client-ca.key"))
	return err == nil
}

// RotateCertificates renews now every leaf certificate of the server and
// of its node, each for its own key, with its names and lifetime: `edgeos
// certificate rotate`. The CAs stay. A running server's components read
// the new files as they are; the running server puts the new admin
// certificate into the --write-kubeconfig file at its next check (within
// the hour) or start.
func RotateCertificates(dataDir string) ([]string, error) {
	cas, err := loadCAs(paths{dataDir}.tls())
	if err != nil {
		return nil, err
	}
	var renewed []string
	for _, dir := range CertificateDirs(dataDir) {
		crts, err := filepath.Glob(filepath.Join(dir, "*.crt"))
		if err != nil {
			return renewed, err
		}
		for _, crt := range crts {
			key := strings.TrimSuffix(crt, ".crt") + ".key"
			cert, _, err := pki.Load(crt, key)
			if errors.Is(err, os.ErrNotExist) || (err == nil && cert.IsCA) {
				continue // a CA, or a CA bundle a node keeps
			}
			if err != nil {
				return renewed, err
			}
			ca := signer(cas, cert)
			if ca == nil {
				return renewed, fmt.Errorf("%s: signed by none of the server's CAs", crt)
			}
			if _, err := ca.Renew(crt, key); err != nil {
				return renewed, err
			}
			renewed = append(renewed, crt)
		}
	}
	return renewed, nil
}

// loadCAs reads the server's CAs without creating any.
func loadCAs(dir string) ([]*pki.CA, error) {
	var out []*pki.CA
	for _, name := range caNames {
		crt, key := filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
		cert, k, err := pki.Load(crt, key)
		if err != nil {
			return nil, fmt.Errorf("CA %s: %w", name, err)
		}
		out = append(out, &pki.CA{Cert: cert, Key: k, CertFile: crt, KeyFile: key})
	}
	return out, nil
}

// signer is the CA of cas that signed cert.
func signer(cas []*pki.CA, cert *x509.Certificate) *pki.CA {
	for _, ca := range cas {
		if cert.CheckSignatureFrom(ca.Cert) == nil {
			return ca
		}
	}
	return nil
}
