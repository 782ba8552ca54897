package bootstrap_test

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/edgeos/edgeos/pkg/pki"
	"github.com/sirupsen/logrus"
)

// FuzzCertificateRequest sends the bootstrap API whatever body, node name
// and credential: it answers every one with a client error or a
// certificate, never with a failure of its own, and signs only for the
// right token, a valid node name and a CSR that parses.
func FuzzCertificateRequest(f *testing.F) {
	// the handler logs every refusal; a fuzz worker's output is not read
	// while it runs, and would fill its pipe
	logrus.SetOutput(io.Discard)
	fx := newFixture(f)
	f.Add([]byte(csrPEM(f)), "node1", "server:right", "/edgeos/v1/certs/kubelet-serving")
	f.Add([]byte("-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n"), "node1", "server:right", "/edgeos/v1/certs/kubelet-client")
	f.Add([]byte(strings.Repeat("A", 20000)), "node1", "server:right", "/edgeos/v1/certs/kube-proxy")
	f.Add([]byte{}, strings.Repeat("a.", 130), "server:wrong", "/edgeos/v1/certs/edgeos-agent")
	f.Add([]byte(csrPEM(f)), "Node_1", "", "/edgeos/v1/config")
	client := fx.client(nil)
	client.Timeout = 5 * time.Second
	f.Fuzz(func(t *testing.T, body []byte, node, cred, path string) {
		if !strings.HasPrefix(path, "/") || strings.ContainsAny(path, " \r\n?#") || !validHeader(node) || !validHeader(cred) {
			t.Skip("not something an HTTP client sends")
		}
		req, err := http.NewRequest(http.MethodPost, fx.srv.URL+path, bytes.NewReader(body))
		if err != nil {
			t.Skip()
		}
		if cred != "" {
			req.Header.Set("Authorization", "Bearer "+cred)
		}
		req.Header.Set("Edgeos-Node-Name", node)
		req.Header.Set("Edgeos-Node-Password", machineA)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out := new(bytes.Buffer)
		_, _ = out.ReadFrom(resp.Body)
		if resp.StatusCode >= 500 && resp.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("status %d for body %q: %s", resp.StatusCode, body, out)
		}
		if resp.StatusCode == http.StatusOK && strings.HasPrefix(path, "/edgeos/v1/certs/") {
			if cred != "server:right" {
				t.Fatalf("signed for credential %q", cred)
			}
			if _, err := pki.ParseCSR(body); err != nil {
				t.Fatalf("signed a body that is no CSR (%v)", err)
			}
		}
	})
}

func validHeader(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r > 0x7e {
			return false
		}
	}
	return strings.TrimSpace(s) == s
}

func csrPEM(t testing.TB) string {
	t.Helper()
	return string(csr(t, net.ParseIP("198.18.0.9")))
}
