package openapiv3

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	restful "github.com/emicklei/go-restful/v3"
	"k8s.io/apiserver/pkg/server/mux"
	"k8s.io/apiserver/pkg/server/routes"
	openapicommon "k8s.io/kube-openapi/pkg/common"
	"k8s.io/kube-openapi/pkg/handler3"
	"k8s.io/kube-openapi/pkg/validation/spec"
)

// Widget is the one type the test APIs serve.
type Widget struct {
	Name string `json:"name"`
}

// api builds a container of two web services, as an API server registers
// its group versions, and a config whose definitions count their builds.
func api(builds *atomic.Int32, extraRoute bool) (*restful.Container, *openapicommon.OpenAPIV3Config) {
	c := restful.NewContainer()
	for _, root := range []string{"/apis/widgets.test/v1", "/api/v1"} {
		ws := new(restful.WebService).Path(root).Consumes("application/json").Produces("application/json")
		ws.Route(ws.GET("/widgets/{name}").To(func(*restful.Request, *restful.Response) {}).
			Operation("readWidget").Param(ws.PathParameter("name", "the widget's name")).Writes(Widget{}).
			Returns(http.StatusOK, "OK", Widget{}))
		if extraRoute && root == "/api/v1" {
			ws.Route(ws.POST("/widgets").To(func(*restful.Request, *restful.Response) {}).
				Operation("createWidget").Reads(Widget{}).Writes(Widget{}).Returns(http.StatusOK, "OK", Widget{}))
		}
		c.Add(ws)
	}
	cfg := &openapicommon.OpenAPIV3Config{
		Info: &spec.Info{InfoProps: spec.InfoProps{Title: "test", Version: "v1"}},
		GetDefinitions: func(openapicommon.ReferenceCallback) map[string]openapicommon.OpenAPIDefinition {
			builds.Add(1)
			return map[string]openapicommon.OpenAPIDefinition{
				"github.com/edgeos/edgeos/pkg/openapiv3.Widget": {Schema: spec.Schema{SchemaProps: spec.SchemaProps{
					Type:       []string{"object"},
					Properties: map[string]spec.Schema{"name": {SchemaProps: spec.SchemaProps{Type: []string{"string"}}}},
				}}},
			}
		},
	}
	return c, cfg
}

func serve(t *testing.T, s *Service) *httptest.Server {
	m := mux.NewPathRecorderMux("test")
	s.Register(m)
	srv := httptest.NewServer(m)
	t.Cleanup(srv.Close)
	return srv
}

// get fetches path without following redirects.
func get(t *testing.T, srv *httptest.Server, path, accept string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

func TestDocumentsBuiltOnRequest(t *testing.T) {
	var builds atomic.Int32
	c, cfg := api(&builds, false)
	s, err := New(c, cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := serve(t, s)

	resp, body := get(t, srv, "/openapi/v3", "")
	var root handler3.OpenAPIV3Discovery
	if err := json.Unmarshal(body, &root); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("discovery: %d %v %s", resp.StatusCode, err, body)
	}
	if len(root.Paths) != 2 || resp.Header.Get("Etag") == "" {
		t.Fatalf("discovery: %s, etag %q", body, resp.Header.Get("Etag"))
	}
	if n := builds.Load(); n != 0 {
		t.Fatalf("%d documents built before any was asked for", n)
	}

	u := root.Paths["apis/widgets.test/v1"].ServerRelativeURL
	if !strings.Contains(u, "?hash=") {
		t.Fatalf("URL without hash: %q", u)
	}
	for range 2 {
		resp, body = get(t, srv, u, "application/json")
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "readWidget") {
			t.Fatalf("document: %d %s", resp.StatusCode, body)
		}
		if cc := resp.Header.Get("Cache-Control"); cc != "public, immutable" || resp.Header.Get("Content-Type") != "application/json" {
			t.Errorf("headers %v", resp.Header)
		}
	}
	if n := builds.Load(); n != 1 {
		t.Errorf("asked twice for one document: %d builds, want 1", n)
	}

	// the same bytes as upstream's eager handler serves
	um := mux.NewPathRecorderMux("upstream")
	var upstreamBuilds atomic.Int32
	uc, ucfg := api(&upstreamBuilds, false)
	routes.OpenAPI{V3Config: ucfg}.InstallV3(uc, um)
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/openapi/v3/apis/widgets.test/v1", nil)
	um.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK || rec.Body.String() != string(body) {
		t.Errorf("document differs from upstream's:\n%s\n%s", body, rec.Body.String())
	}

	resp, body = get(t, srv, u, "application/"+v3Protobuf)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/"+v3Protobuf || len(body) == 0 {
		t.Errorf("protobuf: %d %v, %d bytes", resp.StatusCode, resp.Header, len(body))
	}

	resp, _ = get(t, srv, "/openapi/v3/apis/widgets.test/v1?hash=STALE", "application/json")
	if resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != u {
		t.Errorf("stale hash: %d to %q, want 301 to %q", resp.StatusCode, resp.Header.Get("Location"), u)
	}
	resp, _ = get(t, srv, "/openapi/v3/apis/widgets.test/v1", "text/html")
	if resp.StatusCode != http.StatusNotAcceptable {
		t.Errorf("text/html: %d", resp.StatusCode)
	}
	resp, _ = get(t, srv, "/openapi/v3/apis/gadgets.test/v1", "")
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown group version: %d", resp.StatusCode)
	}
	if n := builds.Load(); n != 1 {
		t.Errorf("%d builds after the other requests, want 1 (api/v1 never asked for)", n)
	}
}

func TestHashesFollowRoutes(t *testing.T) {
	var builds atomic.Int32
	hashes := func(extra bool) map[string]string {
		c, cfg := api(&builds, extra)
		s, err := New(c, cfg)
		if err != nil {
			t.Fatal(err)
		}
		h := map[string]string{}
		for gv, d := range s.docs {
			h[gv] = d.hash
		}
		return h
	}
	a, b, more := hashes(false), hashes(false), hashes(true)
	if a["api/v1"] != b["api/v1"] || a["apis/widgets.test/v1"] != b["apis/widgets.test/v1"] {
		t.Errorf("two servers of one program and one API disagree: %v %v", a, b)
	}
	if a["api/v1"] == more["api/v1"] {
		t.Error("a route more, the same name")
	}
	if a["apis/widgets.test/v1"] != more["apis/widgets.test/v1"] {
		t.Error("another group version's routes changed this one's name")
	}
}
