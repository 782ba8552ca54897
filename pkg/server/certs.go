package server

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/edgeos/edgeos/pkg/config"
	"github.com/edgeos/edgeos/pkg/pki"
	"github.com/sirupsen/logrus"
)

// certs are the server's CAs and the files of its leaf certificates, all
// under <data-dir>/server/tls.
type certs struct {
	dir                                 string
	clientCA, serverCA, requestHeaderCA *pki.CA
	// kubeletCA signs node serving certificates only; see pkg/bootstrap.
	kubeletCA *pki.CA
	// lifetime is --certificate-lifetime.
	lifetime time.Duration
	// leaves are the server's own leaf certificates.
	leaves []leafFile
}

// leafFile is a leaf certificate the server issues itself and keeps current.
type leafFile struct {
	ca       *pki.CA
	crt, key string
	leaf     pki.Leaf
}

// ensureLeaves issues every leaf that is missing, due for renewal, or no
// longer what the configuration asks for, and returns those it wrote.
func ensureLeaves(leaves []leafFile, lifetime time.Duration) ([]string, error) {
	var wrote []string
	for _, l := range leaves {
		w, err := l.ca.EnsureLeaf(l.crt, l.key, l.leaf, lifetime)
		if err != nil {
			return wrote, err
		}
		if w {
			logrus.Infof("Wrote certificate %s", l.crt)
			wrote = append(wrote, l.crt)
		}
	}
	return wrote, nil
}

// files lists the certificate files of leaves.
func files(leaves []leafFile) []string {
	out := make([]string, len(leaves))
	for i, l := range leaves {
		out[i] = l.crt
	}
	return out
}

func (c *certs) path(name string) string { return filepath.Join(c.dir, name) }

// leaf names a certificate file pair: <name>.crt and <name>.key.
func (c *certs) crt(name string) string { return c.path(name + ".crt") }
func (c *certs) key(name string) string { return c.path(name + ".key") }

// serviceAccountKey signs and verifies service-account tokens.
func (c *certs) serviceAccountKey() string { return c.path("service-account.key") }

// caNames name the server's CAs' files, <name>.crt and <name>.key.
var caNames = []string{"client-ca", "server-ca", "request-header-ca", "kubelet-ca"}

// ensureCerts creates what is missing and renews leaves that are close to
// expiry or no longer match the configuration.
func ensureCerts(cfg config.CompletedServer, dir string) (*certs, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	c := &certs{dir: dir, lifetime: cfg.CertificateLifetime}
	var err error
	for i, dst := range []**pki.CA{&c.clientCA, &c.serverCA, &c.requestHeaderCA, &c.kubeletCA} {
		if *dst, err = pki.EnsureCA(dir, caNames[i], "edgeos-"+caNames[i]); err != nil {
			return nil, err
		}
	}
	if err := pki.EnsureKey(c.serviceAccountKey()); err != nil {
		return nil, fmt.Errorf("service-account key: %w", err)
	}
	serving, err := servingLeaf(cfg)
	if err != nil {
		return nil, err
	}
	for _, l := range []struct {
		ca   *pki.CA
		name string
		leaf pki.Leaf
	}{
		{c.serverCA, "serving-kube-apiserver", serving},
		{c.clientCA, "client-admin", pki.Leaf{CommonName: "system:admin", Organization: []string{"system:masters"}}},
		{c.clientCA, "client-controller", pki.Leaf{CommonName: "system:kube-controller-manager"}},
		{c.clientCA, "client-scheduler", pki.Leaf{CommonName: "system:kube-scheduler"}},
		{c.clientCA, "client-kube-apiserver", pki.Leaf{CommonName: "system:kube-apiserver-kubelet-client", Organization: []string{"system:masters"}}},
		{c.requestHeaderCA, "client-auth-proxy", pki.Leaf{CommonName: "system:auth-proxy"}},
	} {
		c.leaves = append(c.leaves, leafFile{ca: l.ca, crt: c.crt(l.name), key: c.key(l.name), leaf: l.leaf})
	}
	if _, err := ensureLeaves(c.leaves, c.lifetime); err != nil {
		return nil, err
	}
	return c, nil
}

// servingLeaf is the apiserver's serving certificate: every name and address
// clients may reach it by.
func servingLeaf(cfg config.CompletedServer) (pki.Leaf, error) {
	dns := []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
		"kubernetes.default.svc." + cfg.ClusterDomain, cfg.NodeName}
	if h, err := os.Hostname(); err == nil && h != cfg.NodeName {
		dns = append(dns, h)
	}
	svcIP, err := firstServiceIP(cfg.ServiceCIDR)
	if err != nil {
		return pki.Leaf{}, err
	}
	ips := []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback, svcIP, net.ParseIP(cfg.AdvertiseAddress)}
	for _, s := range cfg.NodeIPs {
		ips = append(ips, net.ParseIP(s))
	}
	if b := net.ParseIP(cfg.BindAddress); !b.IsUnspecified() {
		ips = append(ips, b)
	}
	for _, san := range cfg.TLSSANs {
		if ip := net.ParseIP(san); ip != nil {
			ips = append(ips, ip)
		} else {
			dns = append(dns, san)
		}
	}
	return pki.Leaf{CommonName: "kube-apiserver", DNSNames: dns, IPs: ips, Server: true}, nil
}

// firstServiceIP is the ClusterIP of the kubernetes Service: the service
// network's first address.
func firstServiceIP(cidr string) (net.IP, error) {
	_, n, err := net.ParseCIDR(cidr)
	if err != nil {
		return nil, err
	}
	ip := make(net.IP, len(n.IP))
	copy(ip, n.IP)
	ip[len(ip)-1]++
	return ip, nil
}
