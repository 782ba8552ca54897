package rewrite

import (
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgeos/edgeos/pkg/registries"
)

// The proxy asks the endpoint for the rewritten repository, over TLS with
// the file's CA, answering the endpoint's basic-auth challenge with the
// file's credentials; only a request with this start's secret gets
// through, and what cannot be placed is refused.
func TestProxy(t *testing.T) {
	var asked []string
	upstream := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked = append(asked, r.Method+" "+r.URL.RequestURI())
		if user, pass, ok := r.BasicAuth(); !ok || user != "fleet" || pass != "s3cret" {
			w.Header().Set("WWW-Authenticate", `Basic realm="upstream"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Header().Set("Docker-Content-Digest", "sha256:abc")
		w.Header().Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
		fmt.Fprint(w, "manifest of "+r.URL.Path)
	}))
	defer upstream.Close()
	host := strings.TrimPrefix(upstream.URL, "https://")
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: upstream.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := registries.Parse(fmt.Appendf(nil, `
mirrors:
  registry.example:
    endpoint: ["https://%[1]s"]
    rewrite:
      "^apps/(.*)": "mirrorproject/$1"
      "^(.*)": "other/$1"
  "*":
    endpoint: ["https://%[1]s/v2/prefix"]
    rewrite:
      "^(.*)$": "UPPER/$1"
configs:
  %[1]q:
    auth: {username: fleet, password: s3cret}
    tls: {ca_file: %[2]q}
`, host, ca))
	if err != nil {
		t.Fatal(err)
	}
	h, err := newHandler(Config{Secret: "the-secret", Registries: f})
	if err != nil {
		t.Fatal(err)
	}
	proxy := httptest.NewServer(h)
	defer proxy.Close()

	do := func(method, path, secret string) (int, string, http.Header) {
		t.Helper()
		req, _ := http.NewRequest(method, proxy.URL+path, nil)
		if secret != "" {
			req.Header.Set("Authorization", "Bearer "+secret)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.Header
	}
	code, body, hdr := do("GET", "/registry.example/0/apps/echo/manifests/1?ns=registry.example", "the-secret")
	if code != 200 || body != "manifest of /v2/mirrorproject/echo/manifests/1" || hdr.Get("Docker-Content-Digest") != "sha256:abc" {
		t.Errorf("rewritten pull: %d %q %v", code, body, hdr)
	}
	if want := "GET /v2/mirrorproject/echo/manifests/1?ns=registry.example"; !contains(asked, want) {
		t.Errorf("the endpoint was asked %q, want %q among them", asked, want)
	}
	if code, body, _ := do("GET", "/registry.example/0/library/busybox/blobs/sha256:abc", "the-secret"); code != 200 || body != "manifest of /v2/other/library/busybox/blobs/sha256:abc" {
		t.Errorf("the second rule: %d %q", code, body)
	}
	for _, tc := range []struct {
		name, method, path, secret string
		want                       int
	}{
		{"no secret", "GET", "/registry.example/0/apps/echo/manifests/1", "", http.StatusForbidden},
		{"another secret", "GET", "/registry.example/0/apps/echo/manifests/1", "guess", http.StatusForbidden},
		{"a push", "PUT", "/registry.example/0/apps/echo/manifests/1", "the-secret", http.StatusMethodNotAllowed},
		{"no such route", "GET", "/registry.example/1/apps/echo/manifests/1", "the-secret", http.StatusNotFound},
		{"a mirror without rewrites", "GET", "/docker.io/0/apps/echo/manifests/1", "the-secret", http.StatusNotFound},
		{"a path out of the repository", "GET", "/registry.example/0/../../etc/manifests/1", "the-secret", http.StatusNotFound},
		{"a rewrite to no repository name", "GET", "/*/0/apps/echo/manifests/1", "the-secret", http.StatusNotFound},
	} {
		if code, body, hdr := do(tc.method, tc.path, tc.secret); code != tc.want || hdr.Get("Www-Authenticate") != "" {
			t.Errorf("%s: %d %q, want %d", tc.name, code, body, tc.want)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
