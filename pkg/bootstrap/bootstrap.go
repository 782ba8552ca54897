// Package bootstrap is the server's HTTPS API for joining nodes. It is served
// on the apiserver's port under PathPrefix, ahead of the apiserver's own
// authentication:
//
//	GET  /edgeos/v1/cacerts                   server CA bundle, no auth
//	POST /edgeos/v1/certs/kubelet-client      sign a kubelet client CSR
//	POST /edgeos/v1/certs/kubelet-serving     sign a kubelet serving CSR
//	GET  /edgeos/v1/config                    cluster settings a node needs
//
// Every endpoint but cacerts needs the node's name in Edgeos-Node-Name, the
// node's own secret in Edgeos-Node-Password, and proof that the node may
// join: either "Authorization: Bearer <credential>" with the credential part
// of a join token, or (to renew certificates after the token expired) the
// node's current kubelet client certificate presented on the TLS
// connection. A wrong token gets 401; a node name owned by another machine
// (another password) gets 403. Either way nothing is signed.
package bootstrap

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/edgeos/edgeos/pkg/pki"
	"github.com/sirupsen/logrus"
)

// PathPrefix is where the bootstrap API lives on the apiserver's port.
const PathPrefix = "/edgeos/"

// Headers of a node's request.
const (
	NodeNameHeader     = "Edgeos-Node-Name"
	NodePasswordHeader = "Edgeos-Node-Password"
)

// MinNodePasswordLength keeps node passwords unguessable.
const MinNodePasswordLength = 32

var (
	// ErrUnauthorized is what an Authenticator returns for a credential it rejects.
	ErrUnauthorized = errors.New("unauthorized")
	// ErrNodeTaken is what NodePasswords returns when another machine owns the name.
	ErrNodeTaken = errors.New("node name is taken by another machine")
)

// NodePasswords guards node names: the first machine to join under a name
// owns it, and later requests for that name must bring the same password.
type NodePasswords interface {
	Verify(ctx context.Context, node, password string) error
}

// Authenticator checks the credential part of a join token.
type Authenticator interface {
	Authenticate(ctx context.Context, credential string) error
}

// NodeConfig is what a node learns about the cluster when it joins.
type NodeConfig struct {
	ClusterCIDR   string `json:"clusterCIDR"`
	ServiceCIDR   string `json:"serviceCIDR"`
	ClusterDNS    string `json:"clusterDNS"`
	ClusterDomain string `json:"clusterDomain"`
	// ClientCA is the PEM CA that signs clients of the kubelet (the apiserver).
	ClientCA string `json:"clientCA"`
	// DisableDNS says the server runs with --disable dns: nodes serve no
	// cluster DNS (the user brings one at ClusterDNS).
	DisableDNS bool `json:"disableDNS,omitempty"`
	// DisableLocalStorage says the server runs with --disable
	// local-storage: nodes keep no local-path volumes.
	DisableLocalStorage bool `json:"disableLocalStorage,omitempty"`
	// DisableNetworkPolicy says the server runs with --disable
	// network-policy: nodes enforce no NetworkPolicy and remove their rules.
	DisableNetworkPolicy bool `json:"disableNetworkPolicy,omitempty"`
	// KubeletCA is the PEM CA that signs node serving certificates, which
	// nodes verify one another's registry mirrors by.
	KubeletCA string `json:"kubeletCA,omitempty"`
	// EmbeddedRegistry says the server runs with --embedded-registry:
	// every node serves its images to the others (pkg/mirror).
	EmbeddedRegistry bool `json:"embeddedRegistry,omitempty"`
}

// Config is everything the API needs.
type Config struct {
	// ServerCA is the PEM bundle that verifies the apiserver.
	ServerCA []byte
	// ClientCA signs kubelet client certificates.
	ClientCA *pki.CA
	// KubeletCA signs kubelet serving certificates. It is kept apart from
	// the server CA so that a joined node can never get a certificate the
	// apiserver's clients would trust.
	KubeletCA *pki.CA
	Auth      Authenticator
	Passwords NodePasswords
	Node      NodeConfig
	// Lifetime is how long the certificates it signs are valid.
	Lifetime time.Duration
}

// Handler serves the bootstrap API.
type Handler struct {
	cfg Config
	mux *http.ServeMux
}

// New builds the handler.
func New(cfg Config) *Handler {
	h := &Handler{cfg: cfg, mux: http.NewServeMux()}
	h.mux.HandleFunc("GET /edgeos/v1/cacerts", h.cacerts)
	h.mux.HandleFunc("POST /edgeos/v1/certs/kubelet-client", h.authed(h.kubeletClient))
	h.mux.HandleFunc("POST /edgeos/v1/certs/kubelet-serving", h.authed(h.kubeletServing))
	h.mux.HandleFunc("POST /edgeos/v1/certs/kube-proxy", h.authed(h.kubeProxy))
	h.mux.HandleFunc("POST /edgeos/v1/certs/edgeos-agent", h.authed(h.edgeosAgent))
	h.mux.HandleFunc("GET /edgeos/v1/config", h.authed(h.nodeConfig))
	return h
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// Wrap routes bootstrap paths to h and everything else to next.
func (h *Handler) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, PathPrefix) {
			h.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (h *Handler) cacerts(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/x-pem-file")
	_, _ = w.Write(h.cfg.ServerCA)
}

// nodeNamePattern is a DNS-1123 subdomain, what Kubernetes accepts as a node name.
var nodeNamePattern = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)

type nodeHandler func(w http.ResponseWriter, r *http.Request, node string)

func (h *Handler) authed(next nodeHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		node := r.Header.Get(NodeNameHeader)
		if certified := h.certifiedNode(r); certified == "" || certified != node {
			if !h.tokenOK(w, r) {
				return
			}
		}
		if len(node) > 253 || !nodeNamePattern.MatchString(node) {
			http.Error(w, fmt.Sprintf("%s header must be a valid node name", NodeNameHeader), http.StatusBadRequest)
			return
		}
		password := r.Header.Get(NodePasswordHeader)
		if len(password) < MinNodePasswordLength {
			http.Error(w, fmt.Sprintf("%s header must hold the node's password (at least %d characters)", NodePasswordHeader, MinNodePasswordLength), http.StatusBadRequest)
			return
		}
		if err := h.cfg.Passwords.Verify(r.Context(), node, password); err != nil {
			if errors.Is(err, ErrNodeTaken) {
				logrus.Warnf("bootstrap: refused node %s from %s: its name belongs to another machine", node, r.RemoteAddr)
				http.Error(w, fmt.Sprintf("node name %q belongs to another machine (node password mismatch); pick another --node-name, or delete the node and its password Secret to reuse the name", node), http.StatusForbidden)
				return
			}
			logrus.Errorf("bootstrap: checking node password of %s: %v", node, err)
			http.Error(w, "cannot check the node password now", http.StatusServiceUnavailable)
			return
		}
		next(w, r, node)
	}
}

// tokenOK checks the request's join token and answers it when it fails.
func (h *Handler) tokenOK(w http.ResponseWriter, r *http.Request) bool {
	cred, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || cred == "" {
		http.Error(w, "missing bearer token (or a current node client certificate)", http.StatusUnauthorized)
		return false
	}
	if err := h.cfg.Auth.Authenticate(r.Context(), cred); err != nil {
		if errors.Is(err, ErrUnauthorized) {
			logrus.Warnf("bootstrap: rejected token from %s", r.RemoteAddr)
			http.Error(w, "invalid token", http.StatusUnauthorized)
			return false
		}
		logrus.Errorf("bootstrap: checking token: %v", err)
		http.Error(w, "cannot check token now", http.StatusServiceUnavailable)
		return false
	}
	return true
}

// certifiedNode is the node whose current kubelet client certificate the
// client presented on the connection, or "".
func (h *Handler) certifiedNode(r *http.Request) string {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return ""
	}
	roots := x509.NewCertPool()
	roots.AddCert(h.cfg.ClientCA.Cert)
	inter := x509.NewCertPool()
	for _, c := range r.TLS.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	cert := r.TLS.PeerCertificates[0]
	if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		return ""
	}
	node, ok := strings.CutPrefix(cert.Subject.CommonName, "system:node:")
	if !ok || !slices.Equal(cert.Subject.Organization, []string{"system:nodes"}) {
		return ""
	}
	return node
}

func (h *Handler) nodeConfig(w http.ResponseWriter, _ *http.Request, _ string) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(h.cfg.Node)
}

func (h *Handler) kubeletClient(w http.ResponseWriter, r *http.Request, node string) {
	h.sign(w, r, h.cfg.ClientCA, func(*x509.CertificateRequest) pki.Leaf {
		return pki.Leaf{CommonName: "system:node:" + node, Organization: []string{"system:nodes"}}
	}, node)
}

// kubeProxy signs the identity every node's kube-proxy shares, which the
// built-in system:node-proxier binding authorises.
func (h *Handler) kubeProxy(w http.ResponseWriter, r *http.Request, node string) {
	h.sign(w, r, h.cfg.ClientCA, func(*x509.CertificateRequest) pki.Leaf { return KubeProxyLeaf }, node)
}

// edgeosAgent signs the identity of edgeos's own node-side workers (overlay,
// cluster DNS, local storage), which the server's edgeos:agent role
// authorises.
func (h *Handler) edgeosAgent(w http.ResponseWriter, r *http.Request, node string) {
	h.sign(w, r, h.cfg.ClientCA, func(*x509.CertificateRequest) pki.Leaf { return AgentLeaf(node) }, node)
}

// AgentGroup is the group of every node's edgeos-agent identity.
const AgentGroup = "edgeos:agents"

// AgentLeaf is a node's edgeos-agent client identity.
func AgentLeaf(node string) pki.Leaf {
	return pki.Leaf{CommonName: "edgeos-agent:" + node, Organization: []string{AgentGroup}}
}

// KubeProxyLeaf is kube-proxy's client identity.
var KubeProxyLeaf = pki.Leaf{CommonName: "system:kube-proxy"}

func (h *Handler) kubeletServing(w http.ResponseWriter, r *http.Request, node string) {
	h.sign(w, r, h.cfg.KubeletCA, func(csr *x509.CertificateRequest) pki.Leaf {
		ips := csr.IPAddresses
		if len(ips) == 0 {
			ips = []net.IP{net.ParseIP("127.0.0.1")}
		}
		return pki.Leaf{
			CommonName:   "system:node:" + node,
			Organization: []string{"system:nodes"},
			DNSNames:     []string{node, "localhost"},
			IPs:          ips,
			Server:       true,
		}
	}, node)
}

// maxCSR bounds a request body; a P-256 CSR is well under 1 KiB.
const maxCSR = 16 << 10

func (h *Handler) sign(w http.ResponseWriter, r *http.Request, ca *pki.CA, leaf func(*x509.CertificateRequest) pki.Leaf, node string) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxCSR))
	if tooLarge := (*http.MaxBytesError)(nil); errors.As(err, &tooLarge) {
		http.Error(w, fmt.Sprintf("certificate request larger than %d bytes", maxCSR), http.StatusRequestEntityTooLarge)
		return
	}
	if err != nil {
		http.Error(w, "reading request: "+err.Error(), http.StatusBadRequest)
		return
	}
	csr, err := pki.ParseCSR(body)
	if err != nil {
		http.Error(w, "bad certificate request: "+err.Error(), http.StatusBadRequest)
		return
	}
	cert, err := ca.Issue(leaf(csr), csr.PublicKey, h.cfg.Lifetime)
	if err != nil {
		logrus.Errorf("bootstrap: signing for node %s: %v", node, err)
		http.Error(w, "signing failed", http.StatusInternalServerError)
		return
	}
	logrus.Infof("bootstrap: signed %s for node %s, valid until %s", r.URL.Path[len(PathPrefix)+3:], node, cert.NotAfter.Format(time.RFC3339))
	w.Header().Set("Content-Type", "application/x-pem-file")
	_, _ = w.Write(pki.Bundle(pki.PEMCert(cert), ca.PEM()))
}
