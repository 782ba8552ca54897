// Package pki creates and renews the certificate authorities, certificates
// and keys of an edgeos cluster. Everything is ECDSA P-256, PEM on disk,
// private keys mode 0600.
package pki

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/edgeos/edgeos/pkg/atomicfile"
)

const (
	// CAValidity is how long a generated CA lives.
	CAValidity = 10 * 365 * 24 * time.Hour
	// LeafValidity is how long a leaf certificate lives unless the server
	// is told otherwise (--certificate-lifetime).
	LeafValidity = 365 * 24 * time.Hour
	// RenewBefore is the longest renewal window: a leaf is renewed once it
	// is this close to expiry, or within a quarter of its lifetime if that
	// is shorter (see Due).
	RenewBefore = 90 * 24 * time.Hour
	// backdate is how far before its issue a certificate becomes valid, so
	// that a node whose clock runs behind (a board without a battery-backed
	// clock) still accepts it.
	backdate = time.Hour
)

// CA is a certificate authority with its key.
type CA struct {
	Cert     *x509.Certificate
	Key      crypto.Signer
	CertFile string
	KeyFile  string
}

// EnsureCA loads the CA stored at <dir>/<name>.crt and .key, or creates it.
func EnsureCA(dir, name, commonName string) (*CA, error) {
	certFile := filepath.Join(dir, name+".crt")
	keyFile := filepath.Join(dir, name+".key")
	if cert, key, err := Load(certFile, keyFile); err == nil {
		return &CA{Cert: cert, Key: key, CertFile: certFile, KeyFile: keyFile}, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("CA %s: %w", name, err)
	}
	key, err := NewKey()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: fmt.Sprintf("%s@%d", commonName, now.Unix())},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.Add(CAValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, err
	}
	cert, _ := x509.ParseCertificate(der)
	if err := writePair(certFile, keyFile, der, key); err != nil {
		return nil, err
	}
	return &CA{Cert: cert, Key: key, CertFile: certFile, KeyFile: keyFile}, nil
}

// PEM is the CA certificate in PEM form.
func (ca *CA) PEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Cert.Raw})
}

// Leaf describes a certificate the CA signs.
type Leaf struct {
	CommonName   string
	Organization []string
	DNSNames     []string
	IPs          []net.IP
	// Server makes a serving certificate; otherwise a client certificate.
	Server bool
}

// Issue signs a certificate for pub as the leaf describes.
func (ca *CA) Issue(l Leaf, pub crypto.PublicKey, validity time.Duration) (*x509.Certificate, error) {
	now := time.Now()
	usage := x509.ExtKeyUsageClientAuth
	if l.Server {
		usage = x509.ExtKeyUsageServerAuth
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: l.CommonName, Organization: l.Organization},
		DNSNames:     l.DNSNames,
		IPAddresses:  l.IPs,
		NotBefore:    now.Add(-backdate),
		NotAfter:     now.Add(validity),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
	}
	if tmpl.NotAfter.After(ca.Cert.NotAfter) {
		tmpl.NotAfter = ca.Cert.NotAfter
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, pub, ca.Key)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

// EnsureLeaf makes sure certFile/keyFile hold a certificate from this CA that
// matches l, fits its key and is not due for renewal; otherwise it issues a
// new one valid for validity, keeping the existing key when there is one
// (so that the pair on disk never disagrees: only the certificate changes).
// It reports whether it wrote a new certificate.
func (ca *CA) EnsureLeaf(certFile, keyFile string, l Leaf, validity time.Duration) (bool, error) {
	cert, key, err := Load(certFile, keyFile)
	switch {
	case err == nil:
		if ca.current(cert, key, l) {
			return false, nil
		}
	case errors.Is(err, os.ErrNotExist):
		key = nil
	default:
		return false, fmt.Errorf("%s: %w", certFile, err)
	}
	newKey := key == nil
	if newKey {
		if key, err = NewKey(); err != nil {
			return false, err
		}
	}
	cert, err = ca.Issue(l, key.Public(), validity)
	if err != nil {
		return false, err
	}
	if newKey {
		if err := writeFile(keyFile, pemKey(key), 0o600); err != nil {
			return false, err
		}
	}
	return true, ca.writeLeaf(certFile, cert)
}

// Renew issues certFile again, for the key in keyFile, with the same names,
// usage and lifetime, whether or not it is due: `edgeos certificate rotate`.
func (ca *CA) Renew(certFile, keyFile string) (*x509.Certificate, error) {
	cert, key, err := Load(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	if err := Matches(cert, key); err != nil {
		return nil, fmt.Errorf("%s: %w", certFile, err)
	}
	renewed, err := ca.Issue(LeafOf(cert), key.Public(), Lifetime(cert))
	if err != nil {
		return nil, err
	}
	return renewed, ca.writeLeaf(certFile, renewed)
}

// writeLeaf stores a leaf with the CA after it, the chain clients expect.
func (ca *CA) writeLeaf(certFile string, cert *x509.Certificate) error {
	return writeFile(certFile, append(pemCert(cert.Raw), ca.PEM()...), 0o644)
}

// current reports whether cert is signed by ca, fits key, matches l and
// needs no renewal.
func (ca *CA) current(cert *x509.Certificate, key crypto.Signer, l Leaf) bool {
	if cert.CheckSignatureFrom(ca.Cert) != nil || Matches(cert, key) != nil {
		return false
	}
	if Due(cert, time.Now()) && !ca.capped(cert) {
		return false
	}
	if cert.Subject.CommonName != l.CommonName || !slices.Equal(cert.Subject.Organization, l.Organization) {
		return false
	}
	if !sameSet(cert.DNSNames, l.DNSNames) {
		return false
	}
	ips := func(in []net.IP) []string {
		out := make([]string, len(in))
		for i, ip := range in {
			out[i] = ip.String()
		}
		return out
	}
	return sameSet(ips(cert.IPAddresses), ips(l.IPs))
}

// capped reports whether cert already expires with its CA, so that a new
// one would expire no later: renewing would change nothing but the file
// (the CA needs rotating; see the README).
func (ca *CA) capped(cert *x509.Certificate) bool {
	return !ca.Cert.NotAfter.After(cert.NotAfter)
}

// Lifetime is how long cert was issued for.
func Lifetime(cert *x509.Certificate) time.Duration {
	return max(cert.NotAfter.Sub(cert.NotBefore)-backdate, 0)
}

// RenewalWindow is how long before its expiry cert is renewed: a quarter
// of its lifetime, at most RenewBefore.
func RenewalWindow(cert *x509.Certificate) time.Duration {
	return WindowFor(Lifetime(cert))
}

// WindowFor is the renewal window of a certificate issued for lifetime.
func WindowFor(lifetime time.Duration) time.Duration {
	return min(RenewBefore, lifetime/4)
}

// Due reports whether cert is within its renewal window (or expired) at now.
func Due(cert *x509.Certificate, now time.Time) bool {
	return !now.Before(cert.NotAfter.Add(-RenewalWindow(cert)))
}

// LeafOf describes cert as the Leaf it was issued from.
func LeafOf(cert *x509.Certificate) Leaf {
	return Leaf{
		CommonName:   cert.Subject.CommonName,
		Organization: cert.Subject.Organization,
		DNSNames:     cert.DNSNames,
		IPs:          cert.IPAddresses,
		Server:       slices.Contains(cert.ExtKeyUsage, x509.ExtKeyUsageServerAuth),
	}
}

// Matches reports an error unless cert is key's certificate.
func Matches(cert *x509.Certificate, key crypto.Signer) error {
	pub, ok := cert.PublicKey.(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(key.Public()) {
		return errors.New("certificate and key do not belong together")
	}
	return nil
}

// NewKey makes a new ECDSA P-256 private key.
func NewKey() (*ecdsa.PrivateKey, error) {
	return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
}

// EnsureKey loads the private key at path or creates one (used for the
// service-account signing key).
func EnsureKey(path string) error {
	if b, err := os.ReadFile(path); err == nil {
		_, err := ParseKey(b)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		return nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	key, err := NewKey()
	if err != nil {
		return err
	}
	return writeFile(path, pemKey(key), 0o600)
}

// ParseKey reads a PEM private key.
func ParseKey(b []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, errors.New("no PEM data in key file")
	}
	if k, err := x509.ParsePKCS8PrivateKey(block.Bytes); err == nil {
		if s, ok := k.(crypto.Signer); ok {
			return s, nil
		}
	}
	if k, err := x509.ParseECPrivateKey(block.Bytes); err == nil {
		return k, nil
	}
	if k, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		return k, nil
	}
	return nil, errors.New("unsupported or corrupt private key")
}

// ParseCert reads the first certificate of a PEM bundle.
func ParseCert(b []byte) (*x509.Certificate, error) {
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("no PEM certificate")
	}
	return x509.ParseCertificate(block.Bytes)
}

// Load reads a certificate (the first of its file) and its key.
func Load(certFile, keyFile string) (*x509.Certificate, crypto.Signer, error) {
	cb, err := os.ReadFile(certFile)
	if err != nil {
		return nil, nil, err
	}
	kb, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, nil, err
	}
	cert, err := ParseCert(cb)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", certFile, err)
	}
	key, err := ParseKey(kb)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", keyFile, err)
	}
	return cert, key, nil
}

func writePair(certFile, keyFile string, der []byte, key *ecdsa.PrivateKey) error {
	if err := writeFile(keyFile, pemKey(key), 0o600); err != nil {
		return err
	}
	return writeFile(certFile, pemCert(der), 0o644)
}

func pemCert(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// PEMCert encodes a certificate as PEM.
func PEMCert(c *x509.Certificate) []byte { return pemCert(c.Raw) }

// pemKey encodes EC keys as SEC1 ("EC PRIVATE KEY"), the form every
// Kubernetes key reader accepts, and other keys as PKCS#8.
func pemKey(key crypto.Signer) []byte {
	if ec, ok := key.(*ecdsa.PrivateKey); ok {
		der, err := x509.MarshalECPrivateKey(ec)
		if err != nil {
			panic(err) // only P-256 keys we made or parsed reach here
		}
		return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		panic(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// writeFile replaces path atomically with data at the given mode.
func writeFile(path string, data []byte, mode os.FileMode) error {
	return atomicfile.Write(path, data, mode)
}

// WriteFile is writeFile for other packages that keep secrets under the data dir.
func WriteFile(path string, data []byte, mode os.FileMode) error { return writeFile(path, data, mode) }

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(err)
	}
	return n
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(slices.Compact(a), slices.Compact(b))
}

// Bundle concatenates PEM certificates.
func Bundle(certs ...[]byte) []byte { return bytes.Join(certs, nil) }

// ParseCSR reads a PEM certificate request and checks its signature.
func ParseCSR(b []byte) (*x509.CertificateRequest, error) {
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "CERTIFICATE REQUEST" {
		return nil, errors.New("no PEM certificate request")
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return nil, err
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("certificate request signature: %w", err)
	}
	return csr, nil
}

// PEMKey encodes a private key the way this package stores keys.
func PEMKey(key crypto.Signer) []byte { return pemKey(key) }
