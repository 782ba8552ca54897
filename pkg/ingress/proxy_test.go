package ingress

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// refusedAddr is a loopback address where nothing listens.
func refusedAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func backend(t *testing.T, name string) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") == "echo" {
			conn, rw, err := http.NewResponseController(w).Hijack()
			if err != nil {
				return
			}
			defer conn.Close()
			fmt.Fprint(rw, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
			rw.Flush()
			line, _ := rw.ReadString('\n')
			fmt.Fprintf(rw, "%s says %s", name, line)
			rw.Flush()
			return
		}
		body, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %s host=%s xff=%s proto=%s xhost=%s accept-encoding=%q body=%s", name, r.URL.Path, r.Host,
			r.Header.Get("X-Forwarded-For"), r.Header.Get("X-Forwarded-Proto"), r.Header.Get("X-Forwarded-Host"), r.Header.Get("Accept-Encoding"), body)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func proxyTo(t *testing.T, eps ...string) string {
	url, _ := countingProxyTo(t, eps...)
	return url
}

// countingProxyTo is proxyTo, counting requests into a registry of its
// own (every proxy test so goes through the counting writer).
func countingProxyTo(t *testing.T, eps ...string) (string, *prometheus.Registry) {
	p := NewProxy()
	reg := prometheus.NewRegistry()
	p.countRequests(reg)
	t.Cleanup(p.Close)
	table := newTable()
	table.host("app.example").prefixes = []prefixRoute{{prefix: "", target: &Target{Name: "default/app:80", Ready: eps}}}
	table.host("down.example").prefixes = []prefixRoute{{prefix: "", target: &Target{Name: "default/down:80", Why: "Service default/down not found"}}}
	p.Swap(table)
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	return srv.URL, reg
}

func get(t *testing.T, url, host, body string) (int, string) {
	method := http.MethodGet
	var rd io.Reader
	if body != "" {
		method, rd = http.MethodPost, strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	// a client that asks for no encoding, so the test sees what the proxy adds
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestProxyRetriesRefusedConnections(t *testing.T) {
	url := proxyTo(t, refusedAddr(t), backend(t, "one"), refusedAddr(t))
	// every request succeeds, whichever endpoint the round robin starts at,
	// including a request with a body
	for i := range 6 {
		code, body := get(t, url+"/x", "app.example", fmt.Sprintf("b%d", i))
		if code != http.StatusOK || !strings.HasPrefix(body, "one /x host=app.example") || !strings.Contains(body, fmt.Sprintf("body=b%d", i)) {
			t.Errorf("request %d: %d %q", i, code, body)
		}
	}
}

func TestProxyForwardedHeaders(t *testing.T) {
	url := proxyTo(t, backend(t, "one"))
	_, body := get(t, url+"/", "app.example", "")
	if !strings.Contains(body, "xff=127.0.0.1 proto=http xhost=app.example") {
		t.Errorf("forwarded headers: %q", body)
	}
	// the request goes on as the client sent it: no encoding it did not ask for
	if !strings.Contains(body, `accept-encoding=""`) {
		t.Errorf("the proxy asked the backend for an encoding: %q", body)
	}
}

func TestProxyAnswersWithoutRoute(t *testing.T) {
	url, reg := countingProxyTo(t, backend(t, "one"))
	if code, _ := get(t, url+"/x", "app.example", ""); code != http.StatusOK {
		t.Errorf("routed: %d", code)
	}
	if code, _ := get(t, url+"/", "nowhere.example", ""); code != http.StatusNotFound {
		t.Errorf("no route: %d", code)
	}
	if code, body := get(t, url+"/", "down.example", ""); code != http.StatusServiceUnavailable || !strings.Contains(body, "not found") {
		t.Errorf("no endpoints: %d %q", code, body)
	}
	want := `
# HELP edgeos_ingress_requests_total Requests the node's ingress proxy answered, by status class (2xx, 4xx, ...).
# TYPE edgeos_ingress_requests_total counter
edgeos_ingress_requests_total{code="1xx"} 0
edgeos_ingress_requests_total{code="2xx"} 1
edgeos_ingress_requests_total{code="3xx"} 0
edgeos_ingress_requests_total{code="4xx"} 1
edgeos_ingress_requests_total{code="5xx"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "edgeos_ingress_requests_total"); err != nil {
		t.Error(err)
	}
}

func TestProxyUpgrade(t *testing.T) {
	url := proxyTo(t, backend(t, "one"))
	conn, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprint(conn, "GET /ws HTTP/1.1\r\nHost: app.example\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
	rd := bufio.NewReader(conn)
	resp, err := http.ReadResponse(rd, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	fmt.Fprint(conn, "hello\n")
	line, err := rd.ReadString('\n')
	if err != nil || line != "one says hello\n" {
		t.Errorf("after the upgrade: %q %v", line, err)
	}
}
