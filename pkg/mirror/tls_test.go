package mirror

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/edgeos/edgeos/pkg/pki"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Only a node of the cluster gets through the handshake: a node client
// certificate of the cluster's client CA, group system:nodes. Another
// identity of the same CA, a certificate of another CA, or none is
// refused. A renewed serving certificate is served without a restart.
func TestServerTLS(t *testing.T) {
	dir := t.TempDir()
	clientCA, err := pki.EnsureCA(dir, "client-ca", "client-ca")
	if err != nil {
		t.Fatal(err)
	}
	kubeletCA, err := pki.EnsureCA(dir, "kubelet-ca", "kubelet-ca")
	if err != nil {
		t.Fatal(err)
	}
	strangerCA, err := pki.EnsureCA(dir, "stranger-ca", "stranger-ca")
	if err != nil {
		t.Fatal(err)
	}
	leaf := func(ca *pki.CA, name string, l pki.Leaf) tls.Certificate {
		t.Helper()
		cert, key := filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
		if _, err := ca.EnsureLeaf(cert, key, l, time.Hour); err != nil {
			t.Fatal(err)
		}
		pair, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			t.Fatal(err)
		}
		return pair
	}
	node := pki.Leaf{CommonName: "system:node:agent1", Organization: []string{"system:nodes"}}
	serving := pki.Leaf{CommonName: "system:node:server", Organization: []string{"system:nodes"}, IPs: []net.IP{net.ParseIP("127.0.0.1")}, Server: true}
	leaf(kubeletCA, "serving", serving)
	cfg, err := serverTLS(filepath.Join(dir, "serving.crt"), filepath.Join(dir, "serving.key"), clientCA.CertFile)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }), ErrorLog: nil}
	go srv.Serve(ln)
	defer srv.Close()

	roots := x509.NewCertPool()
	roots.AddCert(kubeletCA.Cert)
	get := func(certs ...tls.Certificate) error {
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, Certificates: certs}}}
		defer c.CloseIdleConnections()
		resp, err := c.Get("https://" + ln.Addr().String() + "/v2/")
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	if err := get(leaf(clientCA, "node", node)); err != nil {
		t.Errorf("a node of the cluster was refused: %v", err)
	}
	for name, certs := range map[string][]tls.Certificate{
		"no certificate":            nil,
		"another CA's node":         {leaf(strangerCA, "stranger", node)},
		"the cluster's kube-proxy":  {leaf(clientCA, "proxy", pki.Leaf{CommonName: "system:kube-proxy"})},
		"a node's serving identity": {leaf(kubeletCA, "serving-as-client", serving)},
	} {
		if err := get(certs...); err == nil {
			t.Errorf("%s got through", name)
		}
	}

	// renewal writes a new certificate in place
	before, _ := os.ReadFile(filepath.Join(dir, "serving.crt"))
	if _, err := kubeletCA.Renew(filepath.Join(dir, "serving.crt"), filepath.Join(dir, "serving.key")); err != nil {
		t.Fatal(err)
	}
	after, _ := os.ReadFile(filepath.Join(dir, "serving.crt"))
	if string(before) == string(after) {
		t.Fatal("the renewal wrote the same certificate")
	}
	conn, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{leaf(clientCA, "node", node)}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.Handshake(); err != nil {
		t.Fatal(err)
	}
	served := conn.ConnectionState().PeerCertificates[0].Raw
	if want, _, _ := pki.Load(filepath.Join(dir, "serving.crt"), filepath.Join(dir, "serving.key")); string(served) != string(want.Raw) {
		t.Error("the mirror still serves the certificate from before the renewal")
	}
}

// Peers: the other Ready nodes at their internal address, every one
// once, in an order that starts elsewhere for different nodes.
func TestPeerURLs(t *testing.T) {
	mk := func(name, ip string, ready corev1.ConditionStatus) *corev1.Node {
		return &corev1.Node{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Status: corev1.NodeStatus{
				Addresses:  []corev1.NodeAddress{{Type: corev1.NodeHostName, Address: name}, {Type: corev1.NodeInternalIP, Address: ip}},
				Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: ready}},
			},
		}
	}
	var nodes []*corev1.Node
	for i, name := range []string{"n1", "n2", "n3", "n4", "n5", "n6"} {
		nodes = append(nodes, mk(name, "10.0.0."+string(rune('1'+i)), corev1.ConditionTrue))
	}
	nodes = append(nodes, mk("down", "10.0.0.9", corev1.ConditionFalse), mk("v6", "fd00::7", corev1.ConditionTrue),
		&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "new"}})

	got := peerURLs(nodes, "n1", 5001)
	want := map[string]bool{"https://[fd00::7]:5001": true}
	for i := 2; i <= 6; i++ {
		want["https://10.0.0."+string(rune('0'+i))+":5001"] = true
	}
	if len(got) != len(want) {
		t.Fatalf("peers of n1: %v, want %d of them", got, len(want))
	}
	for _, u := range got {
		if !want[u] {
			t.Errorf("peer %s is not a Ready other node", u)
		}
	}
	firsts := map[string]bool{}
	for _, self := range []string{"n1", "n2", "n3", "n4", "n5", "n6"} {
		firsts[peerURLs(nodes, self, 5001)[0]] = true
	}
	if len(firsts) < 2 {
		t.Errorf("every node asks %v first", firsts)
	}
	if peerURLs(nodes[:1], "n1", 5001) != nil {
		t.Error("a node alone has peers")
	}
}
