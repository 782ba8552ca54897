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
	return newServerIn(t, t.TempDir(), func(*bootstrap.NodeConfig) {})
}

// newServerIn is a server with the CAs in dir (made there if missing)
// and the node config change makes.
func newServerIn(t *testing.T, dir string, change func(*bootstrap.NodeConfig)) *server {
	t.Helper()
	return newServerWith(t, dir, nodepassword.Store{Secrets: fake.NewClientset().CoreV1()}, change)
}

// newServerWith is newServerIn keeping node passwords in passwords.
func newServerWith(t *testing.T, dir string, passwords bootstrap.NodePasswords, change func(*bootstrap.NodeConfig)) *server {
	t.Helper()
	var cas [3]*pki.CA
	for i, name := range []string{"server-ca", "client-ca", "kubelet-ca"} {
		var err error
		if cas[i], err = pki.EnsureCA(dir, name, name); err != nil {
			t.Fatal(err)
		}
	}
	serverCA, clientCA, kubeletCA := cas[0], cas[1], cas[2]
	node := bootstrap.NodeConfig{ClusterDNS: "10.43.0.10", ClientCA: string(clientCA.PEM())}
	change(&node)
	h := bootstrap.New(bootstrap.Config{
		ServerCA: serverCA.PEM(), ClientCA: clientCA, KubeletCA: kubeletCA,
		Auth:      token.Authenticator{Server: "server:right"},
		Passwords: passwords,
		Node:      node,
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

// TestRefreshNodeConfig: a setting the server gained after the join (the
// embedded registry, with the kubelet CA nodes verify peers by) reaches
// the joined node when it asks with its client certificate; a server that
// does not answer changes nothing.
func TestRefreshNodeConfig(t *testing.T) {
	caDir := t.TempDir()
	passwords := nodepassword.Store{Secrets: fake.NewClientset().CoreV1()}
	before := newServerWith(t, caDir, passwords, func(*bootstrap.NodeConfig) {})
	dir := filepath.Join(t.TempDir(), "tls")
	ctx := context.Background()
	if _, err := Join(ctx, Config{Server: before.url, Token: before.token, NodeName: "node", NodeIPs: []string{"198.18.0.9"}, Dir: dir}); err != nil {
		t.Fatal(err)
	}
	kubeletCA, err := pki.EnsureCA(caDir, "kubelet-ca", "kubelet-ca")
	if err != nil {
		t.Fatal(err)
	}
	after := newServerWith(t, caDir, passwords, func(n *bootstrap.NodeConfig) {
		n.EmbeddedRegistry, n.KubeletCA = true, string(kubeletCA.PEM())
	})
	cfg := RenewConfig{Server: after.url, NodeName: "node", NodeIPs: []string{"198.18.0.9"}, Dir: dir}
	nc, err := RefreshNodeConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	kept, err := LoadNodeConfig(dir)
	if err != nil || !nc.EmbeddedRegistry || !kept.EmbeddedRegistry {
		t.Fatalf("the new setting did not reach the node: %+v, kept %+v, %v", nc, kept, err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, KubeletCAFile)); err != nil || string(b) != string(kubeletCA.PEM()) {
		t.Errorf("kubelet CA not kept: %v", err)
	}

	stat, _ := os.Stat(filepath.Join(dir, NodeConfigFile))
	cfg.Server = "https://127.0.0.1:1"
	if _, err := RefreshNodeConfig(ctx, cfg); err == nil {
		t.Error("no server answered, yet the refresh succeeded")
	}
	if again, err := os.Stat(filepath.Join(dir, NodeConfigFile)); err != nil || !again.ModTime().Equal(stat.ModTime()) {
		t.Errorf("a failed refresh touched the kept settings: %v", err)
	}
}
