package ingress

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// gatewayProxy serves table as port 8080's Gateway listeners, with
// Ingresses served there too when ingress.
func gatewayProxy(t *testing.T, table *Table, ingress bool) string {
	p := NewProxy()
	t.Cleanup(p.Close)
	table.finish()
	p.Swap(table)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { p.serve(w, r, Local{Port: 8080}, ingress) }))
	t.Cleanup(srv.Close)
	return srv.URL
}

func action(m Match, a *Action) *Rule {
	if err := m.Compile(); err != nil {
		panic(err)
	}
	return &Rule{Match: m, Action: a}
}

func to(eps ...string) []Backend {
	return []Backend{{Target: &Target{Name: "default/app:80", Ready: eps}, Weight: 1}}
}

func noRedirects(method, url, host string, headers ...string) (*http.Response, string, error) {
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		return nil, "", err
	}
	req.Host = host
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Add(headers[i], headers[i+1])
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, string(b), err
}

func TestGatewayRedirects(t *testing.T) {
	table := newTable()
	var rules []*Rule
	for _, c := range []struct {
		path string
		rd   Redirect
	}{
		{"/host", Redirect{Hostname: "other.example"}},
		{"/code", Redirect{Code: 301}},
		{"/scheme", Redirect{Scheme: "https"}},
		{"/port", Redirect{Port: 8443}},
		{"/scheme-port", Redirect{Scheme: "https", Port: 443}},
		{"/full", Redirect{Path: &PathChange{Full: true, Value: "/new"}}},
		{"/prefix", Redirect{Path: &PathChange{Value: "/replaced"}}},
	} {
		rules = append(rules, action(Match{Path: c.path}, &Action{Redirect: &c.rd}))
	}
	table.addListener(Listener{Port: 8080, Rules: hostRules("", rules...)})
	url := gatewayProxy(t, table, false)
	for _, c := range []struct {
		path     string
		code     int
		location string
	}{
		{"/host/x?q=1", 302, "http://other.example:8080/host/x?q=1"},
		{"/code", 301, "http://app.example:8080/code"},
		{"/scheme/x", 302, "https://app.example/scheme/x"},
		{"/port", 302, "http://app.example:8443/port"},
		{"/scheme-port", 302, "https://app.example/scheme-port"},
		{"/full/a/b", 302, "http://app.example:8080/new"},
		{"/prefix/a/b", 302, "http://app.example:8080/replaced/a/b"},
	} {
		resp, _, err := noRedirects("GET", url+c.path, "app.example:8080")
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != c.code || resp.Header.Get("Location") != c.location {
			t.Errorf("%s: %d %s, want %d %s", c.path, resp.StatusCode, resp.Header.Get("Location"), c.code, c.location)
		}
	}
}

// Filters change the request the backend sees and the response the client
// gets; a rewrite of the path keeps what followed the matched prefix.
func TestGatewayFilters(t *testing.T) {
	be := backend(t, "one")
	table := newTable()
	table.addListener(Listener{Port: 8080, Rules: hostRules("",
		action(Match{Path: "/old"}, &Action{
			Backends:        to(be),
			Rewrite:         &Rewrite{Hostname: "rewritten.example", Path: &PathChange{Value: "/new"}},
			RequestHeaders:  HeaderChanges{Set: []Header{{"X-Forwarded-Proto", "set"}}, Add: []Header{{"Accept-Encoding", "added"}}},
			ResponseHeaders: HeaderChanges{Set: []Header{{"X-Seen", "yes"}}, Remove: []string{"Content-Type"}},
		}),
	)})
	url := gatewayProxy(t, table, false)
	resp, body, err := noRedirects("GET", url+"/old/page", "app.example", "Accept-Encoding", "sent")
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(body, "one /new/page host=rewritten.example") {
		t.Errorf("rewritten request: %d %q", resp.StatusCode, body)
	}
	if !strings.Contains(body, `accept-encoding="sent"`) {
		t.Errorf("added header: %q", body)
	}
	if resp.Header.Get("X-Seen") != "yes" || resp.Header.Get("Content-Type") != "" {
		t.Errorf("response headers: %v", resp.Header)
	}
}

// Backends share the requests by weight; a rule whose backends all weigh
// 0, or whose chosen backend cannot be used, answers 500; a port that
// serves no Ingress answers 404 where no rule matches.
func TestGatewayBackends(t *testing.T) {
	one, two := backend(t, "one"), backend(t, "two")
	table := newTable()
	table.addListener(Listener{Port: 8080, Rules: hostRules("",
		action(Match{Path: "/weighted"}, &Action{Backends: []Backend{
			{Target: &Target{Name: "one", Ready: []string{one}}, Weight: 3},
			{Target: &Target{Name: "two", Ready: []string{two}}, Weight: 1},
			{Target: &Target{Name: "never", Ready: []string{refusedAddr(t)}}, Weight: 0},
		}}),
		action(Match{Path: "/zero"}, &Action{Backends: []Backend{{Target: &Target{Name: "one", Ready: []string{one}}}}}),
		action(Match{Path: "/invalid"}, &Action{Backends: []Backend{{Weight: 1}}, Why: "Service default/gone not found"}),
	)})
	table.host("").prefixes = []prefixRoute{{prefix: "", target: &Target{Name: "ingress", Ready: []string{one}}}}
	url := gatewayProxy(t, table, false)
	counts := map[string]int{}
	const n = 400
	for range n {
		resp, body, err := noRedirects("GET", url+"/weighted", "app.example")
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("%v %v", resp, err)
		}
		counts[strings.Fields(body)[0]]++
	}
	// 3:1 of 400 is 300:100; binomial spread (sd ~8.7) kept well inside
	if counts["one"] < 250 || counts["one"] > 350 || counts["one"]+counts["two"] != n {
		t.Errorf("weights 3:1 gave %v", counts)
	}
	for _, c := range []struct {
		path string
		code int
		body string
	}{
		{"/zero", 500, "no usable backend"},
		{"/invalid", 500, "Service default/gone not found"},
		{"/elsewhere", 404, "no route"},
	} {
		resp, body, err := noRedirects("GET", url+c.path, "app.example")
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != c.code || !strings.Contains(body, c.body) {
			t.Errorf("%s: %d %q", c.path, resp.StatusCode, body)
		}
	}
	// where Ingresses are served too, they answer what no rule matches
	url = gatewayProxy(t, table, true)
	if resp, body, err := noRedirects("GET", url+"/elsewhere", "app.example"); err != nil || resp.StatusCode != 200 || !strings.HasPrefix(body, "one /elsewhere") {
		t.Errorf("Ingress behind the Gateway rules: %v %q %v", resp, body, err)
	}
}

// A rule's timeouts answer 504 once passed; a rule without one waits for
// the backend.
func TestGatewayTimeouts(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		delay, _ := time.ParseDuration(r.URL.Query().Get("delay"))
		select {
		case <-time.After(delay):
			io.WriteString(w, "answered")
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(backend.Close)
	ep := strings.TrimPrefix(backend.URL, "http://")
	table := newTable()
	table.addListener(Listener{Port: 8080, Rules: hostRules("",
		action(Match{Path: "/request"}, &Action{Backends: to(ep), Timeout: 100 * time.Millisecond}),
		action(Match{Path: "/backend"}, &Action{Backends: to(ep), Timeout: time.Minute, BackendTimeout: 100 * time.Millisecond}),
		action(Match{Path: "/none"}, &Action{Backends: to(ep)}),
	)})
	url := gatewayProxy(t, table, false)
	for path, want := range map[string]int{
		"/request?delay=10s": 504, "/backend?delay=10s": 504, "/request?delay=0s": 200, "/none?delay=300ms": 200,
	} {
		resp, body, err := noRedirects("GET", url+path, "any.example")
		if err != nil || resp.StatusCode != want {
			t.Errorf("%s: %v %q %v, want %d", path, resp, body, err, want)
		}
	}
}
