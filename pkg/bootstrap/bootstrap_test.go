package bootstrap_test

import (
	"bytes"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/edgeos/edgeos/pkg/bootstrap"
	"github.com/edgeos/edgeos/pkg/nodepassword"
	"github.com/edgeos/edgeos/pkg/pki"
	"github.com/edgeos/edgeos/pkg/token"
	"k8s.io/client-go/kubernetes/fake"
)

type fixture struct {
	srv                           *httptest.Server
	serverCA, clientCA, kubeletCA *pki.CA
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	dir := t.TempDir()
	f := &fixture{}
	var err error
	for _, c := range []struct {
		dst  **pki.CA
		name string
	}{{&f.serverCA, "server-ca"}, {&f.clientCA, "client-ca"}, {&f.kubeletCA, "kubelet-ca"}} {
		if *c.dst, err = pki.EnsureCA(dir, c.name, c.name); err != nil {
			t.Fatal(err)
		}
	}
	h := bootstrap.New(bootstrap.Config{
		ServerCA:  f.serverCA.PEM(),
		ClientCA:  f.clientCA,
		KubeletCA: f.kubeletCA,
		Auth:      token.Authenticator{Server: "server:right"},
		Passwords: nodepassword.Store{Secrets: fake.NewClientset().CoreV1()},
		Node:      bootstrap.NodeConfig{ClusterDNS: "10.43.0.10", ClientCA: string(f.clientCA.PEM())},
		Lifetime:  pki.LeafValidity,
	})
	apiserver := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) })
	// as the apiserver's port does: client certificates are asked for,
	// and checked by the handler
	f.srv = httptest.NewUnstartedServer(h.Wrap(apiserver))
	f.srv.TLS = &tls.Config{ClientAuth: tls.RequestClientCert}
	f.srv.StartTLS()
	t.Cleanup(f.srv.Close)
	return f
}

// client is an HTTPS client of the fixture presenting cert, if any.
func (f *fixture) client(cert *tls.Certificate) *http.Client {
	c := f.srv.Client()
	tr := c.Transport.(*http.Transport).Clone()
	if cert != nil {
		tr.TLSClientConfig.Certificates = []tls.Certificate{*cert}
	}
	c.Transport = tr
	return c
}

func csr(t testing.TB, ips ...net.IP) []byte {
	t.Helper()
	key, err := pki.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "ignored"}, IPAddresses: ips}, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}

// machineA and machineB are the node passwords of two machines.
const (
	machineA = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	machineB = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
)

func (f *fixture) post(t *testing.T, path, cred, node string, body []byte) (int, []byte) {
	t.Helper()
	return f.postAs(t, path, cred, node, machineA, body)
}

func (f *fixture) postAs(t *testing.T, path, cred, node, password string, body []byte) (int, []byte) {
	t.Helper()
	return f.postWith(t, f.client(nil), path, cred, node, password, body)
}

func (f *fixture) postWith(t *testing.T, client *http.Client, path, cred, node, password string, body []byte) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, f.srv.URL+path, bytes.NewReader(body))
	if cred != "" {
		req.Header.Set("Authorization", "Bearer "+cred)
	}
	req.Header.Set(bootstrap.NodeNameHeader, node)
	req.Header.Set(bootstrap.NodePasswordHeader, password)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func TestCACertsNeedNoAuth(t *testing.T) {
	f := newFixture(t)
	resp, err := f.client(nil).Get(f.srv.URL + "/edgeos/v1/cacerts")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Equal(b, f.serverCA.PEM()) {
		t.Fatalf("cacerts: %d %q", resp.StatusCode, b)
	}
}

func TestWrongTokenSignsNothing(t *testing.T) {
	f := newFixture(t)
	for _, cred := range []string{"", "server:wrong", "abcdef.0123456789abcdef"} {
		code, body := f.post(t, "/edgeos/v1/certs/kubelet-client", cred, "node1", csr(t))
		if code != http.StatusUnauthorized {
			t.Errorf("credential %q: status %d, want 401", cred, code)
		}
		if bytes.Contains(body, []byte("CERTIFICATE")) {
			t.Errorf("credential %q: a certificate came back", cred)
		}
	}
}

func TestKubeletClientCert(t *testing.T) {
	f := newFixture(t)
	code, body := f.post(t, "/edgeos/v1/certs/kubelet-client", "server:right", "node1", csr(t))
	if code != 200 {
		t.Fatalf("status %d: %s", code, body)
	}
	cert, err := pki.ParseCert(body)
	if err != nil {
		t.Fatal(err)
	}
	if cert.Subject.CommonName != "system:node:node1" || len(cert.Subject.Organization) != 1 || cert.Subject.Organization[0] != "system:nodes" {
		t.Fatalf("subject %v: the node identity must come from the server, not the CSR", cert.Subject)
	}
	if err := cert.CheckSignatureFrom(f.clientCA.Cert); err != nil {
		t.Fatalf("not signed by the client CA: %v", err)
	}
}

func TestKubeProxyCert(t *testing.T) {
	f := newFixture(t)
	if code, _ := f.post(t, "/edgeos/v1/certs/kube-proxy", "server:wrong", "node1", csr(t)); code != http.StatusUnauthorized {
		t.Errorf("wrong token: status %d", code)
	}
	code, body := f.post(t, "/edgeos/v1/certs/kube-proxy", "server:right", "node1", csr(t))
	if code != 200 {
		t.Fatalf("status %d: %s", code, body)
	}
	cert, err := pki.ParseCert(body)
	if err != nil {
		t.Fatal(err)
	}
	if cert.Subject.CommonName != "system:kube-proxy" || len(cert.Subject.Organization) != 0 {
		t.Fatalf("subject %v", cert.Subject)
	}
	if err := cert.CheckSignatureFrom(f.clientCA.Cert); err != nil {
		t.Fatalf("not signed by the client CA: %v", err)
	}
}

func TestKubeletServingCertComesFromKubeletCA(t *testing.T) {
	f := newFixture(t)
	code, body := f.post(t, "/edgeos/v1/certs/kubelet-serving", "server:right", "node1", csr(t, net.ParseIP("198.18.0.9")))
	if code != 200 {
		t.Fatalf("status %d: %s", code, body)
	}
	cert, err := pki.ParseCert(body)
	if err != nil {
		t.Fatal(err)
	}
	if cert.CheckSignatureFrom(f.serverCA.Cert) == nil {
		t.Fatal("a node serving certificate is signed by the server CA: a node could pose as the apiserver")
	}
	if err := cert.CheckSignatureFrom(f.kubeletCA.Cert); err != nil {
		t.Fatal(err)
	}
	if len(cert.IPAddresses) != 1 || !cert.IPAddresses[0].Equal(net.ParseIP("198.18.0.9")) {
		t.Fatalf("IP SANs %v", cert.IPAddresses)
	}
}

func TestBadRequests(t *testing.T) {
	f := newFixture(t)
	if code, _ := f.post(t, "/edgeos/v1/certs/kubelet-client", "server:right", "Not_A_Node", csr(t)); code != http.StatusBadRequest {
		t.Errorf("invalid node name: status %d", code)
	}
	if code, _ := f.post(t, "/edgeos/v1/certs/kubelet-client", "server:right", "node1", []byte("not a csr")); code != http.StatusBadRequest {
		t.Errorf("garbage CSR: status %d", code)
	}
	big := append(csr(t), bytes.Repeat([]byte("A"), 1<<20)...)
	if code, body := f.post(t, "/edgeos/v1/certs/kubelet-client", "server:right", "node1", big); code != http.StatusRequestEntityTooLarge {
		t.Errorf("a body of a MiB: status %d %s, want 413", code, body)
	}
	if code, body := f.post(t, "/edgeos/v1/certs/kubelet-client", "server:right", strings.Repeat("a", 254), csr(t)); code != http.StatusBadRequest {
		t.Errorf("a node name of 254 characters: status %d %s, want 400", code, body)
	}
}

// nodeCert gets a kubelet client certificate for node through the API,
// as a join does, and returns it ready to present.
func (f *fixture) nodeCert(t *testing.T, node string, validity time.Duration) tls.Certificate {
	t.Helper()
	key, err := pki.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	cert, err := f.clientCA.Issue(pki.Leaf{CommonName: "system:node:" + node, Organization: []string{"system:nodes"}}, key.Public(), validity)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: key}
}

// TestRenewWithNodeCertificate: a node renews with its current kubelet
// client certificate instead of a join token, for its own name only, and
// not with an expired certificate or one from another CA.
func TestRenewWithNodeCertificate(t *testing.T) {
	f := newFixture(t)
	path := "/edgeos/v1/certs/kubelet-client"
	if code, body := f.postAs(t, path, "server:right", "node1", machineA, csr(t)); code != 200 {
		t.Fatalf("join: %d %s", code, body)
	}
	current := f.nodeCert(t, "node1", time.Hour)
	if code, body := f.postWith(t, f.client(&current), path, "", "node1", machineA, csr(t)); code != 200 {
		t.Fatalf("renewal with the node's certificate: %d %s", code, body)
	}
	if code, _ := f.postWith(t, f.client(&current), path, "", "node2", machineA, csr(t)); code != http.StatusUnauthorized {
		t.Errorf("node1's certificate renewing node2: status %d, want 401", code)
	}
	if code, _ := f.postWith(t, f.client(&current), path, "", "node1", machineB, csr(t)); code != http.StatusForbidden {
		t.Errorf("node1's certificate with another machine's password: status %d, want 403", code)
	}
	expired := f.nodeCert(t, "node1", -2*time.Hour)
	if code, _ := f.postWith(t, f.client(&expired), path, "", "node1", machineA, csr(t)); code != http.StatusUnauthorized {
		t.Errorf("an expired certificate: status %d, want 401", code)
	}
	if code, _ := f.postWith(t, f.client(&expired), path, "server:right", "node1", machineA, csr(t)); code != 200 {
		t.Errorf("an expired certificate and a valid token: status %d, want 200", code)
	}
	other, err := pki.EnsureCA(t.TempDir(), "other", "other")
	if err != nil {
		t.Fatal(err)
	}
	key, _ := pki.NewKey()
	forged, err := other.Issue(pki.Leaf{CommonName: "system:node:node1", Organization: []string{"system:nodes"}}, key.Public(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	fc := tls.Certificate{Certificate: [][]byte{forged.Raw}, PrivateKey: key}
	if code, _ := f.postWith(t, f.client(&fc), path, "", "node1", machineA, csr(t)); code != http.StatusUnauthorized {
		t.Errorf("a certificate from another CA: status %d, want 401", code)
	}
}

func TestNodeConfigAndPassThrough(t *testing.T) {
	f := newFixture(t)
	req, _ := http.NewRequest(http.MethodGet, f.srv.URL+"/edgeos/v1/config", nil)
	req.Header.Set("Authorization", "Bearer server:right")
	req.Header.Set(bootstrap.NodeNameHeader, "node1")
	req.Header.Set(bootstrap.NodePasswordHeader, machineA)
	resp, err := f.client(nil).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var nc bootstrap.NodeConfig
	if err := json.NewDecoder(resp.Body).Decode(&nc); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if nc.ClusterDNS != "10.43.0.10" || nc.ClientCA == "" {
		t.Fatalf("node config %+v", nc)
	}
	resp, err = f.client(nil).Get(f.srv.URL + "/api/v1/namespaces")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTeapot {
		t.Fatalf("a non-bootstrap path did not reach the apiserver handler: %d", resp.StatusCode)
	}
}

func TestNodeNameBelongsToFirstMachine(t *testing.T) {
	f := newFixture(t)
	path := "/edgeos/v1/certs/kubelet-client"
	if code, body := f.postAs(t, path, "server:right", "node1", machineA, csr(t)); code != 200 {
		t.Fatalf("first join: %d %s", code, body)
	}
	code, body := f.postAs(t, path, "server:right", "node1", machineB, csr(t))
	if code != http.StatusForbidden || bytes.Contains(body, []byte("CERTIFICATE")) {
		t.Fatalf("second machine under the same name: %d %q; want 403 and nothing signed", code, body)
	}
	if code, body := f.postAs(t, path, "server:right", "node1", machineA, csr(t)); code != 200 {
		t.Fatalf("first machine rejoining: %d %s", code, body)
	}
	if code, _ := f.postAs(t, path, "server:right", "node2", machineB, csr(t)); code != 200 {
		t.Fatalf("second machine under its own name: %d", code)
	}
	if code, _ := f.postAs(t, path, "server:right", "node3", "short", csr(t)); code != http.StatusBadRequest {
		t.Fatalf("short password: %d, want 400", code)
	}
}
