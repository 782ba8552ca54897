package join

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edgeos/edgeos/pkg/bootstrap"
	"github.com/edgeos/edgeos/pkg/nodepassword"
	"github.com/edgeos/edgeos/pkg/pki"
	"github.com/edgeos/edgeos/pkg/token"
	"k8s.io/client-go/kubernetes/fake"
)

// server is the real bootstrap API on TLS, with a certificate from its
// server CA, that can hang up on the nth certificate request (a node
// killed, or a link cut, in the middle of a join).
type server struct {
	url, token string
	hangUpAt   atomic.Int32 // 0: never
	signed     atomic.Int32
}

func newServer(t *testing.T) *server {
	t.Helper()
	dir := t.TempDir()
	var cas [3]*pki.CA
	for i, name := range []string{"server-ca", "client-ca", "kubelet-ca"} {
		var err error
		if cas[i], err = pki.EnsureCA(dir, name, name); err != nil {
			t.Fatal(err)
		}
	}
	serverCA, clientCA, kubeletCA := cas[0], cas[1], cas[2]
	h := bootstrap.New(bootstrap.Config{
		ServerCA: serverCA.PEM(), ClientCA: clientCA, KubeletCA: kubeletCA,
		Auth:      token.Authenticator{Server: "server:right"},
		Passwords: nodepassword.Store{Secrets: fake.NewClientset().CoreV1()},
		Node:      bootstrap.NodeConfig{ClusterDNS: "10.43.0.10", ClientCA: string(clientCA.PEM())},
		Lifetime:  time.Hour,
	})
	s := &server{token: "K10" + token.CAHash(serverCA.PEM()) + "::server:right"}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "/certs/") {
			if n := s.signed.Add(1); n == s.hangUpAt.Load() {
				panic(http.ErrAbortHandler)
			}
		}
		h.ServeHTTP(w, r)
	}))
	key, err := pki.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	cert, err := serverCA.Issue(pki.Leaf{CommonName: "kube-apiserver", IPs: []net.IP{net.ParseIP("127.0.0.1")}, Server: true}, key.Public(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	srv.TLS = &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{cert.Raw}, PrivateKey: key}},
		ClientAuth:   tls.RequestClientCert,
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	s.url = srv.URL
	return s
}

// TestJoinIsCompleteOrAbsent cuts a join short at each of its certificate
// requests: the node has not joined, and the next try (with the password
// the server already keeps for the name) completes it.
func TestJoinIsCompleteOrAbsent(t *testing.T) {
	s := newServer(t)
	ctx := context.Background()
	for cut := int32(1); cut <= int32(len(nodeCerts)); cut++ {
		dir := filepath.Join(t.TempDir(), "tls")
		cfg := Config{Server: s.url, Token: s.token, NodeName: "node-" + string(rune('0'+cut)), NodeIPs: []string{"198.18.0.9"}, Dir: dir}
		s.signed.Store(0)
		s.hangUpAt.Store(cut)
		if _, err := Join(ctx, cfg); err == nil {
			t.Fatalf("cut at request %d: the join succeeded", cut)
		}
		if Joined(dir) {
			t.Fatalf("cut at request %d: the node thinks it has joined", cut)
		}
		s.hangUpAt.Store(0)
		if _, err := Join(ctx, cfg); err != nil {
			t.Fatalf("cut at request %d, then tried again: %v", cut, err)
		}
		if !Joined(dir) {
			t.Fatal("a complete join is not seen as one")
		}
	}
}

func TestRefusedJoinLeavesNothing(t *testing.T) {
	s := newServer(t)
	dir := filepath.Join(t.TempDir(), "tls")
	wrong := strings.TrimSuffix(s.token, "right") + "wrong"
	_, err := Join(context.Background(), Config{Server: s.url, Token: wrong, NodeName: "node", Dir: dir})
	if err == nil || !strings.Contains(err.Error(), "refused the join token") {
		t.Fatalf("wrong token: %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) > 0 {
		t.Fatalf("a refused join left %d files", len(entries))
	}
}

// TestRenew renews a joined node's certificates with its client
// certificate alone (no token), each for its own key, and contacts the
// server only when something is due.
func TestRenew(t *testing.T) {
	s := newServer(t)
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "tls")
	if _, err := Join(ctx, Config{Server: s.url, Token: s.token, NodeName: "node", NodeIPs: []string{"198.18.0.9"}, Dir: dir}); err != nil {
		t.Fatal(err)
	}
	keys := map[string][]byte{}
	before := map[string]string{}
	for _, c := range nodeCerts {
		keys[c.keyFile], _ = os.ReadFile(filepath.Join(dir, c.keyFile))
		b, _ := os.ReadFile(filepath.Join(dir, c.certFile))
		before[c.certFile] = string(b)
	}
	s.signed.Store(0)
	cfg := RenewConfig{Server: s.url, NodeName: "node", NodeIPs: []string{"198.18.0.9"}, Dir: dir}
	if wrote, err := Renew(ctx, cfg); err != nil || len(wrote) != 0 || s.signed.Load() != 0 {
		t.Fatalf("nothing due: wrote %v, %d requests, err %v", wrote, s.signed.Load(), err)
	}
	cfg.Force = true
	wrote, err := Renew(ctx, cfg)
	if err != nil || len(wrote) != len(nodeCerts) {
		t.Fatalf("forced renewal without a token: wrote %v, err %v", wrote, err)
	}
	for _, c := range nodeCerts {
		if k, _ := os.ReadFile(filepath.Join(dir, c.keyFile)); string(k) != string(keys[c.keyFile]) {
			t.Errorf("%s was replaced", c.keyFile)
		}
		cert, key, err := pki.Load(filepath.Join(dir, c.certFile), filepath.Join(dir, c.keyFile))
		if err != nil {
			t.Fatal(err)
		}
		if err := pki.Matches(cert, key); err != nil {
			t.Errorf("%s: %v", c.certFile, err)
		}
		if b, _ := os.ReadFile(filepath.Join(dir, c.certFile)); string(b) == before[c.certFile] {
			t.Errorf("%s was not renewed", c.certFile)
		}
	}
	// a node whose client certificate is gone, with no token, is refused
	if err := os.Remove(filepath.Join(dir, ClientCertFile)); err != nil {
		t.Fatal(err)
	}
	cfg.Force = false
	if _, err := Renew(ctx, cfg); err == nil || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("renewal with neither certificate nor token: %v", err)
	}
	cfg.Token = s.token
	if _, err := Renew(ctx, cfg); err != nil {
		t.Fatalf("renewal with the token after the certificate was lost: %v", err)
	}
}
